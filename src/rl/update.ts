// One policy update from scored completions: micro-batches with gradient accumulation, the chosen
// objective, global-norm clipping and an optimizer step, repeated numIterations times on the same batch.
// It sees only (prompt ids, completion ids, advantage): for iGRPO the prompt is q' and the drafts that
// chose it never enter here, so no gradient can reach stage 1.
import * as tf from '@tensorflow/tfjs';
import { valueAndGrads } from '../ops/autodiff.js';
import type { Policy } from '../model/policy.js';
import { buildSequenceBatch } from './batch.js';
import { clipByGlobalNormAsync } from '../optim/clip.js';
import { firstNonFiniteParameter } from '../optim/finite.js';
import { highEntropyMask, policyLoss, stopGradient, tokenEntropy, TOKEN_NORMALISED, type Normalizer, type ObjectiveConfig } from './loss.js';
import type { Group } from './rollout.js';

export interface TrainSequence {
  promptIds: readonly number[];
  completionIds: readonly number[];
  advantage: number;
  /** Cut by the length limit (finishReason 'length'). */
  truncated: boolean;
  /**
   * The sampler's log-prob of each completion token (an engine's, in server mode). Given, the update
   * measures the engine-vs-trainer mismatch and can weight tokens by truncated importance sampling.
   */
  sampleLogprobs?: readonly number[];
}

/**
 * The sequences the loss sees, from scored groups and their advantages: (prompt ids the completion was sampled
 * under, completion, advantage). `withSampleLogprobs` (server mode) carries the engine's log-probs along.
 */
export function trainSequences(groups: readonly Group[], advantages: readonly (readonly number[])[], withSampleLogprobs = false): TrainSequence[] {
  return groups.flatMap((g, i) =>
    g.completions.map((c, j) => ({
      promptIds: g.prompt.ids, completionIds: c.ids, advantage: advantages[i][j], truncated: c.finishReason === 'length', ...(withSampleLogprobs ? { sampleLogprobs: c.logprobs } : {}),
    })),
  );
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
  /**
   * A batch with nothing to train on (every advantage 0, or every row masked out): 'step' runs the
   * optimizer on zero gradients as TRL does (AdamW still moves by its momentum, the step count advances),
   * 'skip' leaves policy and optimizer untouched. Default 'step'.
   */
  zeroAdvantage?: 'step' | 'skip';
  /**
   * TRL's truncated importance-sampling cap: tokens weighted by min(exp(log p_trainer − log p_sampler), cap)
   * (needs sampleLogprobs on every sequence). Undefined = off.
   */
  tisCap?: number;
  /**
   * The entropy coefficient's state across steps (objective.useAdaptiveEntropy changes it every optimizer step):
   * pass the same object each call, and checkpoint it (TRL's entropy_ctrl_state.json). Default: a fresh one
   * from objective.entropyCoef.
   */
  entropyControl?: EntropyControl;
}

/** Skywork-OR1's adaptive entropy controller state (TRL: entropy_coef and _last_world_entropy). */
export interface EntropyControl {
  coef: number;
  /** Mean token entropy of the last optimizer step; Infinity before the first (no bonus applied until measured). */
  lastWorldEntropy: number;
}

export const initialEntropyControl = (cfg: ObjectiveConfig): EntropyControl => ({ coef: cfg.entropyCoef, lastWorldEntropy: Infinity });

/** Token entropies of the policy at the sampling temperature, [B, T − 1] like tokenLogProbs (differentiable). */
export function policyEntropies(policy: Policy, ids: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, t] = ids.shape;
    const logits = policy.logits(ids);
    const v = logits.shape[2];
    return tokenEntropy(tf.div(logits.slice([0, 0, 0], [b, t - 1, v]), temperature) as tf.Tensor3D);
  });
}

/** |log p_sampler − log p_trainer| over the completion tokens (before the update). */
export interface SamplerMismatch {
  mean: number;
  max: number;
  tokens: number;
}

