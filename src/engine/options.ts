// Options of the remote sampler: schema first. Sampling parameters (temperature, top-p, top-k, stop) are
// properties of the sampler, bound when the SampleFn is made (CONTRACTS.md), not of each request.
import { z } from 'zod';
import { parseWith } from '../util/validate.js';

/** Five minutes: a vLLM cold start (weights, torch.compile, CUDA graphs) takes minutes, not seconds. */
export const DEFAULT_RETRY_FOR_MS = 300_000;

export const RemoteSamplerOptionsSchema = z
  .object({
    /** Base URLs of OpenAI-compatible servers, e.g. http://10.0.0.5:8000/v1 (one per data-parallel engine). */
    urls: z.array(z.string().url()).min(1),
    /** The served (base) model. */
    model: z.string().min(1),
    /**
     * A runtime LoRA adapter to sample under: vLLM and `igrpo serve` name it as `model`; SGLang as
     * `model: "BASE:ADAPTER"` (naming the adapter alone would sample the base model there).
     */
    adapter: z.string().min(1).optional(),
    /** Which engine's request shape to use (environment.md lists the versions each covers). */
    engine: z.enum(['vllm', 'sglang']).default('vllm'),
    /** Sent as `Authorization: Bearer KEY` (vLLM --api-key); servers without one accept any. */
    apiKey: z.string().optional(),
    temperature: z.number().nonnegative().default(1),
    topP: z.number().gt(0).lte(1).default(1),
    /** 0 = off (sent as -1). */
    topK: z.number().int().nonnegative().default(0),
    stop: z.array(z.string().min(1)).default([]),
    /** vLLM's stop_token_ids (the engine stops on the model's eos anyway). */
    stopIds: z.array(z.number().int().nonnegative()).default([]),
    /**
     * The tokenizer's end ids (eosIdsOf). A completion whose last id is one of these or of stopIds ended
     * by stopping ("stop"), even where the engine checked the length first and said "length".
     */
    eosIds: z.array(z.number().int().nonnegative()).default([]),
    /**
     * The model's context (prompt + completion), to cap max_tokens per prompt as the local sampler does.
     * Default: the engine's own max_model_len from /v1/models (and, failing that, its 400's message).
     */
    maxModelLen: z.number().int().positive().optional(),
    /** Requests in flight per server at most. */
    maxConcurrency: z.number().int().positive().default(16),
    /** Prompts per HTTP request (each with its n completions); 1 spreads work most evenly. */
    promptsPerRequest: z.number().int().positive().default(1),
    /** Per HTTP request, milliseconds. */
    timeoutMs: z.number().int().positive().default(600_000),
    /**
     * How long one request keeps being retried after a connection error, a timeout, a 5xx or 429, an
     * unreadable body or an aborted completion, ms: long enough for an engine to restart.
     */
    retryForMs: z.number().int().nonnegative().default(DEFAULT_RETRY_FOR_MS),
    /** At most this many retries of one request as well (unset: only retryForMs bounds them). */
    retries: z.number().int().nonnegative().optional(),
    backoffMs: z.number().nonnegative().default(250),
    maxBackoffMs: z.number().nonnegative().default(10_000),
    /**
     * How the server is asked for the sampled ids: vLLM's return_tokens_as_token_ids ("token_id:N" token
     * strings) and/or return_token_ids (a token_ids list per choice: vLLM ≥ 0.10.2, SGLang). Both by default
     * for vLLM, return_token_ids only for SGLang; token_ids wins when both come back.
     */
    tokenIdFields: z.array(z.enum(['return_tokens_as_token_ids', 'return_token_ids'])).min(1).optional(),
    /** Extra body fields passed through unchanged (e.g. { min_p: 0.05 }); they override the neutral values sent. */
    extraBody: z.record(z.unknown()).default({}),
  })
  .strict();

export type RemoteSamplerOptions = z.infer<typeof RemoteSamplerOptionsSchema>;
export type RemoteSamplerOptionsInput = z.input<typeof RemoteSamplerOptionsSchema>;

export function parseRemoteOptions(raw: unknown): RemoteSamplerOptions {
  return parseWith(RemoteSamplerOptionsSchema, raw, 'remote sampler options');
}

/**
 * Whether a request whose attempt `attempt` (0-based) just failed, the first at `since`, may be tried
 * again: up to `retries` retries where set, else for as long as retryForMs since the first failure.
 */
export function mayRetry(opts: { retryForMs: number; retries?: number }, attempt: number, since: number, now = Date.now()): boolean {
  if (opts.retries !== undefined) return attempt < opts.retries;
  return now - since < opts.retryForMs;
}
