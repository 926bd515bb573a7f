// Run-log records: one rollouts.jsonl line per sampled completion, one metrics.jsonl line per step.
// The field names are agreed with the analysis/notebook side (.notes/records.md); add fields, never rename.
// Reading a log validates every line and names file, line and field on bad input.
import { z } from 'zod';
import { zeroStdFraction } from '../rl/advantages.js';
import { attemptGroups, refinementDiagnostics, zeroVarianceCounts, type RefinementDiagnostics } from '../rl/diagnostics.js';
import { contextFallbacks, draftTransitions, roundTransitions, type Round } from '../rl/igrpo.js';
import { rewardsOf, type Group, type Scored } from '../rl/rollout.js';
import { stepWarnings } from './health.js';

export const Algo = z.enum(['grpo', 'igrpo']);
export type Algo = z.infer<typeof Algo>;

/**
 * iGRPO's round 1 is 'draft', its last round 'refinement' (the paper's two stages keep their names); with
 * igrpo.rounds > 2 the rounds between are 'intermediate', and every record carries its `round`.
 */
export const Stage = z.enum(['draft', 'refinement', 'grpo', 'intermediate']);
export type Stage = z.infer<typeof Stage>;

export const FinishReason = z.enum(['stop', 'length']);

export const RolloutRecord = z.object({
  step: z.number().int().nonnegative(),
  algo: Algo,
  seed: z.number().int(),
  promptId: z.string(),
  stage: Stage,
  /** Index of the prompt in the step's batch. */
  group: z.number().int().nonnegative(),
  /** Index of the completion in its group (drafts and refinements are numbered separately). */
  index: z.number().int().nonnegative(),
  /** The text the completion was sampled under (for refinements, q' = template(q, d̂)). */
  prompt: z.string(),
  text: z.string(),
  /** Completion tokens sampled (the stop token included when sampling stopped on it). */
  tokens: z.number().int().nonnegative(),
  finishReason: FinishReason,
  reward: z.number(),
  rewards: z.record(z.number()),
  correct: z.boolean(),
  /** Null for completions that get no gradient (drafts and middle rounds, unless igrpo.trainOn is 'all'). */
  advantage: z.number().nullable(),
  /** Drafts (and middle rounds): true for the best one, d̂, that conditioned the next round. */
  chosen: z.boolean().optional(),
  /** iGRPO with igrpo.rounds > 2 only: the 1-based round (1 = 'draft', the last = 'refinement'). */
  round: z.number().int().positive().optional(),
  answer: z.string().nullable().optional(),
  gold: z.string().optional(),
  /**
   * Refinements: the same answer as their d̂ (src/rl/diagnostics.ts sameAnswer); null where d̂ has no answer or
   * q′ fell back to q. Absent in logs written before the diagnostics.
   */
  copy: z.boolean().nullable().optional(),
  /** Refinements: textSimilarity to d̂'s text (normalized edit distance, src/rl/overlap.ts); null where q′ fell back to q. */
  overlapWithDraft: z.number().nullable().optional(),
});
export type RolloutRecord = z.infer<typeof RolloutRecord>;

export const StageTimes = z.object({
  draft: z.number().optional(),
  /** GRPO: sampling its one group under q. */
  sample: z.number().optional(),
  score: z.number().optional(),
  select: z.number().optional(),
  refine: z.number().optional(),
  advantage: z.number().optional(),
  update: z.number().optional(),
  eval: z.number().optional(),
  total: z.number(),
});
export type StageTimes = z.infer<typeof StageTimes>;

export const EvalResult = z.object({
  /** pass@1 averaged over k samples per problem. */
  passAt1: z.number(),
  k: z.number().int().positive(),
  /** Problems evaluated. */
  n: z.number().int().positive(),
  /** Greedy-free estimate's standard error over problems (binomial-style, for error bars). */
  stderr: z.number().optional(),
  temperature: z.number().optional(),
});
export type EvalResult = z.infer<typeof EvalResult>;

export const ZeroVarianceCounts = z.object({
  groups: z.number().int().nonnegative(),
  zeroVariance: z.number().int().nonnegative(),
  allCorrect: z.number().int().nonnegative(),
  allWrong: z.number().int().nonnegative(),
  other: z.number().int().nonnegative(),
});

