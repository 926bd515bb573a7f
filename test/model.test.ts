import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GPT, gptParamSpecs } from '../src/model/gpt.js';
import { parseGPTConfig } from '../src/model/config.js';
import type { KVCache } from '../src/model/policy.js';
import { GPTKVCache } from '../src/model/kvcache.js';
import { Rng } from '../src/util/rng.js';
import { arithmeticTokenizer, tinyGPT } from './core-fixtures.js';
import { GQA, checkCacheEqualsFullForward, checkFiniteDifferences, fdModel, referenceGqaAttention } from './gqa-fixtures.js';
import { causalAttention } from '../src/ops/index.js';

/** Max |a - b| over two equally long arrays. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function randomIds(rng: Rng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => 3 + rng.int(vocab - 3)); // skip pad/bos/eos
}

/** log p(seq[t] | seq[..t]) for t >= start, by prefill(seq[..start]) then one decode per token. */
function cachedLogProbs(m: GPT, seq: number[], start: number): number[] {
  const { logits, cache } = m.prefill(tf.tensor2d([seq.slice(0, start)], undefined, 'int32'));
  const out: number[] = [];
  let cur = logits;
  for (let t = start; t < seq.length; t++) {
    out.push(tf.tidy(() => tf.logSoftmax(cur).arraySync()[0][seq[t]]));
    cur.dispose();
    cur = m.decode(tf.tensor2d([[seq[t]]], undefined, 'int32'), cache);
  }
  cur.dispose();
  cache.dispose();
  return out;
}

// float32 throughout; the cached and full paths sum the same terms in different groupings
const KV_TOL = 2e-5;

test('KV-cache decoding gives the same log-probs as the full forward (tol 2e-5)', () => {
  const m = tinyGPT();
  const rng = new Rng(1);
  const seq = randomIds(rng, 30, m.tokenizer.vocabSize);
  const full = tf.tidy(() => m.tokenLogProbs(tf.tensor2d([seq], undefined, 'int32')).arraySync()[0]);
  const start = 7;
  const cached = cachedLogProbs(m, seq, start);
  assert.ok(maxDiff(cached, full.slice(start - 1)) < KV_TOL, `max diff ${maxDiff(cached, full.slice(start - 1))}`);
  m.dispose();
});

test('left-padded cache concat: rows of different prompt lengths decode as if alone', () => {
  const m = tinyGPT();
  const rng = new Rng(2);
  const seqs = [randomIds(rng, 20, m.tokenizer.vocabSize), randomIds(rng, 20, m.tokenizer.vocabSize), randomIds(rng, 20, m.tokenizer.vocabSize)];
  const starts = [3, 9, 6];
  const prefills = seqs.map((s, i) => m.prefill(tf.tensor2d([s.slice(0, starts[i])], undefined, 'int32')));
  const caches: KVCache[] = prefills.map((p) => p.cache);
  const cache = caches[0].concat(caches.slice(1));
  caches.forEach((c) => c.dispose());
  let logits = tf.concat(prefills.map((p) => p.logits)) as tf.Tensor2D;
  prefills.forEach((p) => p.logits.dispose());
  const got: number[][] = [[], [], []];
  for (let step = 0; step < 8; step++) {
    const lp = tf.tidy(() => tf.logSoftmax(logits).arraySync());
    seqs.forEach((s, i) => got[i].push(lp[i][s[starts[i] + step]]));
    logits.dispose();
    logits = m.decode(tf.tensor2d(seqs.map((s, i) => [s[starts[i] + step]]), undefined, 'int32'), cache);
  }
  logits.dispose();
  cache.dispose();
  seqs.forEach((s, i) => {
    const full = tf.tidy(() => m.tokenLogProbs(tf.tensor2d([s], undefined, 'int32')).arraySync()[0]);
    const want = full.slice(starts[i] - 1, starts[i] - 1 + 8);
    assert.ok(maxDiff(got[i], want) < KV_TOL, `row ${i}: max diff ${maxDiff(got[i], want)}`);
  });
  m.dispose();
});

