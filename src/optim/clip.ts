// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_'s rule: scale by maxNorm/(norm+1e-6) when < 1).
import * as tf from '@tensorflow/tfjs';

/**
 * Sum of many same-shape tensors. tf.addN binds one buffer per input, and webgpu's AddN pipeline is invalid
 * beyond the device's storage-buffer limit (8 on lavapipe) — a model's 30+ per-parameter sums broke it —
 * so add in small chunks. Call inside tf.tidy.
 */
export function sumMany(xs: readonly tf.Tensor[]): tf.Tensor {
  if (xs.length === 0) throw new Error('sumMany: no tensors');
  let level = [...xs];
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 4) {
      const chunk = level.slice(i, i + 4);
      next.push(chunk.length === 1 ? chunk[0] : tf.addN(chunk));
    }
    level = next;
  }
  return level[0];
}

function scaled(grads: tf.Tensor[], maxNorm: number, norm: number): { grads: tf.Tensor[]; norm: number } {
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  const out = grads.map((g) => (coef < 1 ? tf.mul(g, coef) : tf.clone(g)));
  return { grads: out, norm };
}

const normOf = (grads: tf.Tensor[]) => tf.tidy(() => tf.sqrt(sumMany(grads.map((g) => tf.sum(tf.square(g))))));

/**
 * Returns new gradient tensors (the caller disposes them; the inputs are left alone) and the global
 * L2 norm before clipping, read back as a number (one host read per call). Synchronous: not for webgpu
 * (use clipByGlobalNormAsync).
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const normT = normOf(grads);
  const norm = normT.dataSync()[0];
  normT.dispose();
  return scaled(grads, maxNorm, norm);
}

/** clipByGlobalNorm with an asynchronous read of the norm (works on every backend, webgpu included). */
export async function clipByGlobalNormAsync(grads: tf.Tensor[], maxNorm: number): Promise<{ grads: tf.Tensor[]; norm: number }> {
  const normT = normOf(grads);
  const norm = (await normT.data())[0];
  normT.dispose();
  return scaled(grads, maxNorm, norm);
}
