// Sampling API: sample(policy, prompts, options) → per prompt, options.n completions.
import type { Policy } from '../model/policy.js';
import { type GenerationRow, generate, rowSeed } from './generate.js';
import { type Completion, type SampleOptionsInput, parseSampleOptions } from './options.js';

export { bannedIds, generate, rowSeed, type GenerationRow } from './generate.js';
export { SampleOptionsSchema, parseSampleOptions, type Completion, type SampleOptions, type SampleOptionsInput } from './options.js';
export type { PromptIn, SampleFn, SampleRequest } from './request.js';
export { bannedBias, candidateCount, selectTokens } from './select.js';

/**
 * G = options.n completions for each prompt (text, encoded with the policy's tokenizer, or token ids).
 * Each prompt runs through the model once and its KV cache is shared by its G rows; all rows decode
 * in one batch. Completion j of prompt i draws from its own stream rowSeed(seed, i, j), so the result
 * does not depend on which other prompts are in the call.
 */
export async function sample(policy: Policy, prompts: readonly (string | readonly number[])[], options: SampleOptionsInput = {}): Promise<Completion[][]> {
  const opts = parseSampleOptions(options);
  const encoded = prompts.map((p) => (typeof p === 'string' ? policy.tokenizer.encode(p) : p));
  const rows: GenerationRow[] = [];
  encoded.forEach((prompt, i) => {
    for (let j = 0; j < opts.n; j++) rows.push({ prompt, seed: rowSeed(opts.seed, i, j) });
  });
  const flat = await generate(policy, rows, opts);
  return encoded.map((_, i) => flat.slice(i * opts.n, (i + 1) * opts.n));
}
