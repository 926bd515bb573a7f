// A step's rollout as the trainer files it: every round of it in the StepState, iGRPO's intermediate rounds
// (igrpo.rounds > 2) one call each for notebook cells, the groups the update trains on, and dynamic sampling
// (config.dynamicSampling) over whole draws of the rollout. The rl functions (src/rl/igrpo.ts,
// src/rl/dynamic-sampling.ts) do the work; this file only wires them to a step.
import type { Problem } from '../data/schema.js';
import { fillBatch, hasSignal } from '../rl/dynamic-sampling.js';
import * as rl from '../rl/igrpo.js';
import { scoreGroups, type Group } from '../rl/rollout.js';
import { mixSeed } from '../util/rng.js';
import type { TrainConfig } from './config.js';
import type { StepState } from './step-state.js';
import { stepProblems } from './task.js';

/** What dynamic sampling did in a step (metrics.jsonl `dynamicSampling`). */
export interface DynamicStats {
  /** Draws of the rollout (1 = only the step's own prompts). */
  draws: number;
  groupsDrawn: number;
  /** Dropped: trained group's rewards all equal. */
  groupsDropped: number;
  /** With signal but beyond the batch size. */
  groupsUnused: number;
  /** The batch was filled with groups that carry signal. */
  filled: boolean;
  /** Completions and completion tokens sampled for groups not trained on (counted in the step's budget). */
  discardedCompletions: number;
  discardedTokens: number;
}

/** One draw of the step's rollout for these problems: GRPO's one round, or iGRPO's rounds (igrpoRollout). */
export async function drawRounds(cfg: TrainConfig, problems: readonly Problem[], deps: rl.RolloutDeps): Promise<rl.Round[]> {
  if (cfg.algo === 'grpo') return [{ groups: await rl.grpoRollout(problems, deps, cfg.completionsPerPrompt) }];
  return (await rl.igrpoRollout(problems, deps, cfg.igrpo)).rounds;
}

/** File a step's rounds in its StepState: every round, and the two-round fields (drafts, d̂, the trained groups). */
export function fileRounds(s: StepState, rounds: rl.Round[], algo: TrainConfig['algo']): void {
  s.rounds = rounds;
  s.groups = rounds[rounds.length - 1].groups;
  s.problems = s.groups.map((g) => g.problem);
  if (algo === 'igrpo') {
    s.draftGroups = rounds[0].groups;
    s.chosen = rounds[0].chosen;
    s.drafts = s.draftGroups.map((g) => g.completions);
  }
  s.questions = (s.draftGroups ?? s.groups).map((g) => g.prompt);
  s.prompts = s.groups.map((g) => g.prompt);
  s.samples = s.groups.map((g) => g.completions);
}

/**
 * iGRPO round k, 1 < k < K, in one call (a notebook cell): q⁽ᵏ⁾ = template(q, d̂⁽ᵏ⁻¹⁾), sample, score, d̂⁽ᵏ⁾.
 * The step's rounds so far are in s.rounds (round 1 filed by selectDrafts).
 */
export async function intermediateRound(s: StepState, deps: rl.RolloutDeps, opts: rl.IgrpoOptions): Promise<rl.Round> {
  const K = rl.roundCount(opts);
  const rounds = s.rounds;
  if (!rounds?.length || !rounds[rounds.length - 1].chosen) throw new Error('refineRound: call selectDrafts first');
  const k = rounds.length + 1;
  if (k >= K) throw new Error(`refineRound: this run has ${K} rounds and round ${k} is the last (trained) one; call buildPrompts and sampleRefinements`);
  const prev = rounds[k - 2];
  const prompts = rl.refinementPrompts(prev.groups, prev.chosen!, opts, deps, s.questions);
  const groups = scoreGroups(s.problems, prompts, await deps.sample(rl.roundRequest(prompts, deps, opts, k)), deps.score);
  const round = { groups, chosen: rl.selectDrafts(groups, opts, deps.seed, k) };
  rounds.push(round);
  return round;
}

