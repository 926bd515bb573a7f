// TRL's newer objectives (cispo, sapo, luspo, vespo), delta, the top-entropy token mask, the entropy bonus and
// its adaptive control, the off-policy sequence mask and the bias-corrected KL: hand values on small tensors,
// then every loss type × ratio level against the float64 transcription of TRL's _compute_loss in
// ./trl-reference.ts (loss, gradients by central differences of the reference, TRL-named metrics); TRL's
// warnings and errors; the reference sync and its resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  highEntropyMask, LossType, ObjectiveConfig, objectiveWarnings, offPolicyMask, policyLoss, quantileLinear, stopGradient, type LossInputs, type Normalizer,
} from '../src/rl/loss.js';
import { policyUpdate, type EntropyControl, type TrainSequence } from '../src/rl/update.js';
import { Adam } from '../src/optim/adam.js';
import { parseTrainConfig } from '../src/train/config.js';
import { syncReference } from '../src/train/ref-sync.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';
import { TRL_DEFAULTS, torchQuantile, trlLoss, type TrlArgs } from './trl-reference.js';

await tf.setBackend('cpu');
const close = (a: number, b: number, tol = 1e-5, msg = '') => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${msg} ${a} vs ${b}`);
const closeAll = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5, msg = '') => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) close(a[i], b[i], tol, `${msg}[${i}]`);
};
const t2 = (m: number[][]) => tf.tensor2d(m);
const norm1 = (B: number, tokens: number, L: number): Normalizer => ({ sequences: B, tokens, microBatches: 1, maxCompletionLength: L, longestCompletion: L });
const disposeParts = (p: ReturnType<typeof policyLoss>) => tf.dispose([p.loss, p.policyLoss, p.klSum, p.clippedLow, p.clippedHigh, p.entropySum, p.entropyCount, ...Object.values(p.metrics)]);

// ---- hand values ------------------------------------------------------------------------------------

test('cispo by hand: the weight is clipped at ε_high and detached, every token keeps −w Â as its gradient', () => {
  const cfg = ObjectiveConfig.parse({ lossType: 'cispo', epsilonHigh: 5 });
  const logp = t2([[-1, -1, -1]]);
  const oldLogp = t2([[-1 + Math.log(2), -1 - Math.log(2), -1 - Math.log(6)]]); // ratios 0.5, 2, 6
  const inputs = (x: tf.Tensor) => ({ logp: x as tf.Tensor2D, oldLogp, advantages: tf.tensor1d([1]), mask: t2([[1, 1, 1]]) });
  const parts = policyLoss(inputs(logp), cfg, norm1(1, 3, 3));
  close(parts.loss.arraySync() as number, (0.5 + 2 + 5) / 3); // −min(r, 5)·1·(−1) summed, over 3 tokens (dapo's normaliser)
  close(parts.metrics.cispo_clip_ratio.arraySync() as number, 1 / 3);
  closeAll(tf.grad((x) => policyLoss(inputs(x), cfg, norm1(1, 3, 3)).loss)(logp).dataSync(), [-0.5 / 3, -2 / 3, -5 / 3]);
});

test('sapo by hand: on-policy the gate is 2/τ and its gradient is −Â, as GRPO’s', () => {
  const cfg = ObjectiveConfig.parse({ lossType: 'sapo' }); // τ+ 1, τ− 1.05
  const logp = t2([[-0.5, -1.5], [-0.7, -0.2]]);
  const mask = t2([[1, 1], [1, 0]]);
  const adv = tf.tensor1d([1, -1]);
  const inputs = (x: tf.Tensor) => ({ logp: x as tf.Tensor2D, oldLogp: stopGradient(x as tf.Tensor2D), advantages: adv, mask });
  close(policyLoss(inputs(logp), cfg, norm1(2, 3, 2)).loss.arraySync() as number, (-2 + 2 / 1.05) / 2);
  closeAll(tf.grad((x) => policyLoss(inputs(x), cfg, norm1(2, 3, 2)).loss)(logp).dataSync(), [-1 / 4, -1 / 4, 1 / 2, 0]);
  // off-policy: r = 1.5, Â = 1 → −σ(0.5)·4; a token pays the soft gate, not a hard clip
  const off = policyLoss({ logp: t2([[Math.log(1.5)]]), oldLogp: t2([[0]]), advantages: tf.tensor1d([1]), mask: t2([[1]]) }, cfg, norm1(1, 1, 1));
  close(off.loss.arraySync() as number, -4 / (1 + Math.exp(-0.5)));
});

test('vespo by hand: φ(1) = 1 on-policy; φ(e) = e^{λ + k − λe} with the Â ≥ 0 pair', () => {
  const cfg = ObjectiveConfig.parse({ lossType: 'vespo' });
  const mask = t2([[1, 1]]);
  const onPolicy = policyLoss({ logp: t2([[-1, -2]]), oldLogp: t2([[-1, -2]]), advantages: tf.tensor1d([0.5]), mask }, cfg, norm1(1, 2, 2));
  close(onPolicy.metrics['vespo/phi_seq_mean'].arraySync() as number, 1);
  close(onPolicy.loss.arraySync() as number, (0.5 * 1 + 0.5 * 2) / 2);
  // Σ_t log r_t = 0.4 + 0.6 = 1 → w = e; k = 2, λ = 3
  const w = policyLoss({ logp: t2([[-0.6, -1.4]]), oldLogp: t2([[-1, -2]]), advantages: tf.tensor1d([1]), mask }, cfg, norm1(1, 2, 2));
  close(w.metrics['vespo/phi_seq_mean'].arraySync() as number, Math.exp(3 + 2 - 3 * Math.E));
  // Â < 0 uses k = 3, λ = 2
  const neg = policyLoss({ logp: t2([[-0.6, -1.4]]), oldLogp: t2([[-1, -2]]), advantages: tf.tensor1d([-1]), mask }, cfg, norm1(1, 2, 2));
  close(neg.metrics['vespo/phi_seq_mean'].arraySync() as number, Math.exp(2 + 3 - 2 * Math.E));
});

test('luspo by hand: each sequence’s (sequence-level) loss scaled by its length, over the sequences', () => {
  const cfg = ObjectiveConfig.parse({ lossType: 'luspo', importanceSampling: 'sequence' });
  const logp = t2([[-1, -1, -1], [-1, 0, 0]]);
  const mask = t2([[1, 1, 1], [1, 0, 0]]);
  const parts = policyLoss({ logp, oldLogp: logp, advantages: tf.tensor1d([2, -1]), mask }, cfg, norm1(2, 4, 3));
  close(parts.loss.arraySync() as number, (3 * -2 + 1 * 1) / 2);
});

test('delta caps the unclipped branch (INTELLECT-2): a negative-advantage token at r = 3 pays delta, not 3', () => {
  const base = { logp: t2([[Math.log(3)]]), oldLogp: t2([[0]]), advantages: tf.tensor1d([-1]), mask: t2([[1]]) };
  close(policyLoss(base, ObjectiveConfig.parse({}), norm1(1, 1, 1)).loss.arraySync() as number, 3);
  close(policyLoss(base, ObjectiveConfig.parse({ delta: 1.5 }), norm1(1, 1, 1)).loss.arraySync() as number, 1.5);
});

test('off-policy mask by hand: only negative-advantage sequences whose mean log(π_sampler/π_θ) exceeds δ drop', () => {
  const logp = t2([[-1, -1], [-1, -1], [-1, -1]]);
  const sampler = t2([[-0.2, -0.4], [-0.2, -0.4], [-0.95, -0.95]]); // mean KL 0.7, 0.7, 0.05
  const keep = offPolicyMask(tf.tensor1d([-1, 1, -1]), logp, sampler, t2([[1, 1], [1, 1], [1, 1]]), 0.5).dataSync();
  assert.deepEqual(Array.from(keep), [0, 1, 1]);
  // padding does not count toward the mean
  const padded = offPolicyMask(tf.tensor1d([-1]), t2([[-1, -1]]), t2([[-1.1, 9]]), t2([[1, 0]]), 0.5).dataSync();
  assert.deepEqual(Array.from(padded), [1]);
});

test('top-entropy mask by hand: torch.quantile’s linear interpolation, padding never kept, ρ = 0 keeps the highest', () => {
  close(quantileLinear([0.1, 0.5, 0.9, 1.3], 0.5), 0.7);
  close(quantileLinear([3, 1, 2], 0.25), 1.5);
  close(quantileLinear([3, 1, 2], 0.25), torchQuantile([3, 1, 2], 0.25));
  const ent = t2([[0.1, 0.5, 9], [0.9, 1.3, 0]]);
  const mask = t2([[1, 1, 0], [1, 1, 0]]);
  assert.deepEqual(Array.from(highEntropyMask(ent, mask, 0.5).dataSync()), [0, 0, 0, 1, 1, 0]);
  assert.deepEqual(Array.from(highEntropyMask(ent, mask, 0).dataSync()), [0, 0, 0, 0, 1, 0]);
  assert.deepEqual(Array.from(highEntropyMask(ent, mask, 1).dataSync()), [1, 1, 0, 1, 1, 0]);
  assert.deepEqual(Array.from(highEntropyMask(ent, tf.zeros([2, 3]) as tf.Tensor2D, 0.5).dataSync()), [0, 0, 0, 0, 0, 0]);
});

test('bias-corrected KL is k3·r; the entropy bonus subtracts coef × the mean token entropy', () => {
  const logp = t2([[Math.log(0.5)]]);
  const refLogp = t2([[Math.log(0.25)]]);
  const oldLogp = t2([[Math.log(0.4)]]); // r = 1.25
  const k = 0.5 + Math.log(2) - 1;
  const base = { logp, oldLogp, refLogp, advantages: tf.tensor1d([0]), mask: t2([[1]]) };
  close(policyLoss(base, ObjectiveConfig.parse({ beta: 1 }), norm1(1, 1, 1)).klSum.arraySync() as number, k);
  close(policyLoss(base, ObjectiveConfig.parse({ beta: 1, useBiasCorrectionKl: true }), norm1(1, 1, 1)).klSum.arraySync() as number, 1.25 * k);
  const ent = t2([[1, 3, 7]]);
  const three = { logp: t2([[-1, -1, -1]]), oldLogp: t2([[-1, -1, -1]]), advantages: tf.tensor1d([0]), mask: t2([[1, 1, 0]]), entropies: ent, entropyCoef: 0.1 };
  for (const lossType of ['grpo', 'dapo'] as const) {
    const p = policyLoss(three, ObjectiveConfig.parse({ lossType, entropyCoef: 0.1 }), norm1(1, 2, 3));
    close(p.loss.arraySync() as number, -0.1 * 2, 1e-6, lossType);
    close(p.policyLoss.arraySync() as number, 0);
    close(p.metrics.entropy.arraySync() as number, 2);
  }
});

// ---- against TRL's code, in float64 ------------------------------------------------------------------

function mulberry(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  lossType: LossType;
  level: 'token' | 'sequence';
  /** Everything on: KL with bias correction, off-policy mask, engine weights, entropy quantile and bonus, delta. */
  full: boolean;
}

function compareWithTrl({ lossType, level, full }: Case) {
  const B = 4, T = 4;
  const rnd = mulberry(11 + T * lossType.length + (full ? 1 : 0));
  const grid = (f: () => number) => Array.from({ length: B }, () => Array.from({ length: T }, f));
  // luspo's (B, T) case counts padding positions in TRL (its mean is over B·T entries): compare it without padding
  const padded = !(lossType === 'luspo' && (full || level === 'token'));
  const mask = padded ? [[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]] : grid(() => 1);
  const old = grid(() => -0.3 - rnd());
  const x = old.map((r) => r.map((o) => o + (rnd() - 0.5) * 0.6));
  const ref = old.map((r) => r.map((o) => o + (rnd() - 0.5) * 0.4));
  const sampling = old.map((r) => r.map((o) => o + rnd() * 0.3));
  const isRatio = grid(() => 0.7 + rnd() * 0.6);
  const ent = grid(() => 0.2 + 2 * rnd());
  const adv = [1.1, -0.7, 0.4, -1.3];
  const tokens = mask.flat().reduce((a, b) => a + b, 0);
  const seq = level === 'sequence';
  const epsHigh = lossType === 'cispo' ? 1.2 : seq ? 0.08 : 0.28;
  const epsLow = seq ? 0.05 : 0.2;
  // an off-policy threshold between the two negative-advantage rows' mean KLs, so one drops and one stays
  const rowKl = (b: number) => sampling[b].reduce((s, v, t) => s + (v - x[b][t]) * mask[b][t], 0) / mask[b].reduce((s, v) => s + v, 0);
  const threshold = (rowKl(1) + rowKl(3)) / 2;
  const coef = 0.05;
  // with every option on, this micro-batch is the first of two equal ones (gradient accumulation 2)
  const ga = full ? 2 : 1;
  const args: TrlArgs = {
    ...TRL_DEFAULTS, loss_type: lossType, importance_sampling_level: level, epsilon_low: epsLow, epsilon_high: epsHigh, max_completion_length: 6, num_items_in_batch: tokens * ga, ga,
    ...(full ? { beta: 0.05, use_bias_correction_kl: true, off_policy_mask_threshold: threshold, top_entropy_quantile: 0.5, entropy_coef: coef, delta: 1.25 } : {}),
  };
  const cfg = ObjectiveConfig.parse({
    lossType, importanceSampling: level, epsilonLow: epsLow, epsilonHigh: epsHigh,
    ...(full ? { beta: 0.05, useBiasCorrectionKl: true, offPolicyMaskThreshold: threshold, topEntropyQuantile: 0.5, entropyCoef: coef, delta: 1.25 } : {}),
  });
  const norm: Normalizer = { sequences: B * ga, tokens: tokens * ga, microBatches: ga, maxCompletionLength: 6, longestCompletion: T };
  const trlInputs = (xx: number[][], ee: number[][]) => ({
    x: xx, xd: x, old, ref: full ? ref : undefined, sampling: full ? sampling : undefined, is_ratio: full ? isRatio.map((r, b) => r.map((v, t) => (mask[b][t] ? v : 1))) : undefined,
    adv, mask, ent: full ? ee : ent, entd: ent,
  });
  const want = trlLoss(trlInputs(x, ent), args);
  if (full) {
    assert.deepEqual([want.keep![1], want.keep![3]].sort(), [0, 1], 'the off-policy mask drops one negative-advantage row');
  }
  // ours: the same tensors; padding of the engine weights is 0 in update.ts's layout (only masked tokens are filled)
  const maskT = t2(mask);
  const entT = t2(ent);
  const entropyMask = full ? highEntropyMask(entT, maskT, 0.5) : undefined;
  if (full) assert.deepEqual(Array.from(entropyMask!.dataSync()), want.entropyMask!.flat());
  const inputs = (lp: tf.Tensor, e: tf.Tensor): LossInputs => ({
    logp: lp as tf.Tensor2D, oldLogp: t2(old), refLogp: full ? t2(ref) : undefined, advantages: tf.tensor1d(adv), mask: maskT,
    isWeight: full ? t2(isRatio.map((r, b) => r.map((v, t) => (mask[b][t] ? v : 0)))) : undefined, samplerLogp: full ? t2(sampling) : undefined,
    entropyMask, entropies: full ? (e as tf.Tensor2D) : undefined, entropyCoef: full ? coef : 0,
  });
  const what = `${lossType}/${level}${full ? '/full' : ''}`;
  const parts = policyLoss(inputs(t2(x), entT), cfg, norm);
  close(parts.loss.arraySync() as number, want.loss, 2e-6, `${what} loss`);
  for (const [k, v] of Object.entries(want.metrics)) {
    if (k === 'entropy' && !full) continue; // entropies are computed only when the bonus or the quantile asks
    assert.ok(parts.metrics[k], `${what}: metric ${k} missing`);
    close(parts.metrics[k].arraySync() as number, v, 2e-6, `${what} ${k}`);
  }
  for (const k of Object.keys(parts.metrics)) assert.ok(k in want.metrics, `${what}: metric ${k} is not TRL's`);
  // gradients: ours (float32 autodiff) against central differences of TRL's formula in float64
  const [gx, ge] = full
    ? tf.grads((lp: tf.Tensor, e: tf.Tensor) => policyLoss(inputs(lp, e), cfg, norm).loss)([t2(x), entT])
    : [tf.grad((lp: tf.Tensor) => policyLoss(inputs(lp, entT), cfg, norm).loss)(t2(x)), tf.zerosLike(entT)];
  const h = 1e-6;
  const fd = (which: 'x' | 'ent', b: number, t: number) => {
    const bump = (d: number) => {
      const xx = x.map((r) => r.slice());
      const ee = ent.map((r) => r.slice());
      (which === 'x' ? xx : ee)[b][t] += d;
      return trlLoss(trlInputs(xx, ee), args).loss;
    };
    return (bump(h) - bump(-h)) / (2 * h);
  };
  const gxs = gx.dataSync();
  const ges = ge.dataSync();
  let nonzero = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const want = fd('x', b, t);
      if (Math.abs(want) > 1e-4) nonzero++;
      close(gxs[b * T + t], want, 2e-5, `${what} d/dlogp[${b},${t}]`);
      close(ges[b * T + t], fd('ent', b, t), 2e-5, `${what} d/dentropy[${b},${t}]`);
    }
  }
  assert.ok(nonzero >= 4, `${what}: the gradient is not trivially zero`);
}

