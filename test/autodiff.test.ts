// Our gradient walk (src/ops/autodiff.ts valueAndGrads): tf.variableGrads's value and gradients with a
// lower peak and nothing left behind. Activation recomputation (src/ops/recompute.ts) and the Llama
// model's gradient checkpointing: the same gradients as keeping every activation, for full fine-tuning
// and LoRA, with a lower peak; off the tape it is the plain forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/model/hf.js';
import type { LlamaModel } from '../src/model/llama.js';
import { valueAndGrads } from '../src/ops/autodiff.js';
import { recompute } from '../src/ops/recompute.js';
import { tinyGPT } from './core-fixtures.js';
import { assertAllClose, fixtureDir, reference } from './hf-fixtures.js';

await tf.setBackend('cpu');

test('recompute: value and gradients (input, variables, kept constants) equal the plain function, inside variableGrads', () => {
  const w = tf.variable(tf.tensor2d([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]), true, 'rc_w');
  const u = tf.variable(tf.tensor1d([0.7, -0.1, 0.2]), true, 'rc_u');
  const x0 = tf.variable(tf.tensor2d([[1, 2], [-0.5, 0.25], [0.3, -1.2]]), true, 'rc_x');
  const fn = (x: tf.Tensor, [c]: tf.Tensor[]) => tf.mul(tf.tanh(tf.matMul(x, w)), tf.add(u, c));
  const run = (wrap: boolean) => {
    const before = tf.memory().numTensors;
    const out = tf.variableGrads(() => {
      const c = tf.tensor1d([0.5, 0.5, 1]); // disposed by the end of this forward, as a model's rope tables are
      const h = tf.square(x0);
      const y = wrap ? recompute(fn, h, [w, u], [c]) : fn(h, [c]);
      return tf.sum(tf.sin(y)) as tf.Scalar;
    }, [w, u, x0]);
    const res = { value: out.value.dataSync()[0], grads: [w, u, x0].map((v) => out.grads[v.name].dataSync()) };
    tf.dispose([out.value, ...Object.values(out.grads)]);
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    return res;
  };
  const plain = run(false);
  const wrapped = run(true);
  assert.equal(wrapped.value, plain.value);
  for (let i = 0; i < 3; i++) assertAllClose(wrapped.grads[i], plain.grads[i], `gradient ${i}`, 1e-7, 1e-6);
  assert.ok(plain.grads.every((g) => g.some((v) => v !== 0)));
  // off the tape: fn itself, nothing kept
  const before = tf.memory().numTensors;
  const c = tf.tensor1d([0.5, 0.5, 1]);
  const direct = tf.tidy(() => recompute(fn, x0, [w, u], [c]).dataSync());
  assertAllClose(direct, tf.tidy(() => fn(x0, [c]).dataSync()), 'no tape', 0, 0);
  c.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([w, u, x0]);
});

/** Loss and gradients of every trainable parameter (tfjs's walk or ours), and the step's peak bytes. */
async function step(m: LlamaModel, ids: tf.Tensor2D, weights: tf.Tensor2D, checkpoint: boolean, walk: 'tfjs' | 'ours' = 'tfjs') {
  m.gradientCheckpointing = checkpoint;
  const params = m.parameters();
  let value = 0;
  let grads: Float32Array[] = [];
  const info = await tf.profile(() => {
    const out = (walk === 'ours' ? valueAndGrads : tf.variableGrads)(() => tf.sum(tf.mul(m.tokenLogProbs(ids, { temperature: 0.9 }), weights)) as tf.Scalar, params);
    value = out.value.dataSync()[0];
    grads = params.map((p) => out.grads[p.name].dataSync() as Float32Array);
    tf.dispose([out.value, ...Object.values(out.grads)]);
  });
  return { value, grads, names: params.map((p) => p.name), peakBytes: info.peakBytes };
}

