// Every kernel name this project dispatches to, in one place: src/ops runs them by name through tfjs's
// kernel registry, and each backend (src/backend/native, src/backend/webgpu) registers its kernels
// under these names. A fused op's backward kernel is its forward name + 'Grad' (see gradients.ts).
import * as tf from '@tensorflow/tfjs';

/** Fused ops with a gradient: forward kernel `name`, backward kernel `${name}Grad`. */
export const FUSED = {
  layerNorm: 'IgrpoLayerNorm',
  gelu: 'IgrpoGelu',
  attention: 'IgrpoCausalAttention',
  tokenLogProbs: 'IgrpoTokenLogProbs',
  embedding: 'IgrpoEmbedding',
  /** x [..., D], weight [D]; attr eps → w·x·rsqrt(mean(x²) + eps) (src/ops/llm.ts rmsNorm). */
  rmsNorm: 'IgrpoRMSNorm',
  /** x [B, H, T, dh], cos and sin [T, dh] or [B, 1, 1, dh] → x·cos + rotate_half(x)·sin. */
  rope: 'IgrpoRope',
  /** gate, up of one shape → silu(gate)·up. */
  swiglu: 'IgrpoSwiGLU',
} as const;

/** KV-cache decoding kernels (inference only, no gradients); see decode.ts for their inputs. */
export const DECODE_KERNELS = {
  /** q, kp, vp, ks, vs, prefixMask?; attrs group, kvHeads, suffixLength → [B, H, 1, dh]. */
  attention: 'IgrpoDecodeAttention',
  /** buffer [B, Hkv, cap, dh], x [B, Hkv, 1, dh]; attr position → buffer with x at that position. */
  append: 'IgrpoKVAppend',
  /** x [B, Hkv, L, dh]; attrs length, capacity → a fresh [B, Hkv, capacity, dh]. */
  grow: 'IgrpoKVGrow',
} as const;

/** The backward kernel a fused op's gradient dispatches to. */
export const gradKernel = (name: string): string => `${name}Grad`;

/** True when the active backend has registered a kernel under this name. */
export function hasFused(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
