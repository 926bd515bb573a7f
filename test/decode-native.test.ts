// KV-cache decoding on the native backend: the decode-attention kernel against the composite (values,
// with and without grouped-query attention), kvAppend in place into a preallocated suffix, decoding
// through every cache layout against the full forward, the same sampled tokens as on cpu, and no
// tensor leaks. Needs the addon (`npm run build:native`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from '../src/backend/native/index.js';
import { DECODE_KERNELS, type KVLayer, decodeAttention, decodeAttentionComposite, kvAppend, kvGrow } from '../src/ops/index.js';
import { GPTKVCache } from '../src/model/kvcache.js';
import { sample } from '../src/sampling/index.js';
import { Rng } from '../src/util/rng.js';
import { tinyGPT } from './core-fixtures.js';
import { GQA } from './gqa-fixtures.js';

await registerNativeBackend();

function seeded(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n);
  rng.fillNormal(a, 1);
  return a;
}

const t4 = (shape: number[], seed: number) => tf.tensor4d(seeded(shape.reduce((a, b) => a * b, 1), seed), shape as [number, number, number, number]);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** f's result as plain numbers on `backend`. */
function on(backend: string, f: () => tf.Tensor): Float32Array {
  tf.setBackend(backend);
  return tf.tidy(() => f().dataSync() as Float32Array).slice();
}

const [H, TP, TS, DH] = [4, 7, 4, 8];
const MASK = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1]; // prompt 1 left-padded by 3

for (const hkv of [H, H / 2, 1]) {
  for (const group of [1, 3]) {
    for (const masked of [false, true]) {
      const what = `group ${group}, ${hkv} kv heads of ${H}, ${masked ? 'padded' : 'unpadded'} prefix`;
      test(`native IgrpoDecodeAttention equals the composite (${what})`, () => {
        const u = 2;
        const b = u * group;
        const opts = { group, kvHeads: hkv };
        const layer = (ks: tf.Tensor4D, vs: tf.Tensor4D): KVLayer => ({
          kp: t4([u, hkv, TP, DH], 2),
          vp: t4([u, hkv, TP, DH], 3),
          prefixMask: masked ? tf.tensor2d(MASK, [u, TP]) : null,
          ks,
          vs,
          suffixLength: TS,
        });
        const want = on('cpu', () => decodeAttentionComposite(t4([b, H, 1, DH], 1), layer(t4([b, hkv, TS, DH], 4), t4([b, hkv, TS, DH], 5)), opts));
        const got = on('native', () => decodeAttention(t4([b, H, 1, DH], 1), layer(t4([b, hkv, TS, DH], 4), t4([b, hkv, TS, DH], 5)), opts));
        assert.ok(tf.getKernel(DECODE_KERNELS.attention, 'native'));
        assert.ok(maxDiff(got, want) < 1e-5, `max diff ${maxDiff(got, want)}`);
        // a suffix with spare capacity: only the first suffixLength positions count
        const pad = (s: tf.Tensor4D) => tf.concat([s, t4([b, hkv, 5, DH], 9)], 2) as tf.Tensor4D;
        const spare = on('native', () => decodeAttention(t4([b, H, 1, DH], 1), layer(pad(t4([b, hkv, TS, DH], 4)), pad(t4([b, hkv, TS, DH], 5))), opts));
        assert.ok(maxDiff(spare, want) < 1e-5, `spare capacity: max diff ${maxDiff(spare, want)}`);
      });
    }
  }
}

test('GQA decode attention equals repeat-kv then plain attention over prefix + suffix (hand-written reference, cpu and native)', () => {
  // one prompt row per batch row (group 1), no padding: attention of one query over [prefix; suffix]
  const [b, hkv] = [2, 2];
  const ref = on('cpu', () => {
    const q = t4([b, H, 1, DH], 1);
    const k = tf.concat([t4([b, hkv, TP, DH], 2), t4([b, hkv, TS, DH], 4)], 2);
    const v = tf.concat([t4([b, hkv, TP, DH], 3), t4([b, hkv, TS, DH], 5)], 2);
    const rep = (x: tf.Tensor) => tf.stack(Array.from({ length: H }, (_, h) => x.slice([0, Math.floor(h / (H / hkv)), 0, 0], [b, 1, -1, DH]).squeeze([1])), 1);
    const p = tf.softmax(tf.mul(tf.matMul(q, rep(k), false, true), 1 / Math.sqrt(DH)), -1);
    return tf.matMul(p, rep(v));
  });
  for (const backend of ['cpu', 'native']) {
    const got = on(backend, () =>
      decodeAttention(t4([b, H, 1, DH], 1), { kp: t4([b, hkv, TP, DH], 2), vp: t4([b, hkv, TP, DH], 3), prefixMask: null, ks: t4([b, hkv, TS, DH], 4), vs: t4([b, hkv, TS, DH], 5), suffixLength: TS }, { group: 1, kvHeads: hkv }),
    );
    assert.ok(maxDiff(got, ref) < 1e-5, `${backend}: max diff ${maxDiff(got, ref)}`);
  }
});

