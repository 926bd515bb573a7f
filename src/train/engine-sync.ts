// Server mode's link to the engines: the policy's LoRA adapter, written in PEFT format after each update
// (run folder: adapters/step-N) and loaded into every engine under a name per run and version
// (`${prefix}-${run tag}-step-N`, vLLM's /v1/load_lora_adapter or SGLang's /load_lora_adapter), the previous
// version unloaded; rollouts then sample under that name.
//
// The name always gets the weights just written: a run resumed after a crash publishes step N again
// under the same name, which the engine still holds with the crashed run's weights, so loads ask vLLM to
// replace in place (load_inplace), and where an engine answers "already been loaded" anyway (older vLLM,
// SGLang) the name is unloaded and loaded again. The run tag (a hash of the run folder's path) keeps two
// runs on one engine with the same prefix apart.
//
// Unloading is best effort: vLLM answers 500 for an adapter its LRU cache already evicted (--max-loras 1
// is enough), and a restarted engine has nothing to unload; either way the old version is never sampled
// again, so a failed unload is a warning.
//
// A restarted engine has forgotten its adapters: a completions request naming the current version gets
// 404, so the version is loaded again and the same request re-sent. Re-sending is safe: every request
// carries its own seed (src/engine/remote.ts), so a retry replaces, never appends — the rollout is the one
// the engine would have given the first time, and nothing is logged twice.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, errorMessageOf } from '../engine/errors.js';
import { mayRetry } from '../engine/options.js';
import { makeRemoteSampler, type RemoteSampler } from '../engine/remote.js';
import { LlamaModel } from '../model/llama.js';
import type { Policy } from '../model/policy.js';
import { eosIdsOf } from '../sampling/generate.js';
import type { SampleFn } from '../sampling/request.js';
import type { EngineConfig } from './config.js';

export interface SamplingParams {
  temperature: number;
  topK: number;
  topP: number;
}

interface Version {
  step: number;
  name: string;
  dir: string;
}

/** The adapter-carrying model server mode needs, or an error saying what is missing. */
export function loraPolicy(policy: Policy): LlamaModel {
  if (!(policy instanceof LlamaModel) || !policy.adapters) {
    throw new Error('rollout.engine (server mode) trains a LoRA adapter: the policy must be a Llama-family model with LoRA on (enableLora)');
  }
  return policy;
}

/** Eight hex digits naming a run by its adapters folder: the same after a resume, different for another run. */
export function runTag(adaptersDir: string): string {
  return crypto.createHash('sha256').update(path.resolve(adaptersDir)).digest('hex').slice(0, 8);
}

interface Answer {
  status: number;
  text: string;
}

export class EngineSync {
  private version?: Version;
  private sampler?: RemoteSampler;
  /** Adapter (re)loads after an engine forgot the current version (restarts seen). */
  reloads = 0;
  /** Unloads that failed (warned about, not fatal). */
  unloadFailures = 0;
  readonly tag: string;

  constructor(
    readonly cfg: EngineConfig,
    private readonly sampling: SamplingParams,
    /** Where adapter versions are written (the run folder's adapters/); must be readable by the engines. */
    readonly adaptersDir: string,
    private readonly policy: Pick<LlamaModel, 'saveAdapter' | 'tokenizer'>,
    private readonly log: (line: string) => void = () => {},
  ) {
    // the key may stay out of config.json (which the run folder keeps): $IGRPO_ENGINE_API_KEY
    this.apiKey = cfg.apiKey ?? (process.env.IGRPO_ENGINE_API_KEY || undefined);
    this.tag = runTag(adaptersDir);
  }

  private readonly apiKey: string | undefined;

  /** The name rollouts sample under now (after publish). */
  get current(): string | undefined {
    return this.version?.name;
  }

  /** The adapter name of the version after `step` updates. */
  nameOf(step: number): string {
    return `${this.cfg.adapterPrefix}-${this.tag}-step-${step}`;
  }

  /**
   * Make the engines serve the policy's adapter as it is after `step` updates: write it, load it under
   * its name (replacing whatever an engine held under it), unload (and delete) the previous version.
   * Idempotent for the same step.
   */
  async publish(step: number): Promise<string> {
    if (this.version?.step === step) return this.version.name;
    const next: Version = { step, name: this.nameOf(step), dir: path.join(this.adaptersDir, `step-${step}`) };
    await this.policy.saveAdapter(next.dir, this.cfg.model);
    await this.loadEverywhere(next);
    const prev = this.version;
    this.version = next;
    this.sampler = makeRemoteSampler({
      urls: this.cfg.urls, model: this.cfg.model, adapter: next.name, engine: this.cfg.engine, apiKey: this.apiKey,
      temperature: this.sampling.temperature, topK: this.sampling.topK, topP: this.sampling.topP,
      // a completion ending in eos at exactly max_tokens stopped (remote.ts finishReasonOf), as locally
      eosIds: [...eosIdsOf(this.policy.tokenizer)],
      maxConcurrency: this.cfg.maxConcurrency, promptsPerRequest: this.cfg.promptsPerRequest, timeoutMs: this.cfg.timeoutMs,
      retryForMs: this.cfg.retryForMs, retries: this.cfg.retries, backoffMs: this.cfg.backoffMs, maxBackoffMs: this.cfg.maxBackoffMs,
    });
    if (prev && prev.name !== next.name) {
      await Promise.all(this.cfg.urls.map((url) => this.unload(url, prev.name)));
      fs.rmSync(prev.dir, { recursive: true, force: true }); // written by this run; the engines hold their copy
    }
    return next.name;
  }

