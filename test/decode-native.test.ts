// KV-cache decoding on the native backend: the fused decode-attention kernels against the composite
// (values), in-place decoding into a preallocated suffix against the full forward, the same sampled
// tokens as on cpu, and no tensor leaks. Needs the addon (`npm run build:native`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from '../src/backend/native/index.js';
import { DECODE_KERNELS, canDecodeInPlace, decodeAttention, decodeAttentionComposite, decodeAttentionInPlace } from '../src/model/decode-attention.js';
import { GPTKVCache } from '../src/model/kvcache.js';
import { sample } from '../src/sampling/index.js';
import { Rng } from '../src/util/rng.js';
import { tinyGPT } from './core-fixtures.js';

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

const [H, TP, TS, DH] = [3, 7, 4, 8];
const MASK = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1]; // prompt 1 left-padded by 3

for (const group of [1, 3]) {
  for (const masked of [false, true]) {
    test(`native IgrpoDecodeAttention equals the composite (group ${group}, ${masked ? 'padded' : 'unpadded'} prefix)`, () => {
      const u = 2;
      const b = u * group;
      const inputs = () => ({
        q: t4([b, H, 1, DH], 1),
        kp: t4([u, H, TP, DH], 2),
        vp: t4([u, H, TP, DH], 3),
        ks: t4([b, H, TS, DH], 4),
        vs: t4([b, H, TS, DH], 5),
        mask: masked ? tf.tensor2d(MASK, [u, TP]) : null,
      });
      const want = on('cpu', () => {
        const x = inputs();
        return decodeAttentionComposite(x.q, x.kp, x.vp, x.mask, group, x.ks, x.vs);
      });
      const got = on('native', () => {
        const x = inputs();
        return decodeAttention(x.q, x.kp, x.vp, x.mask, group, x.ks, x.vs);
      });
      assert.ok(tf.getKernel(DECODE_KERNELS.attention, 'native'));
      assert.ok(maxDiff(got, want) < 1e-5, `max diff ${maxDiff(got, want)}`);
      // a suffix with spare capacity: only the first suffixLength positions count
      const spare = on('native', () => {
        const x = inputs();
        const pad = (s: tf.Tensor4D) => tf.concat([s, t4([b, H, 5, DH], 9)], 2);
        const named: tf.NamedTensorMap = { q: x.q, kp: x.kp, vp: x.vp, ks: pad(x.ks), vs: pad(x.vs), ...(x.mask ? { prefixMask: x.mask } : {}) };
        return tf.engine().runKernel(DECODE_KERNELS.attention, named, { group, suffixLength: TS }) as tf.Tensor;
      });
      assert.ok(maxDiff(spare, want) < 1e-5, `spare capacity: max diff ${maxDiff(spare, want)}`);
    });

    test(`native in-place decode (qkv → append → attend) equals concat + composite (group ${group}, ${masked ? 'padded' : 'unpadded'})`, () => {
      const u = 2;
      const b = u * group;
      const d = H * DH;
      const cap = TS + 3;
      const qkvData = seeded(b * 3 * d, 6);
      // the composite: split qkv into heads, grow the suffix by concat
      const want = on('cpu', () => {
        const [q, k, v] = tf.unstack(tf.tensor(qkvData, [b, 1, 3, H, DH]).transpose([2, 0, 3, 1, 4])) as tf.Tensor4D[];
        const ks = tf.concat([t4([b, H, TS, DH], 4), k], 2) as tf.Tensor4D;
        const vs = tf.concat([t4([b, H, TS, DH], 5), v], 2) as tf.Tensor4D;
        const m = masked ? tf.tensor2d(MASK, [u, TP]) : null;
        const att = decodeAttentionComposite(q, t4([u, H, TP, DH], 2), t4([u, H, TP, DH], 3), m, group, ks, vs);
        return tf.concat([att.transpose([0, 2, 1, 3]).reshape([b, d]), ks.reshape([-1]).reshape([b, -1]), vs.reshape([b, -1])], 1);
      });
      tf.setBackend('native');
      assert.ok(canDecodeInPlace());
      const got = on('native', () => {
        const grow = (x: tf.Tensor4D) => tf.engine().runKernel(DECODE_KERNELS.grow, { x }, { length: TS, capacity: cap }) as tf.Tensor4D;
        const ks = grow(t4([b, H, TS, DH], 4));
        const vs = grow(t4([b, H, TS, DH], 5));
        const m = masked ? tf.tensor2d(MASK, [u, TP]) : null;
        const att = decodeAttentionInPlace(tf.tensor2d(qkvData, [b, 3 * d]), t4([u, H, TP, DH], 2), t4([u, H, TP, DH], 3), m, group, ks, vs, TS);
        const valid = (s: tf.Tensor4D) => s.slice([0, 0, 0, 0], [b, H, TS + 1, DH]).reshape([b, -1]);
        // the two spare positions past the written one stay zero
        assert.equal(tf.abs(ks.slice([0, 0, TS + 1, 0], [b, H, cap - TS - 1, DH])).max().dataSync()[0], 0);
        return tf.concat([att, valid(ks), valid(vs)], 1);
      });
      assert.ok(maxDiff(got, want) < 1e-5, `max diff ${maxDiff(got, want)}`);
    });
  }
}

/** Per row, log-softmax of the last position's logits by a full forward of each sequence. */
function fullLastLogProbs(seqs: number[][], m: ReturnType<typeof tinyGPT>): number[][] {
  return seqs.map((s) => tf.tidy(() => Array.from(tf.logSoftmax(m.logits(tf.tensor2d([s], undefined, 'int32')).slice([0, s.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync())));
}

test('native in-place decoding through every cache layout (groups, drop, ragged select, growth, concat) equals the full forward', () => {
  tf.setBackend('native');
  const m = tinyGPT();
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

test('sampling on native gives the same tokens as on cpu (grouped, padded, and unshared), and leaks no tensors', async () => {
  const prompts = ['12+34=', '(5*6)-7=', '9'];
  const run = async (backend: string, share: boolean) => {
    tf.setBackend(backend);
    const m = tinyGPT();
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
  const m = tinyGPT();
  await sample(m, prompts, { n: 4, maxNewTokens: 12, seed: 1 });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) await sample(m, prompts, { n: 4, maxNewTokens: 12, seed: i });
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});