test('cache.select copies rows: a prompt expanded to G rows decodes like the prompt alone', () => {
  const m = tinyGPT();
  const seq = randomIds(new Rng(3), 12, m.tokenizer.vocabSize);
  const { logits, cache } = m.prefill(tf.tensor2d([seq.slice(0, 5)], undefined, 'int32'));
  const g = cache.select([0, 0, 0]);
  cache.dispose();
  const next = m.decode(tf.tensor2d([[seq[5]], [seq[5]], [seq[5]]], undefined, 'int32'), g);
  const rows = next.arraySync();
  assert.equal(g.length, 6);
  assert.equal(g.batch, 3);
  assert.ok(maxDiff(rows[0], rows[2]) === 0);
  const alone = cachedLogProbs(m, seq, 5);
  const lp = tf.tidy(() => tf.logSoftmax(next).arraySync());
  assert.ok(Math.abs(lp[1][seq[6]] - alone[1]) < KV_TOL);
  [logits, next].forEach((t) => t.dispose());
  g.dispose();
  m.dispose();
});

/** Last-position log-probs of each sequence by a full forward: the reference for any cache layout. */
function fullLastLogProbs(m: GPT, seqs: number[][]): number[][] {
  return seqs.map((s) => tf.tidy(() => (tf.logSoftmax(m.logits(tf.tensor2d([s], undefined, 'int32')).slice([0, s.length - 1, 0], [1, 1, -1]).reshape([-1])).arraySync() as number[])));
}

