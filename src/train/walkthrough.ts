// One GRPO or iGRPO step with everything the step-by-step walkthrough shows, for the browser page (site/) and
// Node alike: the same src/rl functions the Trainer calls (igrpoRollout / grpoRollout, groupAdvantages,
// policyUpdate), the same seeds (mixSeed(seed, step)), prompts (stepProblems) and optimizer, so a step here
// samples, scores and updates exactly as Trainer.step() does (test/site.test.ts checks it), with no file,
// run folder or checkpoint: nothing in here needs Node.
//
// Besides the step's records it keeps what the panels explain: the open choices of d̂ per prompt, and per
// completion token the log-probs before and after the update with the loss terms (ratio, clipped or not,
// k3 KL) that a second iteration on the same batch would see (src/rl/loss.ts's own functions).
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import { groupAdvantages } from '../rl/advantages.js';
import { buildSequenceBatch } from '../rl/batch.js';
import * as rl from '../rl/igrpo.js';
import { clippedSurrogate, k3, logRatio } from '../rl/loss.js';
import { rewardsOf, type Group, type ScoreFn } from '../rl/rollout.js';
import { policyUpdate, trainSequences, type TrainSequence, type UpdateResult } from '../rl/update.js';
import { makeLocalSampler } from '../engine/local.js';
import { mixSeed } from '../util/rng.js';
import { buildRewards } from '../verify/registry.js';
import { makeScoreFn } from '../verify/rewards.js';
import type { TrainConfig } from './config.js';
import { makePromptOf } from './prompt.js';
import { metricsOf, rolloutRecords, type MetricsRecord, type RolloutRecord } from './records.js';
import { learningRate } from './schedule.js';
import { stepProblems } from './task.js';
import { updateOptionsOf } from './update-options.js';
import { timedRolloutDeps } from './rollout-deps.js';
import { timed } from './step-state.js';

/** A policy being trained by one algorithm: what a step needs besides its index. */
export interface LiveRun {
  config: TrainConfig;
  policy: Policy;
  optimizer: Adam;
  /** The training pool steps draw from (stepProblems). */
  pool: readonly Problem[];
  score: ScoreFn;
  promptOf: (p: Problem) => string;
}

/** A run over `pool` for `config` (plain prompts), with the Trainer's optimizer and rewards. */
export function createLiveRun(config: TrainConfig, policy: Policy, pool: readonly Problem[]): LiveRun {
  if (config.prompt.format !== 'plain') throw new Error('walkthrough: prompt.format must be plain (chat prompts need a Hugging Face tokenizer)');
  if (config.rollout.engine) throw new Error('walkthrough: rollout.engine (server mode) is not supported; sampling is local');
  const o = config.optimizer;
  const optimizer = new Adam(policy.parameters(), { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.type === 'adamw' ? o.weightDecay : 0 });
  const promptOf = makePromptOf(config.prompt);
  if (config.algo === 'igrpo' && pool.length) rl.checkTemplate(promptOf(pool[0]), config.igrpo, (t) => policy.tokenizer.encode(t));
  return { config, policy, optimizer, pool, score: makeScoreFn(buildRewards(config.rewards)), promptOf };
}

/** What the open choices of iGRPO would pick for one prompt's drafts. */
export interface DraftChoices {
  /** Draft indices that share the highest reward (more than one: a tie). */
  tied: number[];
  anyCorrect: boolean;
  /** d̂ under each tieBreak option. */
  first: number;
  shortest: number;
  random: number;
  /** whenNoneCorrect 'fallback' would refine under q itself (no draft correct). */
  fallsBack: boolean;
}

/** One completion's tokens with the loss terms, [token]. */
export interface TokenTerms {
  group: number;
  index: number;
  advantage: number;
  tokens: string[];
  /** log π_θold (before the update) and log π_θ (after it), at the sampling temperature. */
  before: number[];
  after: number[];
  /** exp(after − before): the ratio a second iteration on this batch would see (the update's own is 1). */
  ratio: number[];
  /** Whether the clipped branch is the active one (its gradient cut): 'low', 'high' or ''. */
  clipped: string[];
  /** −min(r Â, clip(r) Â) per token. */
  surrogate: number[];
  /** k3 KL(π_θ ‖ π_θold) per token (the KL term's estimator, with θold as the reference). */
  kl: number[];
}

