// The native backend against the plain cpu path: every fused kernel's forward and gradient (through
// tf.grads on both paths), each matmul transpose/batch form, the elementwise overrides, a whole GPT
// train step with Adam, and no tensor leaks over steps. Needs the addon (`npm run build:native`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from '../src/backend/native/index.js';
import { DECODE_KERNELS, FUSED, adamKernel, causalAttention, embedding, gelu, gradKernel, layerNorm, tokenLogProbs } from '../src/ops/index.js';
import { GPT } from '../src/model/gpt.js';
import { CharTokenizer } from '../src/tokenizer/index.js';
import { Adam } from '../src/optim/adam.js';
import { tinyGPT } from './core-fixtures.js';
import { GQA, checkCacheEqualsFullForward, checkFiniteDifferences, fdModel, referenceGqaAttention } from './gqa-fixtures.js';

await registerNativeBackend();

type Spec = { shape: number[]; dtype?: 'float32' | 'int32'; values?: number[] };

/** Deterministic inputs (a small LCG), the same arrays on every backend. */
function data(spec: Spec, seed: number): Float32Array | Int32Array {
  if (spec.values) return spec.dtype === 'int32' ? Int32Array.from(spec.values) : Float32Array.from(spec.values);
  const n = spec.shape.reduce((a, b) => a * b, 1);
  let s = seed * 2654435761 >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/**
 * Runs f on one backend; returns its output and, for the float inputs listed in gradOf, the gradient of
 * sum(output · w) for a fixed random w (so every output element weighs in differently).
 */
function runOn(backend: string, specs: Spec[], f: (...xs: tf.Tensor[]) => tf.Tensor, gradOf: number[]): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = specs.map((s, i) => tf.tensor(data(s, i + 1), s.shape, s.dtype ?? 'float32'));
    const y = f(...xs);
    const w = tf.tensor(data({ shape: y.shape }, 99), y.shape);
    if (gradOf.length === 0) return [Float32Array.from(y.dataSync())];
    const g = tf.grads((...ins: tf.Tensor[]) => {
      const all = xs.slice();
      gradOf.forEach((idx, j) => (all[idx] = ins[j]));
      return tf.sum(tf.mul(f(...all), w));
    })(gradOf.map((i) => xs[i]));
    return [y, ...g].map((t) => Float32Array.from(t.dataSync()));
  });
}

function assertClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(1e-3, ...Array.from(want, Math.abs));
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(Number.isFinite(worst) && worst <= tol * scale, `${what}: max |diff| ${worst} > ${tol} × ${scale}`);
}

/** Native vs cpu for forward and gradients; relative tolerance (to the largest reference value). */
function compare(name: string, specs: Spec[], f: (...xs: tf.Tensor[]) => tf.Tensor, gradOf: number[], tol = 2e-5): void {
  const want = runOn('cpu', specs, f, gradOf);
  const got = runOn('native', specs, f, gradOf);
  want.forEach((w, i) => assertClose(got[i], w, tol, `${name} ${i === 0 ? 'forward' : `gradient ${i - 1}`}`));
}

test('a missing or broken addon is a clear error naming the build command', async () => {
  const { loadAddonFrom } = await import('../src/backend/native/addon.js');
  assert.throws(() => loadAddonFrom('/nonexistent/igrpo_native.node'), /is missing\. Run 'npm run build:native'/);
  const fs = await import('node:fs');
  const path = await import('node:path');
  const os = await import('node:os');
  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-')), 'broken.node');
  fs.writeFileSync(bad, 'not a shared object');
  assert.throws(() => loadAddonFrom(bad), /failed to load[^]*Rebuild it with 'npm run build:native'/);
});

test('the native backend registers the fused kernels and the matmul overrides', () => {
  for (const k of ['IgrpoLayerNorm', 'IgrpoGelu', 'IgrpoCausalAttention', 'IgrpoTokenLogProbs', 'IgrpoEmbedding', 'BatchMatMul', '_FusedMatMul']) {
    assert.ok(tf.getKernel(k, 'native'), k);
  }
  // backends register kernels only: each fused op's one gradient (src/ops/gradients.ts) runs the backend's `${name}Grad`
  for (const name of Object.values(FUSED)) {
    assert.ok(tf.getKernel(gradKernel(name), 'native'), gradKernel(name));
    assert.ok(tf.getGradient(name), `gradient of ${name}`);
  }
  for (const name of Object.values(DECODE_KERNELS)) assert.ok(tf.getKernel(name, 'native'), name);
  assert.equal(adamKernel('native')?.kind, 'host'); // src/optim's Adam finds the C++ update by backend name
  assert.equal(tf.getKernelsForBackend('native').length >= tf.getKernelsForBackend('cpu').length, true);
});

