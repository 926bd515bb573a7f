// Dynamic sampling (DAPO, Yu et al. 2025; verl's `algorithm.filter_groups`): a group whose rewards do not vary
// has all-zero advantages and gives no gradient, so it is dropped and groups for fresh prompts are drawn until
// the batch is full or the cap on draws is hit.
//
// As verl (recipe/dapo/dapo_ray_trainer.py, RayDAPOTrainer.fit): a prompt is kept when the std of its
// group's rewards is > 0; kept prompts accumulate over generation batches; more batches are drawn while fewer
// than the batch size are kept and the count of batches is under `max_num_gen_batches`; the kept prompts are
// then cut to the batch size (`batch[:traj_bsz]`). Two differences: verl raises an error when the cap is hit
// short of a full batch — here the step trains on what was kept (counted: `filled` false); and a draw where
// nothing at all was kept trains on the first draw (all zero advantages: optimizer.zeroAdvantage decides).
// Which prompts a draw uses and with what seed is the caller's (a pure function of seed and step keeps resume
// bit-identical); this file only decides what is kept.
import { z } from 'zod';

export const DynamicSamplingConfig = z
  .object({
    /** Draws per step at most, the first included (verl's max_num_gen_batches; at least 1). */
    maxRounds: z.number().int().positive(),
  })
  .strict();
export type DynamicSamplingConfig = z.infer<typeof DynamicSamplingConfig>;

/** Does a group carry a gradient: do its rewards differ (verl: std > 0; a group of one is kept)? */
export const hasSignal = (rewards: readonly number[]): boolean => rewards.length === 1 || rewards.some((r) => r !== rewards[0]);

/** A step's batch after dynamic sampling, and what it took. */
export interface FilledBatch<U> {
  /** The units (one per prompt) the step trains on, in the order drawn. */
  kept: U[];
  /** Units sampled but not trained on: zero-variance ones and any beyond the batch size. */
  discarded: U[];
  /** Draws made (1 = only the step's own prompts). */
  draws: number;
  /** Groups (prompts) sampled over all draws. */
  groupsDrawn: number;
  /** Groups dropped for rewards that do not vary. */
  groupsDropped: number;
  /** Groups with signal beyond the batch size (cut, as verl's batch[:traj_bsz]). */
  groupsUnused: number;
  /** Did the kept groups fill the batch? */
  filled: boolean;
}

/**
 * Fill a batch of `size` units with signal. `first` is draw 0 (the step's own prompts); `draw(d)` samples draw
 * d ≥ 1 (fresh prompts), called while fewer than `size` are kept and fewer than `maxRounds` draws were made.
 */
export async function fillBatch<U>(
  first: readonly U[], draw: (d: number) => Promise<readonly U[]>, signal: (u: U) => boolean, size: number, maxRounds: number,
): Promise<FilledBatch<U>> {
  const kept: U[] = [];
  const discarded: U[] = [];
  let draws = 0, drawn = 0, dropped = 0;
  let units: readonly U[] = first;
  for (;;) {
    draws++;
    drawn += units.length;
    for (const u of units) {
      if (signal(u)) kept.push(u);
      else {
        dropped++;
        discarded.push(u);
      }
    }
    if (kept.length >= size || draws >= maxRounds) break;
    units = await draw(draws);
  }
  const unused = Math.max(0, kept.length - size);
  discarded.push(...kept.splice(size));
  if (kept.length === 0) return { kept: [...first], discarded: discarded.filter((u) => !first.includes(u)), draws, groupsDrawn: drawn, groupsDropped: dropped, groupsUnused: 0, filled: false };
  return { kept, discarded, draws, groupsDrawn: drawn, groupsDropped: dropped, groupsUnused: unused, filled: kept.length === size };
}
