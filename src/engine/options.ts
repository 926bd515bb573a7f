// Options of the remote sampler: schema first. Sampling parameters (temperature, top-p, top-k, stop) are
// properties of the sampler, bound when the SampleFn is made (CONTRACTS.md), not of each request.
import { z } from 'zod';
import { parseWith } from '../util/validate.js';

export const RemoteSamplerOptionsSchema = z
  .object({
    /** Base URLs of OpenAI-compatible servers, e.g. http://10.0.0.5:8000/v1 (one per data-parallel engine). */
    urls: z.array(z.string().url()).min(1),
    /** The served model (or a runtime LoRA adapter's name). */
    model: z.string().min(1),
    /** Sent as `Authorization: Bearer KEY` (vLLM --api-key); servers without one accept any. */
    apiKey: z.string().optional(),
    temperature: z.number().nonnegative().default(1),
    topP: z.number().gt(0).lte(1).default(1),
    /** 0 = off (not sent). */
    topK: z.number().int().nonnegative().default(0),
    stop: z.array(z.string().min(1)).default([]),
    /** vLLM's stop_token_ids (the tokenizer's eos stops anyway). */
    stopIds: z.array(z.number().int().nonnegative()).default([]),
    /** Requests in flight per server at most. */
    maxConcurrency: z.number().int().positive().default(16),
    /** Prompts per HTTP request (each with its n completions); 1 spreads work most evenly. */
    promptsPerRequest: z.number().int().positive().default(1),
    /** Per HTTP request, milliseconds. */
    timeoutMs: z.number().int().positive().default(600_000),
    /** Retries of one request after a connection error, a timeout, a 5xx or 429, or an unreadable body. */
    retries: z.number().int().nonnegative().default(5),
    backoffMs: z.number().nonnegative().default(250),
    maxBackoffMs: z.number().nonnegative().default(10_000),
    /**
     * How the server is asked for the sampled ids: vLLM's return_tokens_as_token_ids ("token_id:N" token
     * strings) and/or return_token_ids (a token_ids list per choice: vLLM ≥ 0.10.2, SGLang). Both by default;
     * a server that rejects one of the fields needs the other only. token_ids wins when both come back.
     */
    tokenIdFields: z.array(z.enum(['return_tokens_as_token_ids', 'return_token_ids'])).min(1).default(['return_tokens_as_token_ids', 'return_token_ids']),
    /** Extra body fields passed through unchanged (e.g. { min_p: 0.05, repetition_penalty: 1.1 }). */
    extraBody: z.record(z.unknown()).default({}),
  })
  .strict();

export type RemoteSamplerOptions = z.infer<typeof RemoteSamplerOptionsSchema>;
export type RemoteSamplerOptionsInput = z.input<typeof RemoteSamplerOptionsSchema>;

export function parseRemoteOptions(raw: unknown): RemoteSamplerOptions {
  return parseWith(RemoteSamplerOptionsSchema, raw, 'remote sampler options');
}
