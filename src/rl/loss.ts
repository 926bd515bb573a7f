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
 * The objective (TRL's `loss_type`, trl/trainer/grpo_trainer.py `_compute_loss`): the per-token term, then how
 * per-token losses become one scalar:
 *  grpo    clipped surrogate; mean over completions of each completion's token mean (1/G Σ_j 1/|o_j| Σ_t)
 *  bnpo    clipped surrogate; token mean within each micro-batch, averaged over micro-batches
 *  dr_grpo clipped surrogate; token sum divided by (completions × max completion length), a constant
 *  dapo    clipped surrogate; token sum divided by the tokens of the whole (accumulated) batch
 *  cispo   MiniMax-M1: −sg(min(r, ε_high)) Â log π (the weight is clipped, every token keeps its gradient); as dapo
 *  sapo    soft gate −σ(τ(r − 1))·4/τ Â (τ by the sign of Â) instead of the hard clip; as grpo
 *  luspo   clipped surrogate with sequence-level ratios, each sequence's loss scaled by its length
 *  vespo   −sg(φ(w)) Â log π, φ a Gamma weight of the sequence's importance ratio w = Π r_t; as dapo
 */
export const LossType = z.enum(['grpo', 'bnpo', 'dr_grpo', 'dapo', 'cispo', 'sapo', 'luspo', 'vespo']);
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
    /** INTELLECT-2's two-sided clip: the unclipped ratio is capped at delta (clipped-surrogate types only; > 1 + ε). */
    delta: z.number().finite().positive().optional(),
    /** sapo: gate temperature where Â > 0, and where Â ≤ 0 (TRL's sapo_temperature_pos / _neg). */
    sapoTemperaturePos: z.number().finite().positive().default(1.0),
    sapoTemperatureNeg: z.number().finite().positive().default(1.05),
    /** vespo: φ(w) = e^λ w^k e^{−λw}, k and λ for Â ≥ 0 and for Â < 0 (TRL's vespo_k_pos, vespo_lambda_pos, …). */
    vespoKPos: z.number().finite().nonnegative().default(2.0),
    vespoLambdaPos: z.number().finite().nonnegative().default(3.0),
    vespoKNeg: z.number().finite().nonnegative().default(3.0),
    vespoLambdaNeg: z.number().finite().nonnegative().default(2.0),
    /**
     * Beyond the 80/20 rule: the policy term keeps only the top-ρ fraction of each micro-batch's loss tokens by
     * entropy (1 = all; 0 = only the highest). Truncated completions count only when maskTruncated is off.
     */
    topEntropyQuantile: z.number().min(0).max(1).default(1),
    /**
     * Entropy bonus: loss − coef · (mean token entropy); with useAdaptiveEntropy, the starting coefficient.
     * Token entropies need the full [B, T, V] logits of each micro-batch (one more forward, differentiable here;
     * without grad for topEntropyQuantile): mind microBatchSize with a large vocabulary.
     */
    entropyCoef: z.number().finite().default(0),
    /** Skywork-OR1's adaptive control: coef ± entropyCoefDelta per optimizer step, applied only at or below entropyTarget. */
    useAdaptiveEntropy: z.boolean().default(false),
    entropyCoefMin: z.number().finite().default(0),
    entropyCoefMax: z.number().finite().default(1),
    entropyCoefDelta: z.number().finite().nonnegative().default(0.005),
    /** Target mean token entropy in nats (measured over the tokens the policy term uses). */
    entropyTarget: z.number().finite().default(0.2),
    /** DeepSeek-V3.2's off-policy sequence mask: drop sequences with Â < 0 whose mean log(π_sampler/π_θ) exceeds this. */
    offPolicyMaskThreshold: z.number().finite().optional(),
    /** DeepSeek-V3.2's importance-weighted k3 KL: k3 · r (r with gradient, as TRL multiplies coef_1). */
    useBiasCorrectionKl: z.boolean().default(false),
  })
  .strict();
export type ObjectiveConfig = z.infer<typeof ObjectiveConfig>;

