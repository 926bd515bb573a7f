// Learning-rate schedule: linear warm-up, then cosine decay to minLrRatio × lr (the paper: min ratio 0.1).
import { z } from 'zod';

export const ScheduleConfig = z
  .object({
    type: z.enum(['cosine', 'constant']).default('cosine'),
    warmupSteps: z.number().int().nonnegative().default(0),
    minLrRatio: z.number().finite().min(0).max(1).default(0.1),
  })
  .strict();
export type ScheduleConfig = z.infer<typeof ScheduleConfig>;

/** LR of update `step` (0-based) out of `total`. */
export function learningRate(lr: number, step: number, total: number, s: ScheduleConfig): number {
  if (step < s.warmupSteps) return (lr * (step + 1)) / s.warmupSteps;
  if (s.type === 'constant') return lr;
  const span = Math.max(1, total - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return lr * (s.minLrRatio + (1 - s.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
