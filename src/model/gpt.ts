// A GPT-style decoder policy: token + learned position embeddings, pre-LayerNorm blocks of causal
// self-attention and a GELU MLP, a final LayerNorm and a tied or untied output head.
//
// Weights are stored [in, out] so every projection is a plain matMul (no transposes in the forward);
// q, k and v come from one fused [d, d + 2·Hkv·dh] projection (kvHeads = Hkv ≤ nHeads: grouped-query
// attention when fewer; [d, 3d] otherwise), reshaped into heads once per block. All the building blocks
// go through src/ops, where a backend may register fused kernels.
import * as tf from '@tensorflow/tfjs';
import { causalAttention, decodeAttention, embedding, gelu, layerNorm } from '../ops/index.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { Rng } from '../util/rng.js';
import { type GPTConfig, type GPTConfigInput, parseGPTConfig } from './config.js';
import { GPTKVCache, type LayerKV, asGPTCache } from './kvcache.js';
import type { KVCache, Policy } from './policy.js';
import { headTokenLogProbs, type HeadLogProbOptions } from './logprobs.js';
import type { NamedTensor } from './safetensors.js';

/** A parameter's name (as in the checkpoint), shape, and how it is initialised. */
interface ParamSpec {
  name: string;
  shape: number[];
  init: 'normal' | 'residual' | 'zeros' | 'ones';
}

/** Every parameter of a config, in the stable order parameters() and checkpoints use. */
export function gptParamSpecs(c: GPTConfig): ParamSpec[] {
  const d = c.dModel;
  const m = c.mlpRatio * d;
  const qkv = d + 2 * c.kvHeads * (d / c.nHeads); // q, then k and v with kvHeads heads each
  const specs: ParamSpec[] = [
    { name: 'wte', shape: [c.vocabSize, d], init: 'normal' },
    { name: 'wpe', shape: [c.maxSeqLen, d], init: 'normal' },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `h.${i}.`;
    specs.push(
      { name: `${p}ln1.g`, shape: [d], init: 'ones' },
      { name: `${p}ln1.b`, shape: [d], init: 'zeros' },
      { name: `${p}attn.wqkv`, shape: [d, qkv], init: 'normal' },
      { name: `${p}attn.bqkv`, shape: [qkv], init: 'zeros' },
      { name: `${p}attn.wo`, shape: [d, d], init: 'residual' },
      { name: `${p}attn.bo`, shape: [d], init: 'zeros' },
      { name: `${p}ln2.g`, shape: [d], init: 'ones' },
      { name: `${p}ln2.b`, shape: [d], init: 'zeros' },
      { name: `${p}mlp.w1`, shape: [d, m], init: 'normal' },
      { name: `${p}mlp.b1`, shape: [m], init: 'zeros' },
      { name: `${p}mlp.w2`, shape: [m, d], init: 'residual' },
      { name: `${p}mlp.b2`, shape: [d], init: 'zeros' },
    );
  }
  specs.push({ name: 'lnf.g', shape: [d], init: 'ones' }, { name: 'lnf.b', shape: [d], init: 'zeros' });
  if (!c.tiedEmbeddings) specs.push({ name: 'head', shape: [d, c.vocabSize], init: 'normal' });
  return specs;
}

/** Deterministic init from config.seed (GPT-2's scheme: N(0, std²), residual projections / √(2L)). */
function initialValues(c: GPTConfig, specs: ParamSpec[]): Map<string, NamedTensor> {
  const rng = new Rng(c.seed);
  const residualStd = c.initStd / Math.sqrt(2 * c.nLayers);
  const out = new Map<string, NamedTensor>();
  for (const s of specs) {
    const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    if (s.init === 'ones') data.fill(1);
    else if (s.init === 'normal') rng.fillNormal(data, c.initStd);
    else if (s.init === 'residual') rng.fillNormal(data, residualStd);
    out.set(s.name, { data, shape: s.shape });
  }
  return out;
}

interface Block {
  ln1g: tf.Variable<tf.Rank.R1>;
  ln1b: tf.Variable<tf.Rank.R1>;
  wqkv: tf.Variable<tf.Rank.R2>;
  bqkv: tf.Variable<tf.Rank.R1>;
  wo: tf.Variable<tf.Rank.R2>;
  bo: tf.Variable<tf.Rank.R1>;
  ln2g: tf.Variable<tf.Rank.R1>;
  ln2b: tf.Variable<tf.Rank.R1>;
  w1: tf.Variable<tf.Rank.R2>;
  b1: tf.Variable<tf.Rank.R1>;
  w2: tf.Variable<tf.Rank.R2>;
  b2: tf.Variable<tf.Rank.R1>;
}