/**
 * Combinations that run but are probably not meant, as TRL's GRPOTrainer.__init__ warns about them
 * (grpo_trainer.py, `logger.warning` after "if args.loss_type == 'luspo'"): luspo is defined with sequence-level
 * ratios; vespo builds its own sequence weight from token ratios; GSPO's sequence-level ratio is defined with
 * the per-sequence mean, and the token-summing aggregations (bnpo, dr_grpo, dapo, cispo) weight it by length.
 */
export function objectiveWarnings(cfg: Pick<ObjectiveConfig, 'importanceSampling' | 'lossType'>): string[] {
  const out: string[] = [];
  if (cfg.lossType === 'luspo' && cfg.importanceSampling !== 'sequence') {
    out.push(`objective.lossType 'luspo' with objective.importanceSampling '${cfg.importanceSampling}': luspo should use importanceSampling 'sequence' to mirror the paper's setup`);
  }
  if (cfg.lossType === 'vespo' && cfg.importanceSampling !== 'token') {
    out.push(`objective.lossType 'vespo' with objective.importanceSampling '${cfg.importanceSampling}': VESPO computes sequence-level importance weights itself; importanceSampling should be 'token' (the default)`);
  }
  if (cfg.importanceSampling === 'sequence' && ['bnpo', 'dr_grpo', 'dapo', 'cispo'].includes(cfg.lossType)) {
    out.push(
      `objective.importanceSampling 'sequence' (GSPO) with objective.lossType '${cfg.lossType}': GSPO is defined with ` +
        `lossType 'grpo' (the mean over sequences); '${cfg.lossType}' sums per-token terms, which weights each sequence's single ratio by its length`,
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
   * log-probs differ from the trainer's. Applied before the KL term is added (as TRL does); vespo folds it
   * into its sequence weight instead.
   */
  isWeight?: tf.Tensor2D;
  /** [B, L] log-probs of the policy that sampled (an engine's), for the off-policy mask; default oldLogp. */
  samplerLogp?: tf.Tensor2D;
  /** [B, L] constant 0/1: the top-entropy tokens the policy term keeps (highEntropyMask; topEntropyQuantile < 1). */
  entropyMask?: tf.Tensor2D;
  /** [B, L] token entropies, differentiable: the entropy bonus's H. Needed when entropyCoef is set. */
  entropies?: tf.Tensor2D;
  /** The entropy coefficient applied in this optimizer step (adaptive control decides it); 0 or absent: no bonus term. */
  entropyCoef?: number;
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
  /** Longest completion in the batch (TRL's padded completion width; luspo with per-token terms). Default maxCompletionLength. */
  longestCompletion?: number;
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

/**
 * −min(r Â, clip(r, 1−εl, 1+εh) Â) per token, [B, L] (unmasked). With delta (INTELLECT-2's two-sided clip) the
 * unclipped branch uses min(r, delta), so a large ratio cannot pull a negative-advantage token without bound.
 */
export function clippedSurrogate(ratio: tf.Tensor2D, advantages: tf.Tensor1D, epsLow: number, epsHigh: number, delta?: number): tf.Tensor2D {
  return tf.tidy(() => {
    const a = tf.expandDims(advantages, 1);
    const unclipped = tf.mul(delta === undefined ? ratio : tf.minimum(ratio, delta), a);
    const clipped = tf.mul(tf.clipByValue(ratio, 1 - epsLow, 1 + epsHigh), a);
    return tf.neg(tf.minimum(unclipped, clipped)) as tf.Tensor2D;
  });
}

/** CISPO (MiniMax-M1): −sg(min(r, εmax)) Â log π per token; the weight is clipped, the token keeps its gradient. */
export function cispoSurrogate(ratio: tf.Tensor2D, logp: tf.Tensor2D, advantages: tf.Tensor1D, epsMax: number): tf.Tensor2D {
  return tf.tidy(() => tf.neg(tf.mul(tf.mul(stopGradient(tf.minimum(ratio, epsMax)), tf.expandDims(advantages, 1)), logp)) as tf.Tensor2D);
}

/** SAPO's soft gate: −σ(τ (r − 1)) · 4/τ · Â per token, τ = tPos where Â > 0 else tNeg (gradient r·σ'·4 … = Â at r = 1). */
export function sapoSurrogate(ratio: tf.Tensor2D, advantages: tf.Tensor1D, tPos: number, tNeg: number): tf.Tensor2D {
  return tf.tidy(() => {
    const a = tf.expandDims(advantages, 1);
    const tau = tf.where(tf.greater(a, 0), tf.fill(a.shape, tPos), tf.fill(a.shape, tNeg));
    const gate = tf.div(tf.mul(tf.sigmoid(tf.mul(tau, tf.sub(ratio, 1))), 4), tau);
    return tf.neg(tf.mul(gate, a)) as tf.Tensor2D;
  });
}

export interface VespoParams {
  kPos: number;
  lambdaPos: number;
  kNeg: number;
  lambdaNeg: number;
}

/**
 * VESPO's sequence weight φ(w) = e^λ w^k e^{−λw} (φ(1) = 1), [B, 1], a constant (TRL computes it under
 * no_grad). w = exp(Σ_t clamp(log r_t, ±20)) over the masked tokens, times the engine importance weights when
 * given, the log clamped to [log 1e-8, 20]; k, λ by the sign of Â (Â ≥ 0: the "pos" pair). NaN/inf → 0.
 */
export function vespoWeights(logRatioTok: tf.Tensor2D, advantages: tf.Tensor1D, mask: tf.Tensor2D, p: VespoParams, isWeight?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const lower = Math.log(1e-8);
    const d = stopGradient(logRatioTok);
    let seq = tf.sum(tf.mul(tf.clipByValue(d, -20, 20), mask), 1, true);
    if (isWeight) {
      // log of the weight where it counts; padding (weight 0 in our layout, 1 in TRL's) adds nothing
      const safe = tf.where(tf.greater(mask, 0), isWeight, tf.onesLike(isWeight));
      seq = tf.add(seq, tf.sum(tf.mul(tf.clipByValue(tf.log(safe), lower, 20), mask), 1, true));
    }
    const logW = tf.clipByValue(seq, lower, 20);
    const a = tf.expandDims(advantages, 1);
    const nonneg = tf.greaterEqual(a, 0);
    const k = tf.where(nonneg, tf.fill(a.shape, p.kPos), tf.fill(a.shape, p.kNeg));
    const lam = tf.maximum(tf.where(nonneg, tf.fill(a.shape, p.lambdaPos), tf.fill(a.shape, p.lambdaNeg)), 1e-4);
    const phi = tf.exp(tf.sub(tf.add(lam, tf.mul(k, logW)), tf.mul(lam, tf.exp(logW))));
    return tf.where(tf.isFinite(phi), phi, tf.zerosLike(phi)) as tf.Tensor2D;
  });
}

/** VESPO: −sg(φ) Â log π per token. */
export function vespoSurrogate(phi: tf.Tensor2D, logp: tf.Tensor2D, advantages: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => tf.neg(tf.mul(tf.mul(phi, tf.expandDims(advantages, 1)), logp)) as tf.Tensor2D);
}

