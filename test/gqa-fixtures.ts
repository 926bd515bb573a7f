// Checks shared by the cpu, native and webgpu tests of grouped-query attention (GQA: kvHeads < nHeads):
// a hand-written reference (kv heads repeated by explicit per-head slices, then plain causal attention),
// KV-cache decoding against the full forward, and gradients against central finite differences.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../src/model/gpt.js';
import type { KVCache } from '../src/model/policy.js';
import { Rng } from '../src/util/rng.js';
import { arithmeticTokenizer } from './core-fixtures.js';

/** A GQA model: 4 query heads over 2 kv heads (query heads 0, 1 read kv head 0; 2, 3 read kv head 1). */
export const GQA = { nHeads: 4, kvHeads: 2 } as const;

/**
 * Causal attention written out by hand: query head h gets kv head floor(h / (H / Hkv)) by an explicit
 * slice (no tile/reshape as in src/ops), then softmax(q kᵀ / √dh + causal mask) v.
 */
export function referenceGqaAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  const [b, h, tq, dh] = q.shape;
  const [, hkv, tk] = k.shape;
  const pick = (x: tf.Tensor4D, i: number) => x.slice([0, Math.floor(i / (h / hkv)), 0, 0], [b, 1, tk, dh]);
  const kr = tf.concat(Array.from({ length: h }, (_, i) => pick(k, i)), 1);
  const vr = tf.concat(Array.from({ length: h }, (_, i) => pick(v, i)), 1);
  const mask = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) mask[i * tk + j] = j <= tk - tq + i ? 0 : -Infinity;
  const scores = tf.add(tf.div(tf.matMul(q, kr, false, true), Math.sqrt(dh)), tf.tensor2d(mask, [tq, tk]));
  return tf.matMul(tf.softmax(scores, -1), vr) as tf.Tensor4D;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const read = async (t: tf.Tensor): Promise<Float32Array> => {
  const v = Float32Array.from((await t.data()) as Float32Array);
  t.dispose();
  return v;
};

/**
 * Two prompts prefilled apart, joined (left-padded), expanded to groups of 2 rows sharing a prompt,
 * then `steps` decoding steps: each step's log-probs must equal a full forward of each row's sequence.
 */
export async function checkCacheEqualsFullForward(m: GPT, tol: number, steps = 4): Promise<void> {
  const rng = new Rng(3);
  const V = m.tokenizer.vocabSize;
  const ids = (n: number) => Array.from({ length: n }, () => 3 + rng.int(V - 3));
  const prompts = [ids(5), ids(8)];
  const parts = prompts.map((p) => m.prefill(tf.tensor2d([p], undefined, 'int32')));
  const joined = parts[0].cache.concat([parts[1].cache]);
  parts.forEach((p) => (p.cache.dispose(), p.logits.dispose()));
  let cache: KVCache = joined.select([0, 0, 1, 1]);
  joined.dispose();
  let seqs = [0, 0, 1, 1].map((i) => [...prompts[i]]);
  for (let s = 0; s < steps; s++) {
    if (s === 2) {
      const c = cache.select([3, 0]); // ragged: one prefix row per batch row
      cache.dispose();
      cache = c;
      seqs = [seqs[3], seqs[0]];
    }
    const next = seqs.map(() => 3 + rng.int(V - 3));
    const logits = m.decode(tf.tensor2d(next.map((x) => [x]), undefined, 'int32'), cache);
    seqs = seqs.map((q, i) => [...q, next[i]]);
    const got = await read(tf.tidy(() => tf.logSoftmax(logits)));
    logits.dispose();
    for (let r = 0; r < seqs.length; r++) {
      const q = seqs[r];
      const want = await read(tf.tidy(() => tf.logSoftmax(m.logits(tf.tensor2d([q], undefined, 'int32')).slice([0, q.length - 1, 0], [1, 1, -1]).reshape([-1]))));
      const row = got.subarray(r * V, (r + 1) * V);
      assert.ok(maxDiff(row, want) < tol, `step ${s}, row ${r}: max diff ${maxDiff(row, want)} ≥ ${tol}`);
    }
  }
  cache.dispose();
}

/** A tiny GQA GPT for finite differences (large init so gradients are far from zero). */
export function fdModel(tied = true): GPT {
  const tokenizer = arithmeticTokenizer();
  return new GPT({ vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, ...GQA, maxSeqLen: 8, initStd: 0.4, seed: 3, tiedEmbeddings: tied }, tokenizer);
}

/**
 * Analytic gradients of a weighted sum of token log-probs against central finite differences (eps 1e-2,
 * float32) at `trials` random entries of every parameter; tolerance 3e-3 + 3e-2·|fd| as in model.test.ts.
 */
export async function checkFiniteDifferences(m: GPT, trials = 3): Promise<number> {
  const ids = tf.tensor2d([[4, 9, 12, 5, 8, 3], [7, 7, 10, 4, 6, 11]], undefined, 'int32');
  const weights = tf.tensor2d([[0.3, -1.1, 0.7, 0.2, -0.5], [1.3, 0.4, -0.8, 0.9, 0.6]]);
  const loss = () => tf.sum(tf.mul(m.tokenLogProbs(ids), weights)) as tf.Scalar;
  const params = m.namedParameters();
  const { value, grads } = tf.variableGrads(loss, params.map(([, v]) => v));
  value.dispose();
  const rng = new Rng(11);
  const eps = 1e-2;
  let checked = 0;
  for (const [name, v] of params) {
    const g = await read(grads[v.name]);
    const base = Float32Array.from((await v.data()) as Float32Array);
    for (let t = 0; t < trials; t++) {
      const i = rng.int(v.size);
      const at = async (delta: number) => {
        const w = base.slice();
        w[i] += delta;
        v.assign(tf.tensor(w, v.shape));
        return (await read(tf.tidy(loss)))[0];
      };
      const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      v.assign(tf.tensor(base, v.shape));
      assert.ok(Math.abs(fd - g[i]) < 3e-3 + 3e-2 * Math.abs(fd), `${name}[${i}]: analytic ${g[i]}, finite difference ${fd}`);
      checked++;
    }
  }
  ids.dispose();
  weights.dispose();
  return checked;
}
