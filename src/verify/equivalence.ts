// verify(gold, pred): are two final answers the same mathematical object? Gold first, as in Math-Verify.
// Order of work: plain numbers (no allocation beyond a regex) → normalised strings → shapes
// (tuples, sets, intervals, matrices, relations) → scalars by value or by the CAS, under bounds.
import { bracesBalanced } from '../util/braces.js';
import { evaluateExact } from './exact.js';
import { casEqual, casParse, sampledEqual } from './cas.js';
import { normalise, type Normalised } from './normalize.js';
import { DEFAULT_TOLERANCE, literalsEqual, parseLiteral, parsePlainNumber, percentOf, type Literal } from './numbers.js';
import { describeShape, parseShape, splitTop, type Shape } from './structure.js';

export interface VerifyOptions {
  /** Relative tolerance for numbers (default 1e-6). */
  tolerance?: number;
  /** Allow the CAS (default true); off, only numbers, strings and shapes are compared. */
  symbolic?: boolean;
  /** A percentage may match its fraction (50% vs 0.5), default true. */
  percentAsFraction?: boolean;
}

export interface VerifyResult {
  equivalent: boolean;
  /** Why: the rule that decided it, or where the comparison failed. */
  reason: string;
  gold: string;
  pred: string;
}

interface Ctx {
  tol: number;
  symbolic: boolean;
  percentAsFraction: boolean;
}

/** Longest answer compared at all; longer inputs are judged not equivalent (a defined, bounded result). */
export const MAX_ANSWER_CHARS = 2000;

/** Is a gold answer usable? A gold that is empty after normalisation would let anything tie. */
export function goldProblem(gold: string): string | undefined {
  if (typeof gold !== 'string') return 'gold is not a string';
  if (gold.length > MAX_ANSWER_CHARS) return `gold is longer than ${MAX_ANSWER_CHARS} characters`;
  if (!bracesBalanced(gold)) return 'gold has unbalanced braces';
  const n = normalise(gold).text;
  if (n.length === 0) return 'gold is empty after normalisation';
  return undefined;
}

/** Are `gold` and `pred` the same answer? */
export function verify(gold: string, pred: string, opts: VerifyOptions = {}): boolean {
  return explain(gold, pred, opts).equivalent;
}

/** verify() with the deciding rule or the reason it failed (for debugging rollouts). */
export function explain(gold: string, pred: string, opts: VerifyOptions = {}): VerifyResult {
  const ctx: Ctx = {
    tol: opts.tolerance ?? DEFAULT_TOLERANCE,
    symbolic: opts.symbolic ?? true,
    percentAsFraction: opts.percentAsFraction ?? true,
  };
  const done = (equivalent: boolean, reason: string, g = gold, p = pred): VerifyResult => ({ equivalent, reason, gold: g, pred: p });
  const bad = goldProblem(gold);
  if (bad) return done(false, `unusable gold: ${bad}`);
  if (typeof pred !== 'string' || pred.trim().length === 0) return done(false, 'prediction is empty');
  if (pred.length > MAX_ANSWER_CHARS) return done(false, `prediction is longer than ${MAX_ANSWER_CHARS} characters`);
  // Fast path: two plain numbers never touch the normaliser or the CAS.
  const gn = parseLiteral(gold);
  const pn = parseLiteral(pred);
  if (gn && pn) {
    return literalsEqual(gn, pn, ctx.tol) ? done(true, 'equal numbers') : done(false, `numbers differ: ${gn.value} vs ${pn.value}`);
  }
  const g = normalise(gold);
  const p = normalise(pred);
  if (p.text.length === 0) return done(false, 'prediction is empty after normalisation', g.text, p.text);
  const r = compareNormalised(g, p, ctx);
  return done(r.equal, r.reason, g.text, p.text);
}

interface Verdict {
  equal: boolean;
  reason: string;
}
const yes = (reason: string): Verdict => ({ equal: true, reason });
const no = (reason: string): Verdict => ({ equal: false, reason });

function compareNormalised(g: Normalised, p: Normalised, ctx: Ctx): Verdict {
  if (g.text === p.text) return yes('identical after normalisation');
  if (g.text.toLowerCase() === p.text.toLowerCase() && /^[a-z\s]{2,}$/i.test(g.text)) return yes('same words');
  // Percentages: 50\% matches 50, and (by default) 0.5.
  if (g.percent !== p.percent) {
    const gv = parseLiteral(g.text);
    const pv = parseLiteral(p.text);
    if (gv && pv) {
      if (literalsEqual(gv, pv, ctx.tol)) return yes('equal numbers (one written as a percentage)');
      if (ctx.percentAsFraction) {
        const scaled = g.percent ? literalsEqual(percentOf(gv), pv, ctx.tol) : literalsEqual(gv, percentOf(pv), ctx.tol);
        if (scaled) return yes('percentage equals its fraction');
      }
      return no(`numbers differ: ${g.text}${g.percent ? '%' : ''} vs ${p.text}${p.percent ? '%' : ''}`);
    }
  }
  return compareShapes(parseShape(g.text), parseShape(p.text), ctx);
}

