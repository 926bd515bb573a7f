// Small models and tokenizers shared by the core tests (model, sampling, checkpoint, memory, backend).
import { GPT } from '../src/model/gpt.js';
import type { GPTConfigInput } from '../src/model/config.js';
import { CharTokenizer, REASONING_SPECIALS } from '../src/tokenizer/char.js';

export function arithmeticTokenizer(): CharTokenizer {
  return new CharTokenizer({ alphabet: '0123456789+-*=() ', specials: [...REASONING_SPECIALS] });
}

/**
 * A tiny GPT. initStd is large so the random model's distributions are far from uniform: sampling
 * tests then exercise real differences between tokens rather than near-ties.
 */
export function tinyGPT(over: Partial<GPTConfigInput> = {}): GPT {
  const tokenizer = arithmeticTokenizer();
  return new GPT({ vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 48, initStd: 0.3, seed: 7, ...over }, tokenizer);
}

/** A seeded uniform [0, 1) generator (mulberry32) for test data. */
export function mulberry(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
