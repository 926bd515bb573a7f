// Server mode's link to the engines: the policy's LoRA adapter, written in PEFT format after each update
// (run folder: adapters/step-N) and loaded into every engine under a new name (`${prefix}-step-N`, vLLM's
// /v1/load_lora_adapter), the previous version unloaded; rollouts then sample under that name.
//
// A restarted engine has forgotten its adapters: a completions request naming the current version gets
// 404, so the version is loaded again and the same request re-sent. Re-sending is safe: every request
// carries its own seed (src/engine/remote.ts), so a retry replaces, never appends — the rollout is the one
// the engine would have given the first time, and nothing is logged twice.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../engine/errors.js';
import { makeRemoteSampler, type RemoteSampler } from '../engine/remote.js';
import { LlamaModel } from '../model/llama.js';
import type { Policy } from '../model/policy.js';
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

export class EngineSync {
  private version?: Version;
  private sampler?: RemoteSampler;
  /** Adapter (re)loads after an engine forgot the current version (restarts seen). */
  reloads = 0;

  constructor(
    readonly cfg: EngineConfig,
    private readonly sampling: SamplingParams,
    /** Where adapter versions are written (the run folder's adapters/); must be readable by the engines. */
    readonly adaptersDir: string,
    private readonly policy: LlamaModel,
    private readonly log: (line: string) => void = () => {},
  ) {
    // the key may stay out of config.json (which the run folder keeps): $IGRPO_ENGINE_API_KEY
    this.apiKey = cfg.apiKey ?? (process.env.IGRPO_ENGINE_API_KEY || undefined);
  }

  private readonly apiKey: string | undefined;

  /** The name rollouts sample under now (after publish). */
  get current(): string | undefined {
    return this.version?.name;
  }

  /**
   * Make the engines serve the policy's adapter as it is after `step` updates: write it, load it under
   * a new name, unload (and delete) the previous version. Idempotent for the same step.
   */
  async publish(step: number): Promise<string> {
    if (this.version?.step === step) return this.version.name;
    const next: Version = { step, name: `${this.cfg.adapterPrefix}-step-${step}`, dir: path.join(this.adaptersDir, `step-${step}`) };
    await this.policy.saveAdapter(next.dir, this.cfg.model);
    await this.loadEverywhere(next);
    const prev = this.version;
    this.version = next;
    this.sampler = makeRemoteSampler({
      urls: this.cfg.urls, model: next.name, apiKey: this.apiKey, temperature: this.sampling.temperature, topK: this.sampling.topK, topP: this.sampling.topP,
      maxConcurrency: this.cfg.maxConcurrency, promptsPerRequest: this.cfg.promptsPerRequest, timeoutMs: this.cfg.timeoutMs,
      retries: this.cfg.retries, backoffMs: this.cfg.backoffMs, maxBackoffMs: this.cfg.maxBackoffMs,
    });
    if (prev) {
      await this.unloadEverywhere(prev.name);
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
        if (!(e instanceof EngineError && e.status === 404) || attempt >= 3) throw e;
        this.reloads++;
        this.log(`engine ${e.server} does not know ${this.version.name} (restarted?): loading it again`);
        await this.loadEverywhere(this.version);
      }
    }
  };

  private async loadEverywhere(v: Version): Promise<void> {
    await Promise.all(
      this.cfg.urls.map((url) =>
        this.post(url, 'load_lora_adapter', { lora_name: v.name, lora_path: path.resolve(v.dir) }, (status, text) => status === 400 && /already been loaded/i.test(text)),
      ),
    );
  }

  private async unloadEverywhere(name: string): Promise<void> {
    // an engine that restarted since has nothing to unload: 404 is fine
    await Promise.all(this.cfg.urls.map((url) => this.post(url, 'unload_lora_adapter', { lora_name: name }, (status) => status === 404)));
  }

  /** POST to an engine's runtime-LoRA endpoint, retrying connection errors and 5xx with backoff (an engine restarting). */
  private async post(url: string, endpoint: string, body: object, fine: (status: number, text: string) => boolean): Promise<void> {
    const target = `${url.replace(/\/+$/, '')}/${endpoint}`;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) };
    let delay = this.cfg.backoffMs;
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        const r = await fetch(target, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.cfg.timeoutMs) });
        const text = await r.text();
        if (r.ok || fine(r.status, text)) return;
        failure = `HTTP ${r.status}: ${text.slice(0, 500)}`;
        if (r.status < 500 && r.status !== 429) throw new EngineError(failure, url, `${endpoint} ${JSON.stringify(body)}`, r.status);
      } catch (e) {
        if (e instanceof EngineError) throw e;
        failure = `connection failed (${(e as Error).message}${(e as Error).cause instanceof Error ? `: ${((e as Error).cause as Error).message}` : ''})`;
      }
      if (attempt >= this.cfg.retries) throw new EngineError(`${failure} (after ${attempt + 1} attempts)`, url, `${endpoint} ${JSON.stringify(body)}`, undefined, true);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.cfg.maxBackoffMs);
    }
  }
}
