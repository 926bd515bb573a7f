// A decoder's key/value cache (the GPT's; nothing in it is GPT-specific), in two parts per layer:
//
//   prefix [U, Hkv, Tp, dh]  the prompts' keys/values, ONE row per distinct prompt, shared by `group`
//                            consecutive batch rows (batch = U·group), left-padded to the longest prompt
//                            and masked by prefixMask [U, Tp] where prompts differ in length;
//   suffix [B, Hkv, cap, dh] the generated tokens' keys/values, one row per batch row, of which the first
//                            suffixLength positions are valid (spare capacity after them).
//
// Decoding appends to the suffix only, so a step never copies the (long) prompt; and attention reads each
// prompt's keys once per step for all its G rows (src/ops decodeAttention), which is what makes iGRPO's
// long shared stage-2 prompt cheap. Each row keeps its own position, so padding changes nothing in what
// a row computes. Hkv may be fewer than the query heads (grouped-query attention).
//
// The cache owns append and growth: beginStep() makes room for one more position (growing the suffix
// by doubling, src/ops kvGrow, into fresh buffers this cache alone owns), append(layer, k, v) writes the
// step's keys/values at position suffixLength (src/ops kvAppend: in place on native, so a step copies
// nothing) and returns the layer as decodeAttention reads it, and endStep() makes the position valid.
import * as tf from '@tensorflow/tfjs';
import type { KVCache } from './policy.js';
import { type KVLayer, kvAppend, kvGrow } from '../ops/index.js';
import { uniformRuns } from '../util/runs.js';

/** First capacity of an in-place suffix; doubled when full. */
const FIRST_SUFFIX_CAPACITY = 16;

// a type alias (not an interface) so it counts as a tf.TensorContainer and can leave a tf.tidy
export type LayerKV = {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
};

export class GPTKVCache implements KVCache {
  private disposed = false;
  /** Valid positions of the suffix (its tensors may hold more: capacity for in-place decoding). */
  private suffixLen: number;
  /** Whether the suffix tensors were allocated by this cache's own growth (safe to write in place). */
  private suffixOwned = false;

  constructor(
    /** Per layer prompt K/V [U, Hkv, Tp, dh]; owned by this cache (kept out of any tidy scope). */
    public prefix: LayerKV[],
    /** [U, Tp] float32, 1 for real keys and 0 for left padding; null when no prompt is padded. */
    public prefixMask: tf.Tensor2D | null,
    /** Batch rows per prefix row. */
    public group: number,
    /** Per layer generated K/V [B, Hkv, cap, dh]; null before the first decoding step. */
    public suffix: LayerKV[] | null,
    /** Per batch row, the position its next token takes (its unpadded length so far). */
    public positions: number[],
    /** Valid suffix positions when the suffix tensors have spare capacity; default all of them. */
    suffixLength?: number,
  ) {
    this.suffixLen = suffix ? (suffixLength ?? suffix[0].k.shape[2]) : 0;
    keepAll(prefix);
    if (suffix) keepAll(suffix);
    if (prefixMask) tf.keep(prefixMask);
    const u = prefix[0].k.shape[0];
    if (u * group !== positions.length) throw new Error(`KVCache: ${u} prefix rows × group ${group} ≠ ${positions.length} batch rows`);
  }

  get prefixLength(): number {
    return this.prefix[0].k.shape[2];
  }

  get suffixLength(): number {
    return this.suffix ? this.suffixLen : 0;
  }

  /** Layer `layer`'s valid suffix as exact [B, Hkv, suffixLength, dh] tensors (a slice when there is spare capacity). */
  validSuffix(layer: number): LayerKV | null {
    const s = this.suffix?.[layer];
    if (!s) return null;
    if (s.k.shape[2] === this.suffixLen) return s;
    const [b, h, , dh] = s.k.shape;
    const size = [b, h, this.suffixLen, dh];
    return { k: s.k.slice([0, 0, 0, 0], size) as tf.Tensor4D, v: s.v.slice([0, 0, 0, 0], size) as tf.Tensor4D };
  }

  get length(): number {
    return this.prefixLength + this.suffixLength;
  }

  get batch(): number {
    return this.positions.length;
  }

