// Multi-step integer arithmetic with worked steps, e.g.
//   problem  "Q:12+7*3"
//   solution "<think>7*3=21 12+21=33</think><answer>33</answer>"
// Steps follow operator precedence (every `*` left to right, then `+`/`-` left to right), so the
// worked solution is a short, fully determined string a tiny character model can learn to imitate.
import type { Problem } from '../schema.js';
import { formatSolution } from './format.js';
import { overridePreset, seededList, type Rng } from './rng.js';

export type ArithmeticOp = '+' | '-' | '*';

export interface ArithmeticOptions {
  count: number;
  seed: number;
  /** 1 (one addition/subtraction of digits) … 5 (five operations on two-digit numbers). Default 2. */
  difficulty?: number;
  /** Overrides of the difficulty preset. */
  numOps?: number;
  maxOperand?: number;
  /** Cap on both factors of a product, so products stay short. */
  maxFactor?: number;
  ops?: readonly ArithmeticOp[];
  /** Intermediate results may go below zero (off by default: fewer symbols to learn). */
  allowNegative?: boolean;
  idPrefix?: string;
}

interface Preset {
  numOps: number;
  maxOperand: number;
  maxFactor: number;
  ops: readonly ArithmeticOp[];
}

const PRESETS: Record<number, Preset> = {
  1: { numOps: 1, maxOperand: 9, maxFactor: 9, ops: ['+', '-'] },
  2: { numOps: 2, maxOperand: 20, maxFactor: 9, ops: ['+', '-', '*'] },
  3: { numOps: 3, maxOperand: 30, maxFactor: 9, ops: ['+', '-', '*'] },
  4: { numOps: 4, maxOperand: 50, maxFactor: 12, ops: ['+', '-', '*'] },
  5: { numOps: 5, maxOperand: 99, maxFactor: 12, ops: ['+', '-', '*'] },
};

export function arithmeticPreset(difficulty: number): Preset {
  const d = Math.min(5, Math.max(1, Math.round(difficulty)));
  return PRESETS[d];
}

export interface WorkedArithmetic {
  value: number;
  steps: string[];
}

/** Evaluates `operands[0] ops[0] operands[1] …` with precedence, recording one step per operation. */
export function workArithmetic(operands: readonly number[], ops: readonly ArithmeticOp[]): WorkedArithmetic {
  const values = [...operands];
  const rest = [...ops];
  const steps: string[] = [];
  for (let i = rest.indexOf('*'); i >= 0; i = rest.indexOf('*')) {
    const product = values[i] * values[i + 1];
    steps.push(`${values[i]}*${values[i + 1]}=${product}`);
    values.splice(i, 2, product);
    rest.splice(i, 1);
  }
  while (rest.length > 0) {
    const op = rest.shift()!;
    const result = op === '+' ? values[0] + values[1] : values[0] - values[1];
    steps.push(`${values[0]}${op}${values[1]}=${result}`);
    values.splice(0, 2, result);
  }
  return { value: values[0], steps };
}

function drawExpression(rng: Rng, p: Preset): { operands: number[]; ops: ArithmeticOp[] } {
  const ops = Array.from({ length: p.numOps }, () => rng.pick(p.ops));
  const operands = Array.from({ length: p.numOps + 1 }, (_, i) => {
    const nearProduct = ops[i - 1] === '*' || ops[i] === '*';
    return rng.int(1, nearProduct ? Math.min(p.maxFactor, p.maxOperand) : p.maxOperand);
  });
  return { operands, ops };
}

export function arithmeticProblem(rng: Rng, p: Preset, allowNegative: boolean, id: string): Problem {
  for (;;) {
    const { operands, ops } = drawExpression(rng, p);
    const worked = workArithmetic(operands, ops);
    // Reject draws whose steps go negative unless asked for: the model then never needs a sign.
    if (!allowNegative && worked.steps.some((s) => s.includes('=-'))) continue;
    let expr = String(operands[0]);
    ops.forEach((op, i) => (expr += op + operands[i + 1]));
    const answer = String(worked.value);
    return {
      id,
      problem: `Q:${expr}`,
      answer,
      solution: formatSolution(worked.steps, answer),
      task: 'arithmetic',
    };
  }
}

/** `count` arithmetic problems; the same options always give the same list. */
export function generateArithmetic(opts: ArithmeticOptions): Problem[] {
  const preset = overridePreset(arithmeticPreset(opts.difficulty ?? 2), opts);
  if (preset.numOps < 1 || preset.maxOperand < 1 || preset.ops.length === 0) {
    throw new Error('generateArithmetic: numOps and maxOperand must be ≥ 1 and ops non-empty');
  }
  const prefix = opts.idPrefix ?? `arith-s${opts.seed}`;
  return seededList(opts.count, opts.seed, (rng, i) => arithmeticProblem(rng, preset, opts.allowNegative ?? false, `${prefix}-${i}`));
}
