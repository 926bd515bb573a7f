// Synthetic problems written as GSM8K records ({ question, answer: "<worked solution>\n#### N" }), so a
// benchmark-format file exists that the shipped character policy can actually solve: the GSM8K adapter
// reads it back to the same problem text ("Q:12+7*3"), which the default prompt '{problem}\n' turns into
// the policy's own prompt.
// data/arithmetic-gsm8k.jsonl is arithmeticGsm8kJsonl(SHIPPED_GSM8K_ARITHMETIC) (a test checks it still is).
import type { Problem } from '../schema.js';
import { generateArithmetic, type ArithmeticOptions } from './arithmetic.js';

export interface Gsm8kRecord {
  /** The loaders need an id (HF's GSM8K has none: its row number serves). */
  id: string;
  question: string;
  answer: string;
}

export const toGsm8kRecord = (p: Problem): Gsm8kRecord => ({ id: p.id, question: p.problem, answer: `${p.solution ?? ''}\n#### ${p.answer}` });

/** How data/arithmetic-gsm8k.jsonl was made. */
export const SHIPPED_GSM8K_ARITHMETIC: ArithmeticOptions = { count: 600, seed: 2026, difficulty: 2, idPrefix: 'arith-gsm8k' };

/** `count` arithmetic problems as GSM8K JSONL text (one record a line). */
export function arithmeticGsm8kJsonl(opts: ArithmeticOptions): string {
  return generateArithmetic(opts).map((p) => JSON.stringify(toGsm8kRecord(p))).join('\n') + '\n';
}
