// The fused WebGPU kernels (src/backend/webgpu) against src/ops' composite implementations on cpu:
// forward values and gradients of every op in src/ops FUSED, the Sum/Mean gradient overrides, and the
// dispatch/upload counters. Runs on lavapipe in CI (Mesa 25, scripts/setup-system.sh).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DECODE_KERNELS, FUSED, causalAttention, decodeAttentionComposite, embedding, gelu, gradKernel, kvAppend, layerNorm, tokenLogProbs } from '../src/ops/index.js';
import { webgpuCounters, webgpuErrors } from '../src/backend/webgpu/index.js';
import { referenceGqaAttention } from './gqa-fixtures.js';
import { SKIP_WEBGPU, assertClose, runOn, seeded, startWebgpu, stopWebgpu } from './webgpu_helpers.js';

const opts = { skip: SKIP_WEBGPU ? 'IGRPO_SKIP_WEBGPU=1' : false };
before(startWebgpu);
after(stopWebgpu);

/** Forward and gradient (of Σ out·w for a fixed random w) of f with respect to its float inputs, on both backends. */
async function compare(name: string, inputs: { shape: number[]; seed: number; int?: number }[], f: (...xs: tf.Tensor[]) => tf.Tensor, tol = 1e-4) {
  const make = () =>
    inputs.map((s) =>
      s.int
        ? tf.tensor(Int32Array.from(seeded(s.shape.reduce((a, b) => a * b, 1), s.seed), (x) => Math.floor(((x + 1) / 2) * s.int!)), s.shape, 'int32')
        : tf.tensor(seeded(s.shape.reduce((a, b) => a * b, 1), s.seed), s.shape),
    );
  const floatIdx = inputs.map((s, i) => (s.int ? -1 : i)).filter((i) => i >= 0);
  const body = () => {
    const xs = make();
    const y = f(...xs);
    const w = tf.tensor(seeded(y.size, 99), y.shape);
    const grads = tf.grads((...fx: tf.Tensor[]) => {
      const all = xs.slice();
      floatIdx.forEach((i, j) => (all[i] = fx[j]));
      return tf.sum(tf.mul(f(...all), w));
    })(floatIdx.map((i) => xs[i]));
    return [y, ...grads];
  };
  const cpu = await runOn('cpu', body);
  const gpu = await runOn('webgpu', body);
  cpu.forEach((c, i) => assertClose(gpu[i], c, `${name} ${i === 0 ? 'forward' : `gradient ${i}`}`, tol, tol));
}

test('fused layerNorm matches the composite (forward, dx, dgamma, dbeta)', opts, async () => {
  await compare('layerNorm', [{ shape: [6, 5, 24], seed: 1 }, { shape: [24], seed: 2 }, { shape: [24], seed: 3 }], (x, g, b) =>
    layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
  );
  // rows wider than a workgroup: each lane strides the row
  await compare('layerNorm D=150', [{ shape: [5, 150], seed: 21 }, { shape: [150], seed: 22 }, { shape: [150], seed: 23 }], (x, g, b) =>
    layerNorm(tf.mul(x, 4), g as tf.Tensor1D, b as tf.Tensor1D),
  );
});

test('fused gelu matches the composite, including large |x|', opts, async () => {
  await compare('gelu', [{ shape: [7, 33], seed: 4 }], (x) => gelu(tf.mul(x, 12)));
});

test('fused causal attention matches the composite for training (Tq = Tk) and decoding (Tq < Tk)', opts, async () => {
  await compare('attention Tq=Tk', [{ shape: [2, 3, 9, 8], seed: 5 }, { shape: [2, 3, 9, 8], seed: 6 }, { shape: [2, 3, 9, 8], seed: 7 }], (q, k, v) =>
    causalAttention(tf.mul(q, 3) as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D),
  );
  await compare('attention Tq<Tk', [{ shape: [2, 2, 3, 16], seed: 8 }, { shape: [2, 2, 7, 16], seed: 9 }, { shape: [2, 2, 7, 16], seed: 10 }], (q, k, v) =>
    causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D),
  );
});

