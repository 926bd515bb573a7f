// What the RL code needs of sampling and scoring, as two small functions, so it runs against any policy
// behind the Policy interface (and tests can pass fakes). Completions are plain token arrays and text:
// nothing here holds a tensor or a gradient tape.
import type { Problem } from '../data/schema.js';
import type { Completion } from '../sampling/options.js';
import type { Score } from '../verify/rewards.js';

export type { Completion } from '../sampling/options.js';
export type { Score } from '../verify/rewards.js';

/** One prompt of a request: its token ids (what is sampled under, encoded once) and its text (logs, templates). */
export interface PromptIn {
  ids: number[];
  text: string;
}

export interface Scored extends Completion {
  score: Score;
}

export interface SampleRequest {
  /** One prompt per group. */
  prompts: PromptIn[];
  /** Completions per prompt. */
  n: number;
  maxNewTokens: number;
  seed: number;
}

/**
 * Returns completions[prompt][j], j < n. Temperature, top-p/top-k and stops belong to the sampler
 * (bound when the function is made), not to the request.
 */
export type SampleFn = (req: SampleRequest) => Promise<Completion[][]>;
export type ScoreFn = (problem: Problem, completion: Completion) => Score;

/** A prompt with its scored group of completions. */
export interface Group {
  problem: Problem;
  /** The prompt the completions were sampled under (q, or q' for refinements): ids and text. */
  prompt: PromptIn;
  completions: Scored[];
}

export function scoreGroups(problems: readonly Problem[], prompts: readonly PromptIn[], samples: Completion[][], score: ScoreFn): Group[] {
  return samples.map((completions, g) => ({
    problem: problems[g],
    prompt: prompts[g],
    completions: completions.map((c) => ({ ...c, score: score(problems[g], c) })),
  }));
}

export const rewardsOf = (groups: readonly Group[]): number[][] => groups.map((g) => g.completions.map((c) => c.score.reward));
