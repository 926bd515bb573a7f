// A GPT-style decoder policy: token + learned position embeddings, pre-LayerNorm blocks of causal
// self-attention and a GELU MLP, a final LayerNorm and a tied or untied output head.
//
// Weights are stored [in, out] so every projection is a plain matMul (no transposes in the forward);
// q, k and v come from one fused [d, 3d] projection that is reshaped and transposed once per block.
// All the building blocks go through src/ops, where a backend may register fused kernels.
import * as tf from '@tensorflow/tfjs';
import { causalAttention, embedding, gelu, layerNorm } from '../ops/index.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { Rng } from '../util/rng.js';
import { type GPTConfig, type GPTConfigInput, parseGPTConfig } from './config.js';
import { GPTKVCache, type LayerKV, asGPTCache } from './kvcache.js';
import { canDecodeInPlace, decodeAttention, decodeAttentionInPlace } from './decode-attention.js';
import type { KVCache, Policy } from './policy.js';
import { savePolicyFiles } from './checkpoint.js';
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
  const specs: ParamSpec[] = [
    { name: 'wte', shape: [c.vocabSize, d], init: 'normal' },
    { name: 'wpe', shape: [c.maxSeqLen, d], init: 'normal' },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `h.${i}.`;
    specs.push(
      { name: `${p}ln1.g`, shape: [d], init: 'ones' },
      { name: `${p}ln1.b`, shape: [d], init: 'zeros' },
      { name: `${p}attn.wqkv`, shape: [d, 3 * d], init: 'normal' },
      { name: `${p}attn.bqkv`, shape: [3 * d], init: 'zeros' },
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
    // in place (native): each layer's kernel writes the step's K/V into the cache's preallocated suffix
    const inPlace = canDecodeInPlace();
    if (inPlace) c.reserveSuffix(c.suffixLength + 1, this.config.maxSeqLen);
    const { logits, layers } = tf.tidy(() => {
      const { hidden, layers } = this.forward(ids, { perRow: c.positions }, c, inPlace);
      return { logits: this.head(hidden) as tf.Tensor2D, layers };
    });
    if (inPlace) c.advanceInPlace();
    else c.advance(layers);
    return logits;
  }

  async save(dir: string): Promise<void> {
    const tensors: [string, NamedTensor][] = [];
    for (const [name, v] of this.namedParameters()) {
      tensors.push([name, { data: (await v.data()) as Float32Array, shape: v.shape }]);
    }
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
   * Embeddings and every block. ids [B, T] → hidden [B·T, d] after the final LayerNorm, and per layer
   * the K/V a cache keeps: all of them without a cache (prefill), else the cache's suffix grown by this
   * step. Call inside a tidy.
   */
  private forward(ids: tf.Tensor2D, pos: Positions, cache?: GPTKVCache, inPlace = false): { hidden: tf.Tensor2D; layers: LayerKV[] } {
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
      if (cache && inPlace) {
        x = this.decodeBlockInPlace(x, blk, cache, i);
        return;
      }
      const r = this.block(x, b, t, blk, cache, i);
      x = r.x;
      layers.push({ k: r.k, v: r.v });
    });
    const hidden = layerNorm(x, this.vars.get('lnf.g') as tf.Tensor1D, this.vars.get('lnf.b') as tf.Tensor1D, c.layerNormEps);
    return { hidden: hidden as tf.Tensor2D, layers };
  }

  private block(x: tf.Tensor2D, b: number, t: number, blk: Block, cache: GPTKVCache | undefined, layer: number) {
    const c = this.config;
    const d = c.dModel;
    const h = c.nHeads;
    const dh = d / h;
    const eps = c.layerNormEps;
    const n1 = layerNorm(x, blk.ln1g, blk.ln1b, eps) as tf.Tensor2D;
    const qkv = tf.fused.matMul({ a: n1, b: blk.wqkv, bias: blk.bqkv }); // [B·T, 3d]
    // [B, T, 3, H, dh] → [3, B, H, T, dh]: the one transpose that puts heads before time
    const [q, kNew, vNew] = tf.unstack(qkv.reshape([b, t, 3, h, dh]).transpose([2, 0, 3, 1, 4])) as tf.Tensor4D[];
    let k = kNew;
    let v = vNew;
    let att: tf.Tensor4D; // [B, H, T, dh]
    if (cache) {
      const past = cache.validSuffix(layer);
      if (past) {
        k = tf.concat([past.k, kNew], 2) as tf.Tensor4D;
        v = tf.concat([past.v, vNew], 2) as tf.Tensor4D;
      }
      const pre = cache.prefix[layer];
      att = decodeAttention(q, pre.k, pre.v, cache.prefixMask, cache.group, k, v);
    } else {
      att = causalAttention(q, k, v);
    }
    const merged = att.transpose([0, 2, 1, 3]).reshape([b * t, d]) as tf.Tensor2D;
    return { x: this.blockTail(x, merged, blk), k, v };
  }

  /** One decoding step of a block on a backend that decodes in place: the attention kernel appends K/V to the cache. */
  private decodeBlockInPlace(x: tf.Tensor2D, blk: Block, cache: GPTKVCache, layer: number): tf.Tensor2D {
    const n1 = layerNorm(x, blk.ln1g, blk.ln1b, this.config.layerNormEps) as tf.Tensor2D;
    const qkv = tf.fused.matMul({ a: n1, b: blk.wqkv, bias: blk.bqkv }) as tf.Tensor2D; // [B, 3d]
    const pre = cache.prefix[layer];
    const suf = cache.suffix![layer];
    const merged = decodeAttentionInPlace(qkv, pre.k, pre.v, cache.prefixMask, cache.group, suf.k, suf.v, cache.suffixLength);
    return this.blockTail(x, merged, blk);
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
