// What the RL code needs of sampling and scoring, as two small functions, so it runs against any policy
// behind the Policy interface (and tests can pass fakes). Completions are plain token arrays and text:
// nothing here holds a tensor or a gradient tape.
import type { Problem } from '../data/schema.js';

export interface Completion {
  /** Completion token ids (the stop token included when sampling stopped on it). */
  ids: number[];
  /** Per-token log-probs under the sampling distribution (for metrics only; never differentiated). */
  logprobs: number[];
  text: string;
  finishReason: 'stop' | 'length';
}

export interface Score {
  reward: number;
  /** Reward breakdown, e.g. { accuracy, format }. */
  rewards: Record<string, number>;
  correct: boolean;
  answer: string | null;
}

export interface Scored extends Completion {
  score: Score;
}

export interface SampleRequest {
  /** One prompt text per group. */
  prompts: string[];
  /** Completions per prompt. */
  n: number;
  maxNewTokens: number;
  seed: number;
}

/** Returns completions[prompt][j], j < n. */
export type SampleFn = (req: SampleRequest) => Promise<Completion[][]>;
export type ScoreFn = (problem: Problem, completion: Completion) => Score;

/** A prompt with its scored group of completions. */
export interface Group {
  problem: Problem;
  /** The text the completions were sampled under (q, or q' for refinements). */
  prompt: string;
  completions: Scored[];
}

export function scoreGroups(problems: readonly Problem[], prompts: readonly string[], samples: Completion[][], score: ScoreFn): Group[] {
  return samples.map((completions, g) => ({
    problem: problems[g],
    prompt: prompts[g],
    completions: completions.map((c) => ({ ...c, score: score(problems[g], c) })),
  }));
}

export const rewardsOf = (groups: readonly Group[]): number[][] => groups.map((g) => g.completions.map((c) => c.score.reward));