function compareShapes(g: Shape, p: Shape, ctx: Ctx): Verdict {
  if (g.kind === 'scalar' && p.kind === 'scalar') return compareScalars(g.text, p.text, ctx);
  if (g.kind === 'relation' || p.kind === 'relation') return compareRelations(g, p, ctx);
  if (g.kind === 'seq' && p.kind === 'seq') {
    if (g.items.length !== p.items.length) return no(`${g.items.length} vs ${p.items.length} components`);
    if (g.open !== p.open || g.close !== p.close) return no(`brackets differ: ${g.open}${g.close} vs ${p.open}${p.close}`);
    return compareOrdered(g.items, p.items, ctx);
  }
  // A tuple written without brackets matches in order: (3, 4) vs 3, 4.
  if (g.kind === 'seq' && p.kind === 'set' && p.bare && g.open === '(' && g.close === ')') {
    return g.items.length === p.items.length ? compareOrdered(g.items, p.items, ctx) : no('component counts differ');
  }
  if (g.kind === 'set' && p.kind === 'set') return compareUnordered(g.items, p.items, ctx);
  if (g.kind === 'set' && g.bare && p.kind === 'seq' && p.open === '(' && p.close === ')') {
    return compareUnordered(g.items, p.items, ctx);
  }
  if (g.kind === 'union' && p.kind === 'union') return compareUnordered(g.parts, p.parts, ctx);
  if (g.kind === 'matrix' && p.kind === 'matrix') {
    if (g.rows.length !== p.rows.length || g.rows.some((r, i) => r.length !== p.rows[i].length)) {
      return no('matrix shapes differ');
    }
    return compareOrdered(g.rows.flat(), p.rows.flat(), ctx);
  }
  // A one-column matrix and a tuple are the same vector.
  if (g.kind === 'matrix' && p.kind === 'seq' && g.rows.every((r) => r.length === 1) && p.open === '(') {
    return g.rows.length === p.items.length ? compareOrdered(g.rows.map((r) => r[0]), p.items, ctx) : no('vector lengths differ');
  }
  if (p.kind === 'matrix' && g.kind === 'seq' && p.rows.every((r) => r.length === 1) && g.open === '(') {
    return p.rows.length === g.items.length ? compareOrdered(g.items, p.rows.map((r) => r[0]), ctx) : no('vector lengths differ');
  }
  return no(`different kinds: ${g.kind} ${describeShape(g)} vs ${p.kind} ${describeShape(p)}`);
}

function compareOrdered(g: Shape[], p: Shape[], ctx: Ctx): Verdict {
  for (let i = 0; i < g.length; i++) {
    const v = compareShapes(g[i], p[i], ctx);
    if (!v.equal) return no(`component ${i + 1}: ${v.reason}`);
  }
  return yes(`all ${g.length} components equal in order`);
}

/** Set match (duplicates collapse, as in a set): each side's every item equals some item of the other. */
function compareUnordered(g: Shape[], p: Shape[], ctx: Ctx): Verdict {
  const covered = (from: Shape[], to: Shape[], goldFirst: boolean): Shape | undefined =>
    from.find((a) => !to.some((b) => (goldFirst ? compareShapes(a, b, ctx) : compareShapes(b, a, ctx)).equal));
  if (g.length > 4 * p.length || p.length > 4 * g.length) return no(`${g.length} vs ${p.length} elements`);
  const missing = covered(g, p, true);
  if (missing) return no(`no match for element ${describeShape(missing)}`);
  const extra = covered(p, g, false);
  if (extra) return no(`extra element ${describeShape(extra)}`);
  return yes(`same elements (order ignored)`);
}

const MIRROR: Record<string, string> = { '<': '>', '>': '<', '\\le': '\\ge', '\\ge': '\\le', '=': '=', '\\ne': '\\ne' };