/**
 * DeepSeek-V3.2's off-policy sequence mask, [B, 1] of 0/1: keep a sequence when Â ≥ 0 or its mean
 * log(π_sampler / π_θ) over the masked tokens is ≤ threshold (π_θ detached).
 */
export function offPolicyMask(advantages: tf.Tensor1D, logp: tf.Tensor2D, samplerLogp: tf.Tensor2D, mask: tf.Tensor2D, threshold: number): tf.Tensor2D {
  return tf.tidy(() => {
    const kl = tf.sub(samplerLogp, stopGradient(logp));
    const mean = tf.div(tf.sum(tf.mul(kl, mask), 1, true), tf.maximum(tf.sum(mask, 1, true), 1));
    // 1 − [Â < 0]·[mean > δ], with step() (comparisons and logical ops have no gradient in tfjs, and this sits
    // on the loss's path inside tf.grad even though its value is a constant)
    return tf.sub(1, tf.mul(tf.step(tf.neg(tf.expandDims(advantages, 1))), tf.step(tf.sub(mean, threshold)))) as tf.Tensor2D;
  });
}

/** torch.quantile's default ('linear'): q-quantile of the values, interpolating between order statistics. */
export function quantileLinear(values: ArrayLike<number>, q: number): number {
  const a = Float64Array.from(values).sort();
  const pos = q * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, a.length - 1);
  return a[lo] + (pos - lo) * (a[hi] - a[lo]);
}

