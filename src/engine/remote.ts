// The remote sampler: completions sampled on OpenAI-compatible servers (vLLM, SGLang, `igrpo serve`)
// through the official openai client. Prompts go as token ids (chat templates are rendered locally), and
// completions come back as token ids too (vLLM's return_tokens_as_token_ids: "token_id:N", or a
// token_ids list), with the sampled tokens' log-probs, so no id ever travels through text and back.
//
// A request is split into HTTP requests of `promptsPerRequest` prompts each, dispatched to the least-loaded
// server. Each HTTP request carries its own seed, mixSeed(seed, first prompt index), so the answer does not
// depend on which server took it or how often it was retried: a retry replaces, never appends.
//
// What real engines do that this answers for (each reproduced by test/engine-standin.ts, citing the
// engine's source): a prompt + max_tokens over max_model_len is a 400, so max_tokens is capped per prompt
// to the room the engine's context leaves, as the local sampler caps it; sampling fields left out take the
// model's generation_config.json defaults (vLLM), so every one is sent; vLLM (some versions) says "length"
// for an eos at exactly max_tokens, so the finish reason is read from the last id; "abort" is transient;
// SGLang picks an adapter only from "BASE:ADAPTER" and repeats one seed across n, so it gets one request
// per completion.
import { promptSeed } from './local.js';
import { EngineError, classify } from './errors.js';
import { EnginePool, type EngineServer } from './pool.js';
import { CompletionResponseSchema, parseTokenId, type CompletionResponse } from './protocol.js';
import { mayRetry, parseRemoteOptions, type RemoteSamplerOptions, type RemoteSamplerOptionsInput } from './options.js';
import { rowSeed } from '../sampling/generate.js';
import type { Completion } from '../sampling/options.js';
import type { PromptIn, SampleFn, SampleRequest } from '../sampling/request.js';
import type { ProgressFn } from './types.js';
import { formatIssues } from '../util/validate.js';

export interface RemoteHooks {
  onProgress?: ProgressFn;
  /** Aborts waiting and in-flight requests. */
  signal?: AbortSignal;
}

/** A SampleFn on engines, with its pool (per-server statistics) exposed. */
export interface RemoteSampler extends SampleFn {
  readonly pool: EnginePool;
  readonly options: RemoteSamplerOptions;
}

export function makePool(opts: RemoteSamplerOptions): EnginePool {
  return new EnginePool(opts.urls, opts.maxConcurrency, { apiKey: opts.apiKey, timeoutMs: opts.timeoutMs });
}

/** A SampleFn bound to servers and sampling parameters (CONTRACTS.md). */
export function makeRemoteSampler(options: RemoteSamplerOptionsInput, hooks: RemoteHooks = {}): RemoteSampler {
  const opts = parseRemoteOptions(options);
  const pool = makePool(opts);
  const limits = new ContextLimits(opts);
  const fn = ((req: SampleRequest) => sampleRemote(pool, opts, req, hooks, limits)) as RemoteSampler;
  Object.defineProperty(fn, 'pool', { value: pool });
  Object.defineProperty(fn, 'options', { value: opts });
  return fn;
}

/**
 * Sampling fields sent with their neutral values unless extraBody sets them: vLLM fills every field a
 * request leaves out from the model's generation_config.json (CompletionRequest.to_sampling_params in
 * vllm/entrypoints/openai/completion/protocol.py: "user -> server default -> OpenAI default"), so a
 * Qwen model's repetition_penalty 1.05 would otherwise reshape every rollout's distribution.
 */
export const NEUTRAL_SAMPLING = { repetition_penalty: 1, presence_penalty: 0, frequency_penalty: 0, min_p: 0 } as const;

/** The model name a request carries: the adapter (vLLM) or "BASE:ADAPTER" (SGLang, serving_base.py _resolve_lora_path). */
export function requestModel(opts: Pick<RemoteSamplerOptions, 'model' | 'adapter' | 'engine'>): string {
  if (!opts.adapter) return opts.model;
  return opts.engine === 'sglang' ? `${opts.model}:${opts.adapter}` : opts.adapter;
}

