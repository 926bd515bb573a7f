// Lay out (prompt, completion) pairs as one right-padded id matrix plus a completion mask.
// Right padding keeps every real token at its true position (the model is causal, so padding after a
// sequence never changes what precedes it), and prompts of different lengths share one batch.

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
