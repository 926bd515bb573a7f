// The fused RMSNorm, RoPE and SwiGLU kernels (src/ops FUSED rmsNorm/rope/swiglu) on native and webgpu
// against src/ops/llm.ts' composites on cpu: forward values and the gradient of Σ out·w (w fixed and
// random) with respect to every float input, for both RoPE table layouts; plus hand-checked values
// and the kernels actually being the ones dispatched. Native needs `npm run build:native`; webgpu runs
// on lavapipe and is skipped with IGRPO_SKIP_WEBGPU=1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from '../src/backend/native/index.js';
import { FUSED, gradKernel } from '../src/ops/index.js';
import { applyRope, applyRopeComposite, rmsNorm, rmsNormComposite, ropeTables, swiglu, swigluComposite } from '../src/ops/llm.js';
import { SKIP_WEBGPU, assertClose, seeded, startWebgpu, stopWebgpu } from './webgpu_helpers.js';

await registerNativeBackend();
before(startWebgpu);
after(stopWebgpu);

const BACKENDS = [
  { name: 'native', skip: false as const },
  { name: 'webgpu', skip: SKIP_WEBGPU ? 'IGRPO_SKIP_WEBGPU=1' : (false as const) },
];

type Op = { name: string; inputs: number[][]; fused: (...x: tf.Tensor[]) => tf.Tensor; composite: (...x: tf.Tensor[]) => tf.Tensor; consts?: () => tf.Tensor[] };

/** Forward and the gradients of Σ f(xs)·w on `backend`, read back. */
async function values(backend: string, op: Op, f: (...x: tf.Tensor[]) => tf.Tensor): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(() => {
    const xs = op.inputs.map((shape, i) => tf.tensor(seeded(shape.reduce((a, b) => a * b, 1), 10 + i, 2), shape));
    const consts = op.consts ? op.consts() : [];
    const y = f(...xs, ...consts);
    const w = tf.tensor(seeded(y.size, 99), y.shape);
    const grads = tf.grads((...fx: tf.Tensor[]) => tf.sum(tf.mul(f(...fx, ...consts), w)))(xs);
    return [y, ...grads];
  });
  const data = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(outs);
  return data;
}

function tables(positions: number[], dh: number, perRow: boolean): () => tf.Tensor[] {
  const inv = Float64Array.from({ length: dh / 2 }, (_, i) => 1 / Math.pow(10000, (2 * i) / dh));
  return () => {
    const { cos, sin } = ropeTables(positions, inv);
    const shape = perRow ? [positions.length, 1, 1, dh] : [positions.length, dh];
    return [tf.tensor(cos, shape), tf.tensor(sin, shape)];
  };
}

const OPS: Op[] = [
  { name: 'rmsNorm [6,5,24]', inputs: [[6, 5, 24], [24]], fused: (x, w) => rmsNorm(x, w as tf.Tensor1D, 1e-6), composite: (x, w) => rmsNormComposite(x, w as tf.Tensor1D, 1e-6) },
  // rows wider than a webgpu workgroup (lanes stride the row); qk-norm's [B, T, H, dh] layout
  { name: 'rmsNorm D=150', inputs: [[5, 150], [150]], fused: (x, w) => rmsNorm(x, w as tf.Tensor1D, 1e-5), composite: (x, w) => rmsNormComposite(x, w as tf.Tensor1D, 1e-5) },
  { name: 'rmsNorm qk [2,3,4,8]', inputs: [[2, 3, 4, 8], [8]], fused: (x, w) => rmsNorm(x, w as tf.Tensor1D, 1e-6), composite: (x, w) => rmsNormComposite(x, w as tf.Tensor1D, 1e-6) },
  { name: 'swiglu', inputs: [[7, 33], [7, 33]], fused: (g, u) => swiglu(tf.mul(g, 6), u), composite: (g, u) => swigluComposite(tf.mul(g, 6), u) },
  {
    name: 'rope [T, dh] tables',
    inputs: [[2, 3, 5, 8]],
    consts: tables([0, 1, 2, 3, 4], 8, false),
    fused: (x, c, s) => applyRope(x as tf.Tensor4D, c, s),
    composite: (x, c, s) => applyRopeComposite(x as tf.Tensor4D, c, s),
  },
  {
    name: 'rope [B, 1, 1, dh] tables (one position per row, decoding)',
    inputs: [[3, 2, 1, 16]],
    consts: tables([7, 0, 123], 16, true),
    fused: (x, c, s) => applyRope(x as tf.Tensor4D, c, s),
    composite: (x, c, s) => applyRopeComposite(x as tf.Tensor4D, c, s),
  },
];

