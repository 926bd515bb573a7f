// Small, inspectable computations the walkthrough notebooks show as tables: the KV cache against a full forward
// pass, shared-prefix sampling against per-row prefill, and the iGRPO/GRPO loss token by token.
import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../model/policy.js';
import { aggregate, clippedSurrogate, logRatio, LossType, type Normalizer } from '../rl/loss.js';
import { sample, type SampleOptionsInput } from '../sampling/index.js';

export interface CacheTraceRow {
  step: number;
  token: string;
  cacheLength: number;
  /** Largest |logit| difference between the cached decode step and a full forward over the whole sequence. */
  maxAbsDiff: number;
}

/** Greedy-decodes `steps` tokens with the KV cache and checks each step's logits against a full forward pass. */
export async function kvCacheTrace(policy: Policy, prompt: string, steps: number): Promise<CacheTraceRow[]> {
  const seq = policy.tokenizer.encode(prompt);
  const rows: CacheTraceRow[] = [];
  // Not inside tf.tidy: the cache's tensors must outlive this call.
  const input = tf.tensor2d([seq], [1, seq.length], 'int32');
  const pre = policy.prefill(input);
  input.dispose();
  const cache = pre.cache;
  let last: tf.Tensor2D = pre.logits;
  try {
    for (let t = 0; t < steps && seq.length < policy.maxSeqLen; t++) {
      const next = (await tf.argMax(last, 1).data())[0];
      seq.push(next);
      const step = tf.tensor2d([[next]], [1, 1], 'int32');
      const cached = policy.decode(step, cache);
      step.dispose();
      const diff = tf.tidy(() => {
        const full = policy.logits(tf.tensor2d([seq], [1, seq.length], 'int32'));
        const lastRow = tf.slice(full, [0, seq.length - 1, 0], [1, 1, -1]).reshape(cached.shape);
        return tf.max(tf.abs(tf.sub(lastRow, cached)));
      });
      rows.push({ step: t, token: JSON.stringify(policy.tokenizer.decode([next])), cacheLength: cache.length, maxAbsDiff: (await diff.data())[0] });
      diff.dispose();
      last.dispose();
      last = cached;
    }
  } finally {
    last.dispose();
    cache.dispose();
  }
  return rows;
}

export interface PrefixComparison {
  rows: number;
  sharedMs: number;
  perRowMs: number;
  /** Same tokens with and without sharing (they must be: each row has its own seeded stream). */
  identical: boolean;
}

/** Samples the same request with the prompt's KV cache shared by its rows and with a prefill per row. */
export async function comparePrefixSharing(policy: Policy, prompts: string[], opts: SampleOptionsInput): Promise<PrefixComparison> {
  const t0 = performance.now();
  const shared = await sample(policy, prompts, { ...opts, sharePrefix: true });
  const t1 = performance.now();
  const perRow = await sample(policy, prompts, { ...opts, sharePrefix: false });
  const t2 = performance.now();
  const ids = (x: typeof shared) => JSON.stringify(x.map((g) => g.map((c) => c.ids)));
  return { rows: shared.flat().length, sharedMs: t1 - t0, perRowMs: t2 - t1, identical: ids(shared) === ids(perRow) };
}

export interface LossExample {
  /** log π_θ per completion token, one row per completion (rows may differ in length). */
  logp: number[][];
  /** log π_θold of the same tokens (the sampling policy). */
  oldLogp: number[][];
  advantages: number[];
  epsilonLow: number;
  epsilonHigh: number;
  maxCompletionLength: number;
}

export interface TokenLossRow {
  completion: number;
  token: number;
  advantage: number;
  ratio: number;
  clippedRatio: number;
  /** −min(r·Â, clip(r)·Â): the per-token loss before aggregation. */
  loss: number;
  clipped: string;
}

function padded(rows: number[][], width: number): number[][] {
  return rows.map((r) => [...r, ...new Array(width - r.length).fill(0)]);
}

/** The clipped surrogate of a small example, token by token, and its four aggregations. */
export async function lossWalkthrough(ex: LossExample): Promise<{ tokens: TokenLossRow[]; aggregations: { lossType: string; loss: number; normaliser: string }[] }> {
  const width = Math.max(...ex.logp.map((r) => r.length));
  const b = ex.logp.length;
  const maskRows = ex.logp.map((r) => [...new Array(r.length).fill(1), ...new Array(width - r.length).fill(0)]);
  const out = tf.tidy(() => {
    const logp = tf.tensor2d(padded(ex.logp, width));
    const oldLogp = tf.tensor2d(padded(ex.oldLogp, width));
    const mask = tf.tensor2d(maskRows);
    const adv = tf.tensor1d(ex.advantages);
    const ratio = tf.exp(logRatio(logp, oldLogp, mask, 'token')) as tf.Tensor2D;
    const perToken = clippedSurrogate(ratio, adv, ex.epsilonLow, ex.epsilonHigh);
    const tokens = mask.sum().arraySync() as number;
    const norm: Normalizer = { sequences: b, tokens, microBatches: 1, maxCompletionLength: ex.maxCompletionLength };
    const aggs = LossType.options.map((t) => aggregate(perToken, mask, t, norm));
    return { ratio, perToken, aggs };
  });
  const ratio = (await out.ratio.array()) as number[][];
  const perToken = (await out.perToken.array()) as number[][];
  const aggValues = await Promise.all(out.aggs.map(async (a) => (await a.data())[0]));
  tf.dispose([out.ratio, out.perToken, ...out.aggs]);
  const tokens: TokenLossRow[] = [];
  ex.logp.forEach((row, i) =>
    row.forEach((_, t) => {
      const r = ratio[i][t];
      const a = ex.advantages[i];
      const clippedRatio = Math.min(Math.max(r, 1 - ex.epsilonLow), 1 + ex.epsilonHigh);
      const active = (a > 0 && r > 1 + ex.epsilonHigh) || (a < 0 && r < 1 - ex.epsilonLow);
      tokens.push({ completion: i, token: t, advantage: a, ratio: r, clippedRatio, loss: perToken[i][t], clipped: active ? 'yes (no gradient)' : '' });
    }),
  );
  const normalisers: Record<string, string> = {
    grpo: 'mean over completions of each one\'s token mean (the paper)',
    bnpo: 'token mean of the micro-batch',
    dr_grpo: `token sum / (completions × ${ex.maxCompletionLength})`,
    dapo: 'token sum / tokens in the batch',
  };
  return { tokens, aggregations: LossType.options.map((t, i) => ({ lossType: t, loss: aggValues[i], normaliser: normalisers[t] })) };
}
