// config.json of a Hugging Face Llama-family causal LM (LlamaForCausalLM — SmolLM2 is one —,
// Qwen2ForCausalLM, Qwen3ForCausalLM) → one normalised config the Llama policy runs on.
//
// Both config forms are accepted: the older one (`rope_theta`, `rope_scaling`, `torch_dtype`) and the
// one newer transformers writes (`rope_parameters: {rope_theta, rope_type, ...}`, `dtype`,
// `layer_types`). Anything this implementation would compute differently from transformers (another
// rope type, a sliding window actually in use, an unknown architecture) is an error naming the field,
// never a silent guess. Unknown extra keys are allowed (config.json files carry many we don't need).
import { z } from 'zod';
import { formatIssues } from '../util/validate.js';

export const LLAMA_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'] as const;
export type LlamaFamily = 'llama' | 'qwen2' | 'qwen3';

const posInt = z.number().int().positive();
const idField = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish();

const RopeSchema = z
  .object({
    rope_type: z.string().optional(),
    type: z.string().optional(), // the oldest configs spell rope_type as `type`
    rope_theta: z.number().positive().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().positive().optional(),
    high_freq_factor: z.number().positive().optional(),
    original_max_position_embeddings: posInt.optional(),
  })
  .passthrough();

/** The fields of config.json we read; the rest is kept (passthrough) and ignored. */
export const HFConfigSchema = z
  .object({
    architectures: z.array(z.string()).optional(),
    model_type: z.string().optional(),
    vocab_size: posInt,
    hidden_size: posInt,
    intermediate_size: posInt,
    num_hidden_layers: posInt,
    num_attention_heads: posInt,
    num_key_value_heads: posInt.nullish(),
    head_dim: posInt.nullish(),
    hidden_act: z.string().default('silu'),
    max_position_embeddings: posInt.default(2048),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().optional(),
    rope_scaling: RopeSchema.nullish(),
    rope_parameters: RopeSchema.nullish(),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().default(false),
    tie_word_embeddings: z.boolean().default(false),
    use_sliding_window: z.boolean().optional(),
    sliding_window: z.number().int().nullish(),
    max_window_layers: z.number().int().optional(),
    layer_types: z.array(z.string()).optional(),
    bos_token_id: idField,
    eos_token_id: idField,
    torch_dtype: z.string().nullish(),
    dtype: z.string().nullish(),
    attention_dropout: z.number().optional(),
    pretraining_tp: z.number().int().optional(),
  })
  .passthrough();

export type HFConfigJSON = z.infer<typeof HFConfigSchema>;