function compareRelations(g: Shape, p: Shape, ctx: Ctx): Verdict {
  // An inequality in one variable and an interval describe the same set. As in Math-Verify, a gold
  // inequality accepts an interval, but a gold interval wants an interval, not an inequality.
  if (g.kind === 'relation' && p.kind === 'seq') {
    const gi = relationToInterval(g);
    if (gi) {
      const v = compareShapes(gi, p, ctx);
      return v.equal ? yes(`inequality as an interval: ${v.reason}`) : v;
    }
  }
  if (g.kind === 'relation' && p.kind === 'relation' && g.ops.every((o) => o !== '=')) {
    const gi = relationToInterval(g);
    const pi = relationToInterval(p);
    if (gi && pi) {
      const v = compareShapes(gi, pi, ctx);
      return v.equal ? yes(`same solution set: ${v.reason}`) : v;
    }
  }
  // `x = 3` vs `3` (either way round): the value of a lone variable.
  if (g.kind !== 'relation' || p.kind !== 'relation') {
    const rel = (g.kind === 'relation' ? g : p) as Shape & { kind: 'relation' };
    const other = g.kind === 'relation' ? p : g;
    const value = definedValue(rel, rel === p);
    if (value !== undefined) {
      const v = g.kind === 'relation' ? compareShapes(parseShape(value), other, ctx) : compareShapes(other, parseShape(value), ctx);
      return v.equal ? yes(`value of the variable: ${v.reason}`) : v;
    }
    return no(`relation vs ${other.kind}`);
  }
  if (g.terms.length !== p.terms.length) return no('relations of different length');
  const sameOps = g.ops.every((o, i) => o === p.ops[i]);
  const side = (a: string, b: string) => compareShapes(parseShape(a), parseShape(b), ctx).equal;
  if (sameOps && g.terms.every((t, i) => side(t, p.terms[i]))) return yes('same relation, equal sides');
  const mirrored = g.ops.every((o, i) => MIRROR[o] === p.ops[p.ops.length - 1 - i]);
  if (mirrored && g.terms.every((t, i) => side(t, p.terms[p.terms.length - 1 - i]))) {
    return yes('mirrored relation, equal sides');
  }
  // Equations: lhs − rhs a constant multiple of each other (2x+4y−3=0 vs y=−x/2+3/4).
  if (g.terms.length === 2 && g.ops[0] === '=' && p.ops[0] === '=' && ctx.symbolic) {
    const dg = casParse(`(${g.terms[0]})-(${g.terms[1]})`);
    const dp = casParse(`(${p.terms[0]})-(${p.terms[1]})`);
    if (dg && dp && sampledEqual(dg, dp, 'proportional')) return yes('equivalent equations (proportional at sample points)');
  }
  return no(`relations differ: ${describeShape(g)} vs ${describeShape(p)}`);
}

/** A name: k, x_1, \\theta, f(x). */
const VARIABLE = /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]+\}?)?(?:\([a-zA-Z]\))?$/;

function namesQuantity(lhs: string): boolean {
  if (parsePlainNumber(lhs) !== undefined || !/[a-zA-Z]/.test(lhs)) return false;
  return splitTop(lhs.replace(/^-/, ''), ['+', '-']).parts.length === 1 && !/\^/.test(lhs);
}

/** The value side of `name = value` (or `value = name`, or the last side), else undefined. */
function definedValue(r: Shape & { kind: 'relation' }, isPrediction: boolean): string | undefined {
  if (r.terms.length !== 2 || r.ops[0] !== '=') return undefined;
  if (VARIABLE.test(r.terms[0]) && !VARIABLE.test(r.terms[1])) return r.terms[1];
  if (VARIABLE.test(r.terms[1]) && !VARIABLE.test(r.terms[0])) return r.terms[0];
  // A left side that names a quantity rather than computes one (|AB|, A:B, (p,q), V_1:V_2): no top-level
  // + or -, and not a number. `2x + z = 1` and `7 = 11a + c` are equations, not definitions.
  if (namesQuantity(r.terms[0])) return r.terms[1];
  // A predicted equality otherwise counts by its last side, as Math-Verify reads it (`\frac{1}{2}\cdot 20 = 10`
  // → 10); a gold equation such as `2x + z = 1` is never reduced to `1`.
  return isPrediction ? r.terms[1] : undefined;
}

