// Token log-probs from final hidden states without ever holding [N, V] logits whole: the output head,
// the temperature and the log-softmax + gather (src/ops tokenLogProbs, fused where a backend has it)
// run on row chunks of at most `chunkRows` rows. With a 150k-token vocabulary B·T·V floats do not fit,
// while the hidden states [N, d] do.
//
// When everything fits in one chunk the ops are recorded as usual (the fused op's own gradient). With
// several chunks each chunk is a custom-gradient node that keeps only its hidden rows and recomputes
// its logits in the backward pass, so the tape never keeps the chunks' logits alive either
// (activation checkpointing of the head).
import * as tf from '@tensorflow/tfjs';
import { tokenLogProbs } from '../ops/index.js';

/** Default bound on the logits one chunk may hold: 2^24 floats (64 MiB). */
export const LOGIT_CHUNK_ELEMENTS = 1 << 24;

export interface HeadLogProbOptions {
  /** Logits are divided by it before the log-softmax (the sampling temperature); default 1. */
  temperature?: number;
  /** Rows per chunk; default keeps a chunk's logits under LOGIT_CHUNK_ELEMENTS floats. */
  chunkRows?: number;
}

/** logits = hidden · weight (transposeWeight: hidden · weightᵀ, a tied embedding [V, d]) / temperature. */
function headLogits(hidden: tf.Tensor2D, weight: tf.Tensor2D, transposeWeight: boolean, temperature: number): tf.Tensor2D {
  const logits = tf.matMul(hidden, weight, false, transposeWeight) as tf.Tensor2D;
  return temperature === 1 ? logits : (tf.div(logits, temperature) as tf.Tensor2D);
}

/**
 * log p(targets[i] | hidden[i]) for hidden [N, d] and targets int32 [N] → [N]. Differentiable with
 * respect to hidden and weight. weight is [d, V], or [V, d] with transposeWeight (tied embeddings).
 */
export function headTokenLogProbs(
  hidden: tf.Tensor2D,
  weight: tf.Tensor2D,
  transposeWeight: boolean,
  targets: tf.Tensor1D,
  opts: HeadLogProbOptions = {},
): tf.Tensor1D {
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`tokenLogProbs: temperature must be > 0, got ${temperature}`);
  const n = hidden.shape[0];
  const vocab = transposeWeight ? weight.shape[0] : weight.shape[1];
  const rows = Math.max(1, Math.floor(opts.chunkRows ?? LOGIT_CHUNK_ELEMENTS / vocab));
  if (n <= rows) return tf.tidy(() => tokenLogProbs(headLogits(hidden, weight, transposeWeight, temperature), targets));
  return tf.tidy(() => {
    const parts: tf.Tensor1D[] = [];
    for (let start = 0; start < n; start += rows) {
      const size = Math.min(rows, n - start);
      const h = tf.slice(hidden, [start, 0], [size, hidden.shape[1]]);
      const t = tf.slice(targets, [start], [size]);
      parts.push(checkpointedChunk(h, weight, t, transposeWeight, temperature));
    }
    return tf.concat(parts) as tf.Tensor1D;
  });
}

/** One chunk as a custom-gradient node: the backward pass recomputes its logits from the saved hidden rows. */
function checkpointedChunk(h: tf.Tensor2D, weight: tf.Tensor2D, targets: tf.Tensor1D, transposeWeight: boolean, temperature: number): tf.Tensor1D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [hx, w, t, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([hx, w, t]);
    const value = tokenLogProbs(headLogits(hx, w, transposeWeight, temperature), t);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [hs, ws, ts] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      // d logp_i / d logits_ij = onehot_ij − softmax_ij, and logits = h·W / temperature
      const logits = headLogits(hs, ws, transposeWeight, temperature);
      const onehot = tf.cast(tf.oneHot(tf.cast(ts, 'int32'), logits.shape[1]), 'float32');
      const dLogits = tf.div(tf.mul(tf.sub(onehot, tf.softmax(logits)), tf.reshape(dy, [-1, 1])), temperature) as tf.Tensor2D;
      const dh = tf.matMul(dLogits, ws, false, !transposeWeight);
      const dw = transposeWeight ? tf.matMul(dLogits, hs, true, false) : tf.matMul(hs, dLogits, true, false);
      return [dh, dw, tf.zerosLike(ts)];
    };
    return { value, gradFunc };
  });
  return f(h, weight, targets) as tf.Tensor1D;
}