test('every cache layout (shared groups, whole-group drop, ragged select, concat after decoding) decodes exactly', () => {
  const m = tinyGPT();
  const rng = new Rng(5);
  const V = m.tokenizer.vocabSize;
  const prompts = [randomIds(rng, 4, V), randomIds(rng, 9, V), randomIds(rng, 6, V)];
  // prompts 0 and 2 prefilled apart, concatenated (padded), expanded to groups of 2 rows
  const p0 = m.prefill(tf.tensor2d([prompts[0]], undefined, 'int32'));
  const p12 = [1, 2].map((i) => m.prefill(tf.tensor2d([prompts[i]], undefined, 'int32')));
  const joined = p0.cache.concat(p12.map((p) => p.cache));
  [p0, ...p12].forEach((p) => {
    p.cache.dispose();
    p.logits.dispose();
  });
  let cache = joined.select([0, 0, 1, 1, 2, 2]);
  joined.dispose();
  const layout = () => [(cache as GPTKVCache).group, (cache as GPTKVCache).prefix[0].k.shape[0]];
  assert.deepEqual(layout(), [2, 3]); // 3 prompts' keys, each shared by 2 rows
  let seqs = [0, 0, 1, 1, 2, 2].map((i) => [...prompts[i]]);
  const step = (label: string) => {
    const next = seqs.map(() => 3 + rng.int(V - 3));
    const logits = m.decode(tf.tensor2d(next.map((x) => [x]), undefined, 'int32'), cache);
    seqs = seqs.map((s, i) => [...s, next[i]]);
    const got = tf.tidy(() => tf.logSoftmax(logits).arraySync());
    logits.dispose();
    const want = fullLastLogProbs(m, seqs);
    got.forEach((row, i) => assert.ok(maxDiff(row, want[i]) < KV_TOL, `${label}, row ${i}: ${maxDiff(row, want[i])}`));
  };
  const reselect = (rows: number[]) => {
    const c = cache.select(rows);
    cache.dispose();
    cache = c;
    seqs = rows.map((r) => seqs[r]);
  };
  step('groups of 2');
  step('groups of 2, second step');
  reselect([0, 1, 4, 5]); // drop the middle group whole
  assert.deepEqual(layout(), [2, 2]);
  step('after dropping a group');
  reselect([3, 0]); // ragged, reordered
  assert.deepEqual(layout(), [1, 2]);
  step('ragged');
  // a cache that has decoded, joined with a fresh one of a different length
  const fresh = m.prefill(tf.tensor2d([prompts[1]], undefined, 'int32'));
  const both = cache.concat([fresh.cache]);
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

test('tokenLogProbs is log-softmax of logits at the next token (hand check on one position)', () => {
  const m = tinyGPT();
  const seq = [5, 9, 11, 4, 7];
  const ids = tf.tensor2d([seq], undefined, 'int32');
  const logits = m.logits(ids).arraySync()[0];
  const lp = m.tokenLogProbs(ids).arraySync()[0];
  assert.equal(lp.length, 4);
  for (let t = 0; t < 4; t++) {
    const row = logits[t];
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
    assert.ok(Math.abs(lp[t] - (row[seq[t + 1]] - lse)) < 1e-5);
  }
  m.dispose();
});

test('gradients match central finite differences (tiny model, float32)', () => {
  const tokenizer = arithmeticTokenizer();
  for (const tied of [true, false]) {
    const m = new GPT({ vocabSize: tokenizer.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, initStd: 0.4, seed: 3, tiedEmbeddings: tied }, tokenizer);
    const ids = tf.tensor2d([[4, 9, 12, 5, 8, 3], [7, 7, 10, 4, 6, 11]], undefined, 'int32');
    // a weighted sum so every position's gradient matters and errors do not cancel
    const weights = tf.tensor2d([[0.3, -1.1, 0.7, 0.2, -0.5], [1.3, 0.4, -0.8, 0.9, 0.6]]);
    const loss = () => tf.sum(tf.mul(m.tokenLogProbs(ids), weights)) as tf.Scalar;
    const params = m.namedParameters();
    const { grads } = tf.variableGrads(loss, params.map(([, v]) => v));
    const rng = new Rng(11);
    const eps = 1e-2;
    let checked = 0;
    for (const [name, v] of params) {
      const g = grads[v.name].dataSync();
      for (let trial = 0; trial < 3; trial++) {
        const i = rng.int(v.size);
        const base = v.dataSync().slice();
        const at = (delta: number) => {
          const w = base.slice();
          w[i] += delta;
          v.assign(tf.tensor(w, v.shape));
          return tf.tidy(() => loss().dataSync()[0]);
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        v.assign(tf.tensor(base, v.shape));
        const tol = 3e-3 + 3e-2 * Math.abs(fd);
        assert.ok(Math.abs(fd - g[i]) < tol, `${tied ? 'tied' : 'untied'} ${name}[${i}]: analytic ${g[i]}, finite difference ${fd}`);
        checked++;
      }
    }
    assert.ok(checked >= 3 * 14);
    Object.values(grads).forEach((t) => t.dispose());
    ids.dispose();
    weights.dispose();
    m.dispose();
  }
});

test('grouped-query attention (cpu composite) equals repeat-kv then plain attention, forward and gradients of q, k, v', () => {
  const rng = new Rng(4);
  const t4 = (shape: number[]) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    rng.fillNormal(a, 1);
    return tf.tensor4d(a, shape as [number, number, number, number]);
  };
  for (const [h, hkv, tq, tk] of [[4, 2, 5, 5], [4, 1, 3, 6], [6, 3, 1, 4], [2, 2, 4, 4]]) {
    const [q, k, v] = [t4([2, h, tq, 8]), t4([2, hkv, tk, 8]), t4([2, hkv, tk, 8])];
    const w = t4([2, h, tq, 8]); // a weighted sum, so every output element's gradient differs
    const run = (f: typeof causalAttention) => {
      const y = f(q, k, v);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D), w)))([q, k, v]);
      return [y, ...g].map((x) => x.dataSync());
    };
    const got = tf.tidy(() => run(causalAttention));
    const want = tf.tidy(() => run(referenceGqaAttention));
    ['forward', 'dq', 'dk', 'dv'].forEach((what, i) => assert.ok(maxDiff(got[i], want[i]) < 1e-5, `H ${h} Hkv ${hkv} Tq ${tq} Tk ${tk} ${what}: ${maxDiff(got[i], want[i])}`));
    assert.deepEqual([got[2].length, got[3].length], [2 * hkv * tk * 8, 2 * hkv * tk * 8]); // dk, dv keep Hkv heads
    tf.dispose([q, k, v, w]);
  }
  assert.throws(() => tf.tidy(() => causalAttention(t4([1, 4, 2, 8]), t4([1, 3, 2, 8]), t4([1, 3, 2, 8]))), /H a multiple of Hkv/);
});