  /** A SampleFn under the current version; a 404 for it (engine restarted) reloads it and re-sends the request. */
  readonly sample: SampleFn = async (req) => {
    if (!this.version || !this.sampler) throw new Error('EngineSync.sample: publish an adapter version first');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.sampler(req);
      } catch (e) {
        if (!(e instanceof EngineError && this.forgotten(e)) || attempt >= 3) throw e;
        this.reloads++;
        this.log(`engine ${e.server} does not know ${this.version.name} (restarted?): loading it again`);
        await this.loadEverywhere(this.version);
      }
    }
  };

  /** vLLM: 404 for the model name; SGLang: a 400 about the LoRA id not loaded. */
  private forgotten(e: EngineError): boolean {
    return e.status === 404 || (this.cfg.engine === 'sglang' && e.status === 400 && /lora/i.test(e.message));
  }

  private async loadEverywhere(v: Version): Promise<void> {
    await Promise.all(this.cfg.urls.map((url) => this.load(url, v)));
  }

  /** The root of an engine's runtime-LoRA endpoints: vLLM's under /v1, SGLang's at the server root. */
  private loraBase(url: string): string {
    const u = url.replace(/\/+$/, '');
    return this.cfg.engine === 'sglang' ? u.replace(/\/v1$/, '') : u;
  }

  private async load(url: string, v: Version): Promise<void> {
    const lora_path = path.resolve(v.dir);
    const what = `load_lora_adapter ${v.name} from ${lora_path}`;
    if (this.cfg.engine === 'sglang') await this.unload(url, v.name, true); // SGLang has no in-place load
    const body = { lora_name: v.name, lora_path, ...(this.cfg.engine === 'vllm' ? { load_inplace: true } : {}) };
    let a = await this.post(url, 'load_lora_adapter', body, what);
    if (a.status === 400 && /already (been )?loaded|already exists/i.test(a.text)) {
      // an engine that ignores load_inplace (vLLM before it) still holds the old weights under this name
      this.log(`engine ${url} already holds ${v.name} (a resumed run?): unloading it and loading the weights just written`);
      await this.unload(url, v.name, true);
      a = await this.post(url, 'load_lora_adapter', body, what);
    }
    if (a.status < 200 || a.status >= 300) {
      const message = errorMessageOf(a.text) ?? `HTTP ${a.status}`;
      const hint = /max_lora_rank/i.test(message) ? ' (start the engine with --max-lora-rank at least the adapter\'s r)' : '';
      throw new EngineError(`HTTP ${a.status}: ${message}${hint}`, url, what, a.status);
    }
  }

  /** Best effort: a failure is a warning (evicted from the engine's LRU cache, or the engine restarted). */
  private async unload(url: string, name: string, quiet = false): Promise<void> {
    const what = `unload_lora_adapter ${name}`;
    try {
      const a = await this.request(url, 'unload_lora_adapter', { lora_name: name });
      if (a.status >= 200 && a.status < 300) return;
      if (quiet || a.status === 404) return;
      this.unloadFailures++;
      this.log(`warning: ${url}: ${what}: HTTP ${a.status}: ${errorMessageOf(a.text) ?? ''} (not needed any more; vLLM answers this for an adapter its --max-loras cache already evicted)`);
    } catch (e) {
      if (quiet) return;
      this.unloadFailures++;
      this.log(`warning: ${url}: ${what}: ${(e as Error).message}`);
    }
  }

  private async request(url: string, endpoint: string, body: object): Promise<Answer> {
    const target = `${this.loraBase(url)}/${endpoint}`;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) };
    const r = await fetch(target, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.cfg.timeoutMs) });
    return { status: r.status, text: await r.text() };
  }

  /**
   * POST to an engine's runtime-LoRA endpoint, retrying within the retry budget what may pass: connection
   * errors, 5xx and 429 (an engine restarting), and a lora_path the engine cannot see yet (vLLM's 404 "No
   * adapter found": a shared filesystem that has not shown the new folder yet). Not retried: a rank above
   * --max-lora-rank (vLLM answers 500 for it) and other 4xx. Returns the last answer.
   */
  private async post(url: string, endpoint: string, body: object, what: string): Promise<Answer> {
    let delay = this.cfg.backoffMs;
    let since: number | undefined;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        const a = await this.request(url, endpoint, body);
        if (a.status >= 200 && a.status < 300) return a;
        const message = errorMessageOf(a.text) ?? '';
        const notVisible = /no adapter found|no such file|does not exist|not found/i.test(message) && (a.status === 404 || a.status === 400);
        const transient = (a.status >= 500 || a.status === 429) && !/max_lora_rank/i.test(message);
        if (!notVisible && !transient) return a;
        failure = `HTTP ${a.status}: ${message.slice(0, 500)}`;
      } catch (e) {
        failure = `connection failed (${(e as Error).message}${(e as Error).cause instanceof Error ? `: ${((e as Error).cause as Error).message}` : ''})`;
      }
      since ??= Date.now();
      if (!mayRetry(this.cfg, attempt, since)) throw new EngineError(`${failure} (gave up after ${attempt + 1} attempts in ${((Date.now() - since) / 1000).toFixed(1)} s)`, url, what, undefined, true);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.cfg.maxBackoffMs);
    }
  }
}
