// Held-out evaluation as the paper reports it: pass@1 averaged over k samples per problem, sampling
// ordinary single-pass completions of q (no drafts at test time), default temperature 0.6, top-p 0.95.
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import { sample } from '../sampling/index.js';
import { makeScorer, type WeightedReward } from '../verify/rewards.js';
import type { EvalResult } from './records.js';
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
  const n = perProblem.length;
  const passAt1 = perProblem.reduce((a, b) => a + b, 0) / n;
  const variance = perProblem.reduce((a, x) => a + (x - passAt1) ** 2, 0) / Math.max(1, n - 1);
  return { passAt1, k: opts.k, n, stderr: Math.sqrt(variance / n), temperature: opts.temperature, perProblem };
}
