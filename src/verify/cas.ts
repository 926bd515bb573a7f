// Symbolic equivalence through @cortex-js/compute-engine, behind bounds: inputs over a length limit
// are not sent, the engine's own time limit is set low, and any throw counts as "not shown equal".
import * as computeEngineModule from '@cortex-js/compute-engine';
import type { ComputeEngine } from '@cortex-js/compute-engine';
import { numbersEqual } from './numbers.js';
import { casLatex } from './caslatex.js';

/** Longest LaTeX string handed to the CAS; longer ones compare as strings only. */
export const CAS_MAX_CHARS = 400;

let engine: ComputeEngine | undefined;

/**
 * The engine's class. Under ESM (tsx, the CLI) the import has it. Under CommonJS (tslab compiles notebook
 * imports that way) `require` resolves to the package's UMD build, which Node loads as an ES module (the
 * package is "type": "module") that exports nothing; the ESM build beside it, required by path, works.
 */
function engineClass(): typeof ComputeEngine {
  type Mod = { ComputeEngine?: typeof ComputeEngine };
  const direct = (computeEngineModule as Mod).ComputeEngine;
  if (typeof direct === 'function') return direct;
  if (typeof require === 'function') {
    const umd = require.resolve('@cortex-js/compute-engine');
    const esm = (require(umd.replace(/compute-engine(\.min)?\.js$/, 'compute-engine$1.esm.js')) as Mod).ComputeEngine;
    if (typeof esm === 'function') return esm;
  }
  throw new Error('@cortex-js/compute-engine did not load: symbolic verification is unavailable');
}
function ce(): ComputeEngine {
  // The engine's own evaluation time limit (2 s, read-only in 0.27) is the last resort; the length
  // bound and the guard against towers of powers / huge factorials keep real calls well under it.
  engine ??= quietly(() => new (engineClass())());
  return engine;
}

type Expr = ReturnType<ComputeEngine['parse']>;

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'assert'] as const;

/**
 * Run f with the console muted. compute-engine 0.2x prints from inside the library (console.info on
 * every BoxedNumber hash, console.error when a simplification rule throws, console.assert, a
 * console.log in assumptions): stray lines in a training log or a `verify --jsonl` stream. Every
 * engine call in this file goes through here; the console is restored even when f throws. Calls are
 * synchronous, so nothing else can print while it is muted.
 */
export function quietly<T>(f: () => T): T {
  const c = console as unknown as Record<(typeof CONSOLE_METHODS)[number], (...args: unknown[]) => void>;
  const saved = CONSOLE_METHODS.map((k) => c[k]);
  for (const k of CONSOLE_METHODS) c[k] = () => {};
  try {
    return f();
  } finally {
    CONSOLE_METHODS.forEach((k, i) => (c[k] = saved[i]));
  }
}

export interface CasValue {
  expr: Expr;
  /** Its numeric value when it has no free variables and evaluates to a finite real. */
  numeric?: number;
}

/**
 * Inputs whose evaluation could take unbounded time: nested powers, big factorials, huge exponents, and
 * big operators (a symbolic \\sum took 1.5 s in the engine). Those compare as normalised strings only.
 */
function explosive(latex: string): boolean {
  return /\\(?:sum|prod|int|iint|iiint|oint|lim)(?![a-zA-Z])/.test(latex) || /\^\s*\{[^}]*\^/.test(latex) || /\d{3,}\s*!|\}\s*!/.test(latex) || /\^\s*\{?\s*-?\d{4,}/.test(latex);
}

const cache = new Map<string, CasValue | null>();

/** Parses LaTeX into the CAS (memoised); undefined when too long or not valid LaTeX to the engine. */
export function casParse(latex: string): CasValue | undefined {
  if (latex.length === 0 || latex.length > CAS_MAX_CHARS || explosive(latex)) return undefined;
  const hit = cache.get(latex);
  if (hit !== undefined) return hit ?? undefined;
  const engine = ce(); // a missing engine is an error, not a silent "not equal"
  const out = quietly(() => parseWith(engine, latex));
  if (cache.size > 50_000) cache.clear();
  cache.set(latex, out);
  return out ?? undefined;
}

