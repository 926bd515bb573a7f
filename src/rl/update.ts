// One policy update from scored completions: micro-batches with gradient accumulation, the chosen
// objective, global-norm clipping and an optimizer step, repeated numIterations times on the same batch.
// It sees only (prompt ids, completion ids, advantage): for iGRPO the prompt is q' and the drafts that
// chose it never enter here, so no gradient can reach stage 1.
import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../model/policy.js';
import { buildSequenceBatch } from './batch.js';
import { clipByGlobalNorm } from '../optim/clip.js';
import { policyLoss, stopGradient, type Normalizer, type ObjectiveConfig } from './loss.js';

export interface TrainSequence {
  promptIds: readonly number[];
  completionIds: readonly number[];
  advantage: number;
  /** Cut by the length limit (finishReason 'length'). */
  truncated: boolean;
}

/** What the update needs of an optimizer (src/optim's Adam fits). */
export interface GradientOptimizer {
  step(grads: tf.Tensor[], lr: number): void;
}

export interface UpdateOptions {
  objective: ObjectiveConfig;
  /** Temperature the completions were sampled at; log-probs for ratios use logits / temperature. */
  temperature: number;
  /** Sequences per forward/backward; gradients accumulate over micro-batches. */
  microBatchSize: number;
  /** Optimizer steps on the same batch (TRL's num_iterations); > 1 makes ratios differ from 1. */
  numIterations: number;
  /** Global-norm clip; 0 or undefined = none. */
  maxGradNorm?: number;
  /** dr_grpo's constant normaliser. */
  maxCompletionLength: number;
  lr: number;
  /** Frozen reference policy for the KL term (needed when objective.beta > 0). */
  reference?: Policy;
}

export interface UpdateResult {
  /** Loss of the first iteration (with one iteration and β = 0 it is −mean Â by construction, often ~0). */
  loss: number;
  /** Global gradient norm before clipping, first iteration. */
  gradNorm: number;
  /** Fraction of loss tokens whose clipped branch was active (over all iterations). */
  clipFraction: number;
  /** Mean k3 KL per loss token (0 when β = 0: the reference is not run). */
  kl: number;
  /** Sequences that went through forward/backward (zero-advantage ones are skipped where exact). */
  trainedSequences: number;
  lossTokens: number;
}

export class NonFiniteLossError extends Error {
  constructor(what: string, value: number) {
    super(`non-finite ${what} (${value}): the update was not applied`);
    this.name = 'NonFiniteLossError';
  }
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

export async function policyUpdate(
  policy: Policy,
  optimizer: GradientOptimizer,
  sequences: readonly TrainSequence[],
  opts: UpdateOptions,
): Promise<UpdateResult> {
  const cfg = opts.objective;
  const kept = sequences.map((s) => !(cfg.maskTruncated && s.truncated));
  const norm: Normalizer = {
    sequences: sequences.length,
    tokens: sequences.reduce((a, s, i) => a + (kept[i] ? s.completionIds.length : 0), 0),
    microBatches: Math.max(1, Math.ceil(sequences.length / opts.microBatchSize)),
    maxCompletionLength: opts.maxCompletionLength,
  };
  // A zero-advantage (or masked-out) sequence adds exactly 0 to the loss when β = 0, except in bnpo whose
  // per-micro-batch token mean depends on the batch's make-up: skip those rows then (pure speed).
  const skippable = cfg.beta === 0 && cfg.lossType !== 'bnpo';
  const active = sequences.filter((s, i) => kept[i] && s.completionIds.length > 0 && !(skippable && s.advantage === 0));
  const result: UpdateResult = { loss: 0, gradNorm: 0, clipFraction: 0, kl: 0, trainedSequences: active.length, lossTokens: norm.tokens };
  if (active.length === 0) return result;

  const micro = chunks(active, opts.microBatchSize).map((seqs) => {
    const b = buildSequenceBatch(seqs.map((s) => ({ prompt: s.promptIds, completion: s.completionIds })), policy.tokenizer.padId);
    return {
      ids: tf.tensor2d(b.ids, [b.batch, b.length], 'int32'),
      mask: tf.tensor2d(b.mask, [b.batch, b.length - 1]),
      advantages: tf.tensor1d(seqs.map((s) => s.advantage)),
      oldLogp: undefined as tf.Tensor2D | undefined,
      refLogp: undefined as tf.Tensor2D | undefined,
    };
  });
  try {
    for (const m of micro) {
      // θold is the policy before this batch's first step: frozen copies only matter when it will move.
      if (opts.numIterations > 1) m.oldLogp = tf.tidy(() => policy.tokenLogProbs(m.ids, { temperature: opts.temperature }));
      if (cfg.beta > 0) {
        if (!opts.reference) throw new Error('objective.beta > 0 needs a reference policy');
        m.refLogp = tf.tidy(() => opts.reference!.tokenLogProbs(m.ids, { temperature: opts.temperature }));
      }
    }
    let clipped = 0;
    let klSum = 0;
    for (let it = 0; it < opts.numIterations; it++) {
      let accumulated: tf.Tensor[] | undefined;
      let lossSum = 0;
      for (const m of micro) {
        const stats: tf.Scalar[] = [];
        const { value, grads } = tf.variableGrads(() => {
          const logp = policy.tokenLogProbs(m.ids, { temperature: opts.temperature });
          const parts = policyLoss(
            { logp, oldLogp: m.oldLogp ?? stopGradient(logp), refLogp: m.refLogp, advantages: m.advantages, mask: m.mask },
            cfg,
            norm,
          );
          stats.push(tf.keep(parts.clippedLow), tf.keep(parts.clippedHigh), tf.keep(parts.klSum));
          return parts.loss;
        }, policy.parameters());
        const [lo, hi, kl] = await Promise.all(stats.map(async (s) => (await s.data())[0]));
        tf.dispose(stats);
        clipped += lo + hi;
        klSum += kl;
        lossSum += (await value.data())[0];
        value.dispose();
        const list = policy.parameters().map((p) => grads[p.name]);
        if (!accumulated) accumulated = list;
        else {
          const next = accumulated.map((a, i) => tf.add(a, list[i]));
          tf.dispose([...accumulated, ...list]);
          accumulated = next;
        }
      }
      const grads = accumulated!;
      // clip (or, with no limit, copy) and read the pre-clip global norm in one go
      const { grads: clippedGrads, norm: gnorm } = clipByGlobalNorm(grads, opts.maxGradNorm ? opts.maxGradNorm : Infinity);
      tf.dispose(grads);
      if (it === 0) {
        result.loss = lossSum;
        result.gradNorm = gnorm;
      }
      for (const [what, v] of [['loss', lossSum], ['gradient norm', gnorm]] as const) {
        if (!Number.isFinite(v)) {
          tf.dispose(clippedGrads);
          throw new NonFiniteLossError(what, v);
        }
      }
      optimizer.step(clippedGrads, opts.lr);
      tf.dispose(clippedGrads);
    }
    const tokensSeen = Math.max(1, norm.tokens * opts.numIterations);
    result.clipFraction = clipped / tokensSeen;
    result.kl = klSum / tokensSeen;
    return result;
  } finally {
    for (const m of micro) tf.dispose([m.ids, m.mask, m.advantages, ...(m.oldLogp ? [m.oldLogp] : []), ...(m.refLogp ? [m.refLogp] : [])]);
  }
}
