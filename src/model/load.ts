// Load a policy: one entry point for every kind of model folder the toolkit knows.
//   - the toolkit's own GPT checkpoint (config.json with modelType 'gpt', model.safetensors, tokenizer.json);
//   - a Hugging Face Llama/Qwen2/Qwen3/SmolLM2 folder (config.json with model_type / architectures);
//   - a hub id ORG/NAME[@revision], resolved offline in the standard HF cache (see hub.ts).
// A HF folder holding `adapter/` (what a LoRA training run checkpoints: base + PEFT adapter) loads with
// its adapter on, so a run's checkpoint comes back as the policy that was being trained.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataPath } from '../paths.js';
import { tokenizerFromJSON } from '../tokenizer/index.js';
import { parseGPTConfig } from './config.js';
import { CHECKPOINT_FILES, readPolicyFiles } from './checkpoint.js';
import { GPT } from './gpt.js';
import { loadPretrained } from './hf.js';
import { type ResolveOptions, parseHubId, resolveModelDir } from './hub.js';
import type { LlamaModel } from './llama.js';
import type { LoraConfigInput } from './lora.js';
import type { Policy } from './policy.js';

/** The GPT checkpoint saved in dir. Every file is validated; errors name the file at fault. */
export function loadGPT(dir: string): GPT {
  const files = readPolicyFiles(dir);
  const configFile = path.join(dir, CHECKPOINT_FILES.config);
  const config = parseGPTConfig(files.config, configFile);
  const tokenizer = tokenizerFromJSON(files.tokenizer, path.join(dir, CHECKPOINT_FILES.tokenizer));
  try {
    return new GPT(config, tokenizer, files.weights);
  } catch (e) {
    throw new Error(`${path.join(dir, CHECKPOINT_FILES.weights)}: ${(e as Error).message}`);
  }
}

export type ModelKind = 'gpt' | 'hf';

/** Which loader a folder needs: a HF config.json names model_type or architectures; the GPT's does not. */
export function modelKind(dir: string): ModelKind {
  const file = path.join(dir, CHECKPOINT_FILES.config);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`checkpoint folder ${dir} does not exist`);
  if (!fs.existsSync(file)) throw new Error(`checkpoint file ${file} is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  return 'model_type' in o || 'architectures' in o ? 'hf' : 'gpt';
}

/** The PEFT adapter folder a LoRA run writes beside the base weights of its checkpoint. */
export const ADAPTER_SUBDIR = 'adapter';

export interface LoadPolicyOptions {
  /** A PEFT adapter folder to load on top (HF models only); default: `<dir>/adapter` when present. */
  adapter?: string;
  /** Turn LoRA on with fresh adapters after loading (HF models only; not with an adapter). */
  lora?: LoraConfigInput;
  /** Ignore `<dir>/adapter` (load the base alone). */
  noAdapter?: boolean;
  /** Where hub ids are looked up (default: the standard cache from the environment). */
  resolve?: ResolveOptions;
}

/** The folder of spec: an existing directory, else a hub id in the HF cache (the error names both). */
export function resolvePolicySpec(spec: string, resolve?: ResolveOptions): string {
  // a path-shaped spec (absolute, ./, ../, ~, or not an ORG/NAME) stays a path: its loader names what is missing
  if (path.isAbsolute(spec) || /^(\.{1,2}|~)(\/|$)/.test(spec) || !parseHubId(spec)) return path.resolve(spec);
  return resolveModelDir(spec, resolve);
}

/**
 * The policy at spec — a GPT checkpoint folder, a HF model folder, or ORG/NAME[@revision] in the HF
 * cache — as the right Policy (GPT or LlamaModel), with a LoRA adapter when asked or checkpointed.
 */
export function loadPolicy(spec: string, opts: LoadPolicyOptions = {}): Policy {
  const dir = resolvePolicySpec(spec, opts.resolve);
  if (modelKind(dir) === 'gpt') {
    const what = opts.adapter ? 'an adapter' : opts.lora ? 'LoRA' : undefined;
    if (what) throw new Error(`${path.join(dir, CHECKPOINT_FILES.config)}: a GPT checkpoint takes no ${what} (LoRA is for Hugging Face Llama-family models)`);
    return loadGPT(dir);
  }
  return loadLlamaPolicy(dir, opts);
}

/** A HF folder as a LlamaModel, its adapter (option, or `<dir>/adapter`) on, or fresh LoRA when asked. */
export function loadLlamaPolicy(dir: string, opts: LoadPolicyOptions = {}): LlamaModel {
  const own = path.join(dir, ADAPTER_SUBDIR);
  const adapter = opts.adapter ?? (!opts.noAdapter && fs.existsSync(path.join(own, 'adapter_config.json')) ? own : undefined);
  if (adapter && opts.lora) throw new Error(`${adapter}: an adapter is loaded already; fresh LoRA (lora option) and an adapter exclude each other`);
  const model = loadPretrained(dir, { adapter });
  if (opts.lora) {
    try {
      model.enableLora(opts.lora);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

/** Save any policy to dir (same as policy.save(dir)). */
export function savePolicy(policy: Policy, dir: string): Promise<void> {
  return policy.save(dir);
}

/** A policy folder from a config's `policy` field: 'embedded' is the shipped data/policy. */
export function resolvePolicyDir(spec: string): string {
  return spec === 'embedded' ? dataPath('policy') : resolvePolicySpec(spec);
}
