// Held-out evaluation as the paper reports it: pass@1 averaged over k samples per problem, sampling
// ordinary single-pass completions of q (no drafts at test time), default temperature 0.6, top-p 0.95.
// Beside it, optionally (eval.refinementProbe), the refinement probe: pass@1 under q′ built from the policy's own
// best of N drafts, as in training — has stage 2 learned to use a draft at all, apart from what carries over to q?
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import { attemptGroups, refinementDiagnostics } from '../rl/diagnostics.js';
import * as rl from '../rl/igrpo.js';
import { scoreGroups, type SampleFn } from '../rl/rollout.js';
import { sample } from '../sampling/index.js';
import { mixSeed } from '../util/rng.js';
import { makeScorer, type WeightedReward } from '../verify/rewards.js';
import type { EvalResult, RefinementProbe } from './records.js';
import { promptOf } from './task.js';

export interface EvalOptions {
  k: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  /** Prompts per sampling call (bounds memory). */
  chunk?: number;
  /** q of a problem (default: the shipped policy's format, problem + newline). */
  promptOf?: (p: Problem) => string;
  /** The run's reward list (default: accuracy + format); a sample counts as right when its accuracy reward says so. */
  rewards?: readonly WeightedReward[];
}

export interface EvalDetail extends EvalResult {
  /** Fraction of the k samples right, per problem. */
  perProblem: number[];
  /** The refinement probe, when the run asks for it (eval.refinementProbe). */
  refinementProbe?: RefinementProbe & { perProblem: number[] };
}

export async function evaluate(policy: Policy, problems: readonly Problem[], opts: EvalOptions): Promise<EvalDetail> {
  const score = makeScorer(opts.rewards);
  const qOf = opts.promptOf ?? promptOf;
  const chunk = opts.chunk ?? 32;
  const perProblem: number[] = [];
  for (let i = 0; i < problems.length; i += chunk) {
    const part = problems.slice(i, i + chunk);
    const groups = await sample(policy, part.map(qOf), {
      n: opts.k,
      temperature: opts.temperature,
      topP: opts.topP,
      maxNewTokens: opts.maxNewTokens,
      // a distinct stream per chunk; sample() seeds each row from (seed, prompt index, j)
      seed: (opts.seed + i) >>> 0,
    });
    groups.forEach((g, j) => perProblem.push(g.filter((c) => score(c.text, part[j]).correct).length / g.length));
  }
  return { ...passStats(perProblem), k: opts.k, temperature: opts.temperature, perProblem };
}

/** pass@1 as the mean over problems of each one's fraction right, its problem count and standard error. */
function passStats(perProblem: readonly number[]): { passAt1: number; n: number; stderr: number } {
  const n = perProblem.length;
  const passAt1 = perProblem.reduce((a, b) => a + b, 0) / n;
  const variance = perProblem.reduce((a, x) => a + (x - passAt1) ** 2, 0) / Math.max(1, n - 1);
  return { passAt1, n, stderr: Math.sqrt(variance / n) };
}

export interface ProbeOptions {
  /** Refinements sampled per problem under q′ (pass@1 averages over them): the evaluation's k. */
  k: number;
  /** Samples the refinements (the evaluation's temperature and top-p); the drafts use deps.sample (training's). */
  refine: SampleFn;
  /** Temperature of `refine`, for the record. */
  temperature?: number;
  /** Problems per round of sampling (bounds memory). */
  chunk?: number;
}

/**
 * The refinement probe on held-out problems, with the rollout's own functions (src/rl/igrpo.ts): N drafts per
 * problem under q from deps.sample, scored by deps.score and d̂ chosen as in training (igrpo.tieBreak), q′ built as
 * in training (template, draftContent, whenNoneCorrect, context fallback), then k refinements under q′ from
 * opts.refine, scored by deps.score: pass@1 is their mean correctness per problem, averaged over problems. Also the
 * drafts' own accuracy, d̂'s, and the copy rate of the probe's refinements. deps.seed seeds it (a stream per chunk).
 */
export async function refinementProbe(problems: readonly Problem[], deps: rl.RolloutDeps, igrpo: rl.IgrpoOptions, opts: ProbeOptions): Promise<NonNullable<EvalDetail['refinementProbe']>> {
  const chunk = opts.chunk ?? 32;
  const perProblem: number[] = [];
  let draftsRight = 0, draftsAll = 0, bestRight = 0, copies = 0, copyBase = 0;
  for (let i = 0; i < problems.length; i += chunk) {
    const part = problems.slice(i, i + chunk);
    const d = { ...deps, seed: mixSeed(deps.seed, i) };
    const questions = rl.questionPrompts(part, d);
    const drafts = scoreGroups(part, questions, await d.sample(rl.draftRequest(questions, d, igrpo)), d.score);
    const chosen = rl.selectDrafts(drafts, igrpo, d.seed);
    const prompts = rl.refinementPrompts(drafts, chosen, igrpo, d);
    const refined = scoreGroups(part, prompts, await opts.refine(rl.refinementRequest(prompts, d, { ...igrpo, refinements: opts.k })), d.score);
    refined.forEach((g) => perProblem.push(g.completions.filter((c) => c.score.correct).length / g.completions.length));
    drafts.forEach((g, j) => {
      draftsAll += g.completions.length;
      draftsRight += g.completions.filter((c) => c.score.correct).length;
      if (g.completions[chosen[j]].score.correct) bestRight++;
    });
    const diag = refinementDiagnostics(attemptGroups(drafts), chosen, attemptGroups(refined));
    copies += diag.copies;
    copyBase += diag.copyBase;
  }
  const { passAt1, n, stderr } = passStats(perProblem);
  return {
    passAt1, k: opts.k, n, stderr, ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    drafts: igrpo.drafts, draftAccuracy: draftsRight / draftsAll, bestDraftAccuracy: bestRight / n, copyRate: copyBase ? copies / copyBase : null, perProblem,
  };
}
