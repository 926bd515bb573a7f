// Attention of one new token per row over a two-part cache (see kvcache.ts): a prompt prefix shared by
// each group of G consecutive rows, and the rows' own generated suffix.
//
// Where the active backend registers the fused kernel 'IgrpoDecodeAttention' (native, webgpu) it runs
// as one kernel per layer: one pass per (row, head) over the group's prefix (masked) and the row's
// suffix. The native backend also registers 'IgrpoDecodeAttentionQKV', which takes the step's fused
// q/k/v projection, writes k and v into a preallocated suffix in place and returns the heads merged,
// so a decoding step neither copies the cache nor transposes heads (decodeAttentionInPlace).
//
// Elsewhere the composite below runs: the G queries of a group are stacked into one [G, dh] matrix
// against their prompt's keys, so a prompt's keys are read once per step instead of G times, and the
// prompt part is never copied. The two parts share one softmax (scores concatenated along the key
// axis). Built from stock tfjs ops, so it runs on every backend.
import * as tf from '@tensorflow/tfjs';
import { hasFused } from '../ops/index.js';

export const DECODE_KERNELS = {
  attention: 'IgrpoDecodeAttention',
  attentionQKV: 'IgrpoDecodeAttentionQKV',
  grow: 'IgrpoKVGrow',
} as const;

/** True when the active backend can decode into a preallocated suffix in place (see kvcache.ts). */
export function canDecodeInPlace(): boolean {
  return hasFused(DECODE_KERNELS.attentionQKV) && hasFused(DECODE_KERNELS.grow);
}

/**
 * q [B, H, 1, dh]; prefix kp, vp [U, H, Tp, dh] with B = U·G; prefixMask [U, Tp] (1 real, 0 padding)
 * or null; suffix ks, vs [B, H, Ts, dh] (all real). Returns [B, H, 1, dh]. Call inside a tidy.
 */
export function decodeAttention(
  q: tf.Tensor4D,
  kp: tf.Tensor4D,
  vp: tf.Tensor4D,
  prefixMask: tf.Tensor2D | null,
  group: number,
  ks: tf.Tensor4D,
  vs: tf.Tensor4D,
): tf.Tensor4D {
  if (hasFused(DECODE_KERNELS.attention)) {
    const inputs: tf.NamedTensorMap = prefixMask ? { q, kp, vp, ks, vs, prefixMask } : { q, kp, vp, ks, vs };
    return tf.engine().runKernel(DECODE_KERNELS.attention, inputs, { group }) as tf.Tensor4D;
  }
  return decodeAttentionComposite(q, kp, vp, prefixMask, group, ks, vs);
}

/**
 * One decoding step's attention on a backend where canDecodeInPlace(): qkv [B, 3·H·dh] is the step's
 * fused projection; its k and v are written into ks, vs [B, H, cap, dh] at position suffixLength (in
 * place: the suffix must belong to the caller alone and have room), and the query attends to the
 * prefix and the suffixLength + 1 suffix positions. Returns [B, H·dh], heads merged.
 */
export function decodeAttentionInPlace(
  qkv: tf.Tensor2D,
  kp: tf.Tensor4D,
  vp: tf.Tensor4D,
  prefixMask: tf.Tensor2D | null,
  group: number,
  ks: tf.Tensor4D,
  vs: tf.Tensor4D,
  suffixLength: number,
): tf.Tensor2D {
  const inputs: tf.NamedTensorMap = prefixMask ? { qkv, kp, vp, ks, vs, prefixMask } : { qkv, kp, vp, ks, vs };
  return tf.engine().runKernel(DECODE_KERNELS.attentionQKV, inputs, { group, suffixLength }) as tf.Tensor2D;
}

/** x [B, H, L, dh] → a new [B, H, capacity, dh] with x's first `length` positions (backends where canDecodeInPlace()). */
export function growSuffix(x: tf.Tensor4D, length: number, capacity: number): tf.Tensor4D {
  return tf.engine().runKernel(DECODE_KERNELS.grow, { x }, { length, capacity }) as tf.Tensor4D;
}

/** decodeAttention from stock ops (every backend; the reference the fused kernels are tested against). */
export function decodeAttentionComposite(
  q: tf.Tensor4D,
  kp: tf.Tensor4D,
  vp: tf.Tensor4D,
  prefixMask: tf.Tensor2D | null,
  group: number,
  ks: tf.Tensor4D,
  vs: tf.Tensor4D,
): tf.Tensor4D {
  const [b, h, , dh] = q.shape;
  const u = kp.shape[0];
  const tp = kp.shape[2];
  const ts = ks.shape[2];
  const g = group;
  const scale = 1 / Math.sqrt(dh);
  const qs = tf.mul(q, scale) as tf.Tensor4D;
  // [B, H, 1, dh] → [U, H, G, dh]: a group's queries side by side
  const qg = qs.reshape([u, g, h, dh]).transpose([0, 2, 1, 3]);
  let sp: tf.Tensor = tf.matMul(qg, kp, false, true); // [U, H, G, Tp]
  if (prefixMask) sp = tf.add(sp, tf.mul(tf.sub(1, prefixMask), -1e9).reshape([u, 1, 1, tp]));
  const ss = tf.matMul(qs, ks, false, true); // [B, H, 1, Ts]
  const ssg = g === 1 ? ss.reshape([u, h, 1, ts]) : ss.reshape([u, g, h, ts]).transpose([0, 2, 1, 3]);
  const p = tf.softmax(tf.concat([sp, ssg], 3), -1); // [U, H, G, Tp + Ts]
  const pp = p.slice([0, 0, 0, 0], [u, h, g, tp]);
  const ps = p.slice([0, 0, 0, tp], [u, h, g, ts]);
  const op = tf.matMul(pp, vp); // [U, H, G, dh]
  const psb = g === 1 ? ps.reshape([b, h, 1, ts]) : ps.transpose([0, 2, 1, 3]).reshape([b, h, 1, ts]);
  const os = tf.matMul(psb, vs); // [B, H, 1, dh]
  const opb = g === 1 ? op.reshape([b, h, 1, dh]) : op.transpose([0, 2, 1, 3]).reshape([b, h, 1, dh]);
  return tf.add(opb, os) as tf.Tensor4D;
}