for (const mode of ['full', 'lora'] as const) {
  test(`gradient checkpointing (${mode}): same loss and gradients as keeping activations; a smaller peak; no leaks`, async () => {
    const m = loadPretrained(fixtureDir('qwen3'));
    try {
      if (mode === 'lora') {
        m.enableLora({ r: 2, alpha: 4, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 3 });
        for (const mod of m.adapters!.modules()) {
          const b = m.adapters!.get(mod)!.b;
          b.assign(tf.randomNormal(b.shape, 0, 0.1, 'float32', 7));
        }
      }
      const ref = reference('qwen3');
      const ids = tf.tensor2d([...ref.ids, ...ref.ids.map((r) => [...r].reverse())], undefined, 'int32');
      const [b, t] = ids.shape;
      const weights = tf.tensor2d(Array.from({ length: b }, (_, i) => Array.from({ length: t - 1 }, (_, j) => Math.cos(i + 3 * j))));
      const kept = await step(m, ids, weights, false);
      const before = tf.memory().numTensors;
      const recomputed = await step(m, ids, weights, true);
      await step(m, ids, weights, true);
      assert.equal(tf.memory().numTensors, before, 'tensors left behind by checkpointed steps');
      assert.ok(Math.abs(recomputed.value - kept.value) <= 1e-5 * Math.abs(kept.value), `loss ${recomputed.value} vs ${kept.value}`);
      const expected = mode === 'full' ? m.baseParameters().length : m.adapters!.parameters().length;
      assert.equal(kept.grads.length, expected);
      for (let i = 0; i < kept.grads.length; i++) assertAllClose(recomputed.grads[i], kept.grads[i], `gradient of ${kept.names[i]}`, 1e-6, 1e-4);
      assert.ok(kept.grads.filter((g) => g.some((v) => v !== 0)).length >= expected - 1);
      // the tape holds one input per layer instead of every intermediate: a lower peak during the step
      assert.ok(recomputed.peakBytes < kept.peakBytes, `peak bytes with recomputation ${recomputed.peakBytes} vs ${kept.peakBytes} without`);
      tf.dispose([ids, weights]);
    } finally {
      m.dispose();
    }
  });
}

test('valueAndGrads: the value and gradients of tf.variableGrads (Llama, full and LoRA), a lower peak, no leaks', async () => {
  const m = loadPretrained(fixtureDir('qwen2'));
  try {
    const ref = reference('qwen2');
    const ids = tf.tensor2d(ref.ids, undefined, 'int32');
    const weights = tf.tensor2d(ref.ids.map((r) => r.slice(1).map((_, j) => Math.sin(1 + j))));
    for (const mode of ['full', 'lora'] as const) {
      if (mode === 'lora') m.enableLora({ r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'up_proj'], seed: 1 });
      const theirs = await step(m, ids, weights, false, 'tfjs');
      const before = tf.memory().numTensors;
      const ours = await step(m, ids, weights, false, 'ours');
      await step(m, ids, weights, false, 'ours');
      assert.equal(tf.memory().numTensors, before, `${mode}: tensors left behind`);
      assert.equal(ours.value, theirs.value);
      assert.deepEqual(ours.names, theirs.names);
      for (let i = 0; i < ours.grads.length; i++) assertAllClose(ours.grads[i], theirs.grads[i], `${mode}: gradient of ${ours.names[i]}`, 0, 0);
      assert.ok(ours.peakBytes < theirs.peakBytes, `${mode}: peak bytes ${ours.peakBytes} (ours) vs ${theirs.peakBytes} (tf.variableGrads)`);
    }
    tf.dispose([ids, weights]);
  } finally {
    m.dispose();
  }
});

test('valueAndGrads on the GPT: same as tf.variableGrads; frozen and unreached variables; clear errors', () => {
  const gpt = tinyGPT();
  const ids = tf.tensor2d([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], undefined, 'int32');
  const loss = () => tf.neg(tf.mean(gpt.tokenLogProbs(ids))) as tf.Scalar;
  const theirs = tf.variableGrads(loss, gpt.parameters());
  const ours = valueAndGrads(loss, gpt.parameters());
  assert.equal(ours.value.dataSync()[0], theirs.value.dataSync()[0]);
  for (const p of gpt.parameters()) assertAllClose(ours.grads[p.name].dataSync(), theirs.grads[p.name].dataSync(), p.name, 0, 0);
  tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)]);
  // a frozen variable gets no entry; a trainable one the loss never reads gets zeros
  const [first, ...rest] = gpt.parameters();
  first.trainable = false;
  const unused = tf.variable(tf.ones([3]), true, 'ad_unused');
  const part = valueAndGrads(loss, [first, ...rest, unused]);
  assert.equal(part.grads[first.name], undefined);
  assert.deepEqual(Array.from(part.grads[unused.name].dataSync()), [0, 0, 0]);
  tf.dispose([part.value, ...Object.values(part.grads)]);
  const before = tf.memory().numTensors;
  assert.throws(() => valueAndGrads(loss, [first]), /none of the given variables is trainable/);
  assert.throws(() => valueAndGrads(loss, [unused]), /does not depend on any trainable variable/);
  assert.throws(() => valueAndGrads(() => gpt.tokenLogProbs(ids) as unknown as tf.Scalar, rest), /must return a scalar/);
  assert.throws(() => valueAndGrads(() => { throw new Error('forward failed'); }, rest), /forward failed/);
  assert.equal(tf.memory().numTensors, before, 'a failed call left tensors behind');
  first.trainable = true;
  tf.dispose([ids, unused]);
  gpt.dispose();
});