export interface LiveStep {
  algo: 'grpo' | 'igrpo';
  step: number;
  seed: number;
  lr: number;
  problems: Problem[];
  draftGroups?: Group[];
  chosen?: number[];
  choices?: DraftChoices[];
  /** Trained groups: iGRPO's refinements under q', GRPO's group under q. */
  groups: Group[];
  advantages: number[][];
  update: UpdateResult;
  metrics: MetricsRecord;
  rollouts: RolloutRecord[];
  times: Record<string, number>;
  /** With detail: per-token terms of every trained completion. */
  tokens?: TokenTerms[];
}

/** The open choices for each prompt's drafts (src/rl/igrpo.ts selectBestDraft under each option). */
export function draftChoices(drafts: readonly Group[], seed: number): DraftChoices[] {
  return drafts.map((g, i) => {
    const reward = (r: number) => (Number.isFinite(r) ? r : -Infinity);
    const best = Math.max(...g.completions.map((c) => reward(c.score.reward)));
    const s = mixSeed(seed, 2, i); // the seed selectDrafts gives prompt i
    return {
      tied: g.completions.map((c, j) => (reward(c.score.reward) === best ? j : -1)).filter((j) => j >= 0),
      anyCorrect: g.completions.some((c) => c.score.correct),
      first: rl.selectBestDraft(g.completions, 'first', s),
      shortest: rl.selectBestDraft(g.completions, 'shortest', s),
      random: rl.selectBestDraft(g.completions, 'random', s),
      fallsBack: !g.completions.some((c) => c.score.correct),
    };
  });
}

/** Per-row completion-token log-probs of the sequences under the policy now, [row][token]. */
export async function completionLogProbs(policy: Policy, seqs: readonly TrainSequence[], temperature: number): Promise<number[][]> {
  if (seqs.length === 0) return [];
  const b = buildSequenceBatch(seqs.map((s) => ({ prompt: s.promptIds, completion: s.completionIds })), policy.tokenizer.padId);
  const lp = tf.tidy(() => policy.tokenLogProbs(tf.tensor2d(b.ids, [b.batch, b.length], 'int32'), { temperature }));
  const flat = (await lp.data()) as Float32Array;
  lp.dispose();
  return seqs.map((s, i) => Array.from(flat.subarray(i * (b.length - 1) + s.promptIds.length - 1, i * (b.length - 1) + s.promptIds.length - 1 + s.completionIds.length)));
}

/** Loss terms per token from log-probs before/after, through src/rl/loss.ts (token-level or GSPO ratio). */
async function tokenTerms(run: LiveRun, seqs: readonly TrainSequence[], before: number[][], after: number[][], groups: readonly Group[]): Promise<TokenTerms[]> {
  const cfg = run.config.objective;
  const width = Math.max(1, ...seqs.map((s) => s.completionIds.length));
  const pad = (rows: number[][]) => rows.map((r) => [...r, ...new Array(width - r.length).fill(0)]);
  const epsHigh = cfg.epsilonHigh ?? cfg.epsilonLow;
  const [ratio, sur, kl] = tf.tidy(() => {
    const old = tf.tensor2d(pad(before), [seqs.length, width]);
    const now = tf.tensor2d(pad(after), [seqs.length, width]);
    const mask = tf.tensor2d(seqs.map((s) => Array.from({ length: width }, (_, k) => (k < s.completionIds.length ? 1 : 0))), [seqs.length, width]);
    const r = tf.exp(logRatio(now, old, mask, cfg.importanceSampling)) as tf.Tensor2D;
    return [r, clippedSurrogate(r, tf.tensor1d(seqs.map((s) => s.advantage)), cfg.epsilonLow, epsHigh), k3(now, old)];
  });
  const [rs, ss, ks] = (await Promise.all([ratio.array(), sur.array(), kl.array()])) as number[][][];
  tf.dispose([ratio, sur, kl]);
  const where = groups.flatMap((g, i) => g.completions.map((_, j) => [i, j] as const));
  const tok = run.policy.tokenizer;
  return seqs.map((s, row) => {
    const n = s.completionIds.length;
    const a = s.advantage;
    return {
      group: where[row][0],
      index: where[row][1],
      advantage: a,
      tokens: s.completionIds.map((id) => tok.decode([id]) || `#${id}`),
      before: before[row],
      after: after[row],
      ratio: rs[row].slice(0, n),
      clipped: rs[row].slice(0, n).map((r) => (r < 1 - cfg.epsilonLow && a < 0 ? 'low' : r > 1 + epsHigh && a > 0 ? 'high' : '')),
      surrogate: ss[row].slice(0, n),
      kl: ks[row].slice(0, n),
    };
  });
}

