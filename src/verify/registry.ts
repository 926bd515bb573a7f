// Rewards by name, so a config can list them: [{ name: 'accuracy', weight: 1 }, { name: 'length',
// weight: 0.5, options: { maxChars: 60 } }]. Built-ins: accuracy, format, length, formatting; a user's
// own RewardFunction joins with registerReward (a function of the options, or the reward itself).
// The same list scores training completions and held-out evaluation.
import { z } from 'zod';
import { formatReward, formattingPenalty, lengthPenalty, makeAccuracyReward, type RewardFunction, type WeightedReward } from './rewards.js';

export const RewardSpec = z
  .object({
    name: z.string().min(1),
    weight: z.number().finite().default(1),
    /** Options of the reward's factory (length: maxChars, perChar, cap; formatting: penalty; accuracy: extract, verify). */
    options: z.record(z.unknown()).default({}),
  })
  .strict();
export type RewardSpec = z.infer<typeof RewardSpec>;

/** The paper's reward: accuracy + format, weight 1 each. */
export const DEFAULT_REWARD_SPECS: RewardSpec[] = [
  { name: 'accuracy', weight: 1, options: {} },
  { name: 'format', weight: 1, options: {} },
];

type Factory = (options: Record<string, unknown>) => RewardFunction;

const num = (o: Record<string, unknown>, k: string, fallback?: number): number | undefined => {
  const v = o[k];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`reward option '${k}' must be a number, got ${JSON.stringify(v)}`);
  return v;
};

const REWARDS = new Map<string, Factory>([
  ['accuracy', (o) => makeAccuracyReward(o as Parameters<typeof makeAccuracyReward>[0])],
  ['format', () => formatReward],
  ['length', (o) => lengthPenalty({ maxChars: num(o, 'maxChars', 200)!, perChar: num(o, 'perChar'), cap: num(o, 'cap') })],
  ['formatting', (o) => formattingPenalty(num(o, 'penalty'))],
]);

/** Add a reward under `name`: a RewardFunction (options ignored) or a factory of the options. */
export function registerReward(name: string, reward: RewardFunction | Factory): void {
  REWARDS.set(name, typeof reward === 'function' ? reward : () => reward);
}

export const rewardNames = (): string[] => [...REWARDS.keys()];

/** The weighted reward list of a config; an unknown name is an error listing the known ones. */
export function buildRewards(specs: readonly z.input<typeof RewardSpec>[]): WeightedReward[] {
  return specs.map((raw, i) => {
    const s = RewardSpec.parse(raw);
    const factory = REWARDS.get(s.name);
    if (!factory) throw new Error(`rewards[${i}]: unknown reward '${s.name}' (registered: ${rewardNames().join(', ')}; add yours with registerReward)`);
    const fn = factory(s.options);
    // the breakdown is logged under the config's name, so two rewards of one kind stay apart
    return { fn: fn.name === s.name ? fn : { name: s.name, score: (c, p) => fn.score(c, p) }, weight: s.weight };
  });
}
