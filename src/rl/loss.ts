// The clipped policy-gradient objective of GRPO and its variants, as small pure tensor functions.
//
// All inputs are per completion token, laid out [B, L] with a 0/1 mask (padding and prompt tokens 0):
//   logp    log π_θ(o_t | prefix)       — differentiable
//   oldLogp log π_θold(o_t | prefix)    — constant (the policy that sampled)
//   refLogp log π_ref(o_t | prefix)     — constant, only when β > 0
// and one advantage per completion [B]. With iGRPO every prefix is q' = template(q, d̂): the caller
// builds the sequences; nothing here knows about drafts.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';

/**
 * How per-token losses become one scalar (TRL's `loss_type`):
 *  grpo    mean over completions of each completion's token mean (the paper's 1/G Σ_j 1/|o_j| Σ_t)
 *  bnpo    token mean within each micro-batch, averaged over micro-batches
 *  dr_grpo token sum divided by (completions × max completion length), a constant normaliser
 *  dapo    token sum divided by the tokens of the whole (accumulated) batch
 */
export const LossType = z.enum(['grpo', 'bnpo', 'dr_grpo', 'dapo']);
export type LossType = z.infer<typeof LossType>;

export const ObjectiveConfig = z
  .object({
    lossType: LossType.default('grpo'),
    /** Lower clip: ratios below 1 − epsilonLow stop pulling when Â < 0. */
    epsilonLow: z.number().finite().nonnegative().default(0.2),
    /** Upper clip (clip-higher, DAPO: 0.28); defaults to epsilonLow. */
    epsilonHigh: z.number().finite().nonnegative().optional(),
    /** KL coefficient to the frozen reference (k3 estimator). The paper uses 0. */
    beta: z.number().finite().nonnegative().default(0),
    /** 'token': one ratio per token (GRPO); 'sequence': the length-normalised sequence ratio (GSPO). */
    importanceSampling: z.enum(['token', 'sequence']).default('token'),
    /** Drop completions cut by the length limit from the loss (DAPO's overlong filtering). */
    maskTruncated: z.boolean().default(false),
  })
  .strict();
export type ObjectiveConfig = z.infer<typeof ObjectiveConfig>;

/**
 * Combinations that run but are probably not meant, as TRL warns about them: GSPO's sequence-level ratio
 * is defined with the per-sequence mean of 'grpo'; the token-weighted aggregations mix it with lengths.
 */
export function objectiveWarnings(cfg: Pick<ObjectiveConfig, 'importanceSampling' | 'lossType'>): string[] {
  const out: string[] = [];
  if (cfg.importanceSampling === 'sequence' && cfg.lossType !== 'grpo') {
    out.push(
      `objective.importanceSampling 'sequence' (GSPO) with objective.lossType '${cfg.lossType}': GSPO is defined with ` +
        `lossType 'grpo' (the mean over sequences); '${cfg.lossType}' weights each sequence's single ratio by its length`,
    );
  }
  return out;
}

export interface LossInputs {
  logp: tf.Tensor2D;
  oldLogp: tf.Tensor2D;
  refLogp?: tf.Tensor2D;
  /** [B], one per completion. */
  advantages: tf.Tensor1D;
  /** [B, L], 1 on completion tokens that count. */
  mask: tf.Tensor2D;
  /**
   * [B, L] per-token weights on the surrogate, a constant: TRL's truncated importance sampling,
   * min(exp(log p_trainer_old − log p_engine), cap), correcting for sampling on an engine whose
   * log-probs differ from the trainer's. Applied before the KL term is added (as TRL does).
   */
  isWeight?: tf.Tensor2D;
}

/** Batch-wide counts the normalisers need; with gradient accumulation they cover every micro-batch. */
export interface Normalizer {
  /** Completions in the whole accumulated batch. */
  sequences: number;
  /** Masked-in tokens in the whole accumulated batch. */
  tokens: number;
  /** Micro-batches the batch is split into. */
  microBatches: number;
  /** Longest completion allowed (dr_grpo's constant). */
  maxCompletionLength: number;
}

