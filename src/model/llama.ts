// The Llama family (Llama 2/3.x, SmolLM2, Qwen2/2.5, Qwen3) as a Policy, following transformers'
// modeling_llama.py, modeling_qwen2.py and modeling_qwen3.py:
//
//   x = embed_tokens(ids)
//   per layer: x += o_proj(attn(rope(q_norm?(q_proj(n))), rope(k_norm?(k_proj(n))), v_proj(n))), n = rmsnorm(x)
//              x += down_proj(silu(gate_proj(n)) · up_proj(n)),                               n = rmsnorm(x)
//   logits = norm(x)·Wᵀ, W = lm_head or the tied embed_tokens
//
// Weights keep their Hugging Face names and [out, in] layout (x·Wᵀ inside the matMul kernel), so a
// checkpoint loads and saves without renaming or transposing. Attention is grouped-query: the cache
// keeps Hkv heads, and kv heads are expanded to H in one place (expandKv) until fused GQA kernels take
// them as they are. The KV cache is the GPT's (kvcache.ts): a prompt prefix shared by a group's rows
// plus each row's generated suffix. LoRA adapters (lora.ts) sit beside the base projections; with them
// on only the adapters are trainable, and reference() is the base model (adapters off) sharing weights.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { causalAttention, decodeAttention, embedding } from '../ops/index.js';
import { applyRope, rmsNorm, ropeTables, swiglu } from '../ops/llm.js';
import { recompute } from '../ops/recompute.js';
import { headTokenLogProbs, type HeadLogProbOptions } from './logprobs.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { Rng } from '../util/rng.js';
import { type LlamaConfig, ropeInvFreq } from './hf-config.js';
import { GPTKVCache, type LayerKV, asGPTCache } from './kvcache.js';
import { LORA_TARGETS, type LinearModule, LoraAdapters, type LoraConfigInput, type LoraTarget, readPeftAdapter, savePeftAdapter } from './lora.js';
import type { KVCache, Policy } from './policy.js';
import type { NamedTensor } from './safetensors.js';

export interface LlamaParamSpec {
  name: string;
  shape: number[];
  init: 'normal' | 'zeros' | 'ones';
}