test('layerNorm: forward and gradients of x, gamma, beta match the composite', () => {
  compare('layerNorm', [{ shape: [3, 5, 16] }, { shape: [16] }, { shape: [16] }], (x, g, b) => layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D), [0, 1, 2]);
});

test('gelu: forward and gradient match the composite (tanh approximation)', () => {
  compare('gelu', [{ shape: [4, 37], values: Array.from({ length: 148 }, (_, i) => (i - 74) / 9) }], (x) => gelu(x), [0]);
});

for (const [tq, tk] of [[7, 7], [3, 9], [1, 6]]) {
  test(`causal attention Tq=${tq} Tk=${tk}: forward and gradients of q, k, v match the composite`, () => {
    compare('attention', [{ shape: [2, 3, tq, 8] }, { shape: [2, 3, tk, 8] }, { shape: [2, 3, tk, 8] }],
      (q, k, v) => causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D), [0, 1, 2]);
  });
}

for (const [h, hkv, tq, tk] of [[4, 2, 7, 7], [6, 2, 3, 9], [4, 1, 1, 6]]) {
  test(`grouped-query attention H=${h} Hkv=${hkv} Tq=${tq} Tk=${tk}: forward and gradients match the composite and the repeat-kv reference`, () => {
    const specs = [{ shape: [2, h, tq, 8] }, { shape: [2, hkv, tk, 8] }, { shape: [2, hkv, tk, 8] }];
    const op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D);
    compare('GQA attention', specs, op, [0, 1, 2]);
    const ref = runOn('cpu', specs, (q, k, v) => referenceGqaAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D), [0, 1, 2]);
    const got = runOn('native', specs, op, [0, 1, 2]);
    ref.forEach((w, i) => assertClose(got[i], w, 2e-5, `GQA attention vs reference ${i === 0 ? 'forward' : `gradient ${i - 1}`}`));
  });
}

test('a GQA GPT (kvHeads = nHeads / 2) on native: KV-cache decoding equals the full forward, gradients match finite differences', async () => {
  tf.setBackend('native');
  const m = tinyGPT(GQA);
  await checkCacheEqualsFullForward(m, 2e-5);
  m.dispose();
  const f = fdModel();
  assert.ok((await checkFiniteDifferences(f)) >= 3 * 14);
  f.dispose();
});

test('tokenLogProbs: forward and logits gradient match log-softmax + one-hot', () => {
  compare('tokenLogProbs', [{ shape: [6, 11] }, { shape: [6], dtype: 'int32', values: [0, 10, 3, 3, 7, 1] }],
    (l, t) => tokenLogProbs(l as tf.Tensor2D, t as tf.Tensor1D), [0]);
});

test('embedding: gather forward and scatter-add gradient (repeated ids) match the composite', () => {
  compare('embedding', [{ shape: [9, 6] }, { shape: [7], dtype: 'int32', values: [2, 2, 0, 8, 2, 5, 0] }],
    (t, i) => embedding(t as tf.Tensor2D, i as tf.Tensor1D), [0]);
});

test('embedding rejects ids outside the table', () => {
  tf.setBackend('native');
  const t = tf.zeros([4, 2]) as tf.Tensor2D;
  const ids = tf.tensor1d([1, 4], 'int32');
  assert.throws(() => embedding(t, ids), /id 4 is not in \[0, 4\)/);
  tf.dispose([t, ids]);
});

const MATMUL_CASES: [string, number[], number[]][] = [
  ['2D', [5, 7], [7, 4]],
  ['batched', [3, 5, 7], [3, 7, 4]],
  ['4D batched', [2, 3, 5, 7], [2, 3, 7, 4]],
  ['shared right operand', [3, 5, 7], [7, 4]],
  ['shared left operand', [5, 7], [3, 7, 4]],
  ['broadcast batch of 1', [1, 5, 7], [3, 7, 4]],
  ['one row per batch (decoding)', [2, 3, 1, 7], [2, 3, 7, 9]],
];
for (const [name, sa, sb] of MATMUL_CASES) {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      // tfjs-core's BatchMatMul gradient does not reduce broadcast batch axes (it throws on cpu too),
      // so the broadcast forms are checked forward only
      const broadcast = sa.slice(0, -2).join() !== sb.slice(0, -2).join();
      test(`matMul ${name} transposeA=${ta} transposeB=${tb}: product${broadcast ? '' : ' and gradients'}`, () => {
        const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        compare('matMul', [{ shape: swap(sa, ta) }, { shape: swap(sb, tb) }], (a, b) => tf.matMul(a, b, ta, tb), broadcast ? [] : [0, 1]);
      });
    }
  }
}