test('fused tokenLogProbs matches the composite', opts, async () => {
  await compare('tokenLogProbs', [{ shape: [10, 37], seed: 11 }, { shape: [10], seed: 12, int: 37 }], (l, t) =>
    tokenLogProbs(tf.mul(l, 5) as tf.Tensor2D, t as tf.Tensor1D),
  );
  // a vocabulary wider than a workgroup
  await compare('tokenLogProbs V=300', [{ shape: [4, 300], seed: 24 }, { shape: [4], seed: 25, int: 300 }], (l, t) =>
    tokenLogProbs(tf.mul(l, 5) as tf.Tensor2D, t as tf.Tensor1D),
  );
});

test('fused embedding matches the composite (gather forward, scatter-sum backward with repeated ids)', opts, async () => {
  await compare('embedding', [{ shape: [11, 6], seed: 13 }, { shape: [40], seed: 14, int: 11 }], (t, i) => embedding(t as tf.Tensor2D, i as tf.Tensor1D));
  // vocab × ids past EMBEDDING_GATHER_LIMIT: the scatter (UnsortedSegmentSum) gradient
  await compare('embedding, large vocabulary', [{ shape: [5000, 4], seed: 18 }, { shape: [900], seed: 19, int: 5000 }], (t, i) =>
    embedding(t as tf.Tensor2D, i as tf.Tensor1D),
  );
});

test('grouped-query causal attention (Hkv < H) on webgpu matches the composite and the repeat-kv reference, forward and gradients', opts, async () => {
  for (const [h, hkv, tq, tk] of [[4, 2, 6, 6], [6, 2, 2, 7], [4, 1, 1, 5]]) {
    const shapes = [{ shape: [2, h, tq, 8], seed: 41 }, { shape: [2, hkv, tk, 8], seed: 42 }, { shape: [2, hkv, tk, 8], seed: 43 }];
    await compare(`GQA attention H=${h} Hkv=${hkv} Tq=${tq} Tk=${tk}`, shapes, (q, k, v) => causalAttention(tf.mul(q, 2) as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D));
    // and against the hand-written reference on cpu (forward, dq, dk, dv)
    const make = () => shapes.map((s) => tf.tensor4d(seeded(s.shape.reduce((a, b) => a * b, 1), s.seed), s.shape as [number, number, number, number]));
    const grads = (f: (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor) => () => {
      const [q, k, v] = make();
      const w = tf.tensor(seeded(2 * h * tq * 8, 99), [2, h, tq, 8]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), w)))([q, k, v]);
      return [f(q, k, v), ...g];
    };
    const ref = await runOn('cpu', grads(referenceGqaAttention));
    const gpu = await runOn('webgpu', grads(causalAttention));
    ref.forEach((r, i) => assertClose(gpu[i], r, `GQA H=${h} Hkv=${hkv} vs reference ${['forward', 'dq', 'dk', 'dv'][i]}`, 1e-4, 1e-4));
  }
});

test('fused decode attention (shared prefix per group, own suffix with spare capacity, GQA) matches the composite on cpu', opts, async () => {
  const [u, g, h, tp, ts, cap, dh] = [2, 3, 4, 5, 3, 6, 16];
  const t = (shape: number[], seed: number) => tf.tensor4d(seeded(shape.reduce((a, b) => a * b, 1), seed), shape as [number, number, number, number]);
  const mask = () => tf.tensor2d([1, 1, 1, 1, 1, 0, 0, 1, 1, 1], [u, tp]); // the second prompt is left-padded
  for (const hkv of [h, h / 2]) {
    for (const withMask of [false, true]) {
      const layer = () => ({ kp: t([u, hkv, tp, dh], 32), vp: t([u, hkv, tp, dh], 33), prefixMask: withMask ? mask() : null, ks: t([u * g, hkv, cap, dh], 34), vs: t([u * g, hkv, cap, dh], 35), suffixLength: ts });
      const cpu = await runOn('cpu', () => decodeAttentionComposite(t([u * g, h, 1, dh], 31), layer(), { group: g, kvHeads: hkv }));
      const gpu = await runOn('webgpu', () => {
        const { kp, vp, ks, vs, prefixMask } = layer();
        const named: tf.NamedTensorMap = prefixMask ? { q: t([u * g, h, 1, dh], 31), kp, vp, ks, vs, prefixMask } : { q: t([u * g, h, 1, dh], 31), kp, vp, ks, vs };
        return tf.engine().runKernel(DECODE_KERNELS.attention, named, { group: g, kvHeads: hkv, suffixLength: ts }) as tf.Tensor;
      });
      assertClose(gpu[0], cpu[0], `decode attention, ${hkv} kv heads, mask ${withMask}`, 1e-5, 1e-4);
    }
  }
});

