// Lay out (prompt, completion) pairs as one right-padded id matrix plus a completion mask.
// Right padding keeps every real token at its true position (the model is causal, so padding after a
// sequence never changes what precedes it), and prompts of different lengths share one batch.
import * as tf from '@tensorflow/tfjs';
import { tokenLogProbs } from '../ops/index.js';
import type { Policy } from '../model/policy.js';
import { tokenEntropy } from './loss.js';

export interface SequencePair {
  prompt: readonly number[];
  completion: readonly number[];
}

export interface SequenceBatch {
  /** Rows B, columns T (longest prompt + completion). */
  batch: number;
  length: number;
  /** int32 [B, T], padded with padId. */
  ids: Int32Array;
  /** float32 [B, T − 1]: entry t is 1 when token t + 1 is a completion token (the log-prob layout). */
  mask: Float32Array;
  /** Completion tokens per row. */
  completionTokens: number[];
}

export function buildSequenceBatch(pairs: readonly SequencePair[], padId: number): SequenceBatch {
  const length = Math.max(2, ...pairs.map((p) => p.prompt.length + p.completion.length));
  const b = pairs.length;
  const ids = new Int32Array(b * length).fill(padId);
  const mask = new Float32Array(b * (length - 1));
  pairs.forEach((p, i) => {
    if (p.prompt.length === 0) throw new Error('buildSequenceBatch: a prompt must have at least one token');
    ids.set(p.prompt, i * length);
    ids.set(p.completion, i * length + p.prompt.length);
    // completion token k sits at position prompt.length + k and is predicted by log-prob entry prompt.length + k − 1
    for (let k = 0; k < p.completion.length; k++) mask[i * (length - 1) + p.prompt.length - 1 + k] = 1;
  });
  return { batch: b, length, ids, mask, completionTokens: pairs.map((p) => p.completion.length) };
}

/**
 * Log-probs [B, T − 1] of each next token under logits / temperature (ratios use the sampling
 * temperature, as TRL does, so that old and new log-probs describe the distribution that sampled),
 * and, when asked, the logits so the caller can take entropies. Differentiable.
 */
export function sequenceLogProbs(policy: Policy, ids: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => scaledLogits(policy, ids, temperature).logp);
}

/** Both log-probs and the scaled logits [B, T − 1, V] (for the entropy). */
export function scaledLogits(policy: Policy, ids: tf.Tensor2D, temperature: number): { logp: tf.Tensor2D; logits: tf.Tensor3D } {
  return tf.tidy(() => {
    const [b, t] = ids.shape;
    let logits = policy.logits(ids) as tf.Tensor3D;
    if (temperature !== 1) logits = tf.div(logits, temperature);
    const v = logits.shape[2];
    const shifted = tf.slice(logits, [0, 0, 0], [b, t - 1, v]);
    const targets = tf.reshape(tf.slice(ids, [0, 1], [b, t - 1]), [b * (t - 1)]) as tf.Tensor1D;
    const logp = tf.reshape(tokenLogProbs(tf.reshape(shifted, [b * (t - 1), v]) as tf.Tensor2D, targets), [b, t - 1]) as tf.Tensor2D;
    return { logp, logits: shifted as tf.Tensor3D };
  });
}

/** Mean entropy over masked positions. */
export function maskedMeanEntropy(logits: tf.Tensor3D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(tokenEntropy(logits), mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}