/** Where a forward pass's tokens sit: every row at start..start+T-1, or (decoding) one position per row. */
type Positions = { start: number } | { perRow: number[] };

export class GPT implements Policy {
  readonly config: GPTConfig;
  readonly tokenizer: Tokenizer;
  private readonly names: string[];
  private readonly vars: Map<string, tf.Variable>;
  private readonly blocks: Block[];
  private disposed = false;

  /**
   * A GPT for this config and tokenizer: seeded random init (config.seed), or the given weights
   * (name → data and shape, e.g. from a checkpoint; every parameter must be present with its shape).
   */
  constructor(config: GPTConfigInput | GPTConfig, tokenizer: Tokenizer, weights?: Map<string, NamedTensor>) {
    this.config = parseGPTConfig(config);
    this.tokenizer = tokenizer;
    if (this.config.vocabSize < tokenizer.vocabSize) {
      throw new Error(`invalid model config: vocabSize ${this.config.vocabSize} is smaller than the tokenizer's ${tokenizer.vocabSize}`);
    }
    const specs = gptParamSpecs(this.config);
    const values = weights ?? initialValues(this.config, specs);
    this.names = specs.map((s) => s.name);
    this.vars = new Map();
    for (const s of specs) {
      const w = values.get(s.name);
      if (!w) throw new Error(`missing weight '${s.name}'`);
      if (w.shape.length !== s.shape.length || w.shape.some((n, i) => n !== s.shape[i])) {
        throw new Error(`weight '${s.name}' has shape [${w.shape}], the config needs [${s.shape}]`);
      }
      const initial = tf.tensor(w.data, s.shape, 'float32');
      this.vars.set(s.name, tf.variable(initial, true));
      initial.dispose(); // the variable holds its own reference to the data; don't leak the initial tensor
    }
    if (weights) {
      const extra = [...weights.keys()].filter((k) => !this.vars.has(k));
      if (extra.length) throw new Error(`unexpected weights for this config: ${extra.slice(0, 5).join(', ')}`);
    }
    const v = <R extends tf.Rank>(name: string) => this.vars.get(name) as tf.Variable<R>;
    this.blocks = Array.from({ length: this.config.nLayers }, (_, i) => ({
      ln1g: v(`h.${i}.ln1.g`),
      ln1b: v(`h.${i}.ln1.b`),
      wqkv: v(`h.${i}.attn.wqkv`),
      bqkv: v(`h.${i}.attn.bqkv`),
      wo: v(`h.${i}.attn.wo`),
      bo: v(`h.${i}.attn.bo`),
      ln2g: v(`h.${i}.ln2.g`),
      ln2b: v(`h.${i}.ln2.b`),
      w1: v(`h.${i}.mlp.w1`),
      b1: v(`h.${i}.mlp.b1`),
      w2: v(`h.${i}.mlp.w2`),
      b2: v(`h.${i}.mlp.b2`),
    }));
  }

  get maxSeqLen(): number {
    return this.config.maxSeqLen;
  }

  parameters(): tf.Variable[] {
    return this.names.map((n) => this.vars.get(n)!);
  }

