// Rewards: the only signal iGRPO has. Each reward is a named function of (completion, problem); the
// total is their weighted sum, and the per-reward breakdown is kept for every rollout.
// The paper's rewards are accuracy (1 when the extracted answer matches) and format, weight 1 each.
// A gold answer that cannot be used is flagged and scores 0, never a free 1.0 (which would make every
// draft tie in iGRPO's best-draft argmax).
import type { Problem } from '../data/schema.js';
import { checkCountdown } from '../data/synthetic/countdown.js';
import { explain, goldProblem, type VerifyOptions } from './equivalence.js';
import { extractAnswer, type ExtractOptions } from './extract.js';

/** What a reward may return besides its score. */
export interface RewardOutput {
  score: number;
  /** The answer it judged (accuracy rewards). */
  answer?: string;
  correct?: boolean;
  /** Set when the problem itself is unusable (e.g. unparseable gold): the score is then 0. */
  flagged?: string;
  /** Why, for debugging rollouts. */
  reason?: string;
}

/**
 * A reward a researcher can write in a notebook cell:
 *   const short: RewardFunction = { name: 'short', score: (c) => (c.length < 80 ? 0.1 : 0) };
 */
export interface RewardFunction {
  readonly name: string;
  score(completion: string, problem: Problem): number | RewardOutput;
}

export interface WeightedReward {
  fn: RewardFunction;
  weight: number;
}

/** A completion's score: what the trainer, the logs and the RL code all read (one type; rl re-exports it). */
export interface Score {
  /** Σ weight · score. */
  reward: number;
  /** Unweighted score of each reward, by name, e.g. { accuracy, format }. */
  rewards: Record<string, number>;
  /** The accuracy verdict (false when no reward reported one). */
  correct: boolean;
  /** The extracted answer (from the first reward that reported one), or null. */
  answer: string | null;
  /** Present when some reward flagged the problem (its score was then 0). */
  flagged?: string;
  /** Reasons reported by rewards, by name. */
  reasons?: Record<string, string>;
}

export interface AccuracyOptions {
  /** Extraction mode; 'strict' (default) needs an explicit marker, so listing numbers earns nothing. */
  extract?: ExtractOptions;
  verify?: VerifyOptions;
}

/** Checks a Countdown answer when the problem says it is one (task, numbers, target). */
function countdownVerdict(answer: string, problem: Problem): { correct: boolean; reason: string } | undefined {
  if (problem.task !== 'countdown') return undefined;
  const numbers = problem.numbers;
  const target = problem.target;
  if (!Array.isArray(numbers) || typeof target !== 'number') return { correct: false, reason: 'flag: countdown problem lacks numbers/target' };
  return checkCountdown(answer, numbers as number[], target);
}

/** 1 when the completion's final answer is equivalent to problem.answer, else 0. */
export function makeAccuracyReward(opts: AccuracyOptions = {}): RewardFunction {
  const extractOpts: ExtractOptions = { mode: 'strict', ...opts.extract };
  return {
    name: 'accuracy',
    score(completion: string, problem: Problem): RewardOutput {
      const bad = problem.task === 'countdown' ? undefined : goldProblem(problem.answer);
      if (bad) return { score: 0, correct: false, flagged: `problem ${problem.id}: ${bad}` };
      const found = extractAnswer(completion, extractOpts);
      if (!found) return { score: 0, correct: false, reason: 'no answer found' };
      const cd = countdownVerdict(found.answer, problem);
      if (cd) {
        if (cd.reason.startsWith('flag: ')) return { score: 0, correct: false, answer: found.answer, flagged: `problem ${problem.id}: ${cd.reason.slice(6)}` };
        return { score: cd.correct ? 1 : 0, correct: cd.correct, answer: found.answer, reason: cd.reason };
      }
      const r = explain(problem.answer, found.answer, opts.verify);
      return { score: r.equivalent ? 1 : 0, correct: r.equivalent, answer: found.answer, reason: r.reason };
    },
  };
}