/** The round whose d̂ conditions the last round: round K − 1 (an error naming the call to make when not done yet). */
export function conditioningRound(s: StepState, opts: rl.IgrpoOptions): rl.Round {
  const K = rl.roundCount(opts);
  const have = s.rounds?.length ?? 0;
  if (have < K - 1) throw new Error(`buildPrompts: rounds 1…${K - 1} come first (${have} done): call ${have === 0 ? 'selectDrafts' : 'refineRound'}`);
  return s.rounds![K - 2];
}

/** The groups the update trains on: the last round's (GRPO: its group), or every round's (igrpo.trainOn 'all'). */
export const trainedGroups = (s: StepState, cfg: TrainConfig): Group[] =>
  cfg.algo === 'igrpo' && cfg.igrpo.trainOn === 'all' && s.rounds ? rl.trainedRounds(s.rounds, cfg.igrpo) : s.groups!;

/** Fresh prompts of draw d ≥ 1: the pool in an order of its own per draw, a pure function of (seed, step, d). */
export const freshProblems = (pool: readonly Problem[], cfg: TrainConfig, step: number, d: number): Problem[] =>
  stepProblems(pool, cfg.promptsPerStep, mixSeed(cfg.seed, 98, d), step);

/** Sampling seed of draw d ≥ 1 (draw 0 samples with the step's own seed, as without dynamic sampling). */
export const drawSeed = (stepSeed: number, d: number): number => mixSeed(stepSeed, 11, d);

type PromptRounds = { group: Group; chosen?: number }[];

const toUnits = (rounds: readonly rl.Round[]): PromptRounds[] =>
  rounds[0].groups.map((_, i) => rounds.map((r) => ({ group: r.groups[i], chosen: r.chosen?.[i] })));

const fromUnits = (units: readonly PromptRounds[], like: readonly rl.Round[]): rl.Round[] =>
  like.map((r, k) => (r.chosen ? { groups: units.map((u) => u[k].group), chosen: units.map((u) => u[k].chosen!) } : { groups: units.map((u) => u[k].group) }));

/**
 * Dynamic sampling over a step whose first draw is in s.rounds: drop prompts whose trained (last-round) group
 * has rewards that do not vary, draw the rollout again for fresh prompts (problems not yet drawn this step)
 * until promptsPerStep are kept or maxRounds draws were made; the kept rounds replace s.rounds.
 */
export async function dynamicSample(
  s: StepState, cfg: TrainConfig, pool: readonly Problem[], depsFor: (seed: number) => rl.RolloutDeps,
): Promise<DynamicStats> {
  const ds = cfg.dynamicSampling!;
  const first = s.rounds;
  if (!first) throw new Error('resample: call scoreRefinements first');
  const seen = new Set(first[0].groups.map((g) => g.problem.id));
  const draw = async (d: number) => {
    const problems = freshProblems(pool, cfg, s.step, d).filter((p) => !seen.has(p.id));
    problems.forEach((p) => seen.add(p.id));
    return problems.length ? toUnits(await drawRounds(cfg, problems, depsFor(drawSeed(s.seed, d)))) : [];
  };
  const trainedRewards = (u: PromptRounds) => u[u.length - 1].group.completions.map((c) => c.score.reward);
  const r = await fillBatch(toUnits(first), draw, (u) => hasSignal(trainedRewards(u)), cfg.promptsPerStep, ds.maxRounds);
  fileRounds(s, fromUnits(r.kept, first), cfg.algo);
  const discarded = r.discarded.flatMap((u) => u.flatMap((x) => x.group.completions));
  const { kept: _, discarded: __, ...counts } = r;
  return (s.dynamic = { ...counts, discardedCompletions: discarded.length, discardedTokens: discarded.reduce((a, c) => a + c.ids.length, 0) });
}