test('fused matMul with bias (and its bias gradient through Sum) matches', () => {
  compare('fused', [{ shape: [6, 5] }, { shape: [5, 3] }, { shape: [3] }],
    (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }), [0, 1, 2]);
  compare('fused relu', [{ shape: [6, 5] }, { shape: [5, 3] }, { shape: [3] }],
    (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' }), [0, 1, 2]);
});

test('Add/Sub/Mul/Div broadcasting, Sum, Transpose, Softmax, Slice, SplitV, Concat, GatherV2 overrides match the cpu kernels', () => {
  compare('add', [{ shape: [4, 3, 5] }, { shape: [3, 5] }], (a, b) => tf.add(a, b), [0, 1]);
  compare('add general broadcast', [{ shape: [4, 1, 5] }, { shape: [3, 1] }], (a, b) => tf.add(a, b), [0, 1]);
  compare('sub column broadcast', [{ shape: [6, 5] }, { shape: [6, 1] }], (a, b) => tf.sub(a, b), [0, 1]);
  compare('mul scalar', [{ shape: [2, 3, 1, 4] }, { shape: [] }], (a, b) => tf.mul(a, b), [0, 1]);
  compare('mul middle broadcast', [{ shape: [2, 1, 4] }, { shape: [2, 3, 1] }], (a, b) => tf.mul(a, b), [0, 1]);
  compare('div', [{ shape: [3, 4] }, { shape: [4], values: [1.5, -2, 3, 0.5] }], (a, b) => tf.div(a, b), [0, 1]);
  compare('sum', [{ shape: [4, 3, 5] }], (x) => tf.sum(x, [0, 1]), [0]);
  compare('sum keepDims', [{ shape: [4, 3, 5] }], (x) => tf.sum(x, 0, true), [0]);
  compare('sum inner', [{ shape: [4, 3, 5] }], (x) => tf.sum(x, [1]), [0]);
  compare('transpose 5D', [{ shape: [2, 3, 3, 2, 4] }], (x) => tf.transpose(x, [2, 0, 3, 1, 4]), [0]);
  compare('softmax', [{ shape: [3, 4, 9] }], (x) => tf.softmax(x), [0]);
  compare('slice inner', [{ shape: [2, 3, 4, 9] }], (x) => tf.slice(x, [0, 1, 0, 2], [2, 2, 4, 6]), [0]);
  compare('slice last column', [{ shape: [2, 3, 9] }], (x) => tf.slice(x, [0, 0, 8], [2, 3, 1]), [0]);
  compare('slice middle axis', [{ shape: [4, 5, 3] }], (x) => tf.slice(x, [1, 2, 0], [2, 2, 3]), [0]);
  for (const [axis, sizes] of [[1, [4, 2, 2]], [2, 3], [0, [1, 1]]] as [number, number | number[]][]) {
    compare(`split axis ${axis} into ${sizes}`, [{ shape: [2, 8, 3, 6] }], (x) => tf.concat(tf.split(x, sizes, axis).map((p, i) => tf.mul(p, i + 1)), axis), [0]);
  }
  compare('concat axis 2', [{ shape: [2, 3, 4, 5] }, { shape: [2, 3, 1, 5] }], (a, b) => tf.concat([a, b], 2), [0, 1]);
  compare('concat axis 0', [{ shape: [2, 3] }, { shape: [1, 3] }], (a, b) => tf.concat([a, b], 0), [0, 1]);
  compare('gather axis 0', [{ shape: [5, 2, 3] }, { shape: [4], dtype: 'int32', values: [4, 0, 4, 2] }], (x, i) => tf.gather(x, i), []);
  compare('gather axis 1', [{ shape: [2, 5, 3] }, { shape: [2, 2], dtype: 'int32', values: [1, 0, 4, 4] }], (x, i) => tf.gather(x, i, 1), []);
  compare('transpose last axis moved', [{ shape: [2, 3, 4] }], (x) => tf.transpose(x, [2, 0, 1]), [0]);
});

const TOKENIZER = new CharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz .,' });
const CONFIG = { vocabSize: 32, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 16, seed: 5 };
const IDS = Array.from({ length: 3 }, (_, r) => Array.from({ length: 12 }, (_, c) => (r * 7 + c * 5) % 32));

/** Loss and gradients of one GPT step, then the parameters after two Adam steps. */
function gptTrainStep(backend: string): { loss: number; grads: Float32Array[]; after: Float32Array[] } {
  tf.setBackend(backend);
  const model = new GPT(CONFIG, TOKENIZER);
  const params = model.parameters();
  const opt = new Adam(params, { lr: 1e-2, weightDecay: 0.01 });
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  let loss = 0;
  let grads: Float32Array[] = [];
  for (let s = 0; s < 2; s++) {
    const { value, grads: g } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogProbs(ids))) as tf.Scalar, params);
    const list = params.map((p) => g[p.name]);
    if (s === 0) {
      loss = value.dataSync()[0];
      grads = list.map((t) => Float32Array.from(t.dataSync()));
    }
    opt.step(list);
    tf.dispose([value, ...list]);
  }
  const after = params.map((p) => Float32Array.from(p.dataSync()));
  ids.dispose();
  opt.dispose();
  model.dispose();
  return { loss, grads, after };
}

