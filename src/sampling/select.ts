// Token choice on the device: temperature, top-k / top-p masking and Gumbel-max, so each decoding
// step reads back only the chosen ids and their log-probs, never the logits.
import * as tf from '@tensorflow/tfjs';

export interface SelectOptions {
  temperature: number;
  topK: number;
  topP: number;
}

/**
 * An additive [V] bias that rules out ids never to be generated (padding; bos), or null if none.
 * Padding must never appear inside a completion: the trainer masks padded positions by id.
 */
export function bannedBias(vocab: number, banned: readonly number[]): tf.Tensor1D | null {
  const ids = banned.filter((id) => id >= 0 && id < vocab);
  if (ids.length === 0) return null;
  const bias = new Float32Array(vocab);
  for (const id of ids) bias[id] = MASKED;
  return tf.tensor1d(bias);
}

/** Masked logits sit far below any real one but stay finite, so no inf - inf = NaN anywhere. */
const MASKED = -1e30;

/** How many candidates each row draws noise for per step: the vocabulary, top-k, or none (greedy). */
export function candidateCount(vocab: number, o: SelectOptions): number {
  if (o.temperature === 0) return 0;
  return o.topK > 0 ? Math.min(o.topK, vocab) : vocab;
}

/**
 * logits [B, V] and Gumbel noise [B, K] (K = candidateCount) → [2, B] float32: row 0 the chosen ids
 * (exact in float32 below 2^24), row 1 their log-probs under the distribution sampled from.
 * Greedy (temperature 0) ignores the noise and reports the untempered log-prob. `bias` (bannedBias)
 * removes ids from the distribution before anything else.
 */
export function selectTokens(raw: tf.Tensor2D, noise: tf.Tensor2D | null, o: SelectOptions, bias: tf.Tensor1D | null = null): tf.Tensor2D {
  return tf.tidy(() => {
    const v = raw.shape[1];
    const logits = bias ? (tf.add(raw, bias) as tf.Tensor2D) : raw;
    if (o.temperature === 0) {
      const choice = tf.argMax(logits, 1);
      return tf.stack([tf.cast(choice, 'float32'), pick(tf.logSoftmax(logits, -1), choice, v)]) as tf.Tensor2D;
    }
    if (!noise) throw new Error('selectTokens: sampling needs noise');
    const scaled = o.temperature === 1 ? logits : tf.div(logits, o.temperature);
    const filtered = o.topK > 0 || o.topP < 1;
    if (!filtered) {
      const logp = tf.logSoftmax(scaled, -1);
      const choice = tf.argMax(tf.add(logp, noise), 1);
      return tf.stack([tf.cast(choice, 'float32'), pick(logp, choice, v)]) as tf.Tensor2D;
    }
    // candidates in descending order: the top k, or the whole vocabulary sorted for top-p
    const k = candidateCount(v, o);
    const { values, indices } = tf.topk(scaled, k, true);
    let cand: tf.Tensor = values;
    if (o.topP < 1) {
      // keep a candidate while the mass before it is below p: the first one always survives
      const before = tf.cumsum(tf.softmax(values, -1), 1, true);
      cand = tf.where(tf.less(before, o.topP), values, tf.fill(values.shape, MASKED));
    }
    const logp = tf.logSoftmax(cand, -1);
    const choice = tf.argMax(tf.add(logp, noise), 1);
    const ids = pick(tf.cast(indices, 'float32'), choice, k);
    return tf.stack([ids, pick(logp, choice, k)]) as tf.Tensor2D;
  });
}

/** x[b, choice[b]] for each row, via an int32 one-hot (float32 oneHot is broken on wasm; gather's gradient is absent there). */
function pick(x: tf.Tensor, choice: tf.Tensor, width: number): tf.Tensor1D {
  const mask = tf.cast(tf.oneHot(tf.cast(choice, 'int32'), width), 'float32');
  return tf.sum(tf.mul(x, mask), 1) as tf.Tensor1D;
}
