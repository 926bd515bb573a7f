// LoRA adapters for the Llama family, saved and loaded in PEFT's format so PEFT, vLLM and SGLang read
// them: adapter_config.json + adapter_model.safetensors with keys
// base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight [out, r], <module> an HF module path
// (model.layers.{i}.self_attn.q_proj). The update is W + (alpha / r)·B·A; B starts at zero, so a fresh
// adapter leaves the model unchanged; A is seeded like PEFT's kaiming_uniform(a=√5): U(±1/√in).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { Rng } from '../util/rng.js';
import { writeDirAtomic } from '../util/atomic.js';
import { formatIssues } from '../util/validate.js';
import type { NamedTensor } from './safetensors.js';
import { type TensorEntry, encodeSafetensorsAs, readSafetensorsHeader, readTensor } from './safetensors-file.js';

import { LORA_TARGETS, type LoraTarget } from './lora-targets.js';

export { LORA_TARGETS, type LoraTarget };

export const LoraConfigSchema = z
  .object({
    r: z.number().int().positive(),
    alpha: z.number().positive(),
    /** Only 0 is implemented (the RL setting: dropout would make the ratio's two passes differ). */
    dropout: z.literal(0).default(0),
    targetModules: z.array(z.enum(LORA_TARGETS)).nonempty(),
    /** Seed of A's init. */
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();
export type LoraConfig = z.infer<typeof LoraConfigSchema>;
export type LoraConfigInput = z.input<typeof LoraConfigSchema>;

export const ADAPTER_FILES = { config: 'adapter_config.json', weights: 'adapter_model.safetensors' } as const;

/** A linear layer an adapter can attach to: its HF module path and [out, in] size. */
export interface LinearModule {
  module: string;
  target: LoraTarget;
  inFeatures: number;
  outFeatures: number;
}

export interface LoraPair {
  a: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R2>;
}

const peftKey = (module: string, ab: 'A' | 'B') => `base_model.model.${module}.lora_${ab}.weight`;

export class LoraAdapters {
  readonly config: LoraConfig;
  private readonly pairs = new Map<string, LoraPair>();

  /** Adapters on every module whose target is in config.targetModules; weights (PEFT keys) or a fresh init. */
  constructor(config: LoraConfigInput, modules: readonly LinearModule[], weights?: (key: string) => NamedTensor | undefined) {
    this.config = parseLoraConfig(config);
    const targets = new Set<string>(this.config.targetModules);
    const rng = new Rng(this.config.seed);
    const r = this.config.r;
    for (const m of modules) {
      if (!targets.has(m.target)) continue;
      const load = (ab: 'A' | 'B', shape: number[]): Float32Array => {
        const key = peftKey(m.module, ab);
        if (!weights) {
          const data = new Float32Array(shape[0] * shape[1]);
          if (ab === 'A') {
            const bound = 1 / Math.sqrt(m.inFeatures);
            for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * bound;
          }
          return data;
        }
        const t = weights(key);
        if (!t) throw new Error(`adapter tensor '${key}' is missing`);
        if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
          throw new Error(`adapter tensor '${key}' has shape [${t.shape}], the model and r=${r} need [${shape}]`);
        }
        return t.data;
      };
      const a = toVariable(load('A', [r, m.inFeatures]), [r, m.inFeatures]);
      const b = toVariable(load('B', [m.outFeatures, r]), [m.outFeatures, r]);
      this.pairs.set(m.module, { a, b });
    }
    if (this.pairs.size === 0) throw new Error(`LoRA: no module of the model matches targetModules ${this.config.targetModules.join(', ')}`);
  }

  /** alpha / r, the factor on B·A. */
  get scale(): number {
    return this.config.alpha / this.config.r;
  }

  get(module: string): LoraPair | undefined {
    return this.pairs.get(module);
  }

  modules(): string[] {
    return [...this.pairs.keys()];
  }

  /** A then B of each module, in module order (stable: optimizer state relies on it). */
  parameters(): tf.Variable[] {
    return [...this.pairs.values()].flatMap((p) => [p.a, p.b]);
  }

  /** Tensors under PEFT's keys. */
  async peftTensors(): Promise<[string, NamedTensor][]> {
    const out: [string, NamedTensor][] = [];
    for (const [m, p] of this.pairs) {
      out.push([peftKey(m, 'A'), { data: (await p.a.data()) as Float32Array, shape: p.a.shape }]);
      out.push([peftKey(m, 'B'), { data: (await p.b.data()) as Float32Array, shape: p.b.shape }]);
    }
    return out;
  }

  /** x [N, in] → scale · (x·Aᵀ)·Bᵀ [N, out]: the adapter's addition to the base projection. */
  delta(module: string, x: tf.Tensor2D): tf.Tensor2D | undefined {
    const p = this.pairs.get(module);
    if (!p) return undefined;
    // the scale goes on the [N, r] product, not the [N, out] result: the same sum, r/out of the work
    return tf.tidy(() => tf.matMul(tf.mul(tf.matMul(x, p.a, false, true), this.scale), p.b, false, true) as tf.Tensor2D);
  }

  /** scale · B·A [out, in], the update merge() adds to W. */
  mergedDelta(module: string): tf.Tensor2D {
    const p = this.pairs.get(module)!;
    return tf.tidy(() => tf.mul(tf.matMul(p.b, p.a), this.scale) as tf.Tensor2D);
  }

  dispose(): void {
    for (const p of this.pairs.values()) {
      p.a.dispose();
      p.b.dispose();
    }
    this.pairs.clear();
  }
}

/** A trainable variable holding data (the initial tensor is freed: the variable keeps its own copy). */
function toVariable(data: Float32Array, shape: [number, number]): tf.Variable<tf.Rank.R2> {
  const t = tf.tensor2d(data, shape);
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

export function parseLoraConfig(raw: unknown, source = 'LoRA config'): LoraConfig {
  const r = LoraConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`invalid ${source}: ${formatIssues(r.error)}`);
  return r.data;
}

/** adapter_config.json as PEFT writes it for a LoRA on a causal LM. */
export function peftAdapterConfig(cfg: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: cfg.r,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    target_modules: [...cfg.targetModules],
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_rslora: false,
    use_dora: false,
  };
}

