// Synthetic problems written as GSM8K records ({ question, answer: "<worked solution>\n#### N" }), so a
// benchmark-format file exists that the shipped character policy can actually solve: the GSM8K adapter
// reads it back to the same problem text ("Q:12+7*3"), which the default prompt '{problem}\n' turns into
// the policy's own prompt.
import type { Problem } from '../schema.js';
import { generateArithmetic, type ArithmeticOptions } from './arithmetic.js';

export interface Gsm8kRecord {
  /** The loaders need an id (HF's GSM8K has none: its row number serves). */
  id: string;
  question: string;
  answer: string;
}

export const toGsm8kRecord = (p: Problem): Gsm8kRecord => ({ id: p.id, question: p.problem, answer: `${p.solution ?? ''}\n#### ${p.answer}` });

/** `count` arithmetic problems as GSM8K JSONL text (one record a line). */
export function arithmeticGsm8kJsonl(opts: ArithmeticOptions): string {
  return generateArithmetic(opts).map((p) => JSON.stringify(toGsm8kRecord(p))).join('\n') + '\n';
}
