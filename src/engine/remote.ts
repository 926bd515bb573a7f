// The remote sampler: completions sampled on OpenAI-compatible servers (vLLM, SGLang, `igrpo serve`)
// through the official openai client. Prompts go as token ids (chat templates are rendered locally), and
// completions come back as token ids too (vLLM's return_tokens_as_token_ids: "token_id:N"), with the
// sampled tokens' log-probs, so no id ever travels through text and back.
//
// A request is split into HTTP requests of `promptsPerRequest` prompts each, dispatched to the least-loaded
// server. Each HTTP request carries its own seed, mixSeed(seed, first prompt index), so the answer does not
// depend on which server took it or how often it was retried: a retry replaces, never appends.
import { setMaxListeners } from 'node:events';
import { promptSeed } from './local.js';
import { EngineError, classify } from './errors.js';
import { EnginePool, type EngineServer } from './pool.js';
import { CompletionResponseSchema, parseTokenId, type CompletionResponse } from './protocol.js';
import { parseRemoteOptions, type RemoteSamplerOptions, type RemoteSamplerOptionsInput } from './options.js';
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
  const fn = ((req: SampleRequest) => sampleRemote(pool, opts, req, hooks)) as RemoteSampler;
  Object.defineProperty(fn, 'pool', { value: pool });
  Object.defineProperty(fn, 'options', { value: opts });
  return fn;
}

/** The body of one HTTP request (exported for tests and for documentation of what is sent). */
export function completionBody(opts: RemoteSamplerOptions, prompts: readonly PromptIn[], n: number, maxTokens: number, seed: number): Record<string, unknown> {
  return {
    ...opts.extraBody,
    model: opts.model,
    // token ids; text only where a caller has no tokenizer for the engine's model (PromptIn.ids empty)
    prompt: promptField(prompts),
    n,
    max_tokens: maxTokens,
    temperature: opts.temperature,
    top_p: opts.topP,
    // -1 = off, sent explicitly: vLLM would otherwise apply the model's generation_config.json top_k
    top_k: opts.topK > 0 ? opts.topK : -1,
    seed,
    ...(opts.stop.length > 0 ? { stop: opts.stop } : {}),
    ...(opts.stopIds.length > 0 ? { stop_token_ids: opts.stopIds } : {}),
    // the sampled token's log-prob always comes with logprobs ≥ 1 (vLLM); its id through the token string
    logprobs: 1,
    ...Object.fromEntries(opts.tokenIdFields.map((f) => [f, true])),
    // our sampler keeps a matched stop string in the text; ask vLLM to do the same
    include_stop_str_in_output: true,
  };
}

function promptField(prompts: readonly PromptIn[]): string | string[] | number[] | number[][] {
  if (prompts.every((p) => p.ids.length > 0)) return prompts.length === 1 ? prompts[0].ids : prompts.map((p) => p.ids);
  return prompts.length === 1 ? prompts[0].text : prompts.map((p) => p.text);
}

/**
 * completions[prompt][j] for req on the pool's servers. Fails with an EngineError naming the server and the
 * request on a 4xx, a response failing its schema, or a transient error that outlived its retries.
 */
export async function sampleRemote(pool: EnginePool, opts: RemoteSamplerOptions, req: SampleRequest, hooks: RemoteHooks = {}): Promise<Completion[][]> {
  const out: Completion[][] = req.prompts.map(() => []);
  const progress = { done: 0, total: req.prompts.length, completions: 0, retries: 0 };
  const chunks: number[] = [];
  for (let i = 0; i < req.prompts.length; i += opts.promptsPerRequest) chunks.push(i);
  // the first request that fails for good cancels the others (their answers would be thrown away)
  const ctrl = new AbortController();
  // the openai client adds a listener to it per HTTP attempt and never removes it (client.ts fetchWithTimeout):
  // at most chunks × (retries + 1) for this call, freed with the controller, so not the leak node warns about
  setMaxListeners(Math.max(10, chunks.length * (opts.retries + 1) + 1), ctrl.signal);
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
    const what = `completions for prompts ${start}..${start + prompts.length - 1} of ${req.prompts.length} (n ${req.n}, seed ${seed}, model ${opts.model})`;
    const body = completionBody(opts, prompts, req.n, req.maxNewTokens, seed);
    const groups = await withRetries(pool, opts, what, hooks, () => progress.retries++, (server) => post(server, body, what, hooks.signal, prompts.length, req.n, req.maxNewTokens));
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
      if (!err.retryable || i >= opts.retries || hooks.signal?.aborted) {
        if (err.retryable) err.message = `${err.message} (gave up after ${i + 1} attempts)`;
        throw err;
      }
      last = server;
      onRetry();
      const wait = Math.min(opts.maxBackoffMs, opts.backoffMs * 2 ** i) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function post(server: EngineServer, body: Record<string, unknown>, what: string, signal: AbortSignal | undefined, prompts: number, n: number, maxTokens: number): Promise<Completion[][]> {
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
    return toCompletions(parsed.data, prompts, n, maxTokens);
  } catch (e) {
    throw new EngineError(`response fails its schema: ${(e as Error).message}`, server.url, what, res.status);
  }
}

/** Choices (index = prompt·n + j, as vLLM numbers them) → completions[prompt][j]. Throws on anything missing. */
export function toCompletions(r: CompletionResponse, prompts: number, n: number, maxTokens: number): Completion[][] {
  const out: (Completion | undefined)[][] = Array.from({ length: prompts }, () => Array<Completion | undefined>(n).fill(undefined));
  if (r.choices.length !== prompts * n) throw new Error(`expected ${prompts * n} choices, got ${r.choices.length}`);
  for (const c of r.choices) {
    const p = Math.floor(c.index / n);
    const j = c.index % n;
    if (p >= prompts || out[p][j]) throw new Error(`choice index ${c.index} out of range or repeated`);
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
    if (c.finish_reason !== 'stop' && c.finish_reason !== 'length') throw new Error(`choices[${c.index}].finish_reason is ${JSON.stringify(c.finish_reason)}`);
    out[p][j] = { ids, logprobs, text: c.text, finishReason: c.finish_reason };
  }
  return out as Completion[][];
}