function parseWith(engine: ComputeEngine, latex: string): CasValue | null {
  let out: CasValue | null = null;
  try {
    const expr = engine.parse(casLatex(latex));
    if (expr.isValid) out = { expr };
  } catch {
    out = null;
  }
  // A value the engine cannot compute leaves a readable expression without a numeric value.
  if (out && out.expr.freeVariables.length === 0) {
    try {
      const n = out.expr.N();
      const re = n.re;
      if (typeof re === 'number' && Number.isFinite(re) && Math.abs(n.im ?? 0) < 1e-12) out.numeric = re;
    } catch {
      // no numeric value
    }
  }
  return out;
}

/** The CAS's verdict: numerically equal within tolerance, or symbolically equal by the engine. */
export function casEqual(a: CasValue, b: CasValue, tol: number): boolean {
  return quietly(() => casEqualLoud(a, b, tol));
}

function casEqualLoud(a: CasValue, b: CasValue, tol: number): boolean {
  if (a.numeric !== undefined && b.numeric !== undefined) return numbersEqual(a.numeric, b.numeric, tol);
  if ((a.numeric === undefined) !== (b.numeric === undefined) && a.expr.freeVariables.length === 0 && b.expr.freeVariables.length === 0) {
    // One side is numeric and the other is not a number at all (a tuple, a string): not equal.
    return false;
  }
  try {
    return a.expr.isEqual(b.expr) === true;
  } catch {
    return false;
  }
}

/** Fixed, irrational-looking sample points: identities hold at all of them, accidents at none. */
const SAMPLES = [0.7310585786, 1.4142135623, 2.2360679775, 0.3183098862, 1.7320508075];
/**
 * Step functions are constant between integers, so on small points ⌊√(n−1)⌋ and ⌊n/2⌋ agree by accident;
 * expressions with one are also sampled over a wider range, and must agree at every point there.
 */
const WIDE_SAMPLES = [...SAMPLES, 7.3890560989, 12.566370614, 29.957322735, 54.598150033, 101.23456789];
const STEP_FUNCTION = /"(?:Floor|Ceil|Round|Mod|Sign|Fract|FractionalPart|IntegerPart)"/;
function hasStepFunction(e: Expr): boolean {
  try {
    return STEP_FUNCTION.test(JSON.stringify(e.json));
  } catch {
    return true;
  }
}

function valueAt(e: Expr, point: Record<string, number>): number | undefined {
  try {
    const n = e.subs(point).N();
    const re = n.re;
    return typeof re === 'number' && Number.isFinite(re) && Math.abs(n.im ?? 0) < 1e-9 ? re : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Equal (or, with mode 'proportional', a constant nonzero multiple) at several sample points of the
 * shared free variables: catches identities the engine's isEqual misses (tan²y+1 vs sec²y).
 */
export function sampledEqual(a: CasValue, b: CasValue, mode: 'equal' | 'proportional' = 'equal'): boolean {
  return quietly(() => sampledEqualLoud(a, b, mode));
}

function sampledEqualLoud(a: CasValue, b: CasValue, mode: 'equal' | 'proportional'): boolean {
  const va = [...a.expr.freeVariables].sort();
  const vb = [...b.expr.freeVariables].sort();
  if (va.length === 0 || va.length > 4 || va.join(',') !== vb.join(',')) return false;
  const wide = hasStepFunction(a.expr) || hasStepFunction(b.expr);
  const samples = wide ? WIDE_SAMPLES : SAMPLES;
  let agreeing = 0;
  let ratio: number | undefined;
  for (let k = 0; k < samples.length; k++) {
    const point: Record<string, number> = {};
    va.forEach((v, i) => (point[v] = samples[(k + i * 2) % samples.length] + i * 0.1));
    const x = valueAt(a.expr, point);
    const y = valueAt(b.expr, point);
    if (x === undefined || y === undefined) continue;
    if (mode === 'equal') {
      if (!numbersEqual(x, y, 1e-8)) return false;
    } else {
      if (Math.abs(y) < 1e-12 || Math.abs(x) < 1e-12) return false;
      const r = x / y;
      if (ratio === undefined) ratio = r;
      else if (!numbersEqual(r, ratio, 1e-8)) return false;
    }
    agreeing++;
  }
  return wide ? agreeing >= samples.length - 2 : agreeing >= 3;
}