/** Write adapter_config.json + adapter_model.safetensors (F32) to dir atomically. */
export async function savePeftAdapter(dir: string, adapters: LoraAdapters, baseModel: string): Promise<void> {
  const tensors = await adapters.peftTensors();
  writeDirAtomic(dir, {
    [ADAPTER_FILES.config]: JSON.stringify(peftAdapterConfig(adapters.config, baseModel), null, 2) + '\n',
    [ADAPTER_FILES.weights]: encodeSafetensorsAs(tensors, 'F32'),
  });
}

const PeftConfigSchema = z
  .object({
    peft_type: z.literal('LORA'),
    r: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    lora_dropout: z.number().min(0).max(1).default(0),
    target_modules: z.union([z.array(z.string()), z.string()]),
    bias: z.literal('none').default('none'),
    fan_in_fan_out: z.literal(false).default(false),
    use_rslora: z.literal(false).default(false),
    use_dora: z.literal(false).default(false),
    modules_to_save: z.null().optional(),
    layers_to_transform: z.null().optional(),
    rank_pattern: z.record(z.unknown()).refine((o) => Object.keys(o).length === 0, 'per-module ranks are not supported').optional(),
    alpha_pattern: z.record(z.unknown()).refine((o) => Object.keys(o).length === 0, 'per-module alphas are not supported').optional(),
    base_model_name_or_path: z.string().nullish(),
  })
  .passthrough();

/**
 * A PEFT adapter folder: its LoRA config (dropout is a training setting, read as 0 here) and a reader of
 * its tensors by PEFT key. Errors name the file and field or tensor.
 */
export function readPeftAdapter(dir: string): { config: LoraConfig; baseModel?: string; tensor: (key: string) => NamedTensor | undefined; keys: string[] } {
  const cfgFile = path.join(dir, ADAPTER_FILES.config);
  const wFile = path.join(dir, ADAPTER_FILES.weights);
  if (!fs.existsSync(cfgFile)) throw new Error(`${cfgFile} is missing`);
  if (!fs.existsSync(wFile)) throw new Error(`${wFile} is missing (only safetensors adapters are loaded)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new Error(`${cfgFile}: not valid JSON (${(e as Error).message})`);
  }
  const r = PeftConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`${cfgFile}: ${formatIssues(r.error)}`);
  const p = r.data;
  let targets: string[];
  if (typeof p.target_modules === 'string') {
    if (p.target_modules !== 'all-linear') throw new Error(`${cfgFile}: target_modules: a regular expression ('${p.target_modules}') is not supported; give a list`);
    targets = [...LORA_TARGETS];
  } else targets = p.target_modules;
  const bad = targets.find((t) => !(LORA_TARGETS as readonly string[]).includes(t));
  if (bad) throw new Error(`${cfgFile}: target_modules: '${bad}' is not supported (${LORA_TARGETS.join(', ')})`);
  const config = parseLoraConfig({ r: p.r, alpha: p.lora_alpha, targetModules: targets }, cfgFile);
  const { tensors } = readSafetensorsHeader(wFile);
  // PEFT sometimes saves keys with the adapter name (".lora_A.default.weight"); accept both spellings
  const byKey = new Map<string, TensorEntry>();
  for (const [k, e] of tensors) byKey.set(k.replace(/\.lora_([AB])\.default\.weight$/, '.lora_$1.weight'), e);
  return {
    config,
    baseModel: p.base_model_name_or_path ?? undefined,
    keys: [...byKey.keys()],
    tensor: (key) => {
      const e = byKey.get(key);
      return e ? readTensor(e) : undefined;
    },
  };
}