  /** Parameters by checkpoint name, in parameters() order. */
  namedParameters(): [string, tf.Variable][] {
    return this.names.map((n) => [n, this.vars.get(n)!]);
  }

  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.size, 0);
  }

  logits(ids: tf.Tensor2D): tf.Tensor3D {
    const [b, t] = ids.shape;
    return tf.tidy(() => {
      const { hidden } = this.forward(ids, { start: 0 });
      return this.head(hidden).reshape([b, t, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  tokenLogProbs(ids: tf.Tensor2D, opts: HeadLogProbOptions = {}): tf.Tensor2D {
    const [b, t] = ids.shape;
    if (t < 2) throw new Error(`tokenLogProbs needs sequences of at least 2 tokens, got ${t}`);
    return tf.tidy(() => {
      // the last position predicts nothing we score, so the forward runs over T-1 tokens only
      const inputs = ids.slice([0, 0], [b, t - 1]) as tf.Tensor2D;
      const targets = ids.slice([0, 1], [b, t - 1]).reshape([-1]) as tf.Tensor1D;
      const { hidden } = this.forward(inputs, { start: 0 });
      // the head + log-softmax run on row chunks: [B·(T−1), V] logits are never held whole
      const tied = this.config.tiedEmbeddings;
      const weight = this.vars.get(tied ? 'wte' : 'head') as tf.Tensor2D;
      return headTokenLogProbs(hidden, weight, tied, targets, opts).reshape([b, t - 1]) as tf.Tensor2D;
    });
  }

  /** A copy with its own variables (the frozen KL reference); same config, tokenizer and weights. */
  clone(): GPT {
    const weights = new Map<string, NamedTensor>();
    for (const [name, v] of this.namedParameters()) weights.set(name, { data: v.dataSync() as Float32Array, shape: v.shape });
    return new GPT(this.config, this.tokenizer, weights);
  }

  prefill(ids: tf.Tensor2D): { logits: tf.Tensor2D; cache: KVCache } {
    const [b, t] = ids.shape;
    this.checkLength(t);
    const { logits, layers } = tf.tidy(() => {
      const { hidden, layers } = this.forward(ids, { start: 0 });
      const last = hidden.reshape([b, t, this.config.dModel]).slice([0, t - 1, 0], [b, 1, this.config.dModel]);
      return { logits: this.head(last.reshape([b, this.config.dModel])) as tf.Tensor2D, layers };
    });
    return { logits, cache: new GPTKVCache(layers, null, 1, null, new Array<number>(b).fill(t)) };
  }

  decode(ids: tf.Tensor2D, cache: KVCache): tf.Tensor2D {
    const c = asGPTCache(cache);
    const [b, t] = ids.shape;
    if (b !== c.batch) throw new Error(`decode: ids have ${b} rows, the cache ${c.batch}`);
    if (t !== 1) throw new Error(`decode takes one token per row, got ${t}`);
    const maxPos = Math.max(...c.positions);
    if (maxPos >= this.config.maxSeqLen) throw new Error(`decode: position ${maxPos} is past maxSeqLen ${this.config.maxSeqLen}`);
    c.beginStep(this.config.maxSeqLen); // the cache makes room; each layer appends its K/V (src/ops kvAppend)
    const logits = tf.tidy(() => this.head(this.forward(ids, { perRow: c.positions }, c).hidden) as tf.Tensor2D);
    c.endStep();
    return logits;
  }

  async save(dir: string): Promise<void> {
    const tensors: [string, NamedTensor][] = [];
    for (const [name, v] of this.namedParameters()) {
      tensors.push([name, { data: (await v.data()) as Float32Array, shape: v.shape }]);
    }
    // loaded here, not at the top: writing a folder is Node-only, and browser bundles of the model never save
    const { savePolicyFiles } = await import('./checkpoint.js');
    await savePolicyFiles(dir, { config: this.config, tokenizer: this.tokenizer.toJSON(), tensors });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
  }

  private checkLength(t: number): void {
    if (t > this.config.maxSeqLen) throw new Error(`sequence of ${t} tokens is longer than maxSeqLen ${this.config.maxSeqLen}`);
  }

  /**
   * Embeddings and every block. ids [B, T] → hidden [B·T, d] after the final LayerNorm, and without a
   * cache (training, prefill) per layer the K/V [B, Hkv, T, dh] a cache would keep; with one (decoding,
   * T = 1) each layer appends its K/V to it instead. Call inside a tidy.
   */
  private forward(ids: tf.Tensor2D, pos: Positions, cache?: GPTKVCache): { hidden: tf.Tensor2D; layers: LayerKV[] } {
    const [b, t] = ids.shape;
    const c = this.config;
    const d = c.dModel;
    const wte = this.vars.get('wte') as tf.Variable<tf.Rank.R2>;
    const wpe = this.vars.get('wpe') as tf.Variable<tf.Rank.R2>;
    const tok = embedding(wte, ids.reshape([-1]) as tf.Tensor1D); // [B·T, d]
    let x: tf.Tensor2D;
    if ('perRow' in pos) {
      const p = embedding(wpe, tf.tensor1d(pos.perRow, 'int32')); // T = 1: one position per row
      x = tf.add(tok, p);
    } else {
      this.checkLength(pos.start + t);
      const p = wpe.slice([pos.start, 0], [t, d]); // [T, d], broadcast over the batch
      x = tf.add(tok.reshape([b, t, d]), p).reshape([b * t, d]) as tf.Tensor2D;
    }
    const layers: LayerKV[] = [];
    this.blocks.forEach((blk, i) => {
      const r = this.block(x, b, t, blk, cache, i);
      x = r.x;
      if (r.kv) layers.push(r.kv);
    });
    const hidden = layerNorm(x, this.vars.get('lnf.g') as tf.Tensor1D, this.vars.get('lnf.b') as tf.Tensor1D, c.layerNormEps);
    return { hidden: hidden as tf.Tensor2D, layers };
  }

  /** One block; without a cache it also returns its K/V [B, Hkv, T, dh] (what prefill keeps). */
  private block(x: tf.Tensor2D, b: number, t: number, blk: Block, cache: GPTKVCache | undefined, layer: number): { x: tf.Tensor2D; kv?: LayerKV } {
    const c = this.config;
    const n1 = layerNorm(x, blk.ln1g, blk.ln1b, c.layerNormEps) as tf.Tensor2D;
    const qkv = tf.fused.matMul({ a: n1, b: blk.wqkv, bias: blk.bqkv }) as tf.Tensor2D; // [B·T, d + 2·Hkv·dh]
    const { q, k, v } = this.splitHeads(qkv, b, t);
    // (RoPE and per-head norms, in the families that have them, sit here: between projection and cache)
    let att: tf.Tensor4D; // [B, H, T, dh]
    if (cache) att = decodeAttention(q, cache.append(layer, k, v), { group: cache.group, kvHeads: c.kvHeads });
    else att = causalAttention(q, k, v);
    // T = 1 (decoding): [B, H, 1, dh] is already [B, H·dh] in memory, no transpose needed
    const merged = (t === 1 ? att.reshape([b, c.dModel]) : att.transpose([0, 2, 1, 3]).reshape([b * t, c.dModel])) as tf.Tensor2D;
    return { x: this.blockTail(x, merged, blk), kv: cache ? undefined : { k, v } };
  }

  /** The fused projection [B·T, d + 2·Hkv·dh] → q [B, H, T, dh], k and v [B, Hkv, T, dh]. */
  private splitHeads(qkv: tf.Tensor2D, b: number, t: number): { q: tf.Tensor4D; k: tf.Tensor4D; v: tf.Tensor4D } {
    const c = this.config;
    const h = c.nHeads;
    const hkv = c.kvHeads;
    const dh = c.dModel / h;
    if (hkv === h && t > 1) {
      // [B, T, 3, H, dh] → [3, B, H, T, dh]: one transpose puts heads before time for all three
      const [q, k, v] = tf.unstack(qkv.reshape([b, t, 3, h, dh]).transpose([2, 0, 3, 1, 4])) as tf.Tensor4D[];
      return { q, k, v };
    }
    if (t === 1) {
      // decoding: [B, (H + 2·Hkv)·dh] is [B, H + 2·Hkv, 1, dh] in memory, so one split along heads
      const [q, k, v] = tf.split(qkv.reshape([b, h + 2 * hkv, 1, dh]), [h, hkv, hkv], 1) as tf.Tensor4D[];
      return { q, k, v };
    }
    const [q, k, v] = tf.split(qkv.reshape([b, t, h + 2 * hkv, dh]), [h, hkv, hkv], 2);
    const heads = (x: tf.Tensor) => x.transpose([0, 2, 1, 3]) as tf.Tensor4D;
    return { q: heads(q), k: heads(k), v: heads(v) };
  }

  /** Output projection, residual, and the MLP half of a block; merged [B·T, d] is the attention output. */
  private blockTail(x: tf.Tensor2D, merged: tf.Tensor2D, blk: Block): tf.Tensor2D {
    const eps = this.config.layerNormEps;
    const x1 = tf.add(x, tf.fused.matMul({ a: merged, b: blk.wo, bias: blk.bo })) as tf.Tensor2D;
    const n2 = layerNorm(x1, blk.ln2g, blk.ln2b, eps) as tf.Tensor2D;
    const hid = gelu(tf.fused.matMul({ a: n2, b: blk.w1, bias: blk.b1 })) as tf.Tensor2D;
    return tf.add(x1, tf.fused.matMul({ a: hid, b: blk.w2, bias: blk.b2 })) as tf.Tensor2D;
  }

  /** hidden [N, d] → logits [N, V]: the tied embedding (transposed inside the matMul kernel) or the head. */
  private head(hidden: tf.Tensor2D): tf.Tensor2D {
    if (this.config.tiedEmbeddings) return tf.matMul(hidden, this.vars.get('wte') as tf.Tensor2D, false, true);
    return tf.matMul(hidden, this.vars.get('head') as tf.Tensor2D);
  }
}