/**
 * Step `step` of the run: rollout (igrpoRollout or grpoRollout), advantages, policyUpdate, and the step's
 * metrics and rollout records, as Trainer.step() computes them. `problems` replaces the step's own prompts
 * (a problem of the reader's choice); `detail` adds the per-token terms (two more forward passes).
 */
export async function liveStep(run: LiveRun, step: number, opts: { problems?: Problem[]; detail?: boolean } = {}): Promise<LiveStep> {
  const t0 = performance.now();
  const { config, policy } = run;
  const algo = config.algo;
  const seed = mixSeed(config.seed, step);
  const lr = learningRate(config.optimizer.lr, step, config.steps, config.schedule);
  const problems = opts.problems ?? stepProblems(run.pool, config.promptsPerStep, config.seed, step);
  const times: Record<string, number> = {};
  const deps = timedRolloutDeps(times, algo === 'grpo' ? ['sample'] : ['draft', 'refine'], {
    sample: makeLocalSampler(policy, config.sampling), score: run.score, promptOf: run.promptOf, policy, maxNewTokens: config.sampling.maxNewTokens, seed,
  });

  let draftGroups: Group[] | undefined;
  let chosen: number[] | undefined;
  let groups: Group[];
  if (algo === 'grpo') groups = await rl.grpoRollout(problems, deps, config.completionsPerPrompt);
  else ({ drafts: draftGroups, chosen, refinements: groups } = await rl.igrpoRollout(problems, deps, config.igrpo));
  const o = config.objective;
  const advantages = groupAdvantages(rewardsOf(groups), { scale: o.scaleRewards, eps: o.advantageEps });
  const seqs = trainSequences(groups, advantages);
  const temperature = config.sampling.temperature;
  const before = opts.detail ? await completionLogProbs(policy, seqs, temperature) : undefined;
  const update = await timed({ times }, 'update', () => policyUpdate(policy, run.optimizer, seqs, updateOptionsOf(config, lr)));
  const tokens = before ? await tokenTerms(run, seqs, before, await completionLogProbs(policy, seqs, temperature), groups) : undefined;
  times.total = performance.now() - t0;
  const runId = { algo, seed: config.seed };
  const outcome = { step, lr, draftGroups, chosen, groups, advantages, update, times };
  return {
    algo, step, seed, lr, problems, draftGroups, chosen, groups, advantages, update, times, tokens,
    choices: draftGroups ? draftChoices(draftGroups, seed) : undefined,
    metrics: metricsOf(outcome, runId),
    rollouts: rolloutRecords(outcome, runId),
  };
}

/** The numbers a walkthrough step is checked by (page vs Node): texts, rewards, d̂, advantages, loss, gradient norm. */
export function stepFingerprint(s: LiveStep) {
  const texts = (gs: readonly Group[] | undefined) => gs?.map((g) => g.completions.map((c) => c.text));
  const rewards = (gs: readonly Group[] | undefined) => gs?.map((g) => g.completions.map((c) => c.score.reward));
  return {
    algo: s.algo, step: s.step, seed: s.seed,
    problems: s.problems.map((p) => p.id),
    drafts: texts(s.draftGroups), draftRewards: rewards(s.draftGroups), chosen: s.chosen,
    prompts: s.groups.map((g) => g.prompt.text),
    completions: texts(s.groups), rewards: rewards(s.groups),
    advantages: s.advantages, loss: s.update.loss, gradNorm: s.update.gradNorm,
  };
}
export type StepFingerprint = ReturnType<typeof stepFingerprint>;
