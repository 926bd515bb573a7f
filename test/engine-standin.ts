// A stand-in for a real vLLM or SGLang OpenAI server, for the engine client's tests: no model, a scripted
// sampler, but the HTTP behaviour of the engines' own code where the client meets it. Each behaviour
// names the file it comes from (vllm-project/vllm and sgl-project/sglang, read in 2026):
//
//  - /v1/models reports max_model_len on the base model's card only; adapter cards have none
//      (vllm/entrypoints/openai/models/serving.py show_available_models).
//  - prompt + max_tokens > max_model_len is a 400 (vLLM: vllm/renderers TokenizeParams / the
//      "maximum context length is N tokens ... (parameter=input_tokens, value=P)" message; SGLang:
//      python/sglang/srt/managers/tokenizer_manager.py _validate_one_request, "... maximum context
//      length of N tokens ...").
//  - unspecified sampling fields take the model's generation_config.json values ("user -> server
//      default -> OpenAI default": vllm/entrypoints/openai/completion/protocol.py to_sampling_params).
//  - stop checking: vLLM's v1 scheduler checked the length before eos/stop ids (vllm/v1/core/scheduler.py
//      _check_stop, and check_stop in vllm/v1/core/sched/utils.py before it was reordered), so an eos at
//      exactly max_tokens finished "length"; `lengthFirst` selects that order.
//  - text: special tokens skipped unless skip_special_tokens is false; a final stop id's text kept only
//      with include_stop_str_in_output; a stop string dropped unless include_stop_str_in_output (vLLM,
//      vllm/v1/engine/detokenizer.py) or no_stop_trim (SGLang, python/sglang/srt/managers/detokenizer_manager.py).
//  - finish_reason "abort" (both engines' aborted requests) and "content_filter" (SGLang's protocol.py).
//  - error bodies: vLLM { error: { message, type, param, code } }; SGLang (and vLLM before the
//      ErrorInfo wrapper) unwrapped { object: "error", message, type, param, code }
//      (python/sglang/srt/entrypoints/openai/serving_base.py create_error_response); vLLM's API key
//      check answers 401 { "error": "Unauthorized" } (vllm/entrypoints/openai/api_server.py
//      AuthenticationMiddleware, /v1 paths only).
//  - runtime LoRA (vLLM, vllm/entrypoints/openai/models/serving.py): a name already loaded is a 400
//      "... has already been loaded. If you want to load the adapter in place, set 'load_inplace' to
//      True."; a missing lora_path a 404 "Loading lora X failed: No adapter found for P"
//      (LoRAAdapterNotFoundError); any other add_lora failure — a rank above --max-lora-rank ("LoRA rank R
//      is greater than max_lora_rank M", vllm/lora/worker_manager.py _load_adapter) — a 500; unloading an
//      adapter the LRU cache (--max-loras, vllm/lora/worker_manager.py LRUCacheWorkerLoRAManager) already
//      evicted makes remove_lora return False: a 500 "Failed to remove lora adapter 'X' from the engine."
//      and the name stays registered. A request under an evicted adapter loads it again from its path.
//  - SGLang: the adapter comes only from model "BASE:ADAPTER" or a lora_path field; any other model name
//      samples the base model (serving_completions.py _resolve_lora_path); load/unload live at
//      /load_lora_adapter without /v1; `seed` (sampling_seed) acts only with
//      --enable-deterministic-inference, and then all n completions share it
//      (docs/advanced_features/deterministic_inference.md); `token_ids` only with return_token_ids on
//      releases that have it.
//  - a restart: the port refuses connections until the engine is up again (uvicorn starts after the
//      engine: vllm/entrypoints/openai/api_server.py run_server).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export type Engine = 'vllm' | 'sglang';