export interface RopeConfig {
  theta: number;
  type: 'default' | 'llama3';
  /** llama3 scaling (modeling_rope_utils.py::_compute_llama3_parameters). */
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

/** The normalised config every part of the Llama policy reads. */
export interface LlamaConfig {
  family: LlamaFamily;
  architecture: string;
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rmsEps: number;
  rope: RopeConfig;
  /** q/k/v projections carry biases (Qwen2 always; `attention_bias` otherwise; o_proj follows attention_bias). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Qwen3: per-head RMSNorm of q and k (weights [headDim]) after the projection, before RoPE. */
  qkNorm: boolean;
  tieEmbeddings: boolean;
  maxPositions: number;
  bosId?: number;
  eosIds: number[];
  /** The checkpoint's dtype as config.json states it (informational; weights load as fp32). */
  dtype?: string;
  /** The config.json object as read, so save() writes it back with its own fields. */
  raw: Record<string, unknown>;
}

/** Parse config.json content; every error names `source` (the file) and the field. */
export function parseHFConfig(raw: unknown, source = 'config.json'): LlamaConfig {
  const fail = (field: string, why: string): never => {
    throw new Error(`${source}: ${field}: ${why}`);
  };
  const r = HFConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`${source}: ${formatIssues(r.error)}`);
  const c = r.data;
  const family = familyOf(c, fail);
  const architecture = c.architectures?.[0] ?? { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[family];

  if (c.hidden_act !== 'silu') fail('hidden_act', `'${c.hidden_act}' is not supported (the Llama family uses silu)`);
  if (c.pretraining_tp !== undefined && c.pretraining_tp !== 1) fail('pretraining_tp', `${c.pretraining_tp} is not supported (only 1)`);
  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads ?? heads;
  if (heads % kvHeads !== 0) fail('num_key_value_heads', `${kvHeads} does not divide num_attention_heads ${heads}`);
  const headDim = c.head_dim ?? c.hidden_size / heads;
  if (!Number.isInteger(headDim)) fail('hidden_size', `${c.hidden_size} is not divisible by num_attention_heads ${heads} and no head_dim is given`);
  if (headDim % 2 !== 0) fail('head_dim', `${headDim} is odd; rotary embeddings need an even head size`);
  checkSlidingWindow(c, fail);
  if (c.layer_types) {
    if (c.layer_types.length !== c.num_hidden_layers) fail('layer_types', `${c.layer_types.length} entries for ${c.num_hidden_layers} layers`);
    const i = c.layer_types.findIndex((t) => t !== 'full_attention');
    if (i >= 0) fail(`layer_types[${i}]`, `'${c.layer_types[i]}' is not supported (only full_attention)`);
  }
  const eos = c.eos_token_id;
  return {
    family,
    architecture,
    vocabSize: c.vocab_size,
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads,
    headDim,
    rmsEps: c.rms_norm_eps,
    rope: ropeOf(c, fail),
    qkvBias: family === 'qwen2' ? true : (c.attention_bias ?? false),
    oBias: family === 'qwen2' ? false : (c.attention_bias ?? false),
    mlpBias: c.mlp_bias,
    qkNorm: family === 'qwen3',
    tieEmbeddings: c.tie_word_embeddings,
    maxPositions: c.max_position_embeddings,
    bosId: typeof c.bos_token_id === 'number' ? c.bos_token_id : (c.bos_token_id?.[0] ?? undefined),
    eosIds: eos === null || eos === undefined ? [] : typeof eos === 'number' ? [eos] : eos,
    dtype: c.dtype ?? c.torch_dtype ?? undefined,
    raw: raw as Record<string, unknown>,
  };
}

function familyOf(c: HFConfigJSON, fail: (f: string, w: string) => never): LlamaFamily {
  const byArch: Record<string, LlamaFamily> = { LlamaForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3' };
  const byType: Record<string, LlamaFamily> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };
  if (c.architectures && c.architectures.length) {
    if (c.architectures.length !== 1) fail('architectures', `expected one architecture, got ${JSON.stringify(c.architectures)}`);
    const f = byArch[c.architectures[0]];
    if (!f) fail('architectures', `'${c.architectures[0]}' is not supported (supported: ${LLAMA_ARCHITECTURES.join(', ')})`);
    if (c.model_type && byType[c.model_type] !== f) fail('model_type', `'${c.model_type}' does not match architecture ${c.architectures[0]}`);
    return f;
  }
  if (c.model_type && byType[c.model_type]) return byType[c.model_type];
  return fail(c.model_type ? 'model_type' : 'architectures', c.model_type ? `'${c.model_type}' is not supported (llama, qwen2, qwen3)` : 'missing (and no model_type)');
}

/** A sliding window in use changes attention; transformers' Qwen2/3 only use it with use_sliding_window. */
function checkSlidingWindow(c: HFConfigJSON, fail: (f: string, w: string) => never): void {
  if (c.use_sliding_window && c.sliding_window !== null && c.sliding_window !== undefined && c.sliding_window > 0) {
    // Qwen2: layers below max_window_layers use full attention; a window only matters past it, and only
    // if it is shorter than the positions a sequence can reach.
    const windowed = c.max_window_layers === undefined || c.max_window_layers < c.num_hidden_layers;
    if (windowed && c.sliding_window < c.max_position_embeddings) {
      fail('use_sliding_window', `sliding-window attention (sliding_window ${c.sliding_window}) is not supported`);
    }
  }
}

function ropeOf(c: HFConfigJSON, fail: (f: string, w: string) => never): RopeConfig {
  // new form: rope_parameters carries the theta; old form: rope_theta beside an optional rope_scaling
  const field = c.rope_parameters ? 'rope_parameters' : 'rope_scaling';
  const p = c.rope_parameters ?? c.rope_scaling ?? undefined;
  const theta = c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000;
  const type = p?.rope_type ?? p?.type ?? 'default';
  if (type === 'default') return { theta, type: 'default' };
  if (type !== 'llama3') fail(`${field}.rope_type`, `'${type}' is not supported (default, llama3)`);
  const need = (k: 'factor' | 'low_freq_factor' | 'high_freq_factor' | 'original_max_position_embeddings'): number =>
    p![k] ?? fail(`${field}.${k}`, 'missing (llama3 rope scaling needs factor, low_freq_factor, high_freq_factor, original_max_position_embeddings)');
  const rope: RopeConfig = {
    theta,
    type: 'llama3',
    factor: need('factor'),
    lowFreqFactor: need('low_freq_factor'),
    highFreqFactor: need('high_freq_factor'),
    originalMaxPositions: need('original_max_position_embeddings'),
  };
  if (rope.highFreqFactor! <= rope.lowFreqFactor!) fail(`${field}.high_freq_factor`, 'must be larger than low_freq_factor');
  return rope;
}

/**
 * inv_freq[i] = 1 / θ^(2i/d), i < d/2, with llama3 scaling applied (transformers'
 * _compute_default_rope_parameters / _compute_llama3_parameters), in float64 then rounded once.
 */
export function ropeInvFreq(rope: RopeConfig, headDim: number): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  // transformers computes inv_freq in float32: 1 / (base ** (arange(0, dim, 2).float() / dim))
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(rope.theta ** Math.fround((2 * i) / headDim)));
  if (rope.type !== 'llama3') return inv;
  const factor = rope.factor!;
  const low = rope.lowFreqFactor!;
  const high = rope.highFreqFactor!;
  const orig = rope.originalMaxPositions!;
  const lowWavelen = orig / low;
  const highWavelen = orig / high;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    let v = wavelen > lowWavelen ? inv[i] / factor : inv[i];
    const smooth = (orig / wavelen - low) / (high - low);
    const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (medium) v = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
    inv[i] = Math.fround(v);
  }
  return inv;
}
