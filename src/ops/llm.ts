// Building blocks of the Llama family (transformers' modeling_llama.py / qwen2 / qwen3), as pure,
// differentiable composites of stock tfjs ops. Where the active backend registers a fused kernel under
// the FUSED name (native, webgpu), rmsNorm, swiglu and applyRope run it instead (one forward and one
// backward kernel, gradients.ts); the composites are the reference the fused paths are tested against.
import * as tf from '@tensorflow/tfjs';
import { FUSED, hasFused } from './kernels.js';
import { registerFusedGradients } from './gradients.js';

registerFusedGradients();

/** RMSNorm over the last axis, in fp32: w · x · rsqrt(mean(x²) + eps). x [..., D], w [D]. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  if (x.dtype === 'float32' && hasFused(FUSED.rmsNorm)) {
    return tf.engine().runKernel(FUSED.rmsNorm, { x, weight: w }, { eps }) as tf.Tensor;
  }
  return rmsNormComposite(x, w, eps);
}

/** rmsNorm through stock ops (the reference for the fused kernels). */
export function rmsNormComposite(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
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
  const same = gate.rank === up.rank && gate.shape.every((n, i) => n === up.shape[i]);
  if (same && hasFused(FUSED.swiglu)) return tf.engine().runKernel(FUSED.swiglu, { gate, up }) as tf.Tensor;
  return swigluComposite(gate, up);
}

/** swiglu through stock ops (the reference for the fused kernels). */
export function swigluComposite(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
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
  if (ropeFusable(x, cos, sin) && hasFused(FUSED.rope)) {
    return tf.engine().runKernel(FUSED.rope, { x, cos, sin }) as tf.Tensor4D;
  }
  return applyRopeComposite(x, cos, sin);
}

/** The fused kernel's table layouts: [T, dh] (one position per time step) or [B, 1, 1, dh] (per row). */
function ropeFusable(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): boolean {
  const [b, , t, dh] = x.shape;
  const sameTables = cos.rank === sin.rank && cos.shape.every((n, i) => n === sin.shape[i]);
  const perStep = cos.rank === 2 && cos.shape[0] === t && cos.shape[1] === dh;
  const perRow = cos.rank === 4 && cos.shape[0] === b && cos.shape[1] === 1 && cos.shape[2] === 1 && cos.shape[3] === dh;
  return x.dtype === 'float32' && dh % 2 === 0 && sameTables && (perStep || perRow);
}

/** applyRope through stock ops (the reference for the fused kernels). */
export function applyRopeComposite(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
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

