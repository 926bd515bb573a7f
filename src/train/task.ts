// The synthetic task as the trainer sees it: problems (train and held-out, from disjoint seeds), the
// prompt text q of a problem, the completion target for SFT, and the character tokenizer that covers them.
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { generateArithmetic, generateCountdown, SYNTHETIC_CHARSET } from '../data/synthetic/index.js';
import { CharTokenizer, REASONING_SPECIALS } from '../tokenizer/char.js';
import { Rng, mixSeed } from '../util/rng.js';

export const TaskConfig = z
  .object({
    task: z.enum(['arithmetic', 'countdown']).default('arithmetic'),
    /** The data helper's difficulty knob (arithmetic: 1…5). */
    difficulty: z.number().int().min(1).max(5).default(2),
    /** Arithmetic only: overrides of the difficulty preset (operations per problem, largest operand). */
    numOps: z.number().int().positive().optional(),
    maxOperand: z.number().int().positive().optional(),
    /** Training problems (a fixed pool, reshuffled each epoch). */
    trainSize: z.number().int().positive().default(4096),
    /** Held-out problems for evaluation. */
    evalSize: z.number().int().positive().default(128),
    /** Seeds of the two splits; different seeds give disjoint draws (and eval ids are checked against train). */
    trainSeed: z.number().int().nonnegative().default(1),
    evalSeed: z.number().int().nonnegative().default(1001),
    /**
     * Train on a problem file instead of the synthetic task: a path (JSONL, JSON, CSV or Parquet; relative
     * to the working directory) or 'benchmark:NAME' (a file of the shared benchmarks folder, e.g.
     * 'benchmark:gsm8k_train'). Problems go through `adapter`.
     */
    file: z.string().min(1).optional(),
    /** How the file's records map to problems (src/data/adapters.ts): auto, problem, gsm8k, math, … */
    adapter: z.enum(['auto', 'problem', 'gsm8k', 'math', 'aime', 'amc', 'minerva']).default('auto'),
    /** Held-out problems from their own file (same forms as `file`); else a seeded split of `file`. */
    heldOutFile: z.string().min(1).optional(),
    /** Without heldOutFile: the fraction of `file` held out (seeded by splitSeed; disjoint from training). */
    heldOutFraction: z.number().gt(0).lt(1).default(0.1),
    splitSeed: z.number().int().nonnegative().default(0),
  })
  .strict();
export type TaskConfig = z.infer<typeof TaskConfig>;

function generate(cfg: TaskConfig, count: number, seed: number, prefix: string): Problem[] {
  if (cfg.task === 'arithmetic') {
    return generateArithmetic({ count, seed, difficulty: cfg.difficulty, numOps: cfg.numOps, maxOperand: cfg.maxOperand, idPrefix: prefix });
  }
  return generateCountdown({ count, seed, difficulty: cfg.difficulty, idPrefix: prefix });
}

export const trainProblems = (cfg: TaskConfig): Problem[] => generate(cfg, cfg.trainSize, cfg.trainSeed, `${cfg.task}-train`);

/** Held-out problems, minus any whose text also occurs in the training pool. */
export function evalProblems(cfg: TaskConfig): Problem[] {
  const seen = new Set(trainProblems(cfg).map((p) => p.problem));
  return generate(cfg, cfg.evalSize * 2, cfg.evalSeed, `${cfg.task}-eval`)
    .filter((p) => !seen.has(p.problem))
    .slice(0, cfg.evalSize);
}

/** The pool in a seeded order per epoch (a Fisher–Yates shuffle from (seed, epoch)). */
export function epochOrder(size: number, seed: number, epoch: number): number[] {
  const rng = new Rng(mixSeed(seed, 99, epoch));
  const p = Array.from({ length: size }, (_, i) => i);
  for (let i = p.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** The `batch` problems of step `step`: the pool in a fresh seeded order each epoch (a pure function of (seed, step)). */
export function stepProblems(pool: readonly Problem[], batch: number, seed: number, step: number): Problem[] {
  const out: Problem[] = [];
  let order: { epoch: number; p: number[] } | undefined;
  for (let k = step * batch; k < (step + 1) * batch; k++) {
    const epoch = Math.floor(k / pool.length);
    if (order?.epoch !== epoch) order = { epoch, p: epochOrder(pool.length, seed, epoch) };
    out.push(pool[order.p[k % pool.length]]);
  }
  return out;
}

/** q: the prompt a problem is sampled under (the completion starts right after it). */
export const promptOf = (p: Problem): string => `${p.problem}\n`;

/** The character tokenizer of the shipped policy: the synthetic alphabet, a newline, the reasoning tags. */
export function syntheticTokenizer(): CharTokenizer {
  const alphabet = [...new Set(SYNTHETIC_CHARSET + '\n')].join('');
  return new CharTokenizer({ alphabet, specials: [...REASONING_SPECIALS] });
}