export const MetricsRecord = z.object({
  step: z.number().int().nonnegative(),
  algo: Algo,
  seed: z.number().int(),
  /** Mean reward of the completions that get gradients (GRPO: the group; iGRPO: the refinements). */
  reward: z.number(),
  /** Fraction correct of those completions. */
  accuracy: z.number(),
  draftAccuracy: z.number().optional(),
  /** Fraction of prompts whose best draft d̂ is correct. */
  bestDraftAccuracy: z.number().optional(),
  refinementAccuracy: z.number().optional(),
  /** Among refinements conditioned on a wrong d̂, the fraction that are right. */
  wrongToRight: z.number().nullable().optional(),
  /** Among refinements conditioned on a right d̂, the fraction that are wrong. */
  rightToWrong: z.number().nullable().optional(),
  /**
   * Among refinements whose d̂ has an extracted answer (and was shown in q′), the fraction that repeat that answer
   * (src/rl/diagnostics.ts); null when no d̂ had an answer.
   */
  copyRate: z.number().nullable().optional(),
  /** Mean textSimilarity of a refinement to its d̂ (1 = verbatim; src/rl/overlap.ts). */
  overlapWithDraft: z.number().nullable().optional(),
  /** Mean textSimilarity of d̂ to its sibling drafts: the overlap independent samples share, to read the one above against. */
  overlapBetweenDrafts: z.number().nullable().optional(),
  /** Per stage (draft, refinement, grpo): groups, and those whose rewards are all equal by reason. */
  zeroVariance: z.record(ZeroVarianceCounts).optional(),
  /** iGRPO: prompts whose q' did not fit the context and fell back to q this step. */
  contextFallbacks: z.number().int().nonnegative().optional(),
  /**
   * iGRPO with igrpo.rounds > 2 or trainOn 'all': per round (1-based), the fraction correct, mean reward, the fraction
   * whose d̂ is correct (all but the last), the zero-variance groups, and for rounds > 1 the transitions from the
   * previous round's d̂ and the prompts that fell back to q. (Top-level fields: round 1 = draft, the last = refinement.)
   */
  rounds: z
    .array(
      z.object({
        round: z.number().int().positive(),
        accuracy: z.number(),
        reward: z.number(),
        bestAccuracy: z.number().optional(),
        zeroStdFraction: z.number(),
        wrongToRight: z.number().nullable().optional(),
        rightToWrong: z.number().nullable().optional(),
        contextFallbacks: z.number().int().nonnegative().optional(),
      }),
    )
    .optional(),
  /**
   * Dynamic sampling (config.dynamicSampling): draws of the rollout, groups drawn, dropped (rewards all equal),
   * unused (beyond the batch), whether the batch was filled. The other fields describe the kept batch; the
   * budget fields (completionTokens, sampledCompletions) count every draw.
   */
  dynamicSampling: z
    .object({
      draws: z.number().int().positive(),
      groupsDrawn: z.number().int().nonnegative(),
      groupsDropped: z.number().int().nonnegative(),
      groupsUnused: z.number().int().nonnegative(),
      filled: z.boolean(),
    })
    .optional(),
  entropy: z.number(),
  kl: z.number(),
  clipFraction: z.number(),
  loss: z.number(),
  gradNorm: z.number(),
  lr: z.number(),
  /** Fraction of groups whose rewards are all equal (they give no signal). */
  zeroStdFraction: z.number(),
  /** Completion tokens sampled this step, drafts included (the matched-budget figure). */
  completionTokens: z.number().int().nonnegative(),
  /** Completions sampled this step, drafts included. */
  sampledCompletions: z.number().int().nonnegative(),
  meanLength: z.number(),
  tokensPerSecond: z.number(),
  wallMs: StageTimes,
  eval: EvalResult.optional(),
  /** Signs of a run going wrong (src/train/health.ts), e.g. every completion empty; absent when none. */
  warnings: z.array(z.string()).optional(),
  /**
   * Server mode: |log p_engine − log p_trainer| over the trained completion tokens (before the update),
   * and the adapter reloads after engine restarts so far.
   */
  engineMismatch: z.object({ mean: z.number(), max: z.number(), tokens: z.number().int().nonnegative(), reloads: z.number().int().nonnegative() }).optional(),
  /**
   * The update's metrics under the names TRL's GRPOTrainer logs them (src/rl/update.ts UpdateResult.trl):
   * clip_ratio/{low_mean,high_mean,region_mean,low_min,high_max}, cispo_clip_ratio, vespo/phi_seq_mean, and with
   * token entropies computed (entropy bonus, topEntropyQuantile < 1) entropy — the exact mean over the loss
   * tokens, where the top-level `entropy` estimates it from the sampled tokens — entropy_coef and policy_loss.
   */
  trl: z.record(z.number()).optional(),
});
export type MetricsRecord = z.infer<typeof MetricsRecord>;

