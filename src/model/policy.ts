// The Policy interface: all the rest of the toolkit (sampling, RL, trainer, notebooks) knows of a model.
// A GPT in tfjs is the first implementation; a Hugging Face Llama/Qwen checkpoint or a remote
// OpenAI-compatible sampler can be added behind the same interface without touching sampling or rl/.
import type * as tf from '@tensorflow/tfjs';
import type { Tokenizer } from '../tokenizer/types.js';

/** Per-layer key/value cache for incremental decoding. Owned by the caller; dispose() frees it. */
export interface KVCache {
  /** Number of positions already in the cache (same for every row). */
  readonly length: number;
  /** Rows in the cache (the batch). */
  readonly batch: number;
  /** A cache whose rows are rows[i] of this one (e.g. one prompt's cache expanded to its G completions). */
  select(rows: number[]): KVCache;
  /**
   * One cache holding this cache's rows followed by the others' rows. Caches of different lengths are
   * left-padded and the padding masked, so prompts of different lengths decode in one batch.
   */
  concat(others: KVCache[]): KVCache;
  dispose(): void;
}

export interface Policy {
  readonly tokenizer: Tokenizer;
  /** Longest sequence (prompt + completion) the model can attend over. */
  readonly maxSeqLen: number;
  /** Trainable variables, in a stable order (optimizer state and checkpoints rely on it). */
  parameters(): tf.Variable[];
  numParameters(): number;
  /**
   * Full forward for training: ids int32 [B, T] → logits [B, T, V] (position t predicts token t+1).
   * Differentiable with respect to parameters().
   */
  logits(ids: tf.Tensor2D): tf.Tensor3D;
  /**
   * Log-probabilities of each token given its prefix: ids [B, T] → [B, T-1], entry t = log p(ids[t+1] | ids[..t])
   * under logits / temperature (default 1). The one log-prob path of the update, SFT, evaluation and benches:
   * differentiable, and computed in row chunks so [B, T, V] logits are never held whole (chunkRows overrides
   * the chunk size, for tests).
   */
  tokenLogProbs(ids: tf.Tensor2D, opts?: { temperature?: number; chunkRows?: number }): tf.Tensor2D;
  /** A copy in memory with its own weights (e.g. the frozen KL reference). */
  clone(): Policy;
  /** Run a prompt batch [B, T] through the model, returning last-position logits [B, V] and a filled cache. */
  prefill(ids: tf.Tensor2D): { logits: tf.Tensor2D; cache: KVCache };
  /** One decoding step: ids [B, 1] appended to the cache (mutated in place), returns logits [B, V]. */
  decode(ids: tf.Tensor2D, cache: KVCache): tf.Tensor2D;
  /** Write weights (safetensors), config and tokenizer to dir atomically. */
  save(dir: string): Promise<void>;
  dispose(): void;
}
