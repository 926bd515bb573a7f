// Symbolic equivalence through @cortex-js/compute-engine, behind bounds: inputs over a length limit
// are not sent, the engine's own time limit is set low, and any throw counts as "not shown equal".
import { ComputeEngine } from '@cortex-js/compute-engine';
import { numbersEqual } from './numbers.js';

/** Longest LaTeX string handed to the CAS; longer ones compare as strings only. */
export const CAS_MAX_CHARS = 400;

let engine: ComputeEngine | undefined;
function ce(): ComputeEngine {
  if (!engine) {
    engine = new ComputeEngine();
    engine.timeLimit = 0.5; // seconds, for evaluate/N
    engine.iterationLimit = 10_000;
  }
  return engine;
}

type Expr = ReturnType<ComputeEngine['parse']>;

export interface CasValue {
  expr: Expr;
  /** Its numeric value when it has no free variables and evaluates to a finite real. */
  numeric?: number;
}

const cache = new Map<string, CasValue | null>();

/** Parses LaTeX into the CAS (memoised); undefined when too long or not valid LaTeX to the engine. */
export function casParse(latex: string): CasValue | undefined {
  if (latex.length === 0 || latex.length > CAS_MAX_CHARS) return undefined;
  const hit = cache.get(latex);
  if (hit !== undefined) return hit ?? undefined;
  let out: CasValue | null = null;
  try {
    const expr = ce().parse(latex);
    if (expr.isValid) {
      out = { expr };
      if (expr.freeVariables.length === 0) {
        const n = expr.N();
        const re = n.re;
        if (typeof re === 'number' && Number.isFinite(re) && Math.abs(n.im ?? 0) < 1e-12) out.numeric = re;
      }
    }
  } catch {
    out = null;
  }
  if (cache.size > 50_000) cache.clear();
  cache.set(latex, out);
  return out ?? undefined;
}

/** The CAS's verdict: numerically equal within tolerance, or symbolically equal by the engine. */
export function casEqual(a: CasValue, b: CasValue, tol: number): boolean {
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
