// The model's building blocks as small pure functions over tensors.
//
// Each op has a portable composite implementation built from stock tfjs ops (used on cpu, wasm and
// webgpu unless a backend registers a fused kernel) and, where a backend registers a kernel named
// below (the native CPU backend, the WebGPU backend), runs that kernel instead; its gradient is then
// registered once with tfjs (gradients.ts) and runs the backend's `${name}Grad` kernel. Composite and
// fused paths must agree within the tolerances asserted in test/native.test.ts and test/webgpu_ops.test.ts.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused } from './kernels.js';
import { registerFusedGradients } from './gradients.js';

export { DECODE_KERNELS, FUSED, gradKernel, hasFused } from './kernels.js';
export { type KVLayer, decodeAttention, decodeAttentionComposite, kvAppend, kvGrow } from './decode.js';
export { type AdamKernel, type AdamSlot, type AdamStepScalars, adamKernel, registerAdamKernel } from './adam.js';

registerFusedGradients();

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta. x: [..., D]. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  if (hasFused(FUSED.layerNorm)) {
    return tf.engine().runKernel(FUSED.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(xhat, gamma), beta);
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))). */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (hasFused(FUSED.gelu)) return tf.engine().runKernel(FUSED.gelu, { x }) as tf.Tensor;
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/**
 * Causal scaled dot-product attention.
 * q: [B, H, Tq, dh], k and v: [B, Hkv, Tk, dh] with Tk >= Tq and H a multiple of Hkv (grouped-query
 * attention: query head h reads kv head floor(h / (H / Hkv)), transformers' repeat_kv order; Hkv = H
 * is multi-head attention). Query i sits at absolute position (Tk - Tq + i) and sees keys
 * 0..(Tk - Tq + i). This one rule covers training (Tq = Tk), prefill and KV-cache decoding (Tq = 1).
 * keyMask, if given, is [B, Tk] with 1 for real keys and 0 for padding.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyMask?: tf.Tensor2D): tf.Tensor4D {
  checkAttentionShapes(q, k, v);
  if (!keyMask && hasFused(FUSED.attention)) {
    return tf.engine().runKernel(FUSED.attention, { q, k, v }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const [, h, tq, dh] = q.shape;
    const tk = k.shape[2];
    k = repeatKv(k, h / k.shape[1]);
    v = repeatKv(v, h / v.shape[1]);
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)); // [B,H,Tq,Tk]
    let bias = causalBias(tq, tk); // [Tq,Tk]
    let biased: tf.Tensor = tf.add(scores, bias);
    if (keyMask) {
      const padBias = tf.mul(tf.sub(1, keyMask), -1e9).reshape([keyMask.shape[0], 1, 1, tk]);
      biased = tf.add(biased, padBias);
    }
    const probs = tf.softmax(biased, -1);
    bias.dispose();
    return tf.matMul(probs, v) as tf.Tensor4D;
  });
}

function checkAttentionShapes(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): void {
  const [b, h, tq, dh] = q.shape;
  const [kb, hkv, tk, kdh] = k.shape;
  const same = v.shape.every((n, i) => n === k.shape[i]);
  if (q.rank !== 4 || k.rank !== 4 || !same || kb !== b || kdh !== dh || tk < tq || hkv < 1 || h % hkv !== 0) {
    throw new Error(`causalAttention: q [${q.shape}], k [${k.shape}], v [${v.shape}]: need q [B, H, Tq, dh], k and v [B, Hkv, Tk, dh] with Tk >= Tq and H a multiple of Hkv`);
  }
}

/**
 * x [B, Hkv, T, dh] → [B, Hkv·groups, T, dh], each kv head repeated `groups` times in a row
 * (transformers' repeat_kv), so query head h meets kv head floor(h / groups). Differentiable.
 */
export function repeatKv(x: tf.Tensor4D, groups: number): tf.Tensor4D {
  if (groups === 1) return x;
  const [b, hkv, t, dh] = x.shape;
  // rank 3 so that tfjs has Tile's gradient (rank ≤ 4)
  return tf.tile(x.reshape([b * hkv, 1, t * dh]), [1, groups, 1]).reshape([b, hkv * groups, t, dh]) as tf.Tensor4D;
}

/** Additive causal mask [Tq, Tk]: 0 where key j <= (Tk - Tq + i), -1e9 elsewhere. */
export function causalBias(tq: number, tk: number): tf.Tensor2D {
  const values = new Float32Array(tq * tk);
  const offset = tk - tq;
  for (let i = 0; i < tq; i++) for (let j = offset + i + 1; j < tk; j++) values[i * tk + j] = -1e9;
  return tf.tensor2d(values, [tq, tk]);
}

/** log softmax(logits)[n, targets[n]] for each row n. logits: [N, V], targets: int32 [N]. Returns [N]. */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  if (hasFused(FUSED.tokenLogProbs)) {
    return tf.engine().runKernel(FUSED.tokenLogProbs, { logits, targets }) as tf.Tensor1D;
  }
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1);
    // cast an int32 one-hot rather than asking for float32: wasm's float32 oneHot writes int32 bits
    const mask = tf.cast(tf.oneHot(tf.cast(targets, 'int32'), logits.shape[1]), 'float32');
    return tf.sum(tf.mul(logp, mask), -1) as tf.Tensor1D;
  });
}

/** Rows of table [V, D] for ids int32 [N] → [N, D], with a gradient that needs no UnsortedSegmentSum. */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (hasFused(FUSED.embedding)) {
    return tf.engine().runKernel(FUSED.embedding, { table, ids }) as tf.Tensor2D;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, i, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([i]);
    const value = tf.gather(t, i);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const oneHot = tf.cast(tf.oneHot(tf.cast(saved[0], 'int32'), table.shape[0]), 'float32'); // [N, V]
      return [tf.matMul(oneHot, dy as tf.Tensor2D, true, false), tf.zerosLike(saved[0])];
    };
    return { value, gradFunc };
  });
  return f(table, ids) as tf.Tensor2D;
}
