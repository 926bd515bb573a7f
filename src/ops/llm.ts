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

/**
 * log softmax(h·Wᵀ / τ)[n, targets[n]] for hidden h [N, d] and an output matrix W [V, d], computed in
 * row chunks so no more than `chunkRows` × V logits exist at once — in the forward AND the backward
 * (which recomputes each chunk's logits instead of keeping them). Differentiable in h and, unless
 * weightGrad is false, W: a frozen head (LoRA, tied embeddings) skips the [V, d] gradient, a third of
 * the head's backward FLOPs and a vocabulary-sized buffer.
 */
export function chunkedHeadLogProbs(h: tf.Tensor2D, w: tf.Tensor2D, targets: tf.Tensor1D, temperature = 1, chunkRows = 256, weightGrad = true): tf.Tensor1D {
  const n = h.shape[0];
  const v = w.shape[0];
  const inv = 1 / temperature;
  const chunks = (fn: (start: number, size: number) => void) => {
    for (let s = 0; s < n; s += chunkRows) fn(s, Math.min(chunkRows, n - s));
  };
  // without weightGrad, W is read from the closure: not an input of the custom op, so no gradient for it
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [hh, ww, tt, save] = (weightGrad ? args : [args[0], w, args[1], args[2]]) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save(weightGrad ? [hh, ww, tt] : [hh, tt]);
    const parts: tf.Tensor[] = [];
    chunks((s, size) => {
      parts.push(
        tf.tidy(() => {
          const z = tf.mul(tf.matMul(hh.slice([s, 0], [size, -1]), ww, false, true), inv);
          const y = tf.cast(tt.slice([s], [size]), 'int32');
          const mask = tf.cast(tf.oneHot(y, v), 'float32');
          return tf.sub(tf.sum(tf.mul(z, mask), -1), tf.logSumExp(z, -1));
        }),
      );
    });
    const value = parts.length === 1 ? parts[0] : tf.concat(parts);
    if (parts.length > 1) parts.forEach((p) => p.dispose());
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sh, sw, st] = (weightGrad ? saved : [saved[0], w, saved[1]]) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const dhParts: tf.Tensor[] = [];
      let dw: tf.Tensor | undefined = weightGrad ? tf.zerosLike(sw) : undefined;
      chunks((s, size) => {
        const [dhc, dwNext] = tf.tidy(() => {
          const hc = sh.slice([s, 0], [size, -1]);
          const z = tf.mul(tf.matMul(hc, sw, false, true), inv);
          const mask = tf.cast(tf.oneHot(tf.cast(st.slice([s], [size]), 'int32'), v), 'float32');
          // d lp / d z = onehot(y) − softmax(z); chain through z = h·Wᵀ/τ
          const dz = tf.mul(tf.mul(tf.sub(mask, tf.softmax(z, -1)), dy.slice([s], [size]).reshape([size, 1])), inv);
          return [tf.matMul(dz, sw), dw ? tf.add(dw, tf.matMul(dz, hc, true, false)) : undefined];
        });
        dhParts.push(dhc);
        dw?.dispose();
        dw = dwNext;
      });
      const dh = dhParts.length === 1 ? dhParts[0] : tf.concat(dhParts);
      if (dhParts.length > 1) dhParts.forEach((p) => p.dispose());
      return weightGrad ? [dh, dw!, tf.zerosLike(st)] : [dh, tf.zerosLike(st)];
    };
    return { value, gradFunc };
  });
  return (weightGrad ? f(h, w, targets) : f(h, targets)) as tf.Tensor1D;
}