export interface UpdateResult {
  /** Loss of the first iteration (with one iteration and β = 0 it is −mean Â by construction, often ~0). */
  loss: number;
  /** Global gradient norm before clipping, first iteration. */
  gradNorm: number;
  /**
   * Fraction clipped over all iterations: of loss tokens with token-level ratios, of sequences with
   * sequence-level ratios (GSPO: one ratio per sequence, as TRL counts it).
   */
  clipFraction: number;
  /** Mean k3 KL per loss token (0 when β = 0: the reference is not run). */
  kl: number;
  /** Sequences that went through forward/backward (zero-advantage ones are skipped where exact). */
  trainedSequences: number;
  lossTokens: number;
  /** Set when the sequences carry sampleLogprobs (over the trained sequences). */
  mismatch?: SamplerMismatch;
  /** Optimizer steps taken (numIterations, or 0 when a zero-advantage batch was skipped). */
  optimizerSteps: number;
  /**
   * TRL's logged metrics under TRL's names, averaged over the micro-batch forwards (and iterations) as TRL's
   * log averages them: clip_ratio/{low_mean,high_mean,region_mean,low_min,high_max} (clipped-surrogate types),
   * cispo_clip_ratio, vespo/phi_seq_mean, entropy (when token entropies are computed: entropy bonus or
   * topEntropyQuantile < 1), entropy_coef and policy_loss (entropy bonus on).
   */
  trl: Record<string, number>;
}

export class NonFiniteLossError extends Error {
  /** applied: the update already ran (a parameter went non-finite), so the in-memory policy is spoilt. */
  constructor(what: string, value: number, applied = false) {
    super(`non-finite ${what} (${value}): ${applied ? 'the update made the weights non-finite' : 'the update was not applied'}`);
    this.name = 'NonFiniteLossError';
  }
}

