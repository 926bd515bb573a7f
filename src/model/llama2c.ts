// llama2.c checkpoints (Karpathy's "legacy v0" .bin, e.g. stories260K) → a Hugging Face Llama folder.
//
// Layout: seven little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative
// when the classifier is stored apart —, seq_len), then float32 arrays: token embedding [V, dim]; per
// layer stacked: attention RMSNorm, wq, wk, wv, wo, FFN RMSNorm, w1 (gate), w2 (down), w3 (up); the final
// RMSNorm; two unused RoPE tables; the classifier when not shared. llama2.c rotates interleaved pairs
// (i, i+1) of each head; transformers rotates halves, so q and k rows are permuted per head as
// transformers' convert_llama_weights_to_hf.py does: w.view(heads, d1/heads/2, 2, d2).transpose(1, 2).
import * as fs from 'node:fs';
import { writeDirAtomic } from '../util/atomic.js';
import type { NamedTensor } from './safetensors.js';
import { WEIGHTS_FILE, encodeSafetensorsAs } from './safetensors-file.js';

export interface Llama2cHeader {
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  shared: boolean;
  seqLen: number;
}

/** Rows of a [d1, d2] projection reordered from interleaved-pair RoPE to rotate_half, per head. */
export function permuteRotary(w: Float32Array, heads: number, d1: number, d2: number): Float32Array {
  const hs = d1 / heads;
  const half = hs / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * hs + 2 * i + j) * d2;
        const dst = (h * hs + j * half + i) * d2;
        out.set(w.subarray(src, src + d2), dst);
      }
    }
  }
  return out;
}

/** Read a llama2.c checkpoint: its header and the HF-named tensors (q/k permuted), validated against the file size. */
export function readLlama2c(file: string): { header: Llama2cHeader; tensors: [string, NamedTensor][] } {
  const buf = fs.readFileSync(file);
  if (buf.length < 28) throw new Error(`${file}: ${buf.length} bytes, too short for a llama2.c header (28)`);
  const ints = Array.from({ length: 7 }, (_, i) => buf.readInt32LE(4 * i));
  const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = ints;
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  ints.forEach((v, i) => {
    if (i !== 5 && !(v > 0)) throw new Error(`${file}: header field ${names[i]} is ${v}`);
  });
  if (dim % heads !== 0 || heads % kvHeads !== 0 || (dim / heads) % 2 !== 0) throw new Error(`${file}: dim ${dim}, n_heads ${heads}, n_kv_heads ${kvHeads} do not fit together`);
  const header: Llama2cHeader = { dim, hidden, layers, heads, kvHeads, vocab: Math.abs(vocabSigned), shared: vocabSigned > 0, seqLen };
  const hs = dim / heads;
  const kvd = kvHeads * hs;
  const V = header.vocab;
  const L = layers;
  const floats = V * dim + L * (2 * dim + 2 * dim * dim + 2 * kvd * dim + 3 * hidden * dim) + dim + seqLen * hs + (header.shared ? 0 : V * dim);
  if (buf.length - 28 !== 4 * floats) throw new Error(`${file}: ${buf.length - 28} bytes of weights, the header implies ${4 * floats}`);
  const data = new Float32Array(floats);
  for (let i = 0; i < floats; i++) data[i] = buf.readFloatLE(28 + 4 * i);
  let off = 0;
  const take = (n: number) => data.subarray(off, (off += n));
  const emb = take(V * dim);
  const stacked = {
    attNorm: take(L * dim),
    wq: take(L * dim * dim),
    wk: take(L * kvd * dim),
    wv: take(L * kvd * dim),
    wo: take(L * dim * dim),
    ffnNorm: take(L * dim),
    w1: take(L * hidden * dim),
    w2: take(L * dim * hidden),
    w3: take(L * hidden * dim),
  };
  const finalNorm = take(dim);
  take(seqLen * hs); // freq_cis_real and freq_cis_imag, unused
  const cls = header.shared ? null : take(V * dim);
  const layer = (a: Float32Array, l: number, n: number) => a.slice(l * n, (l + 1) * n);
  const t: [string, NamedTensor][] = [['model.embed_tokens.weight', { data: emb.slice(), shape: [V, dim] }]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    t.push(
      [`${p}input_layernorm.weight`, { data: layer(stacked.attNorm, l, dim), shape: [dim] }],
      [`${p}self_attn.q_proj.weight`, { data: permuteRotary(layer(stacked.wq, l, dim * dim), heads, dim, dim), shape: [dim, dim] }],
      [`${p}self_attn.k_proj.weight`, { data: permuteRotary(layer(stacked.wk, l, kvd * dim), kvHeads, kvd, dim), shape: [kvd, dim] }],
      [`${p}self_attn.v_proj.weight`, { data: layer(stacked.wv, l, kvd * dim), shape: [kvd, dim] }],
      [`${p}self_attn.o_proj.weight`, { data: layer(stacked.wo, l, dim * dim), shape: [dim, dim] }],
      [`${p}post_attention_layernorm.weight`, { data: layer(stacked.ffnNorm, l, dim), shape: [dim] }],
      [`${p}mlp.gate_proj.weight`, { data: layer(stacked.w1, l, hidden * dim), shape: [hidden, dim] }],
      [`${p}mlp.up_proj.weight`, { data: layer(stacked.w3, l, hidden * dim), shape: [hidden, dim] }],
      [`${p}mlp.down_proj.weight`, { data: layer(stacked.w2, l, dim * hidden), shape: [dim, hidden] }],
    );
  }
  t.push(['model.norm.weight', { data: finalNorm.slice(), shape: [dim] }]);
  if (cls) t.push(['lm_head.weight', { data: cls.slice(), shape: [V, dim] }]);
  return { header, tensors: t };
}

/** config.json of the converted model (llama2.c: theta 10000, RMSNorm eps 1e-5, BOS 1, EOS 2). */
export function llama2cConfig(h: Llama2cHeader): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: h.vocab,
    hidden_size: h.dim,
    intermediate_size: h.hidden,
    num_hidden_layers: h.layers,
    num_attention_heads: h.heads,
    num_key_value_heads: h.kvHeads,
    max_position_embeddings: h.seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: h.shared,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
}

/** Convert a llama2.c .bin into a HF Llama folder (config.json + model.safetensors, F32) at outDir. */
export function convertLlama2c(binFile: string, outDir: string): Llama2cHeader {
  const { header, tensors } = readLlama2c(binFile);
  writeDirAtomic(outDir, {
    'config.json': JSON.stringify(llama2cConfig(header), null, 2) + '\n',
    [WEIGHTS_FILE]: encodeSafetensorsAs(tensors, 'F32'),
  });
  return header;
}
