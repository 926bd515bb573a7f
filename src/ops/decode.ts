// KV-cache decoding as two primitives: kvAppend writes a step's keys/values into a cache buffer, and
// decodeAttention attends one new query per row over a two-part cache (src/model/kvcache.ts): a prompt
// prefix shared by each group of G consecutive rows, and the rows' own generated suffix, of which the
// first suffixLength positions are valid (the buffer may have spare capacity). Keys and values have
// Hkv ≤ H heads (grouped-query attention: query head h reads kv head floor(h / (H / Hkv))).
//
// Where the active backend registers DECODE_KERNELS (native: C++, in place; webgpu: WGSL) they run as
// one kernel each. Elsewhere the composites below run: the G·(H/Hkv) queries that share a prompt's kv
// head are stacked into one matrix against those keys, so a prompt's keys are read once per step and
// never copied; the two parts share one softmax (scores concatenated along the key axis).
import * as tf from '@tensorflow/tfjs';
import { DECODE_KERNELS, hasFused } from './kernels.js';

/** One layer of a two-part KV cache, as decodeAttention reads it. */
export interface KVLayer {
  /** Prompt keys/values [U, Hkv, Tp, dh], row u shared by batch rows u·G .. u·G + G − 1. */
  kp: tf.Tensor4D;
  vp: tf.Tensor4D;
  /** [U, Tp] float32, 1 for real keys and 0 for left padding; null when no prompt is padded. */
  prefixMask: tf.Tensor2D | null;
  /** Generated keys/values [B, Hkv, cap, dh], one row per batch row. */
  ks: tf.Tensor4D;
  vs: tf.Tensor4D;
  /** Valid suffix positions (≤ cap); the rest of the buffer is ignored. */
  suffixLength: number;
}

function checkDecode(q: tf.Tensor4D, c: KVLayer, group: number, kvHeads: number): void {
  const [b, h, t, dh] = q.shape;
  const [u, hkv, , pdh] = c.kp.shape;
  const [sb, shkv, cap, sdh] = c.ks.shape;
  const ok =
    t === 1 && hkv === kvHeads && shkv === kvHeads && h % kvHeads === 0 && u * group === b && sb === b &&
    pdh === dh && sdh === dh && c.suffixLength >= 0 && c.suffixLength <= cap &&
    c.vp.shape.every((n, i) => n === c.kp.shape[i]) && c.vs.shape.every((n, i) => n === c.ks.shape[i]) &&
    (!c.prefixMask || (c.prefixMask.shape[0] === u && c.prefixMask.shape[1] === c.kp.shape[2]));
  if (!ok) {
    throw new Error(
      `decodeAttention: q [${q.shape}], prefix [${c.kp.shape}], suffix [${c.ks.shape}] (${c.suffixLength} valid), ` +
        `group ${group}, kvHeads ${kvHeads}: need q [U·G, H, 1, dh], prefix [U, Hkv, Tp, dh], suffix [U·G, Hkv, cap, dh], H % Hkv = 0`,
    );
  }
}

/**
 * q [B, H, 1, dh] attends to its group's prefix (masked) and its own suffixLength suffix positions.
 * Returns [B, H, 1, dh] (the same memory layout as [B, H·dh]: heads already merged). Inference only.
 */
export function decodeAttention(q: tf.Tensor4D, cache: KVLayer, opts: { group: number; kvHeads: number }): tf.Tensor4D {
  const { group, kvHeads } = opts;
  checkDecode(q, cache, group, kvHeads);
  if (hasFused(DECODE_KERNELS.attention)) {
    const { kp, vp, ks, vs, prefixMask } = cache;
    const inputs: tf.NamedTensorMap = prefixMask ? { q, kp, vp, ks, vs, prefixMask } : { q, kp, vp, ks, vs };
    return tf.engine().runKernel(DECODE_KERNELS.attention, inputs, { group, kvHeads, suffixLength: cache.suffixLength }) as tf.Tensor4D;
  }
  return tf.tidy(() => decodeAttentionComposite(q, cache, opts));
}

