// Sampling options: schema first, type inferred.
import { z } from 'zod';
import { parseWith } from '../util/validate.js';

export const SampleOptionsSchema = z
  .object({
    /** Completions per prompt (the group size G). */
    n: z.number().int().positive().default(1),
    maxNewTokens: z.number().int().positive().default(128),
    /** 0 = greedy (argmax); otherwise logits are divided by it before sampling. */
    temperature: z.number().finite().nonnegative().default(1),
    /** Sample among the k most likely tokens only; 0 = off. */
    topK: z.number().int().nonnegative().default(0),
    /** Sample from the smallest set of most likely tokens whose probability reaches p; 1 = off. */
    topP: z.number().finite().gt(0).lte(1).default(1),
    /** A completion stops once its text contains one of these (the stop string stays in the text). */
    stop: z.array(z.string().min(1)).default([]),
    /** Token ids that end a completion (besides the tokenizer's eos); the id stays in ids but not in text. */
    stopIds: z.array(z.number().int().nonnegative()).default([]),
    /** Stop on the tokenizer's end-of-sequence id (default true). */
    stopOnEos: z.boolean().default(true),
    seed: z.number().int().nonnegative().default(0),
    /**
     * Run each distinct prompt once and share its KV cache across its rows (default). false prefills
     * every row on its own: the same tokens, more work; kept for comparisons and benchmarks.
     */
    sharePrefix: z.boolean().default(true),
  })
  .strict();

export type SampleOptions = z.infer<typeof SampleOptionsSchema>;
export type SampleOptionsInput = z.input<typeof SampleOptionsSchema>;

export function parseSampleOptions(raw: unknown): SampleOptions {
  return parseWith(SampleOptionsSchema, raw ?? {}, 'sampling options');
}

export interface Completion {
  /** Sampled token ids, including a final stop id when one ended the completion. */
  ids: number[];
  /**
   * Per token, its log-probability under the distribution it was sampled from: after temperature,
   * top-k, top-p, and with padding (and bos) removed — never generated, see bannedIds.
   */
  logprobs: number[];
  /** Decoded text of ids without a final stop id (a stop string, if one matched, is kept). */
  text: string;
  finishReason: 'stop' | 'length';
}