export const accuracyReward: RewardFunction = makeAccuracyReward();

const TEMPLATE = /^\s*<think>([\s\S]*?)<\/think>\s*<answer>([\s\S]*?)<\/answer>\s*$/;

/** 1 when the completion is exactly `<think>…</think><answer>…</answer>` (the paper's template), else 0. */
export const formatReward: RewardFunction = {
  name: 'format',
  score(completion: string): RewardOutput {
    const m = TEMPLATE.exec(completion);
    if (!m) return { score: 0, reason: 'not <think>…</think><answer>…</answer>' };
    if (m[2].trim().length === 0) return { score: 0, reason: 'empty <answer>' };
    if (/<\/?(?:think|answer)>/.test(m[1] + m[2])) return { score: 0, reason: 'nested or repeated tags' };
    return { score: 1 };
  },
};

/** −perChar for every character past maxChars, down to −cap (a soft nudge against rambling). */
export function lengthPenalty(opts: { maxChars: number; perChar?: number; cap?: number }): RewardFunction {
  const perChar = opts.perChar ?? 0.001;
  const cap = opts.cap ?? 1;
  return {
    name: 'length',
    score: (completion: string) => -Math.min(cap, Math.max(0, completion.length - opts.maxChars) * perChar),
  };
}

/** −penalty for text after `</answer>` or more than one `<answer>` (common reward-hacking shapes). */
export function formattingPenalty(penalty = 0.5): RewardFunction {
  return {
    name: 'formatting',
    score(completion: string): RewardOutput {
      const answers = completion.split('<answer>').length - 1;
      const close = completion.lastIndexOf('</answer>');
      const trailing = close >= 0 && completion.slice(close + '</answer>'.length).trim().length > 0;
      if (answers > 1) return { score: -penalty, reason: `${answers} <answer> tags` };
      if (trailing) return { score: -penalty, reason: 'text after </answer>' };
      return { score: 0 };
    },
  };
}

/** The paper's reward: accuracy + format, weight 1.0 each. */
export const DEFAULT_REWARDS: readonly WeightedReward[] = [
  { fn: accuracyReward, weight: 1 },
  { fn: formatReward, weight: 1 },
];

/** Scores one completion with every reward; a throwing reward is an error (a bug, not a zero). */
export function scoreCompletion(completion: string, problem: Problem, rewards: readonly WeightedReward[] = DEFAULT_REWARDS): Score {
  const result: Score = { reward: 0, rewards: {}, correct: false, answer: null };
  for (const { fn, weight } of rewards) {
    const raw = fn.score(completion, problem);
    const out: RewardOutput = typeof raw === 'number' ? { score: raw } : raw;
    if (!Number.isFinite(out.score)) throw new Error(`reward '${fn.name}' returned ${out.score} for problem ${problem.id}`);
    const score = out.flagged ? 0 : out.score;
    result.rewards[fn.name] = score;
    result.reward += weight * score;
    if (out.answer !== undefined && result.answer === null) result.answer = out.answer;
    if (out.correct) result.correct = true;
    if (out.flagged && !result.flagged) result.flagged = out.flagged;
    if (out.reason) (result.reasons ??= {})[fn.name] = out.reason;
  }
  return result;
}

/** A scorer bound to a reward list: (completion text, problem) → Score. */
export function makeScorer(rewards: readonly WeightedReward[] = DEFAULT_REWARDS) {
  return (completion: string, problem: Problem): Score => scoreCompletion(completion, problem, rewards);
}

/** The same scorer in the RL code's shape (problem, completion) → Score: the trainer's default reward. */
export function makeScoreFn(rewards: readonly WeightedReward[] = DEFAULT_REWARDS) {
  return (problem: Problem, completion: { text: string }): Score => scoreCompletion(completion.text, problem, rewards);
}