for (const be of BACKENDS) {
  test(`fused rmsNorm, rope and swiglu on ${be.name} match the composites on cpu (forward and every gradient)`, { skip: be.skip }, async () => {
    for (const op of OPS) {
      const want = await values('cpu', op, op.composite);
      const got = await values(be.name, op, op.fused);
      assert.equal(got.length, want.length);
      want.forEach((w, i) => assertClose(got[i], w, `${be.name} ${op.name} ${i === 0 ? 'forward' : `gradient ${i}`}`, 1e-5, 1e-4));
    }
  });

  test(`${be.name} registers the forward and the Grad kernel of rmsNorm, rope and swiglu, and dispatches them`, { skip: be.skip }, async () => {
    await tf.setBackend(be.name);
    for (const k of [FUSED.rmsNorm, FUSED.rope, FUSED.swiglu]) {
      assert.ok(tf.getKernel(k, be.name), `${k} on ${be.name}`);
      assert.ok(tf.getKernel(gradKernel(k), be.name), `${gradKernel(k)} on ${be.name}`);
    }
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    const profile = await tf.profile(() =>
      tf.tidy(() => {
        const x = tf.ones([1, 1, 2, 4]) as tf.Tensor4D;
        const [c, s] = tables([0, 1], 4, false)();
        return [rmsNorm(x, tf.ones([4]) as tf.Tensor1D, 1e-6), swiglu(x, x), applyRope(x, c, s)];
      }),
    );
    profile.kernels.forEach((k) => seen.push(k.name));
    for (const k of [FUSED.rmsNorm, FUSED.rope, FUSED.swiglu]) assert.ok(seen.includes(k), `${k} dispatched (saw ${seen.join(', ')})`);
    tf.dispose(profile.result as tf.Tensor[]);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
  });
}

test('fused kernels on native agree with hand-computed values', async () => {
  await tf.setBackend('native');
  // rmsNorm of [3, 4] with w [1, 2]: mean(x²) = 12.5 → x / √12.5 · w
  const r = await rmsNorm(tf.tensor2d([[3, 4]]), tf.tensor1d([1, 2]), 0).data();
  assertClose(Float32Array.from(r), Float32Array.from([3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)]), 'rmsNorm', 1e-6, 1e-6);
  // swiglu(0, u) = 0; swiglu(g, 1) = g σ(g)
  const s = await swiglu(tf.tensor1d([0, 2]), tf.tensor1d([5, 1])).data();
  assertClose(Float32Array.from(s), Float32Array.from([0, 2 / (1 + Math.exp(-2))]), 'swiglu', 1e-6, 1e-6);
  // rope by a quarter turn (cos 0, sin 1) maps (a, b) to (−b, a); its backward rotates back
  const x = tf.tensor4d([1, 2], [1, 1, 1, 2]);
  const c = tf.zeros([1, 2]);
  const sn = tf.ones([1, 2]);
  assertClose(Float32Array.from(await applyRope(x, c, sn).data()), Float32Array.from([-2, 1]), 'rope forward', 1e-7, 0);
  const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(applyRope(xx as tf.Tensor4D, c, sn), tf.tensor4d([1, 0], [1, 1, 1, 2]))))(x);
  assertClose(Float32Array.from(await g.data()), Float32Array.from([0, -1]), 'rope backward (inverse rotation of dy)', 1e-7, 0);
});
