// The GPT's key/value cache: per layer K and V of shape [B, H, T, dh], plus what rows of different
// prompt lengths need to share one batch: each row's next position and a key mask for left padding.
import * as tf from '@tensorflow/tfjs';
import type { KVCache } from './policy.js';

// a type alias (not an interface) so it counts as a tf.TensorContainer and can leave a tf.tidy
export type LayerKV = {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
};

export class GPTKVCache implements KVCache {
  constructor(
    /** Per layer K/V, [B, H, T, dh]; owned by this cache (kept out of any tidy scope). */
    public layers: LayerKV[],
    /** Per row, the position the next token takes (its real, unpadded length so far). */
    public positions: number[],
    /** [B, T] float32, 1 for real keys and 0 for left padding; null when no row is padded. */
    public keyMask: tf.Tensor2D | null,
  ) {
    for (const l of layers) {
      tf.keep(l.k);
      tf.keep(l.v);
    }
    if (keyMask) tf.keep(keyMask);
  }

  get length(): number {
    return this.layers[0].k.shape[2];
  }

  get batch(): number {
    return this.positions.length;
  }

  select(rows: number[]): GPTKVCache {
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new Error(`KVCache.select: row ${r} not in [0, ${this.batch})`);
    }
    const idx = tf.tensor1d(rows, 'int32');
    try {
      const layers = this.layers.map((l) => ({ k: tf.gather(l.k, idx) as tf.Tensor4D, v: tf.gather(l.v, idx) as tf.Tensor4D }));
      const mask = this.keyMask ? (tf.gather(this.keyMask, idx) as tf.Tensor2D) : null;
      return new GPTKVCache(layers, rows.map((r) => this.positions[r]), mask);
    } finally {
      idx.dispose();
    }
  }

  /**
   * This cache's rows followed by others' rows, in one batch. Shorter caches are left-padded with
   * zeros along the time axis and their padding is masked out, so each row attends only to its own
   * prompt; position embeddings follow each row's own position, so padding changes nothing.
   */
  concat(others: KVCache[]): GPTKVCache {
    const all = [this, ...others.map(asGPTCache)];
    const tMax = Math.max(...all.map((c) => c.length));
    const padded = all.some((c) => c.length !== tMax || c.keyMask !== null);
    const layers = this.layers.map((_, li) =>
      tf.tidy(() => ({
        k: tf.concat(all.map((c) => leftPadTime(c.layers[li].k, tMax)), 0) as tf.Tensor4D,
        v: tf.concat(all.map((c) => leftPadTime(c.layers[li].v, tMax)), 0) as tf.Tensor4D,
      })),
    );
    const mask = padded ? tf.tidy(() => tf.concat(all.map((c) => c.paddedMask(tMax)), 0) as tf.Tensor2D) : null;
    return new GPTKVCache(layers, all.flatMap((c) => c.positions), mask);
  }

  /** Replace the per-layer K/V after a decoding step (the new tensors are one position longer). */
  replace(layers: LayerKV[], appended: number): void {
    const oldMask = this.keyMask;
    if (oldMask) {
      this.keyMask = tf.keep(tf.tidy(() => tf.concat([oldMask, tf.ones([this.batch, appended])], 1) as tf.Tensor2D));
      oldMask.dispose();
    }
    this.disposeLayers();
    this.layers = layers;
    for (const l of layers) {
      tf.keep(l.k);
      tf.keep(l.v);
    }
    this.positions = this.positions.map((p) => p + appended);
  }

  dispose(): void {
    this.disposeLayers();
    this.keyMask?.dispose();
    this.keyMask = null;
  }

  private disposeLayers(): void {
    for (const l of this.layers) {
      l.k.dispose();
      l.v.dispose();
    }
    this.layers = [];
  }

  /** Key mask [B, tMax] for this cache left-padded to tMax. */
  private paddedMask(tMax: number): tf.Tensor2D {
    const pad = tMax - this.length;
    const real = this.keyMask ?? tf.ones([this.batch, this.length]);
    return pad === 0 ? (real as tf.Tensor2D) : (tf.concat([tf.zeros([this.batch, pad]), real], 1) as tf.Tensor2D);
  }
}

function leftPadTime(x: tf.Tensor4D, tMax: number): tf.Tensor4D {
  const pad = tMax - x.shape[2];
  return pad === 0 ? x : tf.pad(x, [[0, 0], [0, 0], [pad, 0], [0, 0]]);
}

export function asGPTCache(c: KVCache): GPTKVCache {
  if (!(c instanceof GPTKVCache)) throw new Error('expected a cache made by a GPT policy');
  return c;
}
