// `igrpo serve`: an OpenAI-compatible HTTP server (fastify 5) for the toolkit's own policies, answering as
// vLLM's OpenAI server does (vllm/entrypoints/openai/protocol.py): /v1/models, /v1/completions,
// /v1/chat/completions, /health, and the runtime LoRA endpoints. Requests are validated with zod (400
// with OpenAI-style error JSON naming the field), bounded (body, n, max_tokens, prompt length, prompts per
// request), and batched across clients into the grouped sampler (batcher.ts).
import { randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Policy } from '../model/policy.js';
import { rowSeed } from '../sampling/generate.js';
import { parseSampleOptions, type Completion } from '../sampling/options.js';
import { formatIssues } from '../util/validate.js';
import { Batcher } from './batcher.js';
import { hasChatTemplate, renderChat } from './chat.js';
import { HttpError, badRequest, errorBody } from './errors.js';
import { LoraRegistry, type LoraHook } from './lora.js';
import { parseServeOptions, type ServeOptions, type ServeOptionsInput } from './options.js';
import { ChatRequestSchema, CompletionRequestSchema, LoadLoraSchema, UnloadLoraSchema } from './protocol.js';

export interface PolicyServer {
  app: FastifyInstance;
  options: ServeOptions;
  batcher: Batcher;
  lora: LoraRegistry;
  /** Starts listening; resolves to the base URL (http://host:port, the bound port when port was 0). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

function parse<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw badRequest(formatIssues(r.error), r.error.issues[0]?.path.join('.') || null);
  return r.data;
}

const now = () => Math.floor(Date.now() / 1000);

interface Sampled {
  prompts: number[][];
  completions: Completion[][];
  /** The stop strings of the request (to strip them from the text unless asked to keep them). */
  stop: string[];
}

