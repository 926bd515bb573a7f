// A small seeded generator (mulberry32): the same seed gives the same tasks on every machine.
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
}

export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** `count` items drawn in order from one generator seeded with `seed`. */
export function seededList<T>(count: number, seed: number, make: (rng: Rng, index: number) => T): T[] {
  const rng = makeRng(seed);
  return Array.from({ length: count }, (_, i) => make(rng, i));
}

/** A difficulty preset with the caller's explicit settings laid over it (undefined keeps the preset's). */
export function overridePreset<P extends object>(base: P, opts: Partial<P>): P {
  const out = { ...base };
  for (const key of Object.keys(base) as Array<keyof P>) {
    if (opts[key] !== undefined) out[key] = opts[key] as P[keyof P];
  }
  return out;
}