test('kvAppend on webgpu (one dispatch) equals the composite on cpu', opts, async () => {
  const t = (shape: number[], seed: number) => tf.tensor4d(seeded(shape.reduce((a, b) => a * b, 1), seed), shape as [number, number, number, number]);
  for (const pos of [0, 3, 5]) {
    const body = () => kvAppend(t([3, 2, 6, 8], 51), t([3, 2, 1, 8], 52), pos);
    const cpu = await runOn('cpu', body);
    const gpu = await runOn('webgpu', body);
    assert.deepEqual(Array.from(gpu[0]), Array.from(cpu[0]), `kvAppend at ${pos}`); // a copy: exact
  }
});

test('webgpu registers kernels only: every fused op has its `${name}Grad` kernel beside the forward', opts, () => {
  for (const name of Object.values(FUSED)) {
    assert.ok(tf.getKernel(name, 'webgpu') && tf.getKernel(gradKernel(name), 'webgpu'), name);
  }
  assert.ok(tf.getKernel(DECODE_KERNELS.attention, 'webgpu') && tf.getKernel(DECODE_KERNELS.append, 'webgpu'));
});

test('Sum and Mean gradients (on-device broadcast) equal hand values', opts, async () => {
  const body = () => {
    const x = tf.tensor(seeded(24, 15), [2, 3, 4]);
    const [gs] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.sum(a, [0, 2]), tf.tensor1d([1, 2, 3]))))([x]);
    const [gm] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.mean(a, 1), tf.tensor1d([1, 2, 3, 4]))))([x]);
    return [gs, gm];
  };
  const [gs, gm] = await runOn('webgpu', body);
  for (let i = 0; i < 24; i++) {
    const [j, k] = [Math.floor(i / 4) % 3, i % 4];
    assert.equal(gs[i], j + 1, `d sum / dx[${i}]`);
    assert.ok(Math.abs(gm[i] - (k + 1) / 3) < 1e-7, `d mean / dx[${i}] = ${gm[i]}`);
  }
});

test('Sum over leading axes (one-dispatch column sums, small and large row counts) matches cpu', opts, async () => {
  const body = () => {
    const a = tf.tensor(seeded(6 * 5 * 7, 16), [6, 5, 7]);
    const big = tf.tensor(seeded(300 * 9, 17), [300, 9]);
    return [tf.sum(a, 0), tf.sum(a, [0, 1], true), tf.sum(big, 0), tf.sum(a, 2), tf.sum(a, [1, 0])];
  };
  const cpu = await runOn('cpu', body);
  const gpu = await runOn('webgpu', body);
  cpu.forEach((c, i) => assertClose(gpu[i], c, `sum case ${i}`, 1e-5, 1e-5));
});

test('counters: a fused op on device-resident inputs is one dispatch and no upload', opts, async () => {
  await tf.setBackend('webgpu');
  const x = tf.randomNormal([64, 32]);
  tf.dispose(gelu(x)); // the first use uploads x (random values are made on the CPU)
  const before = webgpuCounters();
  const y = gelu(x);
  const after = webgpuCounters();
  assert.equal(after.dispatches - before.dispatches, 1);
  assert.equal(after.uploads - before.uploads, 0);
  tf.dispose([x, y]);
});

test('Dawn reported no validation errors (an invalid kernel would silently yield zeros)', opts, () => {
  assert.deepEqual(webgpuErrors(), []);
});