export interface StandinOptions {
  engine: Engine;
  model: string;
  maxModelLen: number;
  /** Token ids 0..vocab-1; the sampler never draws specials except eos. */
  vocab?: number;
  eosId?: number;
  /** Special tokens (eos among them): left out of text when skip_special_tokens (the default). */
  specialIds?: number[];
  /** The model's generation_config.json sampling defaults (vLLM's --generation-config auto). */
  generationConfig?: Record<string, number>;
  apiKey?: string;
  /** vLLM --max-loras (and so --max-cpu-loras): adapters held before the least recently used is evicted. */
  maxLoras?: number;
  maxLoraRank?: number;
  /** Check the length before eos/stop ids (vLLM's v1 scheduler before the reorder). */
  lengthFirst?: boolean;
  /** SGLang --enable-deterministic-inference. */
  deterministic?: boolean;
  /** SGLang releases without return_token_ids in completions. */
  tokenIds?: boolean;
  /** The ids the model "samples" for (prompt, seed, adapter weights); the engine applies its stop rules to them. */
  script?: (ctx: { prompt: number[]; seed: number; adapter?: string }) => number[];
  /** finish_reason overrides for the next requests, in order (then normal). */
  finishFaults?: ('abort' | 'content_filter')[];
  /** Error body shape (default: vLLM wrapped, SGLang unwrapped). */
  errorShape?: 'wrapped' | 'unwrapped';
  /** vLLM before load_inplace: the field is ignored (vLLM only warns about unknown fields). */
  noLoadInplace?: boolean;
  /** /v1/models without max_model_len (older SGLang). */
  noModelLen?: boolean;
}

export interface Standin {
  url: string;
  port: number;
  /** Every request body the completions endpoint received. */
  bodies: Record<string, unknown>[];
  /** The sampling parameters each completions request was sampled with (after generation_config defaults). */
  effective: Record<string, unknown>[];
  /** Per completions request: the adapter weights it was sampled under ('base' or the weights' hash). */
  servedWith: string[];
  /** Load/unload calls: [endpoint, body, status]. */
  loraCalls: [string, Record<string, unknown>, number][];
  /** Names registered, and the hash of the weights each holds. */
  registered(): Map<string, string>;
  close(): Promise<void>;
  /** Stop now and listen again on the same port after `ms` (a restart: adapters forgotten). */
  restart(ms: number): Promise<void>;
}

const OPENAI_DEFAULTS: Record<string, number> = { repetition_penalty: 1, presence_penalty: 0, frequency_penalty: 0, temperature: 1, top_p: 1, top_k: 0, min_p: 0 };

