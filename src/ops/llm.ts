// Building blocks of the Llama family (transformers' modeling_llama.py / qwen2 / qwen3), as pure,
// differentiable composites of stock tfjs ops. A backend may later register fused kernels for them
// (the kernels-gqa branch); until then these run everywhere.
import * as tf from '@tensorflow/tfjs';

/** RMSNorm over the last axis, in fp32: w · x · rsqrt(mean(x²) + eps). x [..., D], w [D]. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
  });
}

/** silu(x) = x · σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** SwiGLU's gate: silu(gate) · up (the MLP is down_proj(swiglu(gate_proj(x), up_proj(x)))). */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(silu(gate), up));
}

/** rotate_half(x) = cat(-x2, x1) over the last axis (transformers' layout: halves, not interleaved pairs). */
export function rotateHalf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const [x1, x2] = tf.split(x, [d / 2, d / 2], -1);
    return tf.concat([tf.neg(x2), x1], -1);
  });
}

/**
 * Rotary embedding x·cos + rotate_half(x)·sin. x [B, H, T, dh]; cos, sin broadcastable to it
 * ([T, dh] for shared positions, [B, 1, 1, dh] for one position per row). Its gradient (through
 * stock ops) is the inverse rotation.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin)) as tf.Tensor4D);
}

/**
 * cos and sin tables [positions.length, dh] for inv_freq [dh/2] (ropeInvFreq), computed as transformers
 * does: freqs = position · inv_freq in fp32, emb = cat(freqs, freqs).
 */
export function ropeTables(positions: readonly number[], invFreq: Float64Array): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const dh = 2 * half;
  const cos = new Float32Array(positions.length * dh);
  const sin = new Float32Array(positions.length * dh);
  positions.forEach((p, r) => {
    for (let i = 0; i < half; i++) {
      const f = Math.fround(p * invFreq[i]);
      const c = Math.cos(f);
      const s = Math.sin(f);
      cos[r * dh + i] = cos[r * dh + half + i] = c;
      sin[r * dh + i] = sin[r * dh + half + i] = s;
    }
  });
  return { cos, sin };
}

