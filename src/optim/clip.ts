// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_'s rule: scale by maxNorm/(norm+1e-6) when < 1).
import * as tf from '@tensorflow/tfjs';

/**
 * Returns new gradient tensors (the caller disposes them; the inputs are left alone) and the global
 * L2 norm before clipping, read back as a number (one host read per call).
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  const out = grads.map((g) => (coef < 1 ? tf.mul(g, coef) : tf.clone(g)));
  return { grads: out, norm };
}