for (const lossType of LossType.options) {
  test(`${lossType} equals TRL's _compute_loss in float64 (loss, metrics, gradients), token and sequence ratios, plain and with every option`, () => {
    for (const level of ['token', 'sequence'] as const) for (const full of [false, true]) tf.tidy(() => compareWithTrl({ lossType, level, full }));
  });
}

// ---- TRL's warnings and errors -----------------------------------------------------------------------

test("TRL's warnings: luspo without sequence ratios, vespo with them, GSPO with the token-summing types (not sapo/luspo)", () => {
  assert.match(objectiveWarnings({ lossType: 'luspo', importanceSampling: 'token' }).join(), /luspo.*importanceSampling 'sequence'/);
  assert.deepEqual(objectiveWarnings({ lossType: 'luspo', importanceSampling: 'sequence' }), []);
  assert.match(objectiveWarnings({ lossType: 'vespo', importanceSampling: 'sequence' }).join(), /VESPO computes sequence-level importance weights/);
  assert.deepEqual(objectiveWarnings({ lossType: 'vespo', importanceSampling: 'token' }), []);
  for (const t of ['bnpo', 'dr_grpo', 'dapo', 'cispo'] as const) assert.equal(objectiveWarnings({ lossType: t, importanceSampling: 'sequence' }).length, 1, t);
  for (const t of ['grpo', 'sapo'] as const) assert.deepEqual(objectiveWarnings({ lossType: t, importanceSampling: 'sequence' }), [], t);
});