  select(rows: number[]): GPTKVCache {
    const b = this.batch;
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= b) throw new Error(`KVCache.select: row ${r} not in [0, ${b})`);
    }
    const positions = rows.map((r) => this.positions[r]);
    const g = this.group;
    // 1. expanding prompts: each (ungrouped, not yet decoded) row repeated k times shares its prefix row
    const runs = this.suffix === null && g === 1 ? uniformRuns(rows) : undefined;
    if (runs) return new GPTKVCache(this.gatherPrefix(runs.values), this.gatherMask(runs.values), runs.length, null, positions);
    // 2. dropping or reordering whole groups keeps the sharing
    const groups = wholeGroups(rows, g);
    if (groups) return new GPTKVCache(this.gatherPrefix(groups), this.gatherMask(groups), g, this.gatherSuffix(rows), positions, this.suffixLen);
    // 3. anything else: one prefix row per batch row
    const owners = rows.map((r) => Math.floor(r / g));
    return new GPTKVCache(this.gatherPrefix(owners), this.gatherMask(owners), 1, this.gatherSuffix(rows), positions, this.suffixLen);
  }

  concat(others: KVCache[]): GPTKVCache {
    const all = [this, ...others.map(asGPTCache)];
    const g = this.group;
    // Caches that have not decoded yet and share a group size join prefix to prefix; otherwise each is
    // first flattened to one prefix row per batch row holding prompt + generated keys.
    if (all.every((c) => c.suffix === null && c.group === g)) return joinPrefixes(all, g);
    const flat = all.map((c) => c.flattened());
    try {
      return joinPrefixes(flat, 1);
    } finally {
      flat.forEach((c) => c.dispose());
    }
  }

  /** Before a decoding step: room for one more suffix position (at most maxCapacity in all), in buffers this cache owns. */
  beginStep(maxCapacity: number): void {
    const needed = this.suffixLength + 1;
    const cur = this.suffix;
    const cap = cur ? cur[0].k.shape[2] : 0;
    if (cur && this.suffixOwned && cap >= needed) return;
    const want = cap >= needed ? cap : Math.max(FIRST_SUFFIX_CAPACITY, 2 * cap, needed);
    const capacity = Math.max(needed, Math.min(want, maxCapacity));
    const [, hkv, , dh] = this.prefix[0].k.shape;
    const len = this.suffixLength;
    const grown = this.prefix.map((_, i) =>
      tf.tidy(() => {
        const empty = cur ? null : (tf.zeros([this.batch, hkv, 0, dh]) as tf.Tensor4D);
        return { k: kvGrow(cur ? cur[i].k : empty!, len, capacity), v: kvGrow(cur ? cur[i].v : empty!, len, capacity) };
      }),
    );
    keepAll(grown);
    if (cur) disposeAll(cur);
    this.suffix = grown;
    this.suffixLen = len;
    this.suffixOwned = true;
  }

  /**
   * Within a step (after beginStep): writes the step's keys/values k, v [B, Hkv, 1, dh] of `layer` at
   * position suffixLength and returns that layer as src/ops decodeAttention reads it (suffixLength + 1
   * valid positions). The cache keeps the written tensors (safe inside a tf.tidy).
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): KVLayer {
    const s = this.suffix?.[layer];
    if (!s || !this.suffixOwned || this.suffixLen >= s.k.shape[2]) throw new Error('KVCache.append: call beginStep() before each decoding step');
    const nk = tf.keep(kvAppend(s.k, k, this.suffixLen));
    const nv = tf.keep(kvAppend(s.v, v, this.suffixLen));
    s.k.dispose();
    s.v.dispose();
    this.suffix![layer] = { k: nk, v: nv };
    const pre = this.prefix[layer];
    return { kp: pre.k, vp: pre.v, prefixMask: this.prefixMask, ks: nk, vs: nv, suffixLength: this.suffixLen + 1 };
  }

  /** After a decoding step wrote position suffixLength of every layer's suffix. */
  endStep(): void {
    this.suffixLen++;
    this.positions = this.positions.map((p) => p + 1);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll(this.prefix);
    if (this.suffix) disposeAll(this.suffix);
    this.prefixMask?.dispose();
  }

  /** This cache as group 1 with no suffix: prompt and generated keys together, one prefix row per batch row. */
  private flattened(): GPTKVCache {
    const owners = this.positions.map((_, r) => Math.floor(r / this.group));
    const prefix = this.prefix.map((p, i) =>
      tf.tidy(() => {
        const idx = tf.tensor1d(owners, 'int32');
        const k = tf.gather(p.k, idx) as tf.Tensor4D;
        const v = tf.gather(p.v, idx) as tf.Tensor4D;
        const s = this.validSuffix(i);
        return s ? { k: tf.concat([k, s.k], 2) as tf.Tensor4D, v: tf.concat([v, s.v], 2) as tf.Tensor4D } : { k, v };
      }),
    );
    const mask = this.prefixMask;
    const flatMask = mask
      ? tf.tidy(() => {
          const m = tf.gather(mask, tf.tensor1d(owners, 'int32')) as tf.Tensor2D;
          return this.suffixLength ? (tf.concat([m, tf.ones([this.batch, this.suffixLength])], 1) as tf.Tensor2D) : m;
        })
      : null;
    return new GPTKVCache(prefix, flatMask, 1, null, [...this.positions]);
  }

  private gatherPrefix(rows: number[]): LayerKV[] {
    return this.prefix.map((p) => tf.tidy(() => gatherRows(p, rows)));
  }

  private gatherSuffix(rows: number[]): LayerKV[] | null {
    const s = this.suffix;
    return s ? s.map((p) => tf.tidy(() => gatherRows(p, rows))) : null;
  }

  private gatherMask(rows: number[]): tf.Tensor2D | null {
    const m = this.prefixMask;
    return m ? tf.tidy(() => tf.gather(m, tf.tensor1d(rows, 'int32')) as tf.Tensor2D) : null;
  }

  /** Prefix mask [U, tMax] of this cache's prefix left-padded to tMax. */
  paddedMask(tMax: number): tf.Tensor2D {
    const u = this.prefix[0].k.shape[0];
    const pad = tMax - this.prefixLength;
    const real = this.prefixMask ?? tf.ones([u, this.prefixLength]);
    return pad === 0 ? (real as tf.Tensor2D) : (tf.concat([tf.zeros([u, pad]), real], 1) as tf.Tensor2D);
  }
}