/** The text a token id stands for here: a letter, or <|sp:N|> for a special token. */
export function tokenText(id: number, specials: ReadonlySet<number>): string {
  return specials.has(id) ? `<|sp:${id}|>` : String.fromCharCode(97 + (id % 26));
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export async function startStandin(o: StandinOptions, port = 0): Promise<Standin> {
  const vocab = o.vocab ?? 40;
  const eos = o.eosId ?? 2;
  const specials = new Set([...(o.specialIds ?? [eos])]);
  const wrapped = (o.errorShape ?? (o.engine === 'vllm' ? 'wrapped' : 'unwrapped')) === 'wrapped';
  const faults = [...(o.finishFaults ?? [])];
  const bodies: Record<string, unknown>[] = [];
  const effective: Record<string, unknown>[] = [];
  const servedWith: string[] = [];
  const loraCalls: [string, Record<string, unknown>, number][] = [];
  // vLLM: lora_requests (name → id, path) and the worker's LRU cache (id → weights hash)
  let requests = new Map<string, { id: number; path: string }>();
  let cache = new Map<number, string>();
  let nextId = 1;

  const errorBody = (status: number, message: string, type: string, param: string | null = null) =>
    wrapped ? { error: { message, type, param, code: status } } : { object: 'error', message, type, param, code: status };

  function send(res: http.ServerResponse, status: number, body: unknown, text = false) {
    const s = text ? String(body) : JSON.stringify(body);
    res.writeHead(status, { 'content-type': text ? 'text/plain' : 'application/json' }).end(s);
  }

  function weightsOf(dir: string): string {
    const f = path.join(dir, 'adapter_model.safetensors');
    return crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex').slice(0, 12);
  }

  /** vLLM's LRUCacheWorkerLoRAManager.add_adapter: evict the oldest when full, then load from the path. */
  function cacheLoad(id: number, dir: string, name: string): string {
    if (!fs.existsSync(dir)) throw Object.assign(new Error(`Loading lora ${name} failed: No adapter found for ${dir}`), { status: 404, type: 'NotFoundError' });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as { r: number };
    if (o.maxLoraRank !== undefined && cfg.r > o.maxLoraRank) {
      throw Object.assign(new Error(`LoRA rank ${cfg.r} is greater than max_lora_rank ${o.maxLoraRank}.`), { status: 500, type: 'InternalServerError' });
    }
    const w = weightsOf(dir);
    cache.delete(id);
    while (cache.size >= (o.maxLoras ?? 1)) cache.delete(cache.keys().next().value!);
    cache.set(id, w);
    return w;
  }

  function touch(id: number, name: string, dir: string): string {
    const w = cache.get(id);
    if (w === undefined) return cacheLoad(id, dir, name);
    cache.delete(id);
    cache.set(id, w);
    return w;
  }

  function loadLora(body: Record<string, unknown>): [number, unknown, boolean] {
    const name = body.lora_name as string | undefined;
    const p = body.lora_path as string | undefined;
    if (!name || !p) return [400, errorBody(400, "Both 'lora_name' and 'lora_path' must be provided.", 'InvalidUserInput'), false];
    if (o.engine === 'sglang') {
      if (requests.has(name)) return [400, { success: false, error_message: `LoRA adapter ${name} is already loaded` }, false];
    } else if (!(body.load_inplace && !o.noLoadInplace) && requests.has(name)) {
      return [400, errorBody(400, `The lora adapter '${name}' has already been loaded. If you want to load the adapter in place, set 'load_inplace' to True.`, 'InvalidUserInput'), false];
    }
    const id = requests.get(name)?.id ?? nextId++;
    try {
      cacheLoad(id, p, name);
    } catch (e) {
      const err = e as Error & { status: number; type: string };
      if (o.engine === 'sglang') return [400, { success: false, error_message: err.message }, false];
      return [err.status, errorBody(err.status, err.message, err.type), false];
    }
    requests.set(name, { id, path: p });
    return o.engine === 'sglang' ? [200, { success: true, error_message: '', loaded_adapters: Object.fromEntries([...requests].map(([k, v]) => [k, v.path])) }, false] : [200, `Success: LoRA adapter '${name}' added successfully.`, true];
  }

  function unloadLora(body: Record<string, unknown>): [number, unknown, boolean] {
    const name = body.lora_name as string | undefined;
    const r = name === undefined ? undefined : requests.get(name);
    if (!r) return [404, errorBody(404, `The lora adapter '${name}' cannot be found.`, 'NotFoundError'), false];
    if (o.engine === 'vllm' && !cache.has(r.id)) {
      return [500, errorBody(500, `Failed to remove lora adapter '${name}' from the engine.`, 'InternalServerError'), false];
    }
    cache.delete(r.id);
    requests.delete(name!);
    return o.engine === 'sglang' ? [200, { success: true, error_message: '' }, false] : [200, `Success: LoRA adapter '${name}' removed successfully.`, true];
  }

  function completions(body: Record<string, unknown>): [number, unknown] {
    bodies.push(body);
    const model = String(body.model ?? '');
    // which adapter: vLLM by name; SGLang by "BASE:ADAPTER" or lora_path, anything else is the base
    let adapter: string | undefined;
    if (o.engine === 'vllm') {
      if (model !== o.model) {
        if (!requests.has(model)) return [404, errorBody(404, `The model \`${model}\` does not exist.`, 'NotFoundError', 'model')];
        adapter = model;
      }
    } else {
      const colon = model.indexOf(':');
      adapter = (body.lora_path as string | undefined) ?? (colon > 0 && model.slice(0, colon) === o.model ? model.slice(colon + 1) : undefined);
      if (adapter !== undefined && !requests.has(adapter)) return [400, errorBody(400, `The input LoRA ID ${adapter} is not loaded`, 'BadRequestError')];
    }
    let weights = 'base';
    if (adapter !== undefined) {
      const r = requests.get(adapter)!;
      try {
        weights = o.engine === 'vllm' ? touch(r.id, adapter, r.path) : cache.get(r.id)!;
      } catch (e) {
        return [500, errorBody(500, (e as Error).message, 'InternalServerError')];
      }
    }
    const raw = body.prompt;
    const prompts: number[][] = Array.isArray(raw) && Array.isArray(raw[0]) ? (raw as number[][]) : Array.isArray(raw) && typeof raw[0] === 'number' ? [raw as number[]] : [];
    if (prompts.length === 0) return [400, errorBody(400, 'this stand-in takes token-id prompts only', 'BadRequestError', 'prompt')];
    const n = Number(body.n ?? 1);
    const maxTokens = Number(body.max_tokens ?? 16);
    for (const p of prompts) {
      if (p.length + maxTokens > o.maxModelLen) {
        const msg =
          o.engine === 'vllm'
            ? `This model's maximum context length is ${o.maxModelLen} tokens. However, you requested ${maxTokens} output tokens and your prompt contains at least ${p.length} input tokens, for a total of at least ${p.length + maxTokens} tokens. Please reduce the length of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=${p.length})`
            : `Requested token count exceeds the model's maximum context length of ${o.maxModelLen} tokens. You requested a total of ${p.length + maxTokens} tokens: ${p.length} tokens from the input messages and ${maxTokens} tokens for the completion. Please reduce the number of tokens in the input messages or the completion to fit within the limit.`;
        return [400, errorBody(400, msg, 'BadRequestError', o.engine === 'vllm' ? 'input_tokens' : null)];
      }
    }
    // user -> generation_config -> OpenAI default
    const params: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(OPENAI_DEFAULTS)) params[k] = body[k] ?? o.generationConfig?.[k] ?? d;
    effective.push(params);
    servedWith.push(weights);

    const skipSpecial = body.skip_special_tokens !== false;
    const keepStop = o.engine === 'vllm' ? body.include_stop_str_in_output === true : body.no_stop_trim === true;
    const stops = (typeof body.stop === 'string' ? [body.stop] : (body.stop as string[] | undefined)) ?? [];
    const stopIds = new Set([eos, ...((body.stop_token_ids as number[] | undefined) ?? [])]);
    const asIds = body.return_tokens_as_token_ids === true;
    const withIds = body.return_token_ids === true && (o.engine === 'vllm' || o.tokenIds !== false);
    const seedGiven = body.seed !== undefined && body.seed !== null;
    const choices = prompts.flatMap((prompt, i) =>
      Array.from({ length: n }, (_, j) => {
        // vLLM: each of the n rows gets its own generator from the seed; SGLang: the seed only under
        // deterministic inference, and then the same for every row
        const seed =
          o.engine === 'sglang' ? (o.deterministic && seedGiven ? Number(body.seed) : crypto.randomInt(2 ** 31)) : seedGiven ? Number(body.seed) * 1000 + i * 64 + j : crypto.randomInt(2 ** 31);
        const wanted =
          o.script?.({ prompt, seed, adapter: weights === 'base' ? undefined : weights }) ??
          (() => {
            const r = rng(seed);
            return Array.from({ length: maxTokens + 1 }, () => (r() < 0.08 ? eos : 4 + Math.floor(r() * (vocab - 4))));
          })();
        const ids: number[] = [];
        let finish: string = 'length';
        let stopReason: string | number | null = null;
        let textCut: number | undefined;
        for (const id of wanted) {
          ids.push(id);
          const atLength = ids.length >= maxTokens;
          if (o.lengthFirst && atLength) break;
          if (stopIds.has(id)) {
            finish = 'stop';
            stopReason = id === eos ? null : id;
            break;
          }
          if (stops.length > 0) {
            const t = ids.map((x) => (skipSpecial && specials.has(x) ? '' : tokenText(x, specials))).join('');
            const s = stops.find((x) => t.includes(x));
            if (s) {
              finish = 'stop';
              stopReason = s;
              textCut = keepStop ? t.indexOf(s) + s.length : t.indexOf(s);
              break;
            }
          }
          if (atLength) break;
        }
        const fault = faults.shift();
        if (fault) finish = fault;
        const shown = finish === 'stop' && typeof stopReason !== 'string' && !keepStop ? ids.slice(0, -1) : ids;
        let text = shown.map((x) => (skipSpecial && specials.has(x) ? '' : tokenText(x, specials))).join('');
        if (textCut !== undefined) text = text.slice(0, textCut);
        const r = rng(seed ^ 0x9e3779b9);
        const lps = ids.map(() => -0.05 - r());
        return {
          index: i * n + j,
          text,
          logprobs: { tokens: ids.map((x) => (asIds ? `token_id:${x}` : tokenText(x, specials))), token_logprobs: lps, top_logprobs: null, text_offset: ids.map(() => 0) },
          finish_reason: finish,
          ...(o.engine === 'vllm' ? { stop_reason: stopReason } : { matched_stop: stopReason ?? (finish === 'stop' ? eos : null) }),
          ...(withIds ? { token_ids: ids } : {}),
        };
      }),
    );
    return [200, { id: 'cmpl-standin', object: 'text_completion', created: Math.floor(Date.now() / 1000), model, choices, usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } }];
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = (req.url ?? '').split('?')[0];
      if (o.apiKey && url.startsWith('/v1') && req.headers.authorization !== `Bearer ${o.apiKey}`) return send(res, 401, { error: 'Unauthorized' });
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return send(res, 400, errorBody(400, 'invalid JSON', 'BadRequestError'));
      }
      const loraPrefix = o.engine === 'vllm' ? '/v1' : '';
      if (req.method === 'GET' && url === '/v1/models') {
        const base = { id: o.model, object: 'model', created: 0, owned_by: o.engine, root: o.model, parent: null, ...(o.noModelLen ? {} : { max_model_len: o.maxModelLen }) };
        const adapters = o.engine === 'vllm' ? [...requests].map(([k, v]) => ({ id: k, object: 'model', created: 0, owned_by: 'vllm', root: v.path, parent: o.model })) : [];
        return send(res, 200, { object: 'list', data: [base, ...adapters] });
      }
      if (req.method === 'POST' && url === '/v1/completions') {
        const [status, out] = completions(body);
        return send(res, status, out);
      }
      if (req.method === 'POST' && (url === `${loraPrefix}/load_lora_adapter` || url === `${loraPrefix}/unload_lora_adapter`)) {
        const [status, out, text] = url.endsWith('/load_lora_adapter') && !url.endsWith('unload_lora_adapter') ? loadLora(body) : unloadLora(body);
        loraCalls.push([url, body, status]);
        return send(res, status, out, text);
      }
      // FastAPI's own 404
      return send(res, 404, { detail: 'Not Found' });
    });
  };

  let server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const bound = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    bodies,
    effective,
    servedWith,
    loraCalls,
    registered: () => new Map([...requests].map(([k, v]) => [k, cache.get(v.id) ?? '(evicted)'])),
    close,
    async restart(ms: number) {
      await close();
      requests = new Map();
      cache = new Map();
      await new Promise((r) => setTimeout(r, ms));
      server = http.createServer(handler);
      await new Promise<void>((r) => server.listen(bound, '127.0.0.1', r));
    },
  };
}