test("TRL's errors: syncRefModel with beta 0, or with LoRA, is refused naming objective.syncRefModel; ranges checked", () => {
  assert.throws(() => parseTrainConfig({ objective: { syncRefModel: true } }), /objective\.syncRefModel: .*beta > 0/);
  assert.throws(() => parseTrainConfig({ objective: { syncRefModel: true, beta: 0.04 }, lora: {} }), /objective\.syncRefModel: .*not supported with lora/);
  const ok = parseTrainConfig({ objective: { syncRefModel: true, beta: 0.04, lossType: 'cispo', epsilonHigh: 5 } });
  assert.equal(ok.objective.refModelMixupAlpha, 0.6);
  assert.equal(ok.objective.refModelSyncSteps, 512);
  assert.throws(() => parseTrainConfig({ objective: { topEntropyQuantile: 1.5 } }), /objective\.topEntropyQuantile/);
  assert.throws(() => parseTrainConfig({ objective: { lossType: 'ppo' } }), /objective\.lossType/);
  assert.throws(() => parseTrainConfig({ objective: { refModelMixupAlpha: 2 } }), /objective\.refModelMixupAlpha/);
});

// ---- the update: adaptive entropy control, metrics ---------------------------------------------------

test('adaptive entropy (Skywork-OR1 as TRL): no bonus before the first measurement, then ±delta per optimizer step within bounds', async () => {
  const policy = tinyPolicy(3);
  const opt = new Adam(policy.parameters(), { lr: 1e-3 });
  const seqs: TrainSequence[] = [
    { promptIds: [1, 2, 3], completionIds: [4, 5, 6], advantage: 1, truncated: false },
    { promptIds: [1, 2, 3], completionIds: [7, 5], advantage: -1, truncated: false },
  ];
  const objective = ObjectiveConfig.parse({ entropyCoef: 0.01, useAdaptiveEntropy: true, entropyTarget: 1e9, entropyCoefDelta: 0.004, entropyCoefMax: 0.017 });
  const control: EntropyControl = { coef: 0.01, lastWorldEntropy: Infinity };
  const run = () => policyUpdate(policy, opt, seqs, { objective, temperature: 1, microBatchSize: 8, numIterations: 2, maxCompletionLength: 4, lr: 1e-3, entropyControl: control });
  const before = tf.memory().numTensors;
  const r = await run();
  // first optimizer step: lastWorldEntropy = ∞ > target, so nothing applied: loss = the policy term (grpo, one micro-batch)
  close(control.coef, 0.017, 1e-12); // 0.01 + 0.004 → 0.014, + 0.004 capped at 0.017
  assert.ok(Number.isFinite(control.lastWorldEntropy) && control.lastWorldEntropy > 0);
  close(r.trl.entropy_coef, (0.014 + 0.017) / 2, 1e-9); // logged per optimizer step, averaged as TRL's log does
  assert.ok(r.trl.entropy > 0 && r.trl['clip_ratio/region_mean'] >= 0);
  // a target below the entropy: the coefficient comes down by delta to its floor
  const down = ObjectiveConfig.parse({ ...objective, entropyTarget: 0, entropyCoefMin: 0.015 });
  await policyUpdate(policy, opt, seqs, { objective: down, temperature: 1, microBatchSize: 1, numIterations: 1, maxCompletionLength: 4, lr: 1e-3, entropyControl: control });
  close(control.coef, 0.015, 1e-12);
  await run();
  assert.equal(tf.memory().numTensors, before, 'no tensors leak over updates');
  // the first step's loss carries no bonus: the same step with entropyCoef 0 gives the same loss
  const p2 = tinyPolicy(3);
  const fresh = { coef: 0.5, lastWorldEntropy: Infinity };
  const withBonus = await policyUpdate(p2, new Adam(p2.parameters(), { lr: 1e-3 }), seqs, { objective: ObjectiveConfig.parse({ entropyCoef: 0.5, useAdaptiveEntropy: true }), temperature: 1, microBatchSize: 8, numIterations: 1, maxCompletionLength: 4, lr: 0, entropyControl: fresh });
  const without = await policyUpdate(p2, new Adam(p2.parameters(), { lr: 1e-3 }), seqs, { objective: ObjectiveConfig.parse({}), temperature: 1, microBatchSize: 8, numIterations: 1, maxCompletionLength: 4, lr: 0 });
  close(withBonus.loss, without.loss, 1e-6);
  close(withBonus.trl.policy_loss, without.loss, 1e-6);
  // a static coefficient applies from the first step: loss = policy − coef · H
  const stat = await policyUpdate(p2, new Adam(p2.parameters(), { lr: 1e-3 }), seqs, { objective: ObjectiveConfig.parse({ entropyCoef: 0.5 }), temperature: 1, microBatchSize: 8, numIterations: 1, maxCompletionLength: 4, lr: 0 });
  close(stat.loss, without.loss - 0.5 * stat.trl.entropy, 1e-5);
});

