// Token log-probs from final hidden states without ever holding [N, V] logits whole: the output head,
// the temperature and the log-softmax + gather (src/ops tokenLogProbs, fused where a backend has it)
// run on row chunks of at most `chunkRows` rows. With a 150k-token vocabulary B·T·V floats do not fit,
// while the hidden states [N, d] do.
//
// A frozen head (LoRA, a frozen copy; weightGrad false) under a tape: log p_i = z_i[t_i] − logsumexp z_i
// with z_i = W·h_i / τ has d log p_i / d h_i = (W[t_i] − Σ_j p_ij W[j]) / τ, and dy enters only as a
// per-row factor, so the forward computes e = softmax(z)·W (one more GEMM, the size of the backward's
// dlogits·W) and keeps only W[t] − e [N, d]: the backward scales it by dy/τ, with no logits kept or recomputed.
//
// A trainable head: when everything fits in one chunk the ops are recorded as usual (the fused op's own
// gradient). With several chunks each chunk is a custom-gradient node that keeps only its hidden rows
// and recomputes its logits in the backward pass, so the tape never keeps the chunks' logits alive
// (activation checkpointing of the head).
import * as tf from '@tensorflow/tfjs';
import { tokenLogProbs } from '../ops/index.js';

/**
 * Default bound on the logits one chunk may hold: 2^26 floats (256 MiB; 441 rows of a 152k vocabulary).
 * Larger chunks make the head's GEMMs more efficient (each chunk streams all of W): at 2 threads, 108-row
 * chunks ran at ~30 GFLOPS and 408-row ones at ~40–50 (bench/README.md); the chunk's logits and softmax
 * are the transient cost.
 */
export const LOGIT_CHUNK_ELEMENTS = 1 << 26;

export interface HeadLogProbOptions {
  /** Logits are divided by it before the log-softmax (the sampling temperature); default 1. */
  temperature?: number;
  /** Rows per chunk; default keeps a chunk's logits under LOGIT_CHUNK_ELEMENTS floats. */
  chunkRows?: number;
  /**
   * false for a frozen head (LoRA on, a frozen copy): the chunks' backward then skips the [V, d] weight
   * gradient, a third of the head's backward FLOPs and a vocabulary-sized buffer. Default true.
   */
  weightGrad?: boolean;
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
  const maxRows = Math.max(1, Math.floor(opts.chunkRows ?? LOGIT_CHUNK_ELEMENTS / vocab));
  // equal chunks (126 rows at most 110 per chunk: 63 + 63, not 110 + 16: a thin GEMM wastes its pass over W)
  const rows = Math.ceil(n / Math.ceil(n / maxRows));
  const frozen = !(opts.weightGrad ?? true) && tf.engine().isTapeOn();
  if (!frozen && n <= rows) return tf.tidy(() => tokenLogProbs(headLogits(hidden, weight, transposeWeight, temperature), targets));
  const chunk = (h: tf.Tensor2D, t: tf.Tensor1D) =>
    frozen ? frozenHeadChunk(h, weight, t, transposeWeight, temperature) : checkpointedChunk(h, weight, t, transposeWeight, temperature, opts.weightGrad ?? true);
  return tf.tidy(() => {
    if (n <= rows) return chunk(hidden, targets);
    const parts: tf.Tensor1D[] = [];
    for (let start = 0; start < n; start += rows) {
      const size = Math.min(rows, n - start);
      parts.push(chunk(tf.slice(hidden, [start, 0], [size, hidden.shape[1]]), tf.slice(targets, [start], [size])));
    }
    return tf.concat(parts) as tf.Tensor1D;
  });
}

/** Rows of the [V, d] (transposeWeight) or [d, V] head weight for these token ids: [N, d]. */
function headRows(weight: tf.Tensor2D, ids: tf.Tensor1D, transposeWeight: boolean): tf.Tensor2D {
  return (transposeWeight ? tf.gather(weight, ids) : tf.transpose(tf.gather(weight, ids, 1))) as tf.Tensor2D;
}

/** One chunk of a frozen head: the forward keeps g = W[t] − softmax(z)·W, the backward is g·dy/τ. */
function frozenHeadChunk(h: tf.Tensor2D, weight: tf.Tensor2D, targets: tf.Tensor1D, transposeWeight: boolean, temperature: number): tf.Tensor1D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [hx, t, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const logits = headLogits(hx, weight, transposeWeight, temperature);
    const value = tokenLogProbs(logits, t);
    const expected = tf.matMul(tf.softmax(logits), weight, false, !transposeWeight); // [N, d]
    save([tf.sub(headRows(weight, tf.cast(t, 'int32') as tf.Tensor1D, transposeWeight), expected)]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const scale = tf.reshape(temperature === 1 ? dy : tf.div(dy, temperature), [-1, 1]);
      return [tf.mul(saved[0], scale), tf.zerosLike(t)];
    };
    return { value, gradFunc };
  });
  return f(h, targets) as tf.Tensor1D;
}

/**
 * One chunk as a custom-gradient node: the backward pass recomputes its logits from the saved hidden rows.
 * With weightGrad false the weight is a constant of the node (closed over), so no gradient is made for it.
 */
function checkpointedChunk(h: tf.Tensor2D, weight: tf.Tensor2D, targets: tf.Tensor1D, transposeWeight: boolean, temperature: number, weightGrad: boolean): tf.Tensor1D {
  const dLogitsOf = (hs: tf.Tensor2D, ws: tf.Tensor2D, ts: tf.Tensor1D, dy: tf.Tensor): tf.Tensor2D => {
    // d logp_i / d logits_ij = onehot_ij − softmax_ij, and logits = h·W / temperature
    const logits = headLogits(hs, ws, transposeWeight, temperature);
    const onehot = tf.cast(tf.oneHot(tf.cast(ts, 'int32'), logits.shape[1]), 'float32');
    return tf.div(tf.mul(tf.sub(onehot, tf.softmax(logits)), tf.reshape(dy, [-1, 1])), temperature) as tf.Tensor2D;
  };
  const dHidden = (dLogits: tf.Tensor2D, ws: tf.Tensor2D) => tf.matMul(dLogits, ws, false, !transposeWeight);
  if (!weightGrad) {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [hx, t, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
      save([hx, t]);
      const value = tokenLogProbs(headLogits(hx, weight, transposeWeight, temperature), t);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, ts] = saved as [tf.Tensor2D, tf.Tensor1D];
        return [dHidden(dLogitsOf(hs, weight, ts, dy), weight), tf.zerosLike(ts)];
      };
      return { value, gradFunc };
    });
    return f(h, targets) as tf.Tensor1D;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [hx, w, t, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([hx, w, t]);
    const value = tokenLogProbs(headLogits(hx, w, transposeWeight, temperature), t);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [hs, ws, ts] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const dLogits = dLogitsOf(hs, ws, ts, dy);
      const dw = transposeWeight ? tf.matMul(dLogits, hs, true, false) : tf.matMul(hs, dLogits, true, false);
      return [dHidden(dLogits, ws), dw, tf.zerosLike(ts)];
    };
    return { value, gradFunc };
  });
  return f(h, weight, targets) as tf.Tensor1D;
}
