// The one shape every problem has, whatever file or generator it came from. A file's records without an id
// get one from the loader (file name + record number, ./loaders.ts withId), so `id` is always there.
// Extra fields (subject, level, task metadata) pass through untouched so adapters lose nothing.
import { z } from 'zod';

export const ProblemSchema = z
  .object({
    id: z.string().min(1),
    problem: z.string().min(1),
    answer: z.string().min(1),
    solution: z.string().min(1).optional(),
  })
  .passthrough();

export type Problem = z.infer<typeof ProblemSchema>;