/** 'h.0.mlp.w1' where the policy names its parameters (GPT does), else '#index'. */
function parameterName(policy: Policy, i: number): string {
  const named = (policy as Partial<{ namedParameters(): [string, tf.Variable][] }>).namedParameters?.();
  return named?.[i] ? `'${named[i][0]}'` : `#${i}`;
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
  // a NaN or infinite reward makes a NaN advantage (src/rl/advantages.ts): stop before any arithmetic
  const badAdvantage = sequences.find((s) => !Number.isFinite(s.advantage));
  if (badAdvantage) throw new NonFiniteLossError('advantage (from a NaN or infinite reward)', badAdvantage.advantage);
  const kept = sequences.map((s) => !(cfg.maskTruncated && s.truncated));
  const norm: Normalizer = {
    sequences: sequences.length,
    tokens: sequences.reduce((a, s, i) => a + (kept[i] ? s.completionIds.length : 0), 0),
    microBatches: Math.max(1, Math.ceil(sequences.length / opts.microBatchSize)),
    maxCompletionLength: opts.maxCompletionLength,
    longestCompletion: sequences.reduce((a, s) => Math.max(a, s.completionIds.length), 0),
  };
  const entropyQuantile = cfg.topEntropyQuantile < 1;
  const bonus = cfg.entropyCoef !== 0 || cfg.useAdaptiveEntropy; // TRL's _entropy_bonus_enabled
  const control = opts.entropyControl ?? initialEntropyControl(cfg);
  // A zero-advantage (or masked-out) sequence adds exactly 0 to the loss when β = 0, except in bnpo whose
  // per-micro-batch token mean depends on the batch's make-up: skip those rows then (pure speed).
  // Likewise the entropy quantile, the entropy bonus and vespo's φ mean see every row.
  const skippable = cfg.beta === 0 && cfg.lossType !== 'bnpo' && cfg.lossType !== 'vespo' && !entropyQuantile && !bonus;
  const active = sequences.filter((s, i) => kept[i] && s.completionIds.length > 0 && !(skippable && s.advantage === 0));
  const result: UpdateResult = { loss: 0, gradNorm: 0, clipFraction: 0, kl: 0, trainedSequences: active.length, lossTokens: norm.tokens, optimizerSteps: 0, trl: {} };
  if (active.length === 0) {
    // The loss is exactly 0 and so is every gradient; TRL still calls optimizer.step() (momentum moves
    // the weights), which keeps a GRPO-vs-iGRPO comparison from being one-sided when iGRPO has such steps.
    if ((opts.zeroAdvantage ?? 'step') === 'skip') return result;
    for (let it = 0; it < opts.numIterations; it++) {
      const zeros = policy.parameters().map((p) => tf.zerosLike(p));
      optimizer.step(zeros, opts.lr);
      tf.dispose(zeros);
    }
    result.optimizerSteps = opts.numIterations;
    return result;
  }

  const withSampler = active.every((s) => s.sampleLogprobs !== undefined);
  if (opts.tisCap !== undefined && !withSampler) throw new Error('tisCap (truncated importance sampling) needs the sampler\'s log-probs on every sequence');
  const micro = chunks(active, opts.microBatchSize).map((seqs) => {
    const b = buildSequenceBatch(seqs.map((s) => ({ prompt: s.promptIds, completion: s.completionIds })), policy.tokenizer.padId);
    return {
      ids: tf.tensor2d(b.ids, [b.batch, b.length], 'int32'),
      mask: tf.tensor2d(b.mask, [b.batch, b.length - 1]),
      advantages: tf.tensor1d(seqs.map((s) => s.advantage)),
      sampler: withSampler ? samplerLayout(seqs, b.length) : undefined,
      oldLogp: undefined as tf.Tensor2D | undefined,
      refLogp: undefined as tf.Tensor2D | undefined,
      isWeight: undefined as tf.Tensor2D | undefined,
      samplerLogp: undefined as tf.Tensor2D | undefined,
    };
  });
  try {
    const mismatch = { sum: 0, max: 0, tokens: 0 };
    for (const m of micro) {
      // θold is the policy before this batch's first step: frozen copies only matter when it will move
      // (or when the sampler's log-probs are compared with it: mismatch metric, importance weights).
      if (opts.numIterations > 1 || m.sampler) m.oldLogp = tf.tidy(() => policy.tokenLogProbs(m.ids, { temperature: opts.temperature }));
      if (m.sampler) {
        const old = (await m.oldLogp!.data()) as Float32Array;
        const { logp, mask } = m.sampler;
        const w = new Float32Array(old.length);
        for (let i = 0; i < old.length; i++) {
          if (!mask[i]) continue;
          const d = old[i] - logp[i];
          mismatch.sum += Math.abs(d);
          mismatch.max = Math.max(mismatch.max, Math.abs(d));
          mismatch.tokens++;
          if (opts.tisCap !== undefined) w[i] = Math.min(Math.exp(d), opts.tisCap);
        }
        if (opts.tisCap !== undefined) m.isWeight = tf.tensor2d(w, m.oldLogp!.shape);
        // the off-policy mask measures drift from the sampler itself (TRL: sampling_per_token_logps)
        if (cfg.offPolicyMaskThreshold !== undefined) m.samplerLogp = tf.tensor2d(logp, m.oldLogp!.shape);
        // one optimizer step: the ratio's θold is the current policy, as stopGradient(logp) (bit-identical path)
        if (opts.numIterations === 1) {
          m.oldLogp!.dispose();
          m.oldLogp = undefined;
        }
      }
      if (cfg.beta > 0) {
        if (!opts.reference) throw new Error('objective.beta > 0 needs a reference policy');
        m.refLogp = tf.tidy(() => opts.reference!.tokenLogProbs(m.ids, { temperature: opts.temperature }));
      }
    }
    if (withSampler) result.mismatch = { mean: mismatch.tokens ? mismatch.sum / mismatch.tokens : 0, max: mismatch.max, tokens: mismatch.tokens };
    let clipped = 0;
    let klSum = 0;
    const logged: Record<string, number[]> = {};
    const log = (name: string, v: number) => (logged[name] ??= []).push(v);
    for (let it = 0; it < opts.numIterations; it++) {
      let accumulated: tf.Tensor[] | undefined;
      let lossSum = 0;
      // TRL applies the coefficient fixed at the end of the previous optimizer step to every micro-batch of this one
      const applyCoef = !bonus ? 0 : cfg.useAdaptiveEntropy ? (control.lastWorldEntropy <= cfg.entropyTarget ? control.coef : 0) : control.coef;
      const window = { sum: 0, count: 0 };
      for (const m of micro) {
        const stats: tf.Scalar[] = [];
        let named: [string, tf.Scalar][] = [];
        // the top-ρ entropy tokens of this micro-batch under the current policy: a constant mask (TRL: no grad)
        const constEntropies = entropyQuantile ? tf.tidy(() => policyEntropies(policy, m.ids, opts.temperature)) : undefined;
        const entropyMask = constEntropies ? highEntropyMask(constEntropies, m.mask, cfg.topEntropyQuantile) : undefined;
        const { value, grads } = valueAndGrads(() => {
          const logp = policy.tokenLogProbs(m.ids, { temperature: opts.temperature });
          const entropies = bonus ? policyEntropies(policy, m.ids, opts.temperature) : constEntropies;
          const parts = policyLoss(
            {
              logp, oldLogp: m.oldLogp ?? stopGradient(logp), refLogp: m.refLogp, advantages: m.advantages, mask: m.mask, isWeight: m.isWeight,
              samplerLogp: m.samplerLogp, entropyMask, entropies, entropyCoef: applyCoef,
            },
            cfg,
            norm,
          );
          stats.push(tf.keep(parts.clippedLow), tf.keep(parts.clippedHigh), tf.keep(parts.klSum), tf.keep(parts.entropySum), tf.keep(parts.entropyCount));
          named = Object.entries(parts.metrics).map(([k, v]) => [k, tf.keep(v)]);
          // TRL's policy_loss per forward: before its gradient-accumulation division for the per-micro-batch types
          if (bonus) named.push(['policy_loss', tf.keep(tf.mul(parts.policyLoss, TOKEN_NORMALISED.includes(cfg.lossType) ? 1 : norm.microBatches) as tf.Scalar)]);
          return parts.loss;
        }, policy.parameters());
        tf.dispose([constEntropies, entropyMask].filter((t): t is tf.Tensor2D => t !== undefined));
        const [lo, hi, kl, es, ec] = await Promise.all(stats.map(async (s) => (await s.data())[0]));
        for (const [k, v] of named) log(k, (await v.data())[0]);
        tf.dispose([...stats, ...named.map(([, v]) => v)]);
        clipped += lo + hi;
        klSum += kl;
        window.sum += es;
        window.count += ec;
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
      const { grads: clippedGrads, norm: gnorm } = await clipByGlobalNormAsync(grads, opts.maxGradNorm ? opts.maxGradNorm : Infinity);
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
      const bad = await firstNonFiniteParameter(policy.parameters());
      if (bad >= 0) throw new NonFiniteLossError(`parameter ${parameterName(policy, bad)}`, NaN, true);
      result.optimizerSteps++;
      if (cfg.useAdaptiveEntropy) {
        // Skywork-OR1 as TRL: the step's mean entropy over the policy term's tokens moves the coefficient
        const world = window.sum / Math.max(window.count, 1);
        control.coef = world <= cfg.entropyTarget
          ? Math.min(control.coef + cfg.entropyCoefDelta, cfg.entropyCoefMax)
          : Math.max(control.coef - cfg.entropyCoefDelta, cfg.entropyCoefMin);
        control.lastWorldEntropy = world;
      }
      if (bonus) log('entropy_coef', control.coef);
    }
    // TRL's log: the mean of each metric's values, NaN (here also ±Infinity: no row counted) left out
    for (const [k, vs] of Object.entries(logged)) {
      const ok = vs.filter(Number.isFinite);
      if (ok.length) result.trl[k] = ok.reduce((x, y) => x + y, 0) / ok.length;
    }
    const tokensSeen = Math.max(1, norm.tokens * opts.numIterations);
    // policyLoss counts clipped sequences when ratios are per sequence: divide by the sequences that count
    const sequencesSeen = Math.max(1, sequences.filter((s, i) => kept[i] && s.completionIds.length > 0).length * opts.numIterations);
    result.clipFraction = clipped / (cfg.importanceSampling === 'sequence' ? sequencesSeen : tokensSeen);
    result.kl = klSum / tokensSeen;
    return result;
  } finally {
    for (const m of micro) tf.dispose([m.ids, m.mask, m.advantages, ...[m.oldLogp, m.refLogp, m.isWeight, m.samplerLogp].filter((t): t is tf.Tensor2D => t !== undefined)]);
  }
}

/** The sampler's log-probs laid out like tokenLogProbs' [B, T − 1] (entry prompt.length − 1 + k for token k), with their mask. */
function samplerLayout(seqs: readonly TrainSequence[], length: number): { logp: Float32Array; mask: Uint8Array } {
  const logp = new Float32Array(seqs.length * (length - 1));
  const mask = new Uint8Array(logp.length);
  seqs.forEach((s, i) => {
    const lp = s.sampleLogprobs!;
    if (lp.length !== s.completionIds.length) throw new Error(`sequence ${i}: ${lp.length} sampler log-probs for ${s.completionIds.length} completion tokens`);
    for (let k = 0; k < lp.length; k++) {
      const at = i * (length - 1) + s.promptIds.length - 1 + k;
      logp[at] = lp[k];
      mask[at] = 1;
    }
  });
  return { logp, mask };
}
