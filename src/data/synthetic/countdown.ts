// Countdown: reach a target with the given numbers, each used exactly once, with + - * /.
//   problem  "Q:3,5,2->16"
//   solution "<think>3+5=8 8*2=16</think><answer>(3+5)*2</answer>"
// The target is built by combining the drawn numbers, so every problem has a known solution;
// any other expression that uses the same numbers and reaches the target is also correct
// (checkCountdown judges that, exactly, with rational arithmetic).
import type { Problem } from '../schema.js';
import { formatSolution } from './format.js';
import { overridePreset, seededList, type Rng } from './rng.js';

export type CountdownOp = '+' | '-' | '*' | '/';

export interface CountdownOptions {
  count: number;
  seed: number;
  /** 1 (two numbers) … 4 (five numbers); numbers grow with it. Default 2 (three numbers up to 10). */
  difficulty?: number;
  numbers?: number;
  maxNumber?: number;
  maxTarget?: number;
  ops?: readonly CountdownOp[];
  idPrefix?: string;
}

interface Preset {
  numbers: number;
  maxNumber: number;
  maxTarget: number;
  ops: readonly CountdownOp[];
}

const PRESETS: Record<number, Preset> = {
  1: { numbers: 2, maxNumber: 10, maxTarget: 100, ops: ['+', '-', '*'] },
  2: { numbers: 3, maxNumber: 10, maxTarget: 100, ops: ['+', '-', '*', '/'] },
  3: { numbers: 4, maxNumber: 15, maxTarget: 200, ops: ['+', '-', '*', '/'] },
  4: { numbers: 5, maxNumber: 25, maxTarget: 500, ops: ['+', '-', '*', '/'] },
};

export function countdownPreset(difficulty: number): Preset {
  return PRESETS[Math.min(4, Math.max(1, Math.round(difficulty)))];
}

/** An expression tree over the given numbers. */
type Node = { value: number; text: string; prec: number };

const PREC: Record<CountdownOp, number> = { '+': 1, '-': 1, '*': 2, '/': 2 };

/** Joins two subexpressions with the fewest parentheses that keep the meaning. */
function joinText(a: Node, op: CountdownOp, b: Node): string {
  const p = PREC[op];
  const left = a.prec < p ? `(${a.text})` : a.text;
  // The right side also needs them at equal precedence for - and / (a-(b+c), a/(b*c)).
  const rightNeeds = b.prec < p || (b.prec === p && (op === '-' || op === '/'));
  return `${left}${op}${rightNeeds ? `(${b.text})` : b.text}`;
}

function apply(a: number, op: CountdownOp, b: number): number | undefined {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a > b ? a - b : undefined; // positive intermediates only
    case '*':
      return a * b;
    case '/':
      return b > 1 && a % b === 0 ? a / b : undefined; // exact division only
  }
}

function tryBuild(rng: Rng, p: Preset): { numbers: number[]; node: Node; steps: string[] } | undefined {
  const numbers = Array.from({ length: p.numbers }, () => rng.int(1, p.maxNumber));
  const pool: Node[] = numbers.map((n) => ({ value: n, text: String(n), prec: 3 }));
  const steps: string[] = [];
  while (pool.length > 1) {
    const a = pool.splice(rng.int(0, pool.length - 1), 1)[0];
    const b = pool.splice(rng.int(0, pool.length - 1), 1)[0];
    const op = rng.pick(p.ops);
    const value = apply(a.value, op, b.value);
    if (value === undefined) return undefined;
    steps.push(`${a.value}${op}${b.value}=${value}`);
    pool.push({ value, text: joinText(a, op, b), prec: PREC[op] });
  }
  const node = pool[0];
  if (node.value > p.maxTarget) return undefined;
  return { numbers, node, steps };
}

export function countdownProblem(rng: Rng, p: Preset, id: string): Problem {
  for (;;) {
    const built = tryBuild(rng, p);
    if (!built) continue;
    const { numbers, node, steps } = built;
    return {
      id,
      problem: `Q:${numbers.join(',')}->${node.value}`,
      answer: node.text,
      solution: formatSolution(steps, node.text),
      task: 'countdown',
      numbers,
      target: node.value,
    };
  }
}