test('a whole GPT train step (loss, every gradient, two Adam steps) on native matches cpu', () => {
  const want = gptTrainStep('cpu');
  const got = gptTrainStep('native');
  assert.ok(Math.abs(got.loss - want.loss) < 1e-5 * Math.abs(want.loss), `loss ${got.loss} vs ${want.loss}`);
  want.grads.forEach((g, i) => assertClose(got.grads[i], g, 1e-4, `gradient ${i}`));
  // Adam divides by √v: a gradient that is pure rounding noise (the key bias's is exactly zero in exact
  // arithmetic) still moves its parameter by up to ~0.1·lr per step, differently per path. So the
  // parameters are compared to within a fraction of the two steps' total movement (2·lr).
  want.after.forEach((p, i) => {
    let worst = 0;
    p.forEach((w, j) => (worst = Math.max(worst, Math.abs(w - got.after[i][j]))));
    assert.ok(worst < 0.25 * 2 * 1e-2, `parameter ${i} after Adam: max |diff| ${worst}`);
  });
});

test('tf.memory().numTensors is stable over train steps and sampling on native', () => {
  tf.setBackend('native');
  const model = new GPT(CONFIG, TOKENIZER);
  const params = model.parameters();
  const opt = new Adam(params, { lr: 1e-3 });
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogProbs(ids))) as tf.Scalar, params);
    const list = params.map((p) => grads[p.name]);
    opt.step(list);
    tf.dispose([value, ...list]);
    const prompt = ids.slice([0, 0], [3, 4]) as tf.Tensor2D;
    const { logits, cache } = model.prefill(prompt);
    const next = tf.tensor2d([[1], [2], [3]], undefined, 'int32');
    const l2 = model.decode(next, cache);
    tf.dispose([prompt, logits, next, l2]);
    cache.dispose();
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, before);
  ids.dispose();
  opt.dispose();
  model.dispose();
});

test('recycled output arrays never clobber data a caller read or a view still uses', () => {
  tf.setBackend('native');
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  // read, dispose, then run more kernels of the same size: the read array must not be reused
  const y = tf.add(x, x);
  const read = y.dataSync();
  y.dispose();
  for (let i = 0; i < 5; i++) tf.tidy(() => tf.mul(tf.add(x, x), tf.add(x, x)).dataSync());
  assert.deepEqual(Array.from(read), [2, 4, 6, 8]);
  // unstack returns views of its input: they must survive the input's disposal and later kernels
  const t = tf.transpose(tf.tensor3d([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]), [1, 0, 2]); // our array
  const [a, b] = tf.unstack(t);
  t.dispose();
  for (let i = 0; i < 5; i++) tf.tidy(() => tf.transpose(tf.tensor3d([[[9, 9], [9, 9]], [[9, 9], [9, 9]]]), [1, 0, 2]).dataSync());
  assert.deepEqual(Array.from(a.dataSync()), [1, 2, 5, 6]);
  assert.deepEqual(Array.from(b.dataSync()), [3, 4, 7, 8]);
  tf.dispose([x, a, b]);
});

test('an output array nobody read is recycled once its tensor is disposed', async () => {
  tf.setBackend('native');
  const { pool } = await import('../src/backend/native/pool.js');
  const x = tf.ones([3, 7]);
  const y = tf.add(x, x);
  const backend = tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } };
  const arr = backend.data.get(y.dataId).values;
  y.dispose();
  const again = pool.alloc(21);
  assert.equal(again.buffer, arr.buffer);
  assert.equal(again.length, 21);
  x.dispose();
  // a slightly larger request (a KV cache one position longer) reuses a released buffer of its bucket
  const big = tf.ones([64, 4, 40, 32]);
  const grown = tf.concat([big, big.slice([0, 0, 0, 0], [64, 4, 1, 32])], 2);
  const buffer = backend.data.get(grown.dataId).values.buffer;
  grown.dispose();
  const next = tf.concat([big, big.slice([0, 0, 0, 0], [64, 4, 2, 32])], 2);
  assert.equal(backend.data.get(next.dataId).values.buffer, buffer);
  assert.equal(backend.data.get(next.dataId).values.length, 64 * 4 * 42 * 32);
  tf.dispose([big, next]);
});
