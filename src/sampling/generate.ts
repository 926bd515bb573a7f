// Batched generation with a KV cache.
//
// Each distinct prompt is run once (prompts of equal length share one prefill batch); its G rows then
// share that prompt's cache row (KVCache.select with repeated rows copies nothing), and decoding
// attends to it once per group per step (src/ops decodeAttention): iGRPO's stage-2 prompt (question
// + best draft) is long and shared by all G refinements, so this is where time goes. Prompts of
// different lengths decode together in ONE batch: their caches are left-padded and the padding masked
// (KVCache.concat), and each row keeps its own position. We chose left padding over decoding each
// length bucket apart because stage-2 prompts differ in length across groups, so buckets would often
// hold a single group and the batch (the thing that keeps a matMul busy) would shrink to G rows.
//
// Every row has its own RNG stream, seeded by the caller, and draws the same amount of noise per step
// whatever batch it sits in, so a completion's tokens depend on its seed and prompt, not on which
// other rows were sampled with it. Token choice happens on the device (select.ts); each step reads
// back only the chosen ids and their log-probs.
import * as tf from '@tensorflow/tfjs';
import type { KVCache, Policy } from '../model/policy.js';
import { interruptPoint } from '../util/interrupt.js';
import { Rng, mixSeed } from '../util/rng.js';
import { uniformRuns } from '../util/runs.js';
import { type Completion, type SampleOptions } from './options.js';
import { bannedBias, candidateCount, selectTokens } from './select.js';
import type { Tokenizer } from '../tokenizer/types.js';

export interface GenerationRow {
  prompt: readonly number[];
  /** Seed of this row's own RNG stream. */
  seed: number;
}

/** The seed of completion `index` of prompt `promptIndex` in a call with `seed` (what sample() uses). */
export function rowSeed(seed: number, promptIndex: number, index: number): number {
  return mixSeed(seed, promptIndex, index);
}

interface RowState {
  rng: Rng;
  promptLen: number;
  limit: number;
  ids: number[];
  logprobs: number[];
  done: boolean;
  finishReason: 'stop' | 'length';
  text?: string;
}