export function buildServer(policy: Policy, input: ServeOptionsInput, hooks: { lora?: LoraHook; checkpoint?: string } = {}): PolicyServer {
  const options = parseServeOptions(input);
  const { limits } = options;
  const batcher = new Batcher(options.batch.windowMs, options.batch.maxRows, options.batch.maxWaitMs);
  const lora = new LoraRegistry(options.lora.enabled, options.lora.dirs, options.modelName, hooks.lora);
  const tokenizer = policy.tokenizer;
  const app = Fastify({
    bodyLimit: limits.bodyBytes,
    connectionTimeout: options.timeouts.idleMs,
    requestTimeout: options.timeouts.requestMs,
    keepAliveTimeout: Math.min(5_000, options.timeouts.idleMs),
    logger: false,
    return503OnClosing: true,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError) return reply.status(err.status).send(errorBody(err.status, err.message, err.param));
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(400).send(errorBody(400, `request body exceeds the limit of ${limits.bodyBytes} bytes`));
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.status(status).send(errorBody(status, err.message));
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody(404, `no route ${req.method} ${req.url}`)));

  // The idle timeout guards the socket while a request is being received (a stuck client cannot hold a
  // worker); once the whole request is in, the socket is quiet only because sampling is running, which
  // may take minutes for long generations: lift the timeout until the response is sent, then restore it.
  app.addHook('preHandler', async (req: FastifyRequest) => {
    req.raw.socket?.setTimeout(0);
  });
  app.addHook('onResponse', async (req: FastifyRequest) => {
    if (!req.raw.socket?.destroyed) req.raw.socket?.setTimeout(options.timeouts.idleMs);
  });

  if (options.apiKey) {
    const expected = Buffer.from(`Bearer ${options.apiKey}`);
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.url === '/health' || req.url.startsWith('/health?')) return;
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        return reply.status(401).send(errorBody(401, 'Unauthorized'));
      }
    });
  }

  /** The policy a request's `model` names: the base, or a loaded adapter the hook could apply. */
  function policyFor(model: string): Policy {
    if (model === options.modelName) return policy;
    const a = lora.get(model);
    if (!a) throw new HttpError(404, `The model \`${model}\` does not exist.`, 'model');
    if (!a.policy) throw new HttpError(501, `adapter '${model}' is registered, but applying LoRA adapters to this policy is not available in this build`, 'model');
    return a.policy;
  }

  function checkPrompt(ids: number[], i: number, maxTokens: number, p: Policy): void {
    if (ids.length === 0) throw badRequest(`prompt ${i} is empty`, 'prompt');
    if (ids.length > limits.maxPromptTokens) throw badRequest(`prompt ${i} has ${ids.length} tokens, more than the limit of ${limits.maxPromptTokens}`, 'prompt');
    const bad = ids.find((id) => id >= p.tokenizer.vocabSize);
    if (bad !== undefined) throw badRequest(`prompt ${i}: token id ${bad} is outside the vocabulary (size ${p.tokenizer.vocabSize})`, 'prompt');
    if (ids.length + maxTokens > p.maxSeqLen) {
      throw badRequest(`This model's maximum context length is ${p.maxSeqLen} tokens. However, you requested ${ids.length + maxTokens} tokens (${ids.length} in prompt ${i}, ${maxTokens} in the completion). Please reduce the length of the prompt or completion.`, 'max_tokens');
    }
  }

  function encode(text: string, i: number, p: Policy): number[] {
    try {
      return p.tokenizer.encode(text);
    } catch (e) {
      throw badRequest(`prompt ${i}: ${(e as Error).message}`, 'prompt');
    }
  }

  async function run(
    p: Policy,
    model: string,
    prompts: number[][],
    r: { n: number; temperature: number; top_p: number; top_k: number; seed?: number | null; stop: string[]; stop_token_ids: number[]; ignore_eos: boolean },
    maxTokens: number,
  ): Promise<Sampled> {
    if (prompts.length > limits.maxPrompts) throw badRequest(`${prompts.length} prompts in one request, more than the limit of ${limits.maxPrompts}`, 'prompt');
    if (r.n > limits.maxN) throw badRequest(`n = ${r.n} is more than the limit of ${limits.maxN}`, 'n');
    if (maxTokens > limits.maxTokens) throw badRequest(`max_tokens = ${maxTokens} is more than the limit of ${limits.maxTokens}`, 'max_tokens');
    prompts.forEach((ids, i) => checkPrompt(ids, i, maxTokens, p));
    const badStop = r.stop_token_ids.find((id) => id >= p.tokenizer.vocabSize);
    if (badStop !== undefined) throw badRequest(`stop_token_ids: ${badStop} is outside the vocabulary`, 'stop_token_ids');
    const seed = r.seed == null ? randomInt(2 ** 31) : r.seed;
    if (seed < 0) throw badRequest('seed must be non-negative', 'seed');
    const opts = parseSampleOptions({
      n: r.n, maxNewTokens: maxTokens, temperature: r.temperature, topK: r.top_k, topP: r.top_p,
      stop: r.stop, stopIds: r.stop_token_ids, stopOnEos: !r.ignore_eos, seed,
    });
    // row (i, j) draws from rowSeed(seed, i, j), as sample() does: the answer equals a local sample() call
    const rows = prompts.flatMap((prompt, i) => Array.from({ length: r.n }, (_, j) => ({ prompt, seed: rowSeed(seed, i, j) })));
    const flat = await batcher.submit({ policy: p, model, opts, rows });
    return { prompts, completions: prompts.map((_, i) => flat.slice(i * r.n, (i + 1) * r.n)), stop: r.stop };
  }

  /** vLLM drops a matched stop string from the text unless include_stop_str_in_output. */
  function visibleText(c: Completion, stop: string[], keepStop: boolean): string {
    if (keepStop || c.finishReason !== 'stop') return c.text;
    const s = stop.find((x) => c.text.endsWith(x));
    return s ? c.text.slice(0, c.text.length - s.length) : c.text;
  }

  const tokenString = (id: number, asIds: boolean) => (asIds ? `token_id:${id}` : tokenizer.decode([id]));
  const stopReason = (c: Completion, stop: string[]) => {
    if (c.finishReason !== 'stop') return null;
    const s = stop.find((x) => c.text.endsWith(x));
    if (s) return s;
    const last = c.ids[c.ids.length - 1];
    return last === tokenizer.eosId ? null : last;
  };
  const usage = (s: Sampled) => {
    const prompt = s.prompts.reduce((a, p) => a + p.length, 0);
    const completion = s.completions.flat().reduce((a, c) => a + c.ids.length, 0);
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  };

  app.get('/health', async (_req, reply) => reply.status(200).send(''));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [
      {
        id: options.modelName, object: 'model', created: now(), owned_by: 'igrpo', root: hooks.checkpoint ?? options.modelName, parent: null,
        max_model_len: policy.maxSeqLen, chat_template: hasChatTemplate(tokenizer) ? 'tokenizer' : 'plain-join',
      },
      ...lora.list().map((a) => ({ id: a.name, object: 'model', created: now(), owned_by: 'igrpo', root: a.dir, parent: options.modelName, max_model_len: policy.maxSeqLen })),
    ],
  }));

  app.post('/v1/completions', async (req) => {
    const r = parse(CompletionRequestSchema, req.body);
    const p = policyFor(r.model);
    const raw = r.prompt;
    const prompts: number[][] =
      typeof raw === 'string' ? [encode(raw, 0, p)]
      : typeof raw[0] === 'string' ? (raw as string[]).map((t, i) => encode(t, i, p))
      : typeof raw[0] === 'number' ? [raw as number[]]
      : (raw as number[][]);
    const s = await run(p, r.model, prompts, r, r.max_tokens);
    const asIds = r.return_tokens_as_token_ids;
    return {
      id: `cmpl-${randomUUID().replace(/-/g, '')}`,
      object: 'text_completion',
      created: now(),
      model: r.model,
      choices: s.completions.flatMap((group, i) =>
        group.map((c, j) => {
          let logprobs = null;
          if (r.logprobs != null) {
            const tokens = c.ids.map((id) => tokenString(id, asIds));
            let offset = 0;
            const text_offset = c.ids.map((id) => {
              const at = offset;
              offset += tokenizer.decode([id]).length;
              return at;
            });
            // only the sampled token is known (the sampler never materialises the whole distribution)
            const top_logprobs = r.logprobs > 0 ? tokens.map((t, k) => ({ [t]: c.logprobs[k] })) : null;
            logprobs = { tokens, token_logprobs: c.logprobs, top_logprobs, text_offset };
          }
          return {
            index: i * r.n + j,
            text: visibleText(c, s.stop, r.include_stop_str_in_output),
            logprobs,
            finish_reason: c.finishReason,
            stop_reason: stopReason(c, s.stop),
            ...(r.return_token_ids ? { token_ids: c.ids, prompt_token_ids: s.prompts[i] } : {}),
          };
        }),
      ),
      usage: usage(s),
    };
  });

  app.post('/v1/chat/completions', async (req) => {
    const r = parse(ChatRequestSchema, req.body);
    const p = policyFor(r.model);
    let rendered: { text: string; ids?: number[] };
    try {
      rendered = renderChat(p.tokenizer, r.messages, r.add_generation_prompt);
    } catch (e) {
      throw badRequest(`messages: the chat template failed: ${(e as Error).message}`, 'messages');
    }
    const ids = rendered.ids ?? encode(rendered.text, 0, p);
    const maxTokens = r.max_completion_tokens ?? r.max_tokens ?? Math.max(1, Math.min(limits.maxTokens, p.maxSeqLen - ids.length));
    const s = await run(p, r.model, [ids], r, maxTokens);
    return {
      id: `chatcmpl-${randomUUID().replace(/-/g, '')}`,
      object: 'chat.completion',
      created: now(),
      model: r.model,
      choices: s.completions[0].map((c, j) => ({
        index: j,
        message: { role: 'assistant', content: visibleText(c, s.stop, r.include_stop_str_in_output) },
        logprobs: r.logprobs
          ? {
              content: c.ids.map((id, k) => {
                const token = tokenString(id, r.return_tokens_as_token_ids);
                const entry = { token, logprob: c.logprobs[k], bytes: [...Buffer.from(token, 'utf8')] };
                return { ...entry, top_logprobs: (r.top_logprobs ?? 0) > 0 ? [entry] : [] };
              }),
            }
          : null,
        finish_reason: c.finishReason,
        stop_reason: stopReason(c, s.stop),
      })),
      usage: usage(s),
    };
  });

  app.post('/v1/load_lora_adapter', async (req, reply) => {
    if (!lora.enabled) throw new HttpError(404, 'runtime LoRA updates are off; start igrpo serve with --enable-lora-updates --lora-dir DIR');
    const r = parse(LoadLoraSchema, req.body);
    await lora.load(r.lora_name, r.lora_path, r.load_inplace);
    return reply.type('text/plain').send(`Success: LoRA adapter '${r.lora_name}' added successfully.`);
  });

  app.post('/v1/unload_lora_adapter', async (req, reply) => {
    if (!lora.enabled) throw new HttpError(404, 'runtime LoRA updates are off; start igrpo serve with --enable-lora-updates --lora-dir DIR');
    const r = parse(UnloadLoraSchema, req.body);
    await lora.unload(r.lora_name);
    return reply.type('text/plain').send(`Success: LoRA adapter '${r.lora_name}' removed successfully.`);
  });

  return {
    app,
    options,
    batcher,
    lora,
    async listen() {
      await app.listen({ host: options.host, port: options.port });
      const addr = app.server.address();
      if (!addr || typeof addr === 'string') throw new Error('igrpo serve: no TCP address');
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${host}:${addr.port}`;
    },
    async close() {
      batcher.close();
      await app.close();
    },
  };
}