/**
 * TRL's get_high_entropy_mask: 1 on masked tokens whose entropy is at least the (1 − ρ) quantile of the masked
 * tokens' entropies (ρ = topEntropyQuantile), 0 elsewhere. Computed over the tokens given (a micro-batch,
 * as TRL does per forward); a constant. No masked token: all 0.
 */
export function highEntropyMask(entropies: tf.Tensor2D, mask: tf.Tensor2D, topQuantile: number): tf.Tensor2D {
  const e = entropies.dataSync();
  const m = mask.dataSync();
  const kept: number[] = [];
  for (let i = 0; i < e.length; i++) if (m[i] > 0) kept.push(e[i]);
  if (kept.length === 0) return tf.zerosLike(mask);
  const threshold = quantileLinear(kept, 1 - topQuantile);
  const out = new Float32Array(e.length);
  for (let i = 0; i < e.length; i++) out[i] = m[i] > 0 && e[i] * m[i] >= threshold ? 1 : 0;
  return tf.tensor2d(out, entropies.shape);
}

/** The loss types whose per-token term is the clipped surrogate (TRL's ["grpo", "bnpo", "dr_grpo", "dapo", "luspo"]). */
export const CLIPPED_TYPES: readonly LossType[] = ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'luspo'];
/** The loss types normalised by the batch's token count (TRL's num_items_in_batch: ["cispo", "dapo", "vespo"]). */
export const TOKEN_NORMALISED: readonly LossType[] = ['cispo', 'dapo', 'vespo'];

/**
 * Reduce masked per-token losses [B, L] to the scalar of the chosen loss type. rowConstant: every token of a
 * row holds the same value (sequence-level ratios with nothing per-token added), TRL's (B, 1) luspo case.
 */
export function aggregate(perToken: tf.Tensor2D, mask: tf.Tensor2D, lossType: LossType, norm: Normalizer, rowConstant = false): tf.Scalar {
  return tf.tidy(() => {
    const masked = tf.mul(perToken, mask);
    switch (lossType) {
      case 'grpo':
      case 'sapo': {
        const perSeq = tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1));
        return tf.div(tf.sum(perSeq), Math.max(norm.sequences, 1)) as tf.Scalar;
      }
      case 'bnpo':
        return tf.div(tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1)), Math.max(norm.microBatches, 1)) as tf.Scalar;
      case 'dr_grpo':
        return tf.div(tf.sum(masked), Math.max(norm.sequences * norm.maxCompletionLength, 1)) as tf.Scalar;
      case 'dapo':
      case 'cispo':
      case 'vespo':
        return tf.div(tf.sum(masked), Math.max(norm.tokens, 1)) as tf.Scalar;
      case 'luspo': {
        // TRL: (per_token_loss * mask.sum(1, keepdim=True)).mean(): with one value ℓ_b per row (B, 1) that is
        // Σ_b |o_b| ℓ_b / B = Σ_{b,t} mask ℓ_b / B; with per-token values (B, T) it is Σ_{b,t} ℓ_{b,t} |o_b| / (B T),
        // T the padded completion width (TRL also counts padding positions there; we count completion tokens only)
        if (rowConstant) return tf.div(tf.sum(masked), Math.max(norm.sequences, 1)) as tf.Scalar;
        const width = norm.longestCompletion ?? norm.maxCompletionLength;
        return tf.div(tf.sum(tf.mul(masked, tf.sum(mask, 1, true))), Math.max(norm.sequences * width, 1)) as tf.Scalar;
      }
    }
  });
}

