// Group-relative advantages: Â_j = (R_j − mean R) / (std R + eps) over the completions of one prompt.
// Plain numbers (rewards are scalars per completion); the loss broadcasts Â_j to every token of j.
import { z } from 'zod';

/**
 * How rewards are scaled after centring on the group mean (TRL's `scale_rewards`):
 * 'group' divides by the group's std (the paper's GRPO), 'batch' by the std over the whole batch,
 * 'none' does not divide at all (Dr. GRPO: the std term biases towards easy and hard prompts).
 */
export const ScaleRewards = z.enum(['group', 'batch', 'none']);
export type ScaleRewards = z.infer<typeof ScaleRewards>;

export interface AdvantageOptions {
  scale: ScaleRewards;
  /** Added to the std before dividing (TRL: 1e-4). */
  eps: number;
}

export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** Sample standard deviation (n − 1 in the denominator, as torch.std); 0 for fewer than two values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) * (x - m), 0) / (xs.length - 1));
}

/** True when every reward in the group is the same: the group carries no learning signal. */
export const isConstant = (group: readonly number[]): boolean => group.every((r) => r === group[0]);

/** Advantages for each group of rewards (rewards[g][j] = reward of completion j of prompt g). */
export function groupAdvantages(rewards: readonly (readonly number[])[], opts: AdvantageOptions): number[][] {
  const batchStd = sampleStd(rewards.flat());
  return rewards.map((group) => {
    // A NaN or ±Infinity reward is a broken reward function: NaN advantages, which the update refuses
    // (an all-Infinity group would otherwise look constant and pass as 0, unlike a NaN one).
    if (group.some((r) => !Number.isFinite(r))) return group.map(() => NaN);
    // A constant group gets exactly 0, whatever the scaling (no division of 0 by a tiny std).
    if (group.length < 2 || isConstant(group)) return group.map(() => 0);
    const m = mean(group);
    const std = opts.scale === 'group' ? sampleStd(group) : opts.scale === 'batch' ? batchStd : undefined;
    return group.map((r) => (std === undefined ? r - m : (r - m) / (std + opts.eps)));
  });
}

/** Fraction of groups whose rewards are all equal (the "why is the loss 0" diagnostic). */
export function zeroStdFraction(rewards: readonly (readonly number[])[]): number {
  if (rewards.length === 0) return 0;
  return rewards.filter((g) => isConstant(g)).length / rewards.length;
}