// ---- reference sync -----------------------------------------------------------------------------------

test('syncReference mixes in place: ref ← α θ + (1 − α) ref', () => {
  const policy = tinyPolicy(1);
  const ref = tinyPolicy(2);
  const th = policy.parameters().map((p) => Array.from(p.dataSync()));
  const r0 = ref.parameters().map((p) => Array.from(p.dataSync()));
  syncReference(policy, ref, 0.6);
  ref.parameters().forEach((p, i) => closeAll(p.dataSync(), r0[i].map((v, j) => 0.6 * th[i][j] + 0.4 * v), 1e-6, `param ${i}`));
  assert.throws(() => syncReference(policy, tinyPolicy(1, 8), 0.5), /parameter #0/);
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-objectives-'));
const params = (p: { parameters(): tf.Variable[] }) => p.parameters().map((v) => Array.from(v.dataSync()));

test('resume with syncRefModel and adaptive entropy is bit-identical: the synced reference and the coefficient are checkpointed', async () => {
  const cfg = tinyConfig({
    algo: 'igrpo', steps: 4, checkpoint: { every: 2, keep: 3 },
    objective: { beta: 0.04, syncRefModel: true, refModelSyncSteps: 1, refModelMixupAlpha: 0.5, entropyCoef: 0.01, useAdaptiveEntropy: true, entropyTarget: 1e9, lossType: 'cispo', epsilonHigh: 5 },
  });
  const straightOut = tmp();
  const a = await Trainer.create(cfg, { policy: tinyPolicy(9), score: lengthScore, out: straightOut });
  const start = params(a.reference!);
  await a.run();
  const want = { policy: params(a.policy), reference: params(a.reference!), coef: (a as unknown as { ctx: { objective: { entropy: EntropyControl } } }).ctx.objective.entropy.coef };
  assert.notDeepEqual(want.reference, start, 'the reference moved');
  a.dispose();
  assert.ok(fs.existsSync(path.join(straightOut, 'checkpoints', 'step-000002', 'reference', 'model.safetensors')));
  assert.ok(fs.existsSync(path.join(straightOut, 'checkpoints', 'step-000002', 'entropy-control.json')));

  const out = tmp();
  const b = await Trainer.create(cfg, { policy: tinyPolicy(9), score: lengthScore, out });
  for (let i = 0; i < 3; i++) await b.step(); // a checkpoint at 2, a step past it that resume discards
  b.dispose();
  const c = await Trainer.create(cfg, { score: lengthScore, out, resume: true });
  assert.equal(c.stepIndex, 2);
  await c.run();
  assert.deepEqual(params(c.policy), want.policy);
  assert.deepEqual(params(c.reference!), want.reference);
  assert.equal((c as unknown as { ctx: { objective: { entropy: EntropyControl } } }).ctx.objective.entropy.coef, want.coef);
  c.dispose();

  // a checkpoint without the reference it needs is refused, naming what is missing
  fs.rmSync(path.join(out, 'checkpoints', 'step-000004', 'reference'), { recursive: true });
  await assert.rejects(() => Trainer.create({ ...cfg, steps: 5 } as typeof cfg, { score: lengthScore, out, resume: true }), /reference is missing: objective\.syncRefModel/);
});
