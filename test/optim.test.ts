// Adam/AdamW against hand-computed steps, state round-trip, and global-norm clipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../src/optim/adam.js';
import { clipByGlobalNorm } from '../src/optim/clip.js';

/** Adam written out in doubles, one parameter at a time: the reference the optimizer must match. */
function referenceAdam(p0: number[], grads: number[][], lr: number, b1: number, b2: number, eps: number, wd: number): number[] {
  const p = p0.slice();
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, t0) => {
    const t = t0 + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mhat = m[i] / (1 - b1 ** t);
      const vhat = v[i] / (1 - b2 ** t);
      p[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
  });
  return p;
}

const GRADS = [
  [0.5, -1.0, 2.0, 0.0],
  [0.1, -0.2, -3.0, 1e-3],
  [-0.4, 0.3, 0.5, -2.0],
];

for (const backend of ['cpu', 'wasm'] as const) {
  for (const wd of [0, 0.1]) {
    test(`Adam (weightDecay ${wd}) matches hand-computed steps on ${backend}`, async () => {
      if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
      await tf.setBackend(backend);
      const p0 = [1.0, -2.0, 0.25, 3.0];
      const p = tf.variable(tf.tensor1d(p0));
      const opt = new Adam([p], { lr: 0.01, weightDecay: wd });
      // first step by hand: m̂ = g, v̂ = g², update = lr·g/(|g|+eps) = ±lr for nonzero g
      for (const g of GRADS) {
        const gt = tf.tensor1d(g);
        opt.step([gt]);
        gt.dispose();
      }
      const want = referenceAdam(p0, GRADS, 0.01, 0.9, 0.999, 1e-8, wd);
      const got = Array.from(p.dataSync());
      got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6, `param ${i}: ${x} vs ${want[i]}`));
      assert.equal(opt.stepCount, 3);
      opt.dispose();
      p.dispose();
    });
  }
}

test('the first Adam step moves each parameter by lr·sign(g)', async () => {
  await tf.setBackend('cpu');
  const p = tf.variable(tf.tensor1d([0, 0, 0]));
  const opt = new Adam([p], { lr: 0.5 });
  opt.step([tf.tensor1d([3, -0.01, 0])]);
  // |g| ≫ eps gives exactly lr; g = -0.01 gives lr·0.01/(0.01 + 1e-8) = 0.5·(1 − 1e-6)
  const got = Array.from(p.dataSync());
  [-0.5, 0.4999995, 0].forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-7, `param ${i}: ${got[i]} vs ${w}`));
  p.dispose();
});

test('getState/setState resumes bit-identically', async () => {
  await tf.setBackend('cpu');
  const run = (resumeAt: number | null) => {
    const p = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    let opt = new Adam([p], { lr: 0.05, weightDecay: 0.01 });
    for (let t = 0; t < GRADS.length; t++) {
      if (t === resumeAt) {
        const saved = JSON.parse(JSON.stringify({ ...opt.getState(), m: opt.getState().m.map((a) => Array.from(a)), v: opt.getState().v.map((a) => Array.from(a)) }));
        const weights = p.dataSync().slice();
        opt.dispose();
        p.assign(tf.tensor2d(weights, [2, 2]));
        opt = new Adam([p], { lr: 0.05, weightDecay: 0.01 });
        opt.setState({ step: saved.step, m: saved.m.map((a: number[]) => Float32Array.from(a)), v: saved.v.map((a: number[]) => Float32Array.from(a)) });
      }
      const g = tf.tensor2d(GRADS[t], [2, 2]);
      opt.step([g]);
      g.dispose();
    }
    const out = Array.from(p.dataSync());
    p.dispose();
    opt.dispose();
    return out;
  };
  assert.deepEqual(run(2), run(null));
  assert.deepEqual(run(1), run(null));
});

test('step rejects gradients that do not match the parameters', async () => {
  await tf.setBackend('cpu');
  const p = tf.variable(tf.zeros([2, 2]));
  const opt = new Adam([p], { lr: 0.1 });
  assert.throws(() => opt.step([]), /1 parameters/);
  assert.throws(() => opt.step([tf.zeros([3])]), /shape/);
  p.dispose();
});

test('a parameter sharing storage with another tensor is updated without changing that tensor', async () => {
  await tf.setBackend('cpu');
  const init = tf.tensor1d([1, 1]);
  const p = tf.variable(init);
  const opt = new Adam([p], { lr: 0.1 });
  opt.step([tf.tensor1d([1, -1])]);
  assert.deepEqual(Array.from(init.dataSync()), [1, 1]);
  assert.ok(Math.abs(p.dataSync()[0] - 0.9) < 1e-6);
  const before = tf.memory().numTensors;
  const g = tf.tensor1d([1, -1]);
  opt.step([g]);
  opt.step([g]);
  assert.equal(tf.memory().numTensors, before + 1, 'steps after the first copy make no tensors');
  p.dispose();
  init.dispose();
});

test('clipByGlobalNorm scales every gradient by maxNorm/norm only when the norm exceeds it', async () => {
  await tf.setBackend('cpu');
  const a = tf.tensor1d([3, 0]);
  const b = tf.tensor2d([[0, 4]]);
  const before = tf.memory().numTensors;
  const { grads, norm } = clipByGlobalNorm([a, b], 1);
  assert.ok(Math.abs(norm - 5) < 1e-6);
  assert.ok(Math.abs(grads[0].dataSync()[0] - 0.6) < 1e-5);
  assert.ok(Math.abs(grads[1].dataSync()[1] - 0.8) < 1e-5);
  assert.deepEqual(grads[1].shape, [1, 2]);
  grads.forEach((g) => g.dispose());
  assert.equal(tf.memory().numTensors, before);
  const kept = clipByGlobalNorm([a, b], 10);
  assert.ok(Math.abs(kept.norm - 5) < 1e-6);
  assert.deepEqual(Array.from(kept.grads[0].dataSync()), [3, 0]);
  kept.grads.forEach((g) => g.dispose());
});