/** Caches with no suffix and one group size, their prefixes left-padded to the longest and stacked. */
function joinPrefixes(all: GPTKVCache[], group: number): GPTKVCache {
  const tMax = Math.max(...all.map((c) => c.prefixLength));
  const padded = all.some((c) => c.prefixLength !== tMax || c.prefixMask !== null);
  const prefix = all[0].prefix.map((_, li) =>
    tf.tidy(() => ({
      k: tf.concat(all.map((c) => leftPadTime(c.prefix[li].k, tMax)), 0) as tf.Tensor4D,
      v: tf.concat(all.map((c) => leftPadTime(c.prefix[li].v, tMax)), 0) as tf.Tensor4D,
    })),
  );
  const mask = padded ? tf.tidy(() => tf.concat(all.map((c) => c.paddedMask(tMax)), 0) as tf.Tensor2D) : null;
  return new GPTKVCache(prefix, mask, group, null, all.flatMap((c) => c.positions));
}

/** rows = whole groups of size g, each in order: the group indices. */
function wholeGroups(rows: number[], g: number): number[] | undefined {
  if (g === 1 || rows.length % g !== 0) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < rows.length; i += g) {
    const first = rows[i];
    if (first % g !== 0) return undefined;
    for (let j = 1; j < g; j++) if (rows[i + j] !== first + j) return undefined;
    groups.push(first / g);
  }
  return groups;
}

function gatherRows(p: LayerKV, rows: number[]): LayerKV {
  const idx = tf.tensor1d(rows, 'int32');
  return { k: tf.gather(p.k, idx) as tf.Tensor4D, v: tf.gather(p.v, idx) as tf.Tensor4D };
}

function leftPadTime(x: tf.Tensor4D, tMax: number): tf.Tensor4D {
  const pad = tMax - x.shape[2];
  return pad === 0 ? x : tf.pad(x, [[0, 0], [0, 0], [pad, 0], [0, 0]]);
}

function keepAll(layers: LayerKV[]): void {
  for (const l of layers) {
    tf.keep(l.k);
    tf.keep(l.v);
  }
}

function disposeAll(layers: LayerKV[]): void {
  for (const l of layers) {
    l.k.dispose();
    l.v.dispose();
  }
}

export function asGPTCache(c: KVCache): GPTKVCache {
  if (!(c instanceof GPTKVCache)) throw new Error('expected a cache made by a GPT policy');
  return c;
}