/** The body of one HTTP request (exported for tests and for documentation of what is sent). */
export function completionBody(opts: RemoteSamplerOptions, prompts: readonly PromptIn[], n: number, maxTokens: number, seed: number): Record<string, unknown> {
  const sglang = opts.engine === 'sglang';
  const idFields = opts.tokenIdFields ?? (sglang ? ['return_token_ids'] : ['return_tokens_as_token_ids', 'return_token_ids']);
  const keepStop = opts.stop.length > 0;
  return {
    ...NEUTRAL_SAMPLING,
    ...opts.extraBody,
    model: requestModel(opts),
    // token ids; text only where a caller has no tokenizer for the engine's model (PromptIn.ids empty)
    prompt: promptField(prompts),
    n,
    max_tokens: maxTokens,
    temperature: opts.temperature,
    top_p: opts.topP,
    // -1 = off, sent explicitly (generation_config.json's top_k would apply otherwise)
    top_k: opts.topK > 0 ? opts.topK : -1,
    seed,
    ...(opts.stop.length > 0 ? { stop: opts.stop } : {}),
    ...(opts.stopIds.length > 0 ? { stop_token_ids: opts.stopIds } : {}),
    // the sampled token's log-prob always comes with logprobs ≥ 1; its id through the token string or token_ids
    logprobs: 1,
    ...Object.fromEntries(idFields.map((f) => [f, true])),
    // the text the local sampler gives: special tokens kept (its decode keeps them), a matched stop
    // string kept, a final stop id's text left out. vLLM skips special tokens unless told, and with
    // include_stop_str_in_output puts a stop id's text in too (vllm/v1/engine/detokenizer.py), so
    // that flag goes only with stop strings; SGLang's field for keeping stop strings is no_stop_trim.
    skip_special_tokens: false,
    ...(sglang ? { no_stop_trim: keepStop } : { include_stop_str_in_output: keepStop }),
  };
}

function promptField(prompts: readonly PromptIn[]): string | string[] | number[] | number[][] {
  if (prompts.every((p) => p.ids.length > 0)) return prompts.length === 1 ? prompts[0].ids : prompts.map((p) => p.ids);
  return prompts.length === 1 ? prompts[0].text : prompts.map((p) => p.text);
}

/**
 * Each server's context (max_model_len): the option if set, else what its /v1/models says (vLLM's
 * ModelCard.max_model_len, vllm/entrypoints/openai/models/serving.py), else what its 400 says.
 */
export class ContextLimits {
  private readonly known = new Map<string, number>();
  private readonly asked = new Map<string, Promise<number | undefined>>();

  constructor(private readonly opts: Pick<RemoteSamplerOptions, 'maxModelLen' | 'model' | 'adapter'>) {}

  async of(server: EngineServer): Promise<number | undefined> {
    if (this.opts.maxModelLen !== undefined) return this.opts.maxModelLen;
    const k = this.known.get(server.url);
    if (k !== undefined) return k;
    let p = this.asked.get(server.url);
    if (!p) {
      p = this.ask(server);
      this.asked.set(server.url, p);
    }
    const got = await p;
    if (got === undefined) this.asked.delete(server.url); // ask again next time (the engine may be starting)
    return got;
  }

  learn(server: EngineServer, limit: number): void {
    this.known.set(server.url, limit);
  }

  private async ask(server: EngineServer): Promise<number | undefined> {
    try {
      const page = await server.client.models.list();
      const cards = page.data as unknown as { id: string; parent?: string | null; max_model_len?: number | null }[];
      const lenOf = (id: string | undefined) => cards.find((c) => c.id === id && typeof c.max_model_len === 'number')?.max_model_len ?? undefined;
      // vLLM's adapter cards carry no max_model_len: the base model's card has it
      const found = lenOf(this.opts.adapter) ?? lenOf(this.opts.model) ?? cards.find((c) => typeof c.max_model_len === 'number')?.max_model_len ?? undefined;
      if (found !== undefined) this.known.set(server.url, found);
      return found;
    } catch {
      return undefined;
    }
  }
}

/** vLLM's and SGLang's "maximum context length is N tokens" (a 400): N, else undefined. */
export function contextLengthIn(message: string): number | undefined {
  const m = /maximum context length (?:is|of) (\d+)/i.exec(message);
  return m ? Number(m[1]) : undefined;
}

/**
 * max_tokens for prompts on an engine whose context is `limit`: what the local sampler generates at
 * most, min(maxNewTokens, limit − prompt length), the smallest over the prompts sharing a request.
 */
export function cappedMaxTokens(prompts: readonly PromptIn[], maxNewTokens: number, limit: number | undefined, firstIndex = 0): number {
  if (limit === undefined) return maxNewTokens;
  let room = maxNewTokens;
  prompts.forEach((p, k) => {
    if (p.ids.length === 0) return; // a text prompt: its length in the engine's tokens is unknown here
    const left = limit - p.ids.length;
    if (left <= 0) throw new Error(`prompt ${firstIndex + k} of ${p.ids.length} tokens leaves no room to generate (the engine's max_model_len is ${limit})`);
    room = Math.min(room, left);
  });
  return room;
}