/** decodeAttention from stock ops (every backend; the reference the kernels are tested against). */
export function decodeAttentionComposite(q: tf.Tensor4D, cache: KVLayer, opts: { group: number; kvHeads: number }): tf.Tensor4D {
  const [b, h, , dh] = q.shape;
  const { kp, vp, prefixMask } = cache;
  const [u, hkv, tp] = kp.shape;
  const g = opts.group;
  const r = h / hkv; // query heads per kv head
  const ts = cache.suffixLength;
  const valid = (x: tf.Tensor4D) => (x.shape[2] === ts ? x : x.slice([0, 0, 0, 0], [b, hkv, ts, dh]));
  const ks = valid(cache.ks);
  const vs = valid(cache.vs);
  const qs = tf.mul(q, 1 / Math.sqrt(dh));
  // [B, H, 1, dh] = [U, G, Hkv, R, dh] → [U, Hkv, G·R, dh]: the queries that read one prompt kv head
  const qg = qs.reshape([u, g, hkv, r, dh]).transpose([0, 2, 1, 3, 4]).reshape([u, hkv, g * r, dh]);
  let sp: tf.Tensor = tf.matMul(qg, kp, false, true); // [U, Hkv, G·R, Tp]
  if (prefixMask) sp = tf.add(sp, tf.mul(tf.sub(1, prefixMask), -1e9).reshape([u, 1, 1, tp]));
  // each row's own suffix: [B, Hkv, R, dh] · [B, Hkv, Ts, dh]ᵀ → [B, Hkv, R, Ts] → [U, Hkv, G·R, Ts]
  const ss = tf.matMul(qs.reshape([b, hkv, r, dh]), ks, false, true);
  const ssg = ss.reshape([u, g, hkv, r, ts]).transpose([0, 2, 1, 3, 4]).reshape([u, hkv, g * r, ts]);
  const p = tf.softmax(tf.concat([sp, ssg], 3), -1); // [U, Hkv, G·R, Tp + Ts]
  const op = tf.matMul(p.slice([0, 0, 0, 0], [u, hkv, g * r, tp]), vp); // [U, Hkv, G·R, dh]
  const ps = p.slice([0, 0, 0, tp], [u, hkv, g * r, ts]).reshape([u, hkv, g, r, ts]).transpose([0, 2, 1, 3, 4]).reshape([b, hkv, r, ts]);
  const os = tf.matMul(ps, vs); // [B, Hkv, R, dh]
  const opb = op.reshape([u, hkv, g, r, dh]).transpose([0, 2, 1, 3, 4]).reshape([b, h, 1, dh]);
  return tf.add(opb, os.reshape([b, h, 1, dh])) as tf.Tensor4D;
}

/**
 * buffer [B, Hkv, cap, dh] with x [B, Hkv, 1, dh] written at `position` (< cap). A backend kernel
 * (native) writes in place when the buffer's storage is not shared and returns a tensor over that same
 * storage: the caller disposes `buffer` and keeps the result, which costs no copy of the cache.
 */
export function kvAppend(buffer: tf.Tensor4D, x: tf.Tensor4D, position: number): tf.Tensor4D {
  const [b, hkv, cap, dh] = buffer.shape;
  const [xb, xh, xt, xdh] = x.shape;
  if (xb !== b || xh !== hkv || xt !== 1 || xdh !== dh || !Number.isInteger(position) || position < 0 || position >= cap) {
    throw new Error(`kvAppend: x [${x.shape}] at position ${position} into buffer [${buffer.shape}]: need x [B, Hkv, 1, dh] and position < capacity`);
  }
  if (hasFused(DECODE_KERNELS.append)) return tf.engine().runKernel(DECODE_KERNELS.append, { buffer, x }, { position }) as tf.Tensor4D;
  return tf.tidy(() => {
    const parts = [buffer.slice([0, 0, 0, 0], [b, hkv, position, dh]), x];
    if (position + 1 < cap) parts.push(buffer.slice([0, 0, position + 1, 0], [b, hkv, cap - position - 1, dh]));
    return tf.concat(parts, 2) as tf.Tensor4D;
  });
}

/** x [B, Hkv, L, dh] → a fresh [B, Hkv, capacity, dh] holding x's first `length` positions, zeros after. */
export function kvGrow(x: tf.Tensor4D, length: number, capacity: number): tf.Tensor4D {
  const [b, hkv, l, dh] = x.shape;
  if (length > l || length > capacity) throw new Error(`kvGrow: length ${length} of [${x.shape}] into capacity ${capacity}`);
  if (hasFused(DECODE_KERNELS.grow)) return tf.engine().runKernel(DECODE_KERNELS.grow, { x }, { length, capacity }) as tf.Tensor4D;
  return tf.tidy(() => {
    const head = x.slice([0, 0, 0, 0], [b, hkv, length, dh]);
    return tf.concat([head, tf.zeros([b, hkv, capacity - length, dh])], 2) as tf.Tensor4D;
  });
}