/** Sample one completion per row. Options' n and seed are ignored here: rows carry their own seeds. */
export async function generate(policy: Policy, rows: readonly GenerationRow[], opts: SampleOptions): Promise<Completion[]> {
  if (rows.length === 0) return [];
  const tokenizer = policy.tokenizer;
  const stopIds = new Set(opts.stopIds);
  // every end id the model may emit (generation_config's eos_token_id list: <|im_end|> and <|endoftext|>)
  if (opts.stopOnEos) for (const id of eosIdsOf(tokenizer)) stopIds.add(id);
  const states: RowState[] = rows.map((r) => {
    if (r.prompt.length === 0) throw new Error('generate: empty prompt (start it with a bos token if it has no text)');
    if (r.prompt.length >= policy.maxSeqLen) {
      throw new Error(`prompt of ${r.prompt.length} tokens leaves no room to generate (maxSeqLen ${policy.maxSeqLen})`);
    }
    return {
      rng: new Rng(r.seed),
      promptLen: r.prompt.length,
      limit: Math.min(opts.maxNewTokens, policy.maxSeqLen - r.prompt.length),
      ids: [],
      logprobs: [],
      done: false,
      finishReason: 'length',
    };
  });

  let { cache, logits, block } = prefillShared(policy, rows, opts.sharePrefix);
  const banned = bannedBias(logits.shape[1], bannedIds(tokenizer));
  /** batch row → index into rows/states */
  let members = rows.map((_, i) => i);
  let nextIds: tf.Tensor2D | null = null;
  let steps = 0; // decode calls so far: every row in the batch sits at promptLen + steps
  try {
    for (;;) {
      // Yields to the event loop once per token (so Kernel → Interrupt is seen) and stops if one was requested;
      // the finally below frees the cache.
      await interruptPoint(`while sampling (token ${steps + 1})`);
      const b = members.length;
      const vocab = logits.shape[1];
      const k = candidateCount(vocab, opts);
      let noise: tf.Tensor2D | null = null;
      if (k > 0) {
        const buf = new Float32Array(b * k);
        members.forEach((r, i) => {
          if (!states[r].done) states[r].rng.fillGumbel(buf, i * k, k);
        });
        noise = tf.tensor2d(buf, [b, k]);
      }
      const chosen = selectTokens(logits, noise, opts, banned);
      noise?.dispose();
      logits.dispose();
      const host = (await chosen.data()) as Float32Array; // the one readback per step: ids and log-probs
      nextIds?.dispose();
      nextIds = tf.tidy(() => tf.cast(chosen.slice([0, 0], [1, b]), 'int32').reshape([b, 1]) as tf.Tensor2D);
      chosen.dispose();

      let finishedInBatch = 0;
      let mustCompact = false;
      members.forEach((r, i) => {
        const s = states[r];
        if (!s.done) record(s, host[i], host[b + i], stopIds, opts.stop, tokenizer.decode.bind(tokenizer));
        if (s.done) {
          finishedInBatch++;
          // a finished row riding along must not step past the position table
          if (s.promptLen + steps + 1 >= policy.maxSeqLen) mustCompact = true;
        }
      });
      if (finishedInBatch === b) break;
      const keep = rowsToKeep(members.map((r) => states[r].done), block, finishedInBatch, mustCompact);
      if (keep) {
        const smaller = cache.select(keep.rows);
        cache.dispose();
        cache = smaller;
        const idx = tf.tensor1d(keep.rows, 'int32');
        const ids = tf.gather(nextIds, idx) as tf.Tensor2D;
        idx.dispose();
        nextIds.dispose();
        nextIds = ids;
        members = keep.rows.map((i) => members[i]);
        block = keep.block;
      }
      logits = policy.decode(nextIds, cache);
      steps++;
    }
  } finally {
    cache.dispose();
    banned?.dispose();
    nextIds?.dispose();
    if (!logits.isDisposed) logits.dispose();
  }
  return states.map((s) => ({
    ids: s.ids,
    logprobs: s.logprobs,
    text: s.text ?? tokenizer.decode(s.finishReason === 'stop' && stopIds.has(s.ids[s.ids.length - 1]) ? s.ids.slice(0, -1) : s.ids),
    finishReason: s.finishReason,
  }));
}

/**
 * Which batch rows to keep once some have finished, or undefined to keep riding. Rows come in blocks
 * (the G rows sharing one prompt's cache row). Dropping whole finished blocks keeps the sharing and
 * copies little, so it happens as soon as they are a quarter of the batch. Dropping single rows ends
 * the sharing (each row gets its own copy of its prompt's keys), so it waits until half the batch is
 * finished rows — or a finished row is about to step past the position table. Either way the copies
 * are bounded by O(log B) per call while finished rows waste at most half a step.
 */
function rowsToKeep(done: boolean[], block: number, finished: number, must: boolean): { rows: number[]; block: number } | undefined {
  const b = done.length;
  if (must || finished * 2 >= b) {
    return { rows: done.map((d, i) => (d ? -1 : i)).filter((i) => i >= 0), block: 1 };
  }
  if (block > 1) {
    const live: number[] = [];
    for (let start = 0; start < b; start += block) {
      if (done.slice(start, start + block).some((d) => !d)) for (let i = start; i < start + block; i++) live.push(i);
    }
    if ((b - live.length) * 4 >= b) return { rows: live, block };
  } else if (finished * 4 >= b) {
    return { rows: done.map((d, i) => (d ? -1 : i)).filter((i) => i >= 0), block: 1 };
  }
  return undefined;
}

/** The ids a tokenizer ends a sequence with: its eosIds when it has several (HF), else eosId. */
export function eosIdsOf(t: Tokenizer): readonly number[] {
  const many = (t as { eosIds?: readonly number[] }).eosIds;
  return many && many.length ? many : [t.eosId];
}