test('native kvAppend writes in place (the result shares the buffer), kvGrow keeps the valid part, and both equal the composites', () => {
  const [b, hkv, cap] = [3, 2, TS + 3];
  // (after kvAppend the input buffer may have been written: only its result is read)
  const grown = () => kvGrow(t4([b, hkv, TS, DH], 4), TS, cap);
  const appended = () => kvAppend(grown(), t4([b, hkv, 1, DH], 6), TS);
  for (const f of [grown, appended]) {
    const want = on('cpu', f);
    const got = on('native', f);
    assert.ok(maxDiff(got, want) === 0, `max diff ${maxDiff(got, want)}`);
  }
  tf.setBackend('native');
  tf.tidy(() => {
    const buf = kvGrow(t4([b, hkv, TS, DH], 4), TS, cap);
    const x = t4([b, hkv, 1, DH], 6);
    const out = kvAppend(buf, x, TS);
    assert.equal(out.dataId, buf.dataId, 'written in place');
    const written = out.slice([0, 0, TS, 0], [b, hkv, 1, DH]);
    assert.equal(maxDiff(written.dataSync(), x.dataSync()), 0);
    // the spare positions past the written one stay zero
    assert.equal(tf.abs(out.slice([0, 0, TS + 1, 0], [b, hkv, cap - TS - 1, DH])).max().dataSync()[0], 0);
    // a buffer another tensor shares is not written under it: the result is a copy
    const shared = tf.clone(buf);
    const before = Float32Array.from(shared.dataSync());
    const copy = kvAppend(shared, t4([b, hkv, 1, DH], 7), 0);
    assert.notEqual(copy.dataId, shared.dataId);
    assert.equal(maxDiff(buf.dataSync(), before), 0);
  });
});

/** Per row, log-softmax of the last position's logits by a full forward of each sequence. */
function fullLastLogProbs(seqs: number[][], m: ReturnType<typeof tinyGPT>): number[][] {
  return seqs.map((s) => tf.tidy(() => Array.from(tf.logSoftmax(m.logits(tf.tensor2d([s], undefined, 'int32')).slice([0, s.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync())));
}

for (const heads of [{}, GQA]) test(`native in-place decoding through every cache layout (groups, drop, ragged select, growth, concat) equals the full forward (${JSON.stringify(heads)})`, () => {
  tf.setBackend('native');
  const m = tinyGPT(heads);
  const rng = new Rng(5);
  const V = m.tokenizer.vocabSize;
  const ids = (n: number) => Array.from({ length: n }, () => 3 + rng.int(V - 3));
  const prompts = [ids(4), ids(9), ids(6)];
  const parts = prompts.map((p) => m.prefill(tf.tensor2d([p], undefined, 'int32')));
  const joined = parts[0].cache.concat(parts.slice(1).map((p) => p.cache));
  parts.forEach((p) => (p.cache.dispose(), p.logits.dispose()));
  let cache = joined.select([0, 0, 1, 1, 2, 2]) as GPTKVCache;
  joined.dispose();
  let seqs = [0, 0, 1, 1, 2, 2].map((i) => [...prompts[i]]);
  const step = (label: string) => {
    const next = seqs.map(() => 3 + rng.int(V - 3));
    const logits = m.decode(tf.tensor2d(next.map((x) => [x]), undefined, 'int32'), cache);
    seqs = seqs.map((s, i) => [...s, next[i]]);
    const got = tf.tidy(() => tf.logSoftmax(logits).arraySync());
    logits.dispose();
    const want = fullLastLogProbs(seqs, m);
    got.forEach((row, i) => assert.ok(maxDiff(row, want[i]) < 2e-5, `${label}, row ${i}: ${maxDiff(row, want[i])}`));
  };
  const reselect = (rows: number[]) => {
    const c = cache.select(rows);
    cache.dispose();
    cache = c;
    seqs = rows.map((r) => seqs[r]);
  };
  for (let i = 0; i < 3; i++) step(`groups of 2, step ${i}`);
  assert.ok(cache.suffix![0].k.shape[2] > cache.suffixLength, 'the suffix has spare capacity');
  reselect([0, 1, 4, 5]);
  step('after dropping a group');
  reselect([3, 0]);
  step('ragged');
  for (let i = 0; i < 18; i++) step(`past the first capacity, step ${i}`); // 16 → 32
  assert.equal(cache.suffixLength, 23);
  const fresh = m.prefill(tf.tensor2d([prompts[1]], undefined, 'int32'));
  const both = cache.concat([fresh.cache]) as GPTKVCache;
  fresh.cache.dispose();
  fresh.logits.dispose();
  cache.dispose();
  cache = both;
  seqs = [...seqs, [...prompts[1]]];
  step('concat after decoding');
  step('concat after decoding, second step');
  cache.dispose();
  m.dispose();
});

for (const heads of [{}, GQA]) test(`sampling on native gives the same tokens as on cpu (grouped, padded, and unshared), and leaks no tensors (${JSON.stringify(heads)})`, async () => {
  const prompts = ['12+34=', '(5*6)-7=', '9'];
  const run = async (backend: string, share: boolean) => {
    tf.setBackend(backend);
    const m = tinyGPT(heads);
    const out = await sample(m, prompts, { n: 3, maxNewTokens: 20, seed: 11, sharePrefix: share, temperature: 1 });
    m.dispose();
    return out;
  };
  const cpu = await run('cpu', true);
  for (const share of [true, false]) {
    const nat = await run('native', share);
    assert.deepEqual(nat.map((g) => g.map((c) => c.ids)), cpu.map((g) => g.map((c) => c.ids)), `share ${share}`);
    nat.flat().forEach((c, i) => c.logprobs.forEach((x, j) => assert.ok(Math.abs(x - cpu.flat()[i].logprobs[j]) < 1e-4)));
  }
  tf.setBackend('native');
  const m = tinyGPT(heads);
  await sample(m, prompts, { n: 4, maxNewTokens: 12, seed: 1 });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await sample(m, prompts, { n: 4, maxNewTokens: 12, seed: i });
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});