/** `x < 3` → (-\infty, 3); `2 \le x < 5` → [2, 5). Undefined when it is not such an inequality. */
function relationToInterval(r: Shape & { kind: 'relation' }): Shape | undefined {
  const lower = (op: string) => (op === '<' || op === '>' ? '(' : '[');
  const upper = (op: string) => (op === '<' || op === '>' ? ')' : ']');
  const scalar = (text: string): Shape => ({ kind: 'scalar', text });
  if (r.ops.some((o) => o === '=' || o === '\\ne')) return undefined;
  if (r.terms.length === 2) {
    let [a, b] = r.terms;
    let op = r.ops[0];
    // -x > -1 is x < 1.
    const neg = (t: string) => (/^-?[\d.]+$/.test(t) ? (t.startsWith('-') ? t.slice(1) : `-${t}`) : `-(${t})`);
    if (a.startsWith('-') && VARIABLE.test(a.slice(1)) && !VARIABLE.test(b)) [a, b, op] = [a.slice(1), neg(b), MIRROR[op]];
    else if (b.startsWith('-') && VARIABLE.test(b.slice(1)) && !VARIABLE.test(a)) [a, b, op] = [neg(a), b.slice(1), MIRROR[op]];
    const less = op === '<' || op === '\\le';
    if (VARIABLE.test(a) && !VARIABLE.test(b)) {
      return less
        ? { kind: 'seq', open: '(', close: upper(op), items: [scalar('-\\infty'), scalar(b)] }
        : { kind: 'seq', open: lower(op), close: ')', items: [scalar(b), scalar('\\infty')] };
    }
    if (VARIABLE.test(b) && !VARIABLE.test(a)) {
      return less
        ? { kind: 'seq', open: lower(op), close: ')', items: [scalar(a), scalar('\\infty')] }
        : { kind: 'seq', open: '(', close: upper(op), items: [scalar('-\\infty'), scalar(a)] };
    }
    return undefined;
  }
  const [a, x, b] = r.terms;
  const [o1, o2] = r.ops;
  if (!VARIABLE.test(x)) return undefined;
  const increasing = (o1 === '<' || o1 === '\\le') && (o2 === '<' || o2 === '\\le');
  const decreasing = (o1 === '>' || o1 === '\\ge') && (o2 === '>' || o2 === '\\ge');
  if (increasing) return { kind: 'seq', open: lower(o1), close: upper(o2), items: [scalar(a), scalar(b)] };
  if (decreasing) return { kind: 'seq', open: lower(o2), close: upper(o1), items: [scalar(b), scalar(a)] };
  return undefined;
}

const CHOICE = /^\(?([A-Ea-e])\)?$/;
/** `2516_8`, `101_{2}`, `3A_{16}`: a digit, then digits or capitals (bases over ten), and a base from 2 to 36. */
const BASE_NUMERAL = /^([0-9][0-9A-Z]*)_\{?([2-9]|[1-2][0-9]|3[0-6])\}?$/;

const MIXED = /^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$/;

/** `2\frac{1}{3}` → 7/3 when the fraction is proper; undefined for anything else. */
function mixedNumber(s: string): Literal | undefined {
  const m = MIXED.exec(s);
  if (!m) return undefined;
  const [whole, num, den] = [BigInt(m[2]), BigInt(m[3]), BigInt(m[4])];
  if (den === 0n || num >= den) return undefined;
  return parseLiteral(`${m[1] === '-' ? '-' : ''}${whole * den + num}/${den}`);
}

function compareScalars(g: string, p: string, ctx: Ctx): Verdict {
  if (g === p) return yes('identical');
  const gn = parseLiteral(g);
  const pn = parseLiteral(p);
  if (gn && pn) return literalsEqual(gn, pn, ctx.tol) ? yes('equal numbers') : no(`numbers differ: ${g} vs ${p}`);
  // Arithmetic on numbers only (2^{100}-2, \frac{3}{2^{4}}): exact, no CAS. A whole answer `1\frac{4}{5}`
  // is a mixed number (9/5), as in MATH's answers and in Math-Verify, not the product 4/5.
  const ge = gn ?? mixedNumber(g) ?? evaluateExact(g);
  const pe = pn ?? mixedNumber(p) ?? evaluateExact(p);
  if (ge && pe) return literalsEqual(ge, pe, ctx.tol) ? yes('equal exact values') : no(`exact values differ: ${g} vs ${p}`);
  // A numeral with its base as a subscript (2516_8) matches the same digits written without the base,
  // as the question names the base; never a different numeral, nor its decimal value.
  const gb = BASE_NUMERAL.exec(g);
  const pb = BASE_NUMERAL.exec(p);
  if ((gb || pb) && (gb?.[1] ?? g) === (pb?.[1] ?? p) && (!gb || !pb || gb[2] === pb[2])) return yes('same numeral (base given as a subscript)');
  // Multiple-choice letters: (B) vs B.
  const gc = CHOICE.exec(g);
  const pc = CHOICE.exec(p);
  if (gc && pc) return gc[1].toUpperCase() === pc[1].toUpperCase() ? yes('same choice') : no(`choices differ: ${g} vs ${p}`);
  if (!ctx.symbolic) return no(`not equal without the CAS: ${g} vs ${p}`);
  const ga = casParse(g);
  const pa = casParse(p);
  if (!ga) return no(`the CAS cannot read the gold '${g}'`);
  if (!pa) return no(`the CAS cannot read the prediction '${p}'`);
  if (casEqual(ga, pa, ctx.tol)) {
    return ga.numeric !== undefined ? yes('equal values (CAS)') : yes('symbolically equal (CAS)');
  }
  if (ga.numeric !== undefined && pa.numeric !== undefined) return no(`values differ: ${ga.numeric} vs ${pa.numeric}`);
  if (sampledEqual(ga, pa)) return yes('equal at every sample point (CAS)');
  return no(`not shown equal by the CAS: ${g} vs ${p}`);
}