/** Every tensor of a checkpoint for this config, with HF names, in a stable order. */
export function llamaParamSpecs(c: LlamaConfig): LlamaParamSpec[] {
  const d = c.hidden;
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  const specs: LlamaParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, d], init: 'normal' }];
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}.`;
    const lin = (name: string, out: number, inp: number, bias: boolean) => {
      specs.push({ name: `${p}${name}.weight`, shape: [out, inp], init: 'normal' });
      if (bias) specs.push({ name: `${p}${name}.bias`, shape: [out], init: 'zeros' });
    };
    specs.push({ name: `${p}input_layernorm.weight`, shape: [d], init: 'ones' });
    lin('self_attn.q_proj', qd, d, c.qkvBias);
    lin('self_attn.k_proj', kvd, d, c.qkvBias);
    lin('self_attn.v_proj', kvd, d, c.qkvBias);
    lin('self_attn.o_proj', d, qd, c.oBias);
    if (c.qkNorm) {
      specs.push({ name: `${p}self_attn.q_norm.weight`, shape: [c.headDim], init: 'ones' });
      specs.push({ name: `${p}self_attn.k_norm.weight`, shape: [c.headDim], init: 'ones' });
    }
    specs.push({ name: `${p}post_attention_layernorm.weight`, shape: [d], init: 'ones' });
    lin('mlp.gate_proj', c.intermediate, d, c.mlpBias);
    lin('mlp.up_proj', c.intermediate, d, c.mlpBias);
    lin('mlp.down_proj', d, c.intermediate, c.mlpBias);
  }
  specs.push({ name: 'model.norm.weight', shape: [d], init: 'ones' });
  if (!c.tieEmbeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], init: 'normal' });
  return specs;
}

/** The linear layers LoRA may target, by HF module path. */
export function llamaLinearModules(c: LlamaConfig): LinearModule[] {
  const out: LinearModule[] = [];
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  const sizes: Record<LoraTarget, [string, number, number]> = {
    q_proj: ['self_attn', c.hidden, qd],
    k_proj: ['self_attn', c.hidden, kvd],
    v_proj: ['self_attn', c.hidden, kvd],
    o_proj: ['self_attn', qd, c.hidden],
    gate_proj: ['mlp', c.hidden, c.intermediate],
    up_proj: ['mlp', c.hidden, c.intermediate],
    down_proj: ['mlp', c.intermediate, c.hidden],
  };
  for (let i = 0; i < c.layers; i++) {
    for (const t of LORA_TARGETS) {
      const [part, inF, outF] = sizes[t];
      out.push({ module: `model.layers.${i}.${part}.${t}`, target: t, inFeatures: inF, outFeatures: outF });
    }
  }
  return out;
}

/** Where a forward pass's tokens sit: every row at start..start+T-1, or (decoding) one position per row. */
type Positions = { start: number } | { perRow: number[] };

export interface LlamaOptions {
  /** Rows of logits computed at once in tokenLogProbs (memory: chunkRows × vocab floats). */
  logProbChunkRows?: number;
  /** Seed of the random init when no weights are given. */
  seed?: number;
  /**
   * Recompute each decoder layer in the backward instead of keeping its activations (transformers'
   * gradient_checkpointing; src/ops/recompute.ts): the step holds one [tokens, hidden] input per layer
   * instead of every activation, for about one more forward of compute. Default off, as in transformers.
   */
  gradientCheckpointing?: boolean;
}

/** Makes the initial tensor of a parameter (from a checkpoint, a clone, or a random init). */
export type ParamSource = (spec: LlamaParamSpec) => tf.Tensor;

export class LlamaModel implements Policy {
  readonly config: LlamaConfig;
  readonly tokenizer: Tokenizer;
  /** Rows of logits per chunk in tokenLogProbs. */
  logProbChunkRows: number | undefined;
  /** Recompute layers in the backward (LlamaOptions.gradientCheckpointing); may be switched at any time. */
  gradientCheckpointing: boolean;
  /** The folder the model was loaded from: save() copies its tokenizer and generation files. */
  sourceDir?: string;
  private readonly specs: LlamaParamSpec[];
  private readonly vars = new Map<string, tf.Variable>();
  private readonly invFreq: Float64Array;
  private lora: LoraAdapters | null = null;
  private adaptersOff = 0;
  private disposed = false;

  /** A model for this config: parameters from `source`, or a seeded N(0, 0.02²) init. */
  constructor(config: LlamaConfig, tokenizer: Tokenizer, source?: ParamSource, opts: LlamaOptions = {}) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.logProbChunkRows = opts.logProbChunkRows; // default: a chunk's logits stay under 2^26 floats
    this.gradientCheckpointing = opts.gradientCheckpointing ?? false;
    if (config.vocabSize < tokenizer.vocabSize) {
      throw new Error(`the tokenizer's vocabulary (${tokenizer.vocabSize}) does not fit the model's embedding (vocab_size ${config.vocabSize})`);
    }
    this.specs = llamaParamSpecs(config);
    this.invFreq = ropeInvFreq(config.rope, config.headDim);
    const make = source ?? randomSource(opts.seed ?? 0);
    try {
      for (const s of this.specs) {
        const t = make(s);
        if (t.shape.length !== s.shape.length || t.shape.some((n, i) => n !== s.shape[i])) {
          t.dispose();
          throw new Error(`weight '${s.name}' has shape [${t.shape}], the config needs [${s.shape}]`);
        }
        this.vars.set(s.name, tf.variable(t, true));
        t.dispose();
      }
    } catch (e) {
      for (const v of this.vars.values()) v.dispose();
      throw e;
    }
  }

  get maxSeqLen(): number {
    return this.config.maxPositions;
  }

  /** Trainable parameters: the LoRA adapters when they are on, else every base weight. */
  parameters(): tf.Variable[] {
    return this.lora ? this.lora.parameters() : this.baseParameters();
  }

  /** The base weights in checkpoint order (whatever is trainable). */
  baseParameters(): tf.Variable[] {
    return this.specs.map((s) => this.vars.get(s.name)!);
  }

  /** Base weights by HF name, in checkpoint order. */
  namedParameters(): [string, tf.Variable][] {
    return this.specs.map((s) => [s.name, this.vars.get(s.name)!]);
  }

  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  logits(ids: tf.Tensor2D): tf.Tensor3D {
    const [b, t] = ids.shape;
    return tf.tidy(() => {
      const { hidden } = this.forward(ids, { start: 0 });
      return tf.matMul(hidden, this.headWeight(), false, true).reshape([b, t, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** [B, T] → [B, T-1] log p(ids[t+1] | ids[..t]) at temperature τ (logits / τ), logits computed in row chunks. */
  tokenLogProbs(ids: tf.Tensor2D, opts: HeadLogProbOptions = {}): tf.Tensor2D {
    const [b, t] = ids.shape;
    if (t < 2) throw new Error(`tokenLogProbs needs sequences of at least 2 tokens, got ${t}`);
    return tf.tidy(() => {
      const inputs = ids.slice([0, 0], [b, t - 1]) as tf.Tensor2D;
      const targets = ids.slice([0, 1], [b, t - 1]).reshape([-1]) as tf.Tensor1D;
      const { hidden } = this.forward(inputs, { start: 0 });
      const head = this.headWeight();
      // the head weight is [V, d] (HF layout): logits = hidden · Wᵀ, in row chunks (src/model/logprobs.ts);
      // a frozen head (LoRA on, or a frozen copy) gets no [V, d] gradient: trainable is what variableGrads reads
      const weightGrad = !(head instanceof tf.Variable) || head.trainable;
      const chunkRows = opts.chunkRows ?? this.logProbChunkRows;
      return headTokenLogProbs(hidden, head, true, targets, { ...opts, chunkRows, weightGrad }).reshape([b, t - 1]) as tf.Tensor2D;
    });
  }

  prefill(ids: tf.Tensor2D): { logits: tf.Tensor2D; cache: KVCache } {
    const [b, t] = ids.shape;
    this.checkLength(t);
    const d = this.config.hidden;
    const { logits, layers } = tf.tidy(() => {
      const { hidden, layers } = this.forward(ids, { start: 0 }, { withKv: true });
      const last = hidden.reshape([b, t, d]).slice([0, t - 1, 0], [b, 1, d]).reshape([b, d]) as tf.Tensor2D;
      return { logits: tf.matMul(last, this.headWeight(), false, true) as tf.Tensor2D, layers };
    });
    return { logits, cache: new GPTKVCache(layers, null, 1, null, new Array<number>(b).fill(t)) };
  }

  decode(ids: tf.Tensor2D, cache: KVCache): tf.Tensor2D {
    const c = asGPTCache(cache);
    const [b, t] = ids.shape;
    if (b !== c.batch) throw new Error(`decode: ids have ${b} rows, the cache ${c.batch}`);
    if (t !== 1) throw new Error(`decode takes one token per row, got ${t}`);
    const maxPos = Math.max(...c.positions);
    if (maxPos >= this.maxSeqLen) throw new Error(`decode: position ${maxPos} is past max_position_embeddings ${this.maxSeqLen}`);
    c.beginStep(this.maxSeqLen); // the cache makes room; each layer appends its K/V (src/ops kvAppend)
    const logits = tf.tidy(() => tf.matMul(this.forward(ids, { perRow: c.positions }, { cache: c }).hidden, this.headWeight(), false, true) as tf.Tensor2D);
    c.endStep();
    return logits;
  }

  /** A frozen copy in memory (base weights and adapters, if any), e.g. a KL reference for full fine-tuning. */
  clone(): LlamaModel {
    const copy = new LlamaModel(this.config, this.tokenizer, (s) => tf.clone(this.vars.get(s.name)!), {
      logProbChunkRows: this.logProbChunkRows,
      gradientCheckpointing: this.gradientCheckpointing,
    });
    if (this.lora) {
      const lora = this.lora;
      const pairs = new Map(lora.modules().map((m) => [m, lora.get(m)!]));
      copy.lora = new LoraAdapters(lora.config, llamaLinearModules(this.config), (key) => {
        const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(key)!;
        const p = pairs.get(m[1]);
        if (!p) return undefined;
        const v = m[2] === 'A' ? p.a : p.b;
        return { data: v.dataSync() as Float32Array, shape: v.shape };
      });
    }
    for (const v of copy.vars.values()) v.trainable = false;
    for (const v of copy.lora?.parameters() ?? []) v.trainable = false;
    return copy;
  }

  // ---- LoRA -------------------------------------------------------------------------------------

  /** The adapters, when LoRA is on. */
  get adapters(): LoraAdapters | null {
    return this.lora;
  }

  /** Turn LoRA on with fresh adapters (B = 0: outputs unchanged); only they are trainable from now on. */
  enableLora(config: LoraConfigInput): LoraAdapters {
    if (this.lora) throw new Error('LoRA is already on for this model (merge or dispose the adapters first)');
    this.lora = new LoraAdapters(config, llamaLinearModules(this.config));
    this.freezeBase(true);
    return this.lora;
  }

  /** Load a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) and turn LoRA on with it. */
  loadAdapter(dir: string): LoraAdapters {
    if (this.lora) throw new Error('LoRA is already on for this model (merge or dispose the adapters first)');
    this.lora = this.readAdapter(dir);
    this.freezeBase(true);
    return this.lora;
  }

  /** A PEFT adapter folder checked against this model's modules, as adapters not attached to it. */
  readAdapter(dir: string): LoraAdapters {
    const a = readPeftAdapter(dir);
    const modules = llamaLinearModules(this.config);
    const known = new Set(modules.filter((m) => a.config.targetModules.includes(m.target)).flatMap((m) => [`base_model.model.${m.module}.lora_A.weight`, `base_model.model.${m.module}.lora_B.weight`]));
    const extra = a.keys.find((k) => !known.has(k));
    if (extra) throw new Error(`${dir}/adapter_model.safetensors: tensor '${extra}' matches no targeted module of this model`);
    try {
      return new LoraAdapters(a.config, modules, a.tensor);
    } catch (e) {
      throw new Error(`${dir}/adapter_model.safetensors: ${(e as Error).message}`);
    }
  }

  /**
   * Run fn (synchronous) with `adapters` in place of this model's own (none, or its LoRA): several
   * adapters served over one copy of the base weights. Each prefill/decode call is synchronous, so views
   * interleaving across awaits never see each other's adapters.
   */
  withAdapters<T>(adapters: LoraAdapters, fn: () => T): T {
    const own = this.lora;
    const off = this.adaptersOff;
    this.lora = adapters;
    this.adaptersOff = 0;
    try {
      return fn();
    } finally {
      this.lora = own;
      this.adaptersOff = off;
    }
  }

  /**
   * This model with the PEFT adapter in dir applied, as a Policy of its own that shares the base weights
   * (only the adapter's A/B are new memory). Dispose the view to free them. For serving: no trainable
   * parameters.
   */
  adapterView(dir: string): Policy {
    return adapterView(this, this.readAdapter(dir));
  }

  /** Save the adapters in PEFT's format (baseModel: what adapter_config.json names as base_model_name_or_path). */
  async saveAdapter(dir: string, baseModel = ''): Promise<void> {
    if (!this.lora) throw new Error('saveAdapter: LoRA is not on for this model');
    await savePeftAdapter(dir, this.lora, baseModel);
  }

  /** W += (alpha/r)·B·A for every adapter, then drop the adapters: the base is trainable again. */
  mergeAdapters(): void {
    const lora = this.lora;
    if (!lora) throw new Error('mergeAdapters: LoRA is not on for this model');
    for (const m of lora.modules()) {
      const w = this.vars.get(`${m}.weight`)!;
      tf.tidy(() => w.assign(tf.add(w, lora.mergedDelta(m))));
    }
    lora.dispose();
    this.lora = null;
    this.freezeBase(false);
  }

  /** Drop the adapters without merging. */
  disableLora(): void {
    this.lora?.dispose();
    this.lora = null;
    this.freezeBase(false);
  }

  /** Run fn (synchronous) with the adapters off: the base model's outputs, no copy of its weights. */
  withAdaptersDisabled<T>(fn: () => T): T {
    this.adaptersOff++;
    try {
      return fn();
    } finally {
      this.adaptersOff--;
    }
  }

  /**
   * The base model as a Policy of its own, sharing this model's weights: the KL reference under LoRA.
   * Every call runs with the adapters off; it has no trainable parameters.
   */
  reference(): Policy {
    return adaptersOffView(this);
  }

  // ---- checkpoints ------------------------------------------------------------------------------

  /**
   * Write config.json + model.safetensors (HF names and layout; F32 or BF16) and `extraFiles` (e.g. the
   * tokenizer files copied from the source folder) to dir atomically. With LoRA on, the base is saved
   * unmerged and the adapters go to `dir/adapter` in PEFT's format (merge first for one model).
   */
  async save(dir: string, opts: { dtype?: 'F32' | 'BF16'; extraFiles?: Record<string, string | Uint8Array> } = {}): Promise<void> {
    const { saveHFCheckpoint } = await import('./hf-save.js');
    const tensors: [string, NamedTensor][] = [];
    for (const [name, v] of this.namedParameters()) tensors.push([name, { data: (await v.data()) as Float32Array, shape: v.shape }]);
    const copied = this.sourceDir ? readSideFiles(this.sourceDir) : {};
    await saveHFCheckpoint(dir, this.config, tensors, opts.dtype ?? 'F32', { ...tokenizerFiles(this.tokenizer), ...copied, ...opts.extraFiles });
    if (this.lora) await this.saveAdapter(`${dir}/adapter`, dir);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
    this.lora?.dispose();
  }

  // ---- forward ----------------------------------------------------------------------------------

  private freezeBase(frozen: boolean): void {
    for (const v of this.vars.values()) v.trainable = !frozen;
  }

  private checkLength(t: number): void {
    if (t > this.maxSeqLen) throw new Error(`sequence of ${t} tokens is longer than max_position_embeddings ${this.maxSeqLen}`);
  }

  private headWeight(): tf.Tensor2D {
    return this.vars.get(this.config.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight') as tf.Tensor2D;
  }

  private w(name: string): tf.Tensor {
    return this.vars.get(name)!;
  }

  /** The adapters a forward pass applies now: none when LoRA is off or switched off (reference()). */
  private activeAdapters(): LoraAdapters | null {
    return this.adaptersOff === 0 ? this.lora : null;
  }

  /** x [N, in] → x·Wᵀ + b (+ the LoRA adapter's scale·x·Aᵀ·Bᵀ when on). module: HF path without ".weight". */
  private linear(x: tf.Tensor2D, module: string, lora: LoraAdapters | null): tf.Tensor2D {
    const bias = this.vars.get(`${module}.bias`) as tf.Variable<tf.Rank.R1> | undefined;
    const w = this.vars.get(`${module}.weight`) as tf.Variable<tf.Rank.R2>;
    // tf.fused.matMul's gradient makes the weight's [out, in] gradient whether or not anyone reads it; a
    // frozen weight (LoRA) under a tape takes the plain ops, whose gradients are made only where needed
    const frozenOnTape = !w.trainable && tf.engine().isTapeOn();
    const y = frozenOnTape
      ? bias ? tf.add(tf.matMul(x, w, false, true), bias) : tf.matMul(x, w, false, true)
      : tf.fused.matMul({ a: x, b: w, transposeB: true, bias });
    const delta = lora?.delta(module, x);
    return (delta ? tf.add(y, delta) : y) as tf.Tensor2D;
  }

  /** cos/sin broadcastable to [B, H, T, dh]. */
  private ropeFor(pos: Positions, b: number, t: number): { cos: tf.Tensor; sin: tf.Tensor } {
    const dh = this.config.headDim;
    if ('perRow' in pos) {
      const { cos, sin } = ropeTables(pos.perRow, this.invFreq);
      return { cos: tf.tensor4d(cos, [b, 1, 1, dh]), sin: tf.tensor4d(sin, [b, 1, 1, dh]) };
    }
    const positions = Array.from({ length: t }, (_, i) => pos.start + i);
    const { cos, sin } = ropeTables(positions, this.invFreq);
    return { cos: tf.tensor2d(cos, [t, dh]), sin: tf.tensor2d(sin, [t, dh]) };
  }

  /**
   * Embeddings and every layer: ids [B, T] → hidden [B·T, d] after the final norm, and (withKv) per layer
   * the K/V the cache keeps ([B, Hkv, T, dh]; with a cache, its suffix grown by this step). Inside a tidy.
   * Under a tape (training), each layer is recomputed in the backward instead of keeping its
   * intermediates when gradientCheckpointing is on (src/ops/recompute.ts).
   */
  private forward(ids: tf.Tensor2D, pos: Positions, opts: { cache?: GPTKVCache; withKv?: boolean } = {}): { hidden: tf.Tensor2D; layers: LayerKV[] } {
    const [b, t] = ids.shape;
    const c = this.config;
    if ('start' in pos) this.checkLength(pos.start + t);
    let x = embedding(this.w('model.embed_tokens.weight') as tf.Tensor2D, ids.reshape([-1]) as tf.Tensor1D);
    const { cos, sin } = this.ropeFor(pos, b, t);
    const lora = this.activeAdapters();
    const layers: LayerKV[] = [];
    const checkpoint = this.gradientCheckpointing && !opts.cache && !opts.withKv && tf.engine().isTapeOn();
    for (let i = 0; i < c.layers; i++) {
      if (checkpoint) {
        // the adapters of this forward are the ones the backward's rerun must use
        const run = (xin: tf.Tensor, [cs, sn]: tf.Tensor[]) => this.layer(i, xin as tf.Tensor2D, cs, sn, b, t, lora).x;
        x = recompute(run, x, this.trainableOfLayer(i, lora), [cos, sin]) as tf.Tensor2D;
        continue;
      }
      const out = this.layer(i, x, cos, sin, b, t, lora, opts.cache);
      x = out.x;
      if (opts.withKv) layers.push(out.kv);
    }
    return { hidden: rmsNorm(x, this.w('model.norm.weight') as tf.Tensor1D, c.rmsEps) as tf.Tensor2D, layers };
  }

  /** Decoder layer i: x [B·T, d] → x [B·T, d], and the K/V (after RoPE) this step adds for the cache. */
  private layer(i: number, x: tf.Tensor2D, cos: tf.Tensor, sin: tf.Tensor, b: number, t: number, lora: LoraAdapters | null, cache?: GPTKVCache): { x: tf.Tensor2D; kv: LayerKV } {
    const c = this.config;
    const p = `model.layers.${i}.`;
    const lin = (inp: tf.Tensor2D, module: string) => this.linear(inp, `${p}${module}`, lora);
    const n1 = rmsNorm(x, this.w(`${p}input_layernorm.weight`) as tf.Tensor1D, c.rmsEps) as tf.Tensor2D;
    let q: tf.Tensor = lin(n1, 'self_attn.q_proj').reshape([b, t, c.heads, c.headDim]);
    let k: tf.Tensor = lin(n1, 'self_attn.k_proj').reshape([b, t, c.kvHeads, c.headDim]);
    const v = lin(n1, 'self_attn.v_proj').reshape([b, t, c.kvHeads, c.headDim]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
    if (c.qkNorm) {
      q = rmsNorm(q, this.w(`${p}self_attn.q_norm.weight`) as tf.Tensor1D, c.rmsEps);
      k = rmsNorm(k, this.w(`${p}self_attn.k_norm.weight`) as tf.Tensor1D, c.rmsEps);
    }
    const qr = applyRope(q.transpose([0, 2, 1, 3]) as tf.Tensor4D, cos, sin); // [B, H, T, dh]
    const kr = applyRope(k.transpose([0, 2, 1, 3]) as tf.Tensor4D, cos, sin); // [B, Hkv, T, dh]
    // GQA: query head h reads kv head floor(h / (H/Hkv)) inside the attention kernels
    const att = cache
      ? decodeAttention(qr, cache.append(i, kr, v), { group: cache.group, kvHeads: c.kvHeads })
      : causalAttention(qr, kr, v);
    const merged = att.transpose([0, 2, 1, 3]).reshape([b * t, c.heads * c.headDim]) as tf.Tensor2D;
    const h = tf.add(x, lin(merged, 'self_attn.o_proj')) as tf.Tensor2D;
    const n2 = rmsNorm(h, this.w(`${p}post_attention_layernorm.weight`) as tf.Tensor1D, c.rmsEps) as tf.Tensor2D;
    const hid = swiglu(lin(n2, 'mlp.gate_proj'), lin(n2, 'mlp.up_proj')) as tf.Tensor2D;
    return { x: tf.add(h, lin(hid, 'mlp.down_proj')) as tf.Tensor2D, kv: { k: kr, v } };
  }

  /** The trainable tensors layer i reads under these adapters: what its recomputed backward differentiates. */
  private trainableOfLayer(i: number, lora: LoraAdapters | null): tf.Variable[] {
    const prefix = `model.layers.${i}.`;
    const base = this.specs.filter((s) => s.name.startsWith(prefix)).map((s) => this.vars.get(s.name)!);
    const adapters = lora ? lora.modules().filter((m) => m.startsWith(prefix)).flatMap((m) => [lora.get(m)!.a, lora.get(m)!.b]) : [];
    return [...base, ...adapters].filter((v) => v.trainable);
  }
}

/**
 * A LlamaModel seen through another adapter setting, as a Policy of its own sharing the model's weights:
 * every call runs inside `scope` (other adapters swapped in, or adapters off). No parameters of its own.
 */
class ModelView implements Policy {
  constructor(
    private readonly model: LlamaModel,
    private readonly scope: <T>(f: () => T) => T,
    private readonly copy: () => Policy,
    private readonly what: string,
    private readonly release: () => void = () => {},
  ) {}
  get tokenizer(): Tokenizer {
    return this.model.tokenizer;
  }
  get maxSeqLen(): number {
    return this.model.maxSeqLen;
  }
  parameters(): tf.Variable[] {
    return [];
  }
  numParameters(): number {
    return 0;
  }
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return this.scope(() => this.model.logits(ids));
  }
  tokenLogProbs(ids: tf.Tensor2D, opts?: { temperature?: number }): tf.Tensor2D {
    return this.scope(() => this.model.tokenLogProbs(ids, opts));
  }
  prefill(ids: tf.Tensor2D): { logits: tf.Tensor2D; cache: KVCache } {
    return this.scope(() => this.model.prefill(ids));
  }
  decode(ids: tf.Tensor2D, cache: KVCache): tf.Tensor2D {
    return this.scope(() => this.model.decode(ids, cache));
  }
  /** A frozen in-memory copy of what this view computes. */
  clone(): Policy {
    return this.copy();
  }
  async save(dir: string): Promise<void> {
    throw new Error(`${this.what} is not saved on its own (${dir})`);
  }
  dispose(): void {
    this.release(); // what the view owns (an adapter view's adapters); the base belongs to the model
  }
}

/** The base with other adapters (LlamaModel.adapterView): frozen adapters of its own, weights shared. */
function adapterView(model: LlamaModel, lora: LoraAdapters): Policy {
  for (const v of lora.parameters()) v.trainable = false;
  const scope = <T>(f: () => T): T => model.withAdapters(lora, f);
  return new ModelView(model, scope, () => scope(() => model.clone()), 'an adapter view (its adapter is a folder already)', () => lora.dispose());
}

/** The base model of a LlamaModel with LoRA (LlamaModel.reference()): adapters off on every call. */
function adaptersOffView(model: LlamaModel): Policy {
  const copy = (): Policy => {
    const c = model.clone();
    c.disableLora();
    for (const v of c.baseParameters()) v.trainable = false;
    return c;
  };
  return new ModelView(model, (f) => model.withAdaptersDisabled(f), copy, 'the adapters-off view of a model (save the model)');
}

function randomSource(seed: number): ParamSource {
  const rng = new Rng(seed);
  return (s) => {
    const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    if (s.init === 'ones') data.fill(1);
    else if (s.init === 'normal') rng.fillNormal(data, 0.02); // transformers' initializer_range
    return tf.tensor(data, s.shape, 'float32');
  };
}

/** tokenizer.json for a Hugging Face tokenizer (its own JSON, no toolkit fields); nothing for others. */
function tokenizerFiles(tok: Tokenizer): Record<string, string> {
  const json = tok.toJSON() as Record<string, unknown> | null;
  if (!json || typeof json !== 'object' || !('model' in json)) return {};
  // the toolkit's own keys (igrpo_config, igrpo_generation_config, …) stay out of tokenizer.json
  const rest = Object.fromEntries(Object.entries(json).filter(([k]) => !k.startsWith('igrpo_')));
  const igrpo_config = json.igrpo_config;
  const files: Record<string, string> = { 'tokenizer.json': JSON.stringify(rest) + '\n' };
  if (igrpo_config && typeof igrpo_config === 'object' && Object.keys(igrpo_config).length) {
    files['tokenizer_config.json'] = JSON.stringify(igrpo_config, null, 2) + '\n';
  }
  return files;
}

/** Files of a HF model folder that travel with its weights (tokenizer, chat template, generation settings). */
export const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja'] as const;

function readSideFiles(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of SIDE_FILES) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) out[f] = fs.readFileSync(p);
  }
  return out;
}