/**
 * completions[prompt][j] for req on the pool's servers. Fails with an EngineError naming the server and the
 * request on a 4xx, a response failing its schema, or a transient error that outlived its retries.
 */
export async function sampleRemote(
  pool: EnginePool,
  opts: RemoteSamplerOptions,
  req: SampleRequest,
  hooks: RemoteHooks = {},
  limits: ContextLimits = new ContextLimits(opts),
): Promise<Completion[][]> {
  const out: Completion[][] = req.prompts.map(() => []);
  const progress = { done: 0, total: req.prompts.length, completions: 0, retries: 0 };
  const endIds = new Set([...opts.eosIds, ...opts.stopIds]);
  const sglang = opts.engine === 'sglang';
  const chunks: number[] = [];
  for (let i = 0; i < req.prompts.length; i += opts.promptsPerRequest) chunks.push(i);
  // the first request that fails for good cancels the others (their answers would be thrown away)
  const ctrl = new AbortController();
  const outer = hooks.signal;
  const onOuter = () => ctrl.abort(outer?.reason);
  if (outer?.aborted) ctrl.abort(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  hooks = { ...hooks, signal: ctrl.signal };
  try {
    await runChunks();
  } finally {
    outer?.removeEventListener('abort', onOuter);
  }
  return out;

  function runChunks() {
    return Promise.all(
      chunks.map((start) =>
        runChunk(start).catch((e) => {
          ctrl.abort(e);
          throw e;
        }),
      ),
    );
  }

  async function runChunk(start: number): Promise<void> {
    const prompts = req.prompts.slice(start, start + opts.promptsPerRequest);
    const seed = promptSeed(req.seed, start);
    const model = requestModel(opts);
    const what = `completions for prompts ${start}..${start + prompts.length - 1} of ${req.prompts.length} (n ${req.n}, seed ${seed}, model ${model})`;
    // SGLang's seed acts only under --enable-deterministic-inference, and then all n completions of a
    // request share it (identical completions, zero advantages): one request per completion, each with
    // the seed igrpo serve would give that row, rowSeed(seed, 0, j)
    const calls = sglang ? Array.from({ length: req.n }, (_, j) => ({ n: 1, seed: rowSeed(seed, 0, j) & 0x7fffffff })) : [{ n: req.n, seed }];
    const parts = await Promise.all(
      calls.map((c) =>
        withRetries(pool, opts, what, hooks, () => progress.retries++, async (server) => {
          const limit = await limits.of(server);
          let maxTokens: number;
          try {
            maxTokens = cappedMaxTokens(prompts, req.maxNewTokens, limit, start);
          } catch (e) {
            throw new EngineError((e as Error).message, server.url, what);
          }
          try {
            return await post(server, completionBody(opts, prompts, c.n, maxTokens, c.seed), what, hooks.signal, prompts.length, c.n, maxTokens, endIds);
          } catch (e) {
            // an engine whose context we did not know says it in its 400: learn it and ask again at once
            const err = classify(e, server.url, what);
            const told = err.status === 400 ? contextLengthIn(err.message) : undefined;
            if (told === undefined || told === limit) throw err;
            limits.learn(server, told);
            maxTokens = cappedMaxTokens(prompts, req.maxNewTokens, told, start);
            return await post(server, completionBody(opts, prompts, c.n, maxTokens, c.seed), what, hooks.signal, prompts.length, c.n, maxTokens, endIds);
          }
        }),
      ),
    );
    // parts[call][prompt][j] → groups[prompt][all j]
    const groups = prompts.map((_, k) => parts.flatMap((p) => p[k]));
    groups.forEach((g, k) => (out[start + k] = g));
    progress.done += prompts.length;
    progress.completions += prompts.length * req.n;
    hooks.onProgress?.({ ...progress });
  }
}

async function withRetries<T>(
  pool: EnginePool,
  opts: RemoteSamplerOptions,
  what: string,
  hooks: RemoteHooks,
  onRetry: () => void,
  attempt: (server: EngineServer) => Promise<T>,
): Promise<T> {
  let last: EngineServer | undefined;
  let since: number | undefined;
  for (let i = 0; ; i++) {
    if (hooks.signal?.aborted) throw hooks.signal.reason instanceof Error ? hooks.signal.reason : new Error(`${what}: aborted`);
    const server = await pool.acquire(last);
    if (hooks.signal?.aborted) {
      pool.release(server);
      throw hooks.signal.reason instanceof Error ? hooks.signal.reason : new Error(`${what}: aborted`);
    }
    try {
      const r = await attempt(server);
      pool.release(server);
      return r;
    } catch (e) {
      pool.release(server, true);
      const err = classify(e, server.url, what);
      since ??= Date.now();
      if (!err.retryable || !mayRetry(opts, i, since) || hooks.signal?.aborted) {
        if (err.retryable) err.message = `${err.message} (gave up after ${i + 1} attempts in ${((Date.now() - since) / 1000).toFixed(1)} s)`;
        throw err;
      }
      last = server;
      onRetry();
      const wait = Math.min(opts.maxBackoffMs, opts.backoffMs * 2 ** Math.min(i, 30)) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function post(
  server: EngineServer,
  body: Record<string, unknown>,
  what: string,
  signal: AbortSignal | undefined,
  prompts: number,
  n: number,
  maxTokens: number,
  endIds: ReadonlySet<number>,
): Promise<Completion[][]> {
  // asResponse: the body is read and validated here, so a malformed answer is named, not swallowed
  const res = await server.client.completions.create(body as never, { signal }).asResponse();
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EngineError(`unreadable JSON body (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`, server.url, what, res.status, true);
  }
  const parsed = CompletionResponseSchema.safeParse(json);
  if (!parsed.success) throw new EngineError(`response fails its schema: ${formatIssues(parsed.error)}`, server.url, what, res.status);
  try {
    return toCompletions(parsed.data, prompts, n, maxTokens, endIds);
  } catch (e) {
    if (e instanceof AbortedCompletion) throw new EngineError(e.message, server.url, what, res.status, true);
    throw new EngineError(`response fails its schema: ${(e as Error).message}`, server.url, what, res.status);
  }
}

/** A choice the engine aborted (finish_reason "abort": preempted, shutting down): the request is re-sent. */
export class AbortedCompletion extends Error {}

/**
 * The finish reason by the last id, the same rule as the local sampler's (src/sampling/generate.ts
 * record: a stop id ends a completion before the length is looked at): a completion whose last id is an
 * end id stopped, whatever the engine said. vLLM's v1 scheduler checked the length first in earlier
 * releases (vllm/v1/core/scheduler.py _check_stop; vllm/v1/core/sched/utils.py check_stop checks eos
 * first now), so there an eos at exactly max_tokens came back "length".
 * SGLang's "content_filter" is a completion the engine cut off: "length".
 */
export function finishReasonOf(ids: readonly number[], reported: string, endIds: ReadonlySet<number>): 'stop' | 'length' {
  if (ids.length > 0 && endIds.has(ids[ids.length - 1])) return 'stop';
  return reported === 'stop' ? 'stop' : 'length';
}

/** Choices (index = prompt·n + j, as vLLM numbers them) → completions[prompt][j]. Throws on anything missing. */
export function toCompletions(r: CompletionResponse, prompts: number, n: number, maxTokens: number, endIds: ReadonlySet<number> = new Set()): Completion[][] {
  const out: (Completion | undefined)[][] = Array.from({ length: prompts }, () => Array<Completion | undefined>(n).fill(undefined));
  if (r.choices.length !== prompts * n) throw new Error(`expected ${prompts * n} choices, got ${r.choices.length}`);
  for (const c of r.choices) {
    const p = Math.floor(c.index / n);
    const j = c.index % n;
    if (p >= prompts || out[p][j]) throw new Error(`choice index ${c.index} out of range or repeated`);
    if (c.finish_reason === 'abort') throw new AbortedCompletion(`choices[${c.index}] was aborted by the engine (finish_reason "abort")`);
    if (c.finish_reason === null || c.finish_reason === undefined) throw new Error(`choices[${c.index}].finish_reason is ${JSON.stringify(c.finish_reason)}`);
    if (!c.logprobs) throw new Error(`choices[${c.index}].logprobs missing (the server ignored logprobs: 1)`);
    const ids =
      c.token_ids ??
      c.logprobs.tokens.map((t, k) => {
        const id = parseTokenId(t);
        if (id === undefined) throw new Error(`choices[${c.index}].logprobs.tokens[${k}] is ${JSON.stringify(t)}, not "token_id:N", and no token_ids came back (does the server support return_tokens_as_token_ids or return_token_ids?)`);
        return id;
      });
    const logprobs = c.logprobs.token_logprobs.map((x, k) => {
      if (x === null) throw new Error(`choices[${c.index}].logprobs.token_logprobs[${k}] is null`);
      return x;
    });
    if (logprobs.length !== ids.length) throw new Error(`choices[${c.index}]: ${ids.length} tokens but ${logprobs.length} log-probs`);
    if (ids.length > maxTokens) throw new Error(`choices[${c.index}]: ${ids.length} tokens, more than max_tokens ${maxTokens}`);
    out[p][j] = { ids, logprobs, text: c.text, finishReason: finishReasonOf(ids, c.finish_reason, endIds) };
  }
  return out as Completion[][];
}