/**
 * JSONL text (the contents of `file`), validating each non-empty line; errors name file, line and field.
 * Text, not a path, so the page and the viewer validate logs the way Node does (reading: ./records-file.ts).
 */
export function parseJsonl<T>(text: string, file: string, schema: z.ZodType<T>): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${file}:${i + 1}: field '${issue.path.join('.') || '(record)'}': ${issue.message}`);
    }
    out.push(parsed.data);
  }
  return out;
}

/**
 * The refinement probe on the held-out problems (eval.refinementProbe): pass@1 under q′ = template(q, d̂) with d̂ the
 * best of the policy's own N drafts, scored as in training (src/train/evaluate.ts refinementProbe).
 */
export const RefinementProbe = EvalResult.extend({
  /** Drafts per problem (igrpo.drafts). */
  drafts: z.number().int().positive(),
  /** The drafts' accuracy (sampled under q at the training temperature). */
  draftAccuracy: z.number(),
  /** Fraction of problems whose d̂ is correct. */
  bestDraftAccuracy: z.number(),
  /** Among the probe's refinements whose d̂ has an answer, the fraction repeating it. */
  copyRate: z.number().nullable(),
});
export type RefinementProbe = z.infer<typeof RefinementProbe>;

/** evals.jsonl: one line per held-out evaluation, including the one before any update (updates = 0). */
export const EvalRecord = EvalResult.extend({
  algo: Algo,
  seed: z.number().int(),
  /** Optimizer steps taken before this evaluation. */
  updates: z.number().int().nonnegative(),
  wallMs: z.number().optional(),
  /** Present when the run asked for the refinement probe (eval.refinementProbe). */
  refinementProbe: RefinementProbe.optional(),
});
export type EvalRecord = z.infer<typeof EvalRecord>;


/** What one step produced, as the record builders read it (a trainer's StepState fits). */
export interface StepOutcome {
  step: number;
  lr: number;
  /** iGRPO only: the scored drafts and d̂'s index per prompt. */
  draftGroups?: Group[];
  chosen?: number[];
  /** The last round's groups (GRPO: the group under q; iGRPO: the refinements under q'). */
  groups: Group[];
  /** Every round (iGRPO: drafts … refinements); absent = [drafts, groups]. */
  rounds?: Round[];
  /** iGRPO: which rounds were trained (advantages hold every round's groups in order under 'all'). */
  trainOn?: 'last' | 'all';
  advantages?: number[][];
  /** Dynamic sampling's counts (./step-rollout.ts). */
  dynamic?: { draws: number; groupsDrawn: number; groupsDropped: number; groupsUnused: number; filled: boolean; discardedCompletions: number; discardedTokens: number };
  update: { kl: number; clipFraction: number; loss: number; gradNorm: number; trl?: Record<string, number> };
  /** Wall time per stage, ms; total set. */
  times: Record<string, number>;
}

// The step's refinement diagnostics, computed once for its metrics line and its rollouts lines (the same groups).
const diagnosticsCache = new WeakMap<readonly Group[], RefinementDiagnostics>();
function diagnosticsOf(draftGroups: readonly Group[], chosen: readonly number[], groups: readonly Group[]): RefinementDiagnostics {
  let d = diagnosticsCache.get(groups);
  if (!d) diagnosticsCache.set(groups, (d = refinementDiagnostics(attemptGroups(draftGroups), chosen, attemptGroups(groups))));
  return d;
}

/** The round whose d̂ conditioned the last round: the drafts, or with more rounds round K − 1. */
const conditioning = (s: Pick<StepOutcome, 'draftGroups' | 'chosen' | 'rounds'>): { groups: Group[]; chosen: number[] } =>
  s.rounds && s.rounds.length > 2 ? { groups: s.rounds[s.rounds.length - 2].groups, chosen: s.rounds[s.rounds.length - 2].chosen! } : { groups: s.draftGroups!, chosen: s.chosen! };

const fractionCorrect = (xs: readonly Scored[]) => (xs.length ? xs.filter((c) => c.score.correct).length / xs.length : 0);

/** The step's metrics.jsonl line. */
export function metricsOf(s: StepOutcome, run: { algo: Algo; seed: number }): MetricsRecord {
  const all = s.groups.flatMap((g) => g.completions);
  const drafts = s.draftGroups?.flatMap((g) => g.completions) ?? [];
  const middle = s.rounds && s.rounds.length > 2 ? s.rounds.slice(1, -1).flatMap((r) => r.groups.flatMap((g) => g.completions)) : [];
  const sampled = [...all, ...drafts, ...middle];
  const tokens = sampled.reduce((a, c) => a + c.ids.length, 0) + (s.dynamic?.discardedTokens ?? 0);
  const lpTokens = all.reduce((a, c) => a + c.logprobs.length, 0);
  const total = s.times.total;
  const m: MetricsRecord = {
    step: s.step,
    algo: run.algo,
    seed: run.seed,
    reward: all.reduce((a, c) => a + c.score.reward, 0) / Math.max(1, all.length),
    accuracy: fractionCorrect(all),
    // Monte Carlo estimate of the sampling distribution's entropy: mean −log p of the sampled tokens
    entropy: lpTokens ? -all.reduce((a, c) => a + c.logprobs.reduce((x, y) => x + y, 0), 0) / lpTokens : 0,
    kl: s.update.kl,
    clipFraction: s.update.clipFraction,
    loss: s.update.loss,
    gradNorm: s.update.gradNorm,
    lr: s.lr,
    zeroStdFraction: zeroStdFraction(rewardsOf(s.groups)),
    completionTokens: tokens,
    sampledCompletions: sampled.length + (s.dynamic?.discardedCompletions ?? 0),
    meanLength: all.reduce((a, c) => a + c.ids.length, 0) / Math.max(1, all.length),
    tokensPerSecond: tokens / Math.max(1e-9, total / 1000),
    wallMs: { ...s.times, total } as StageTimes,
  };
  if (s.update.trl && Object.keys(s.update.trl).length) m.trl = { ...s.update.trl };
  const warnings = stepWarnings(sampled);
  if (warnings.length) m.warnings = warnings;
  const trained = run.algo === 'igrpo' ? 'refinement' : 'grpo';
  m.zeroVariance = {
    ...(s.draftGroups ? { draft: zeroVarianceCounts(attemptGroups(s.draftGroups).map((g) => g.attempts)) } : {}),
    // the middle rounds together (igrpo.rounds > 2; per round: `rounds[].zeroStdFraction`)
    ...(middle.length ? { intermediate: zeroVarianceCounts(s.rounds!.slice(1, -1).flatMap((r) => attemptGroups(r.groups).map((g) => g.attempts))) } : {}),
    [trained]: zeroVarianceCounts(attemptGroups(s.groups).map((g) => g.attempts)),
  };
  if (run.algo === 'igrpo' && s.draftGroups && s.chosen) {
    const chosen = s.chosen;
    m.draftAccuracy = fractionCorrect(drafts);
    m.bestDraftAccuracy = s.draftGroups.filter((g, i) => g.completions[chosen[i]].score.correct).length / s.draftGroups.length;
    m.refinementAccuracy = m.accuracy;
    Object.assign(m, draftTransitions({ drafts: s.draftGroups, chosen, refinements: s.groups, rounds: s.rounds }));
    m.contextFallbacks = contextFallbacks(s.groups.map((g) => g.prompt));
    const cond = conditioning(s);
    const d = diagnosticsOf(cond.groups, cond.chosen, s.groups);
    [m.copyRate, m.overlapWithDraft, m.overlapBetweenDrafts] = [d.copyRate, d.overlapWithDraft, d.overlapBetweenDrafts];
    if (s.rounds && (s.rounds.length > 2 || s.trainOn === 'all')) m.rounds = roundStats(s.rounds);
  }
  if (s.dynamic) {
    const { draws, groupsDrawn, groupsDropped, groupsUnused, filled } = s.dynamic;
    m.dynamicSampling = { draws, groupsDrawn, groupsDropped, groupsUnused, filled };
  }
  return m;
}

/** metrics.jsonl `rounds`: each round's accuracy, reward, d̂ accuracy, zero-variance groups and transitions. */
export function roundStats(rounds: readonly Round[]): NonNullable<MetricsRecord['rounds']> {
  return rounds.map((r, k) => {
    const cs = r.groups.flatMap((g) => g.completions);
    const chosen = r.chosen;
    const prev = rounds[k - 1];
    return {
      round: k + 1,
      accuracy: fractionCorrect(cs),
      reward: cs.reduce((a, c) => a + c.score.reward, 0) / Math.max(1, cs.length),
      ...(chosen ? { bestAccuracy: r.groups.filter((g, i) => g.completions[chosen[i]].score.correct).length / Math.max(1, r.groups.length) } : {}),
      zeroStdFraction: zeroStdFraction(rewardsOf(r.groups)),
      ...(prev ? { ...roundTransitions(prev.groups, prev.chosen!, r.groups), contextFallbacks: contextFallbacks(r.groups.map((g) => g.prompt)) } : {}),
    };
  });
}

/**
 * The step's rollouts.jsonl lines: drafts (no advantage, d̂ marked), then the trained completions; with more
 * rounds, round by round (middle rounds 'intermediate', d̂ marked), each record with its `round`.
 */
export function rolloutRecords(s: Omit<StepOutcome, 'update' | 'times' | 'lr'>, run: { algo: Algo; seed: number }): RolloutRecord[] {
  if (run.algo === 'igrpo' && s.rounds && (s.rounds.length > 2 || s.trainOn === 'all')) return roundRecords(s as Omit<StepOutcome, 'update' | 'times' | 'lr'> & { rounds: Round[] }, run);
  const rec = (g: Group, gi: number, c: Scored, j: number, stage: Stage, advantage: number | null) => completionRecord(s.step, run, g, gi, c, j, stage, advantage);
  const out: RolloutRecord[] = [];
  s.draftGroups?.forEach((g, gi) => g.completions.forEach((c, j) => out.push({ ...rec(g, gi, c, j, 'draft', null), chosen: s.chosen?.[gi] === j })));
  const stage = run.algo === 'igrpo' ? 'refinement' : 'grpo';
  const marks = run.algo === 'igrpo' && s.draftGroups && s.chosen ? diagnosticsOf(s.draftGroups, s.chosen, s.groups).marks : undefined;
  s.groups.forEach((g, gi) =>
    g.completions.forEach((c, j) => {
      const r = rec(g, gi, c, j, stage, s.advantages?.[gi][j] ?? null);
      out.push(marks ? { ...r, copy: marks[gi][j].copy, overlapWithDraft: marks[gi][j].overlap } : r);
    }),
  );
  return out;
}

/** One completion's rollouts.jsonl line (completion j of group gi, sampled at `stage`). */
function completionRecord(step: number, run: { algo: Algo; seed: number }, g: Group, gi: number, c: Scored, j: number, stage: Stage, advantage: number | null): RolloutRecord {
  return {
    step, algo: run.algo, seed: run.seed, promptId: g.problem.id, stage, group: gi, index: j, prompt: g.prompt.text, text: c.text, tokens: c.ids.length,
    finishReason: c.finishReason, reward: c.score.reward, rewards: c.score.rewards, correct: c.score.correct, advantage,
    answer: c.score.answer, gold: g.problem.answer,
  };
}

/** Records of every round (igrpo.rounds > 2, or trainOn 'all'): 'draft', 'intermediate'…, 'refinement', each with its round. */
function roundRecords(s: Omit<StepOutcome, 'update' | 'times' | 'lr'> & { rounds: Round[] }, run: { algo: Algo; seed: number }): RolloutRecord[] {
  const K = s.rounds.length;
  const many = K > 2;
  const cond = conditioning(s);
  const marks = diagnosticsOf(cond.groups, cond.chosen, s.groups).marks;
  const out: RolloutRecord[] = [];
  s.rounds.forEach((r, k) => {
    const stage: Stage = k === 0 ? 'draft' : k === K - 1 ? 'refinement' : 'intermediate';
    // advantages: the last round's groups, or every round's in order (trainOn 'all')
    const adv = s.trainOn === 'all' ? s.advantages?.slice(k * r.groups.length, (k + 1) * r.groups.length) : k === K - 1 ? s.advantages : undefined;
    r.groups.forEach((g, gi) =>
      g.completions.forEach((c, j) => {
        const rec = completionRecord(s.step, run, g, gi, c, j, stage, adv?.[gi][j] ?? null);
        if (r.chosen) rec.chosen = r.chosen[gi] === j;
        if (many) rec.round = k + 1;
        out.push(k === K - 1 ? { ...rec, copy: marks[gi][j].copy, overlapWithDraft: marks[gi][j].overlap } : rec);
      }),
    );
  });
  return out;
}