export interface LossParts {
  loss: tf.Scalar;
  /** The policy term alone (loss without the entropy bonus; TRL's policy_loss). */
  policyLoss: tf.Scalar;
  /** Summed over masked tokens (divide by the token count for a mean). */
  klSum: tf.Scalar;
  /**
   * Masked tokens whose clipped branch is active (the gradient is cut there); with sequence-level ratios,
   * sequences (one ratio each, so a token count would weight long sequences: TRL counts sequences).
   * For cispo: tokens whose weight is clipped (r > ε_high, Â > 0); 0 for sapo and vespo (nothing is clipped).
   */
  clippedLow: tf.Scalar;
  clippedHigh: tf.Scalar;
  /** Σ entropy and Σ mask over the tokens the policy term uses (the adaptive entropy controller's window); 0 without entropies. */
  entropySum: tf.Scalar;
  entropyCount: tf.Scalar;
  /** This micro-batch's values of TRL's logged metrics, under TRL's names (averaged over calls as TRL's log does). */
  metrics: Record<string, tf.Scalar>;
}

/** The whole objective: per-token term (+ β k3 KL) aggregated, − the entropy bonus, plus the sums the metrics need. */
export function policyLoss(inputs: LossInputs, cfg: ObjectiveConfig, norm: Normalizer): LossParts {
  const epsHigh = cfg.epsilonHigh ?? cfg.epsilonLow;
  return tf.tidy(() => {
    const { logp, oldLogp, mask, advantages } = inputs;
    const a = tf.expandDims(advantages, 1);
    const coef1 = tf.exp(logRatio(logp, oldLogp, mask, cfg.importanceSampling)) as tf.Tensor2D;
    let kl: tf.Tensor2D | undefined;
    if (cfg.beta > 0) {
      if (!inputs.refLogp) throw new Error('objective.beta > 0 needs reference log-probs (refLogp)');
      kl = k3(logp, inputs.refLogp) as tf.Tensor2D;
      if (cfg.useBiasCorrectionKl) kl = tf.mul(kl, coef1) as tf.Tensor2D;
    }
    const metrics: Record<string, tf.Scalar> = {};
    const seqLevel = cfg.importanceSampling === 'sequence';
    // TRL's global_masked_mean: token mean over the mask, or (sequence level, one value per row) the row mean
    const maskedMean = (x: tf.Tensor, perRow: boolean) =>
      (perRow ? tf.mean(tf.max(tf.mul(x, tf.onesLike(mask)), 1)) : tf.div(tf.sum(tf.mul(x, mask)), tf.maximum(tf.sum(mask), 1))) as tf.Scalar;
    let perToken: tf.Tensor2D;
    let clippedLow: tf.Scalar = tf.scalar(0);
    let clippedHigh: tf.Scalar = tf.scalar(0);
    const tokenCount = (b: tf.Tensor) => tf.mul(tf.cast(b, 'float32'), mask);
    // sequence level: the ratio is the same on every token of a row, so a row counts once if any token does
    const count = (b: tf.Tensor) => (seqLevel ? tf.sum(tf.max(tokenCount(b), 1)) : tf.sum(tokenCount(b))) as tf.Scalar;
    switch (cfg.lossType) {
      case 'cispo': {
        perToken = cispoSurrogate(coef1, logp, advantages, epsHigh);
        const clipped = tf.logicalAnd(tf.greater(coef1, epsHigh), tf.greater(a, 0));
        clippedHigh = count(clipped);
        metrics.cispo_clip_ratio = maskedMean(tf.cast(clipped, 'float32'), seqLevel);
        break;
      }
      case 'sapo':
        perToken = sapoSurrogate(coef1, advantages, cfg.sapoTemperaturePos, cfg.sapoTemperatureNeg);
        break;
      case 'vespo': {
        const phi = vespoWeights(tf.sub(logp, oldLogp) as tf.Tensor2D, advantages, mask,
          { kPos: cfg.vespoKPos, lambdaPos: cfg.vespoLambdaPos, kNeg: cfg.vespoKNeg, lambdaNeg: cfg.vespoLambdaNeg }, inputs.isWeight);
        perToken = vespoSurrogate(phi, logp, advantages);
        metrics['vespo/phi_seq_mean'] = tf.mean(phi) as tf.Scalar;
        break;
      }
      default: {
        perToken = clippedSurrogate(coef1, advantages, cfg.epsilonLow, epsHigh, cfg.delta);
        // TRL counts clips on coef_1 after the delta cap
        const r = cfg.delta === undefined ? coef1 : tf.minimum(coef1, cfg.delta);
        const low = tf.logicalAnd(tf.less(r, 1 - cfg.epsilonLow), tf.less(a, 0));
        const high = tf.logicalAnd(tf.greater(r, 1 + epsHigh), tf.greater(a, 0));
        clippedLow = count(low);
        clippedHigh = count(high);
        const [lo, hi] = [tf.cast(low, 'float32'), tf.cast(high, 'float32')];
        metrics['clip_ratio/low_mean'] = maskedMean(lo, seqLevel);
        metrics['clip_ratio/high_mean'] = maskedMean(hi, seqLevel);
        metrics['clip_ratio/region_mean'] = maskedMean(tf.maximum(lo, hi), seqLevel);
        // per-sequence fractions, their min / max over rows with tokens (TRL's nanmin / nanmax)
        const rows = tf.sum(mask, 1);
        const has = tf.greater(rows, 0);
        const perSeq = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, mask), 1), tf.maximum(rows, 1));
        metrics['clip_ratio/low_min'] = tf.min(tf.where(has, perSeq(lo), tf.fill(rows.shape, Infinity))) as tf.Scalar;
        metrics['clip_ratio/high_max'] = tf.max(tf.where(has, perSeq(hi), tf.fill(rows.shape, -Infinity))) as tf.Scalar;
      }
    }
    if (cfg.offPolicyMaskThreshold !== undefined) {
      perToken = tf.mul(perToken, offPolicyMask(advantages, logp, inputs.samplerLogp ?? oldLogp, mask, cfg.offPolicyMaskThreshold)) as tf.Tensor2D;
    }
    if (inputs.entropyMask) perToken = tf.mul(perToken, inputs.entropyMask) as tf.Tensor2D;
    if (inputs.isWeight && cfg.lossType !== 'vespo') perToken = tf.mul(perToken, inputs.isWeight) as tf.Tensor2D;
    if (kl) perToken = tf.add(perToken, tf.mul(kl, cfg.beta)) as tf.Tensor2D;
    const rowConstant = seqLevel && !kl && !inputs.entropyMask && !inputs.isWeight;
    const policy = aggregate(perToken, mask, cfg.lossType, norm, rowConstant);
    let loss = policy;
    const effective = inputs.entropyMask ? tf.mul(mask, inputs.entropyMask) : mask;
    let entropySum: tf.Scalar = tf.scalar(0);
    let entropyCount: tf.Scalar = tf.scalar(0);
    if (inputs.entropies) {
      entropySum = tf.sum(tf.mul(inputs.entropies, effective)) as tf.Scalar;
      entropyCount = tf.sum(effective) as tf.Scalar;
      metrics.entropy = maskedMean(stopGradient(inputs.entropies), false);
    }
    if (inputs.entropyCoef) {
      if (!inputs.entropies) throw new Error('objective.entropyCoef needs token entropies (entropies)');
      // TRL: the mean token entropy of the step whatever the loss type; the token-normalised types reach it
      // by summing over the batch's token count, the others by micro-batch means over the micro-batches
      const h = TOKEN_NORMALISED.includes(cfg.lossType)
        ? tf.div(entropySum, Math.max(norm.tokens, 1))
        : tf.div(tf.div(entropySum, tf.maximum(entropyCount, 1)), Math.max(norm.microBatches, 1));
      loss = tf.sub(policy, tf.mul(h, inputs.entropyCoef)) as tf.Scalar;
    }
    return {
      loss,
      policyLoss: policy,
      klSum: (kl ? tf.sum(tf.mul(kl, mask)) : tf.scalar(0)) as tf.Scalar,
      clippedLow,
      clippedHigh,
      entropySum: stopGradient(entropySum),
      entropyCount,
      metrics,
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