/** `count` Countdown problems; the same options always give the same list. */
export function generateCountdown(opts: CountdownOptions): Problem[] {
  const preset = overridePreset(countdownPreset(opts.difficulty ?? 2), opts);
  if (preset.numbers < 2 || preset.maxNumber < 1 || preset.ops.length === 0) {
    throw new Error('generateCountdown: numbers must be ≥ 2, maxNumber ≥ 1 and ops non-empty');
  }
  const prefix = opts.idPrefix ?? `countdown-s${opts.seed}`;
  return seededList(opts.count, opts.seed, (rng, i) => countdownProblem(rng, preset, `${prefix}-${i}`));
}

export interface CountdownVerdict {
  correct: boolean;
  reason: string;
}

/** Exact value of an expression of integers, + - * / and parentheses, or a reason it has none. */
export function evaluateCountdownExpression(expr: string): { value?: [bigint, bigint]; literals: number[]; error?: string } {
  const src = expr.replace(/\s+/g, '').replace(/×/g, '*').replace(/÷/g, '/');
  const literals: number[] = [];
  let pos = 0;
  type Q = [bigint, bigint]; // numerator, denominator (denominator > 0)
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  const norm = (n: bigint, d: bigint): Q => {
    if (d === 0n) fail('division by zero');
    if (d < 0n) (n = -n), (d = -d);
    let a = n < 0n ? -n : n;
    let b = d;
    while (b) [a, b] = [b, a % b];
    return a === 0n ? [0n, 1n] : [n / a, d / a];
  };
  const atom = (): Q => {
    if (src[pos] === '(') {
      pos++;
      const v = sum();
      if (src[pos] !== ')') fail(`expected ')' at ${pos}`);
      pos++;
      return v;
    }
    const m = /^\d{1,9}/.exec(src.slice(pos, pos + 10));
    if (!m) fail(`unexpected '${src[pos] ?? 'end'}' at ${pos}`);
    pos += m![0].length;
    literals.push(Number(m![0]));
    return [BigInt(m![0]), 1n];
  };
  const product = (): Q => {
    let v = atom();
    while (src[pos] === '*' || src[pos] === '/') {
      const op = src[pos++];
      const w = atom();
      v = op === '*' ? norm(v[0] * w[0], v[1] * w[1]) : norm(v[0] * w[1], v[1] * w[0]);
    }
    return v;
  };
  const sum = (): Q => {
    let v = product();
    while (src[pos] === '+' || src[pos] === '-') {
      const sign = src[pos++] === '+' ? 1n : -1n;
      const w = product();
      v = norm(v[0] * w[1] + sign * w[0] * v[1], v[1] * w[1]);
    }
    return v;
  };
  try {
    if (src.length === 0 || src.length > 200) fail('empty or over-long expression');
    const value = sum();
    if (pos !== src.length) fail(`unexpected '${src[pos]}' at ${pos}`);
    return { value, literals };
  } catch (e) {
    return { literals, error: (e as Error).message };
  }
}

/** Is `expr` a correct Countdown answer: uses exactly the given numbers, once each, and equals target? */
export function checkCountdown(expr: string, numbers: readonly number[], target: number): CountdownVerdict {
  // Accept "(3+5)*2=16" as well: the part before the last '=' is the expression.
  const eq = expr.lastIndexOf('=');
  const body = eq >= 0 ? expr.slice(0, eq) : expr;
  const { value, literals, error } = evaluateCountdownExpression(body);
  if (error || !value) return { correct: false, reason: `not an arithmetic expression: ${error}` };
  const used = [...literals].sort((a, b) => a - b).join(',');
  const given = [...numbers].sort((a, b) => a - b).join(',');
  if (used !== given) return { correct: false, reason: `uses [${used}] but must use each of [${given}] once` };
  if (value[1] !== 1n || value[0] !== BigInt(target)) {
    return { correct: false, reason: `evaluates to ${value[0]}${value[1] === 1n ? '' : `/${value[1]}`}, not ${target}` };
  }
  return { correct: true, reason: 'uses every number once and reaches the target' };
}