/** Identity in the forward pass, zero gradient (torch's detach). */
export const stopGradient = tf.customGrad((x) => ({
  value: (x as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

/** k3 estimator of KL(π_θ ‖ π_ref) per token: exp(ref − logp) − (ref − logp) − 1 (≥ 0, unbiased). */
export function k3(logp: tf.Tensor, refLogp: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.sub(refLogp, logp);
    return tf.sub(tf.sub(tf.exp(d), d), 1);
  });
}

/** Per-token log importance ratio: token-level, or GSPO's masked mean over the sequence broadcast to its tokens. */
export function logRatio(logp: tf.Tensor2D, oldLogp: tf.Tensor2D, mask: tf.Tensor2D, level: 'token' | 'sequence'): tf.Tensor2D {
  return tf.tidy(() => {
    const d = tf.sub(logp, oldLogp) as tf.Tensor2D;
    if (level === 'token') return d;
    const count = tf.maximum(tf.sum(mask, 1, true), 1);
    const seq = tf.div(tf.sum(tf.mul(d, mask), 1, true), count); // [B, 1]
    return tf.mul(tf.onesLike(d), seq) as tf.Tensor2D;
  });
}

/** −min(r Â, clip(r, 1−εl, 1+εh) Â) per token, [B, L] (unmasked). */
export function clippedSurrogate(ratio: tf.Tensor2D, advantages: tf.Tensor1D, epsLow: number, epsHigh: number): tf.Tensor2D {
  return tf.tidy(() => {
    const a = tf.expandDims(advantages, 1);
    const unclipped = tf.mul(ratio, a);
    const clipped = tf.mul(tf.clipByValue(ratio, 1 - epsLow, 1 + epsHigh), a);
    return tf.neg(tf.minimum(unclipped, clipped)) as tf.Tensor2D;
  });
}

/** Reduce masked per-token losses [B, L] to the scalar of the chosen loss type. */
export function aggregate(perToken: tf.Tensor2D, mask: tf.Tensor2D, lossType: LossType, norm: Normalizer): tf.Scalar {
  return tf.tidy(() => {
    const masked = tf.mul(perToken, mask);
    switch (lossType) {
      case 'grpo': {
        const perSeq = tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1));
        return tf.div(tf.sum(perSeq), Math.max(norm.sequences, 1)) as tf.Scalar;
      }
      case 'bnpo':
        return tf.div(tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1)), Math.max(norm.microBatches, 1)) as tf.Scalar;
      case 'dr_grpo':
        return tf.div(tf.sum(masked), Math.max(norm.sequences * norm.maxCompletionLength, 1)) as tf.Scalar;
      case 'dapo':
        return tf.div(tf.sum(masked), Math.max(norm.tokens, 1)) as tf.Scalar;
    }
  });
}

export interface LossParts {
  loss: tf.Scalar;
  /** Summed over masked tokens (divide by the token count for a mean). */
  klSum: tf.Scalar;
  /**
   * Masked tokens whose clipped branch is active (the gradient is cut there); with sequence-level ratios,
   * sequences (one ratio each, so a token count would weight long sequences: TRL counts sequences).
   */
  clippedLow: tf.Scalar;
  clippedHigh: tf.Scalar;
}

/** The whole objective: surrogate (+ β k3 KL) aggregated, plus the sums the metrics need. */
export function policyLoss(inputs: LossInputs, cfg: ObjectiveConfig, norm: Normalizer): LossParts {
  const epsHigh = cfg.epsilonHigh ?? cfg.epsilonLow;
  return tf.tidy(() => {
    const { logp, oldLogp, mask, advantages } = inputs;
    const ratio = tf.exp(logRatio(logp, oldLogp, mask, cfg.importanceSampling)) as tf.Tensor2D;
    let perToken = clippedSurrogate(ratio, advantages, cfg.epsilonLow, epsHigh);
    if (inputs.isWeight) perToken = tf.mul(perToken, inputs.isWeight);
    let klSum = tf.scalar(0);
    if (cfg.beta > 0) {
      if (!inputs.refLogp) throw new Error('objective.beta > 0 needs reference log-probs (refLogp)');
      const kl = k3(logp, inputs.refLogp) as tf.Tensor2D;
      perToken = tf.add(perToken, tf.mul(kl, cfg.beta));
      klSum = tf.sum(tf.mul(kl, mask));
    }
    const a = tf.expandDims(advantages, 1);
    const low = tf.logicalAnd(tf.less(ratio, 1 - cfg.epsilonLow), tf.less(a, 0));
    const high = tf.logicalAnd(tf.greater(ratio, 1 + epsHigh), tf.greater(a, 0));
    const tokenCount = (b: tf.Tensor) => tf.mul(tf.cast(b, 'float32'), mask);
    // sequence level: the ratio is the same on every token of a row, so a row counts once if any token does
    const count = (b: tf.Tensor) =>
      (cfg.importanceSampling === 'sequence' ? tf.sum(tf.max(tokenCount(b), 1)) : tf.sum(tokenCount(b))) as tf.Scalar;
    return {
      loss: aggregate(perToken, mask, cfg.lossType, norm),
      klSum: klSum as tf.Scalar,
      clippedLow: count(low),
      clippedHigh: count(high),
    };
  });
}

/** Entropy of each position's distribution, logits [B, L, V] → [B, L] in nats. */
export function tokenEntropy(logits: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1);
    return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor2D;
  });
}

/** The mask with the rows of truncated completions zeroed (for maskTruncated). */
export function maskRows(mask: tf.Tensor2D, keep: readonly boolean[]): tf.Tensor2D {
  return tf.tidy(() => tf.mul(mask, tf.tensor2d(keep.map((k) => (k ? 1 : 0)), [keep.length, 1])) as tf.Tensor2D);
}