test('a GQA GPT (kvHeads = nHeads / 2): KV-cache decoding (shared groups, padding, ragged select) equals the full forward', async () => {
  const m = tinyGPT(GQA);
  assert.deepEqual(m.namedParameters().find(([n]) => n === 'h.0.attn.wqkv')![1].shape, [16, 16 + 2 * 2 * 4]);
  await checkCacheEqualsFullForward(m, KV_TOL);
  m.dispose();
});

test('a GQA GPT (kvHeads = nHeads / 2): gradients match central finite differences (cpu)', async () => {
  for (const tied of [true, false]) {
    const m = fdModel(tied);
    assert.ok((await checkFiniteDifferences(m)) >= 3 * 14);
    m.dispose();
  }
});

test('parameter count follows the formula V·d + T·d + L·(12d² + 13d) + 2d (+ d·V untied)', () => {
  const tok = arithmeticTokenizer();
  const [V, d, L, T] = [tok.vocabSize, 16, 3, 32];
  const tied = new GPT({ vocabSize: V, dModel: d, nLayers: L, nHeads: 4, maxSeqLen: T }, tok);
  const untied = new GPT({ vocabSize: V, dModel: d, nLayers: L, nHeads: 4, maxSeqLen: T, tiedEmbeddings: false }, tok);
  const formula = V * d + T * d + L * (12 * d * d + 13 * d) + 2 * d;
  assert.equal(tied.numParameters(), formula);
  assert.equal(untied.numParameters(), formula + d * V);
  assert.equal(tied.parameters().length, gptParamSpecs(tied.config).length);
  tied.dispose();
  untied.dispose();
});

test('init is deterministic by seed and differs across seeds', () => {
  const a = tinyGPT({ seed: 1 });
  const b = tinyGPT({ seed: 1 });
  const c = tinyGPT({ seed: 2 });
  const wa = a.parameters()[0].dataSync() as Float32Array;
  assert.deepEqual(wa, b.parameters()[0].dataSync());
  assert.notDeepEqual(wa, c.parameters()[0].dataSync());
  // GPT-2 init: N(0, initStd²) for the embedding
  const std = Math.sqrt(wa.reduce((s, x) => s + x * x, 0) / wa.length);
  assert.ok(Math.abs(std - 0.3) < 0.03, `std ${std}`);
  [a, b, c].forEach((m) => m.dispose());
});

test('invalid model configs give a clear error naming the field', () => {
  const tok = arithmeticTokenizer();
  assert.throws(() => parseGPTConfig({ vocabSize: 10, dModel: 10, nLayers: 1, nHeads: 3, maxSeqLen: 8 }), /dModel: dModel must be divisible by nHeads/);
  assert.throws(() => parseGPTConfig({ vocabSize: 10, dModel: 8, nLayers: 0, nHeads: 2, maxSeqLen: 8 }), /invalid model config: nLayers/);
  assert.throws(() => parseGPTConfig({ vocabSize: 10, dModel: 8, nLayers: 1, nHeads: 2 }), /maxSeqLen: Required/);
  assert.throws(() => parseGPTConfig({ vocabSize: 10, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, nHead: 2 }), /Unrecognized key.*nHead/);
  assert.throws(() => parseGPTConfig({ vocabSize: 10, dModel: 12, nLayers: 1, nHeads: 6, kvHeads: 4, maxSeqLen: 8 }), /kvHeads: nHeads must be a multiple of kvHeads/);
  assert.equal(parseGPTConfig({ vocabSize: 10, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8 }).kvHeads, 2); // default: multi-head
  assert.throws(() => new GPT({ vocabSize: 5, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8 }, tok), /vocabSize 5 is smaller than the tokenizer's/);
});

test('sequences longer than maxSeqLen are refused', () => {
  const m = tinyGPT({ maxSeqLen: 6 });
  assert.throws(() => m.prefill(tf.tensor2d([[3, 4, 5, 6, 7, 8, 9]], undefined, 'int32')), /longer than maxSeqLen 6/);
  m.dispose();
});
