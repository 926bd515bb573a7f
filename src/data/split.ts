// Deterministic shuffles and splits: the same seed gives the same order on every machine.
import { makeRng } from './synthetic/rng.js';

/** A shuffled copy (Fisher–Yates with the seeded generator); the input is not touched. */
export function shuffleBySeed<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rng = makeRng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Named splits by fraction after a seeded shuffle, e.g. splitBySeed(items, { train: 0.9, test: 0.1 }, 0).
 * Fractions are normalised; every item lands in exactly one split (the last split takes the remainder).
 */
export function splitBySeed<T, K extends string>(items: readonly T[], fractions: Record<K, number>, seed: number): Record<K, T[]> {
  const names = Object.keys(fractions) as K[];
  const weights = names.map((n) => fractions[n]);
  if (names.length === 0 || weights.some((w) => !(w >= 0)) || weights.every((w) => w === 0)) {
    throw new Error('splitBySeed: give at least one split with a non-negative fraction, not all zero');
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const shuffled = shuffleBySeed(items, seed);
  const out = {} as Record<K, T[]>;
  let start = 0;
  let acc = 0;
  names.forEach((name, i) => {
    acc += weights[i] / total;
    const end = i === names.length - 1 ? shuffled.length : Math.round(acc * shuffled.length);
    out[name] = shuffled.slice(start, end);
    start = end;
  });
  return out;
}