/** Ids a completion never contains: padding, and bos where the tokenizer has one (unless either is an eos id). */
export function bannedIds(t: Tokenizer): number[] {
  const bos = (t as { bosId?: unknown }).bosId;
  const ids = [t.padId, ...(typeof bos === 'number' ? [bos] : [])];
  // Qwen pads with <|endoftext|>, one of its eos ids: banning it would forbid a way to stop
  const eos = new Set(eosIdsOf(t));
  return ids.filter((id) => !eos.has(id));
}

/** Append one sampled token to a row and decide whether the row is finished. */
function record(s: RowState, id: number, logprob: number, stopIds: Set<number>, stop: readonly string[], decode: (ids: number[]) => string): void {
  s.ids.push(id);
  s.logprobs.push(logprob);
  if (stopIds.has(id)) {
    s.done = true;
    s.finishReason = 'stop';
    return;
  }
  if (stop.length > 0) {
    const text = decode(s.ids);
    const cut = firstStop(text, stop);
    if (cut >= 0) {
      s.done = true;
      s.finishReason = 'stop';
      s.text = text.slice(0, cut); // keep the stop string; drop whatever the last token added after it
      return;
    }
  }
  if (s.ids.length >= s.limit) s.done = true;
}

/** End index (exclusive) of the earliest stop string in text, or -1. */
function firstStop(text: string, stop: readonly string[]): number {
  let best = -1;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0 && (best < 0 || at + s.length < best)) best = at + s.length;
  }
  return best;
}

/**
 * Prefill each distinct prompt once (equal lengths batched together) and expand to one cache row and
 * one logits row per generation row.
 */
function prefillShared(policy: Policy, rows: readonly GenerationRow[], share: boolean): { cache: KVCache; logits: tf.Tensor2D; block: number } {
  const keyOf = (r: GenerationRow, i: number) => (share ? r.prompt.join(',') : String(i));
  const uniqueIndex = new Map<string, number>();
  const unique: (readonly number[])[] = [];
  const rowToUnique = rows.map((r, i) => {
    const key = keyOf(r, i);
    let u = uniqueIndex.get(key);
    if (u === undefined) {
      u = unique.length;
      uniqueIndex.set(key, u);
      unique.push(r.prompt);
    }
    return u;
  });
  // one prefill per distinct length
  const byLength = new Map<number, number[]>();
  unique.forEach((p, u) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), u]));
  const caches: KVCache[] = [];
  const logitParts: tf.Tensor2D[] = [];
  const order: number[] = []; // position in the combined cache → unique prompt
  for (const [len, us] of byLength) {
    const ids = tf.tensor2d(us.flatMap((u) => [...unique[u]]), [us.length, len], 'int32');
    const r = policy.prefill(ids);
    ids.dispose();
    caches.push(r.cache);
    logitParts.push(r.logits);
    order.push(...us);
  }
  const combined = caches.length === 1 ? caches[0] : caches[0].concat(caches.slice(1));
  if (caches.length > 1) caches.forEach((c) => c.dispose());
  const slotOf = new Map(order.map((u, slot) => [u, slot]));
  const rowSlots = rowToUnique.map((u) => slotOf.get(u)!);
  const identity = rowSlots.length === order.length && rowSlots.every((s, i) => s === i);
  const cache = identity ? combined : combined.select(rowSlots);
  if (!identity) combined.dispose();
  const logits = tf.tidy(() => {
    const all = logitParts.length === 1 ? logitParts[0] : tf.concat(logitParts, 0);
    return identity ? all.clone() : (tf.gather(all, tf.tensor1d(rowSlots, 'int32')) as tf.Tensor2D);
  });
  logitParts.forEach((l) => l.dispose());
  // rows in runs of one length (a prompt's G rows together) decode as blocks of that length; else 1
  return { cache, logits, block: uniformRuns(rowSlots)?.length ?? 1 };
}
