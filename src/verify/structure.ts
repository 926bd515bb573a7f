// The shape of a normalised answer: a scalar, an ordered sequence (tuple, point, interval), a set, a
// union of intervals, a matrix, or a relation. Comparison (equivalence.ts) goes shape by shape.

import { ROW_BREAK } from './normalize.js';

export type Shape =
  | { kind: 'scalar'; text: string }
  /** `(a,b)`, `[a,b)`, …: ordered; the brackets matter (an open and a closed interval differ). */
  | { kind: 'seq'; open: string; close: string; items: Shape[] }
  /** `\{a,b\}` or a bare `a, b`: order-insensitive. */
  | { kind: 'set'; items: Shape[]; bare: boolean }
  | { kind: 'union'; parts: Shape[] }
  | { kind: 'matrix'; rows: Shape[][] }
  /** `lhs op rhs [op2 rhs2]`, ops among = < > \le \ge \ne. */
  | { kind: 'relation'; terms: string[]; ops: string[] };

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

/** How a bracket at i changes the nesting depth, and how many characters it spans (`\\{` counts as one bracket). */
function bracketAt(s: string, i: number): { delta: number; width: number } {
  const c = s[i];
  if (c === '\\' && (s[i + 1] === '{' || s[i + 1] === '}')) return { delta: s[i + 1] === '{' ? 1 : -1, width: 2 };
  if (OPENERS.has(c)) return { delta: 1, width: 1 };
  if (CLOSERS.has(c)) return { delta: -1, width: 1 };
  return { delta: 0, width: 1 };
}

/** Splits at top-level occurrences of any separator (outside (), [], {} of any pairing). */
export function splitTop(s: string, separators: readonly string[]): { parts: string[]; seps: string[] } {
  const parts: string[] = [];
  const seps: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const b = bracketAt(s, i);
    if (b.delta !== 0) {
      depth += b.delta;
      i += b.width - 1;
    } else if (depth === 0) {
      for (const sep of separators) {
        // A command separator must not continue as a longer command (\le vs \left).
        if (s.startsWith(sep, i) && !(sep.startsWith('\\') && /[a-zA-Z]/.test(s[i + sep.length] ?? ''))) {
          parts.push(s.slice(start, i));
          seps.push(sep);
          i += sep.length - 1;
          start = i + 1;
          break;
        }
      }
    }
  }
  parts.push(s.slice(start));
  return { parts, seps };
}

/** True when the bracket at 0 closes exactly at the last character. */
function wrapsWhole(s: string, openLen: number, closeLen: number): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const b = bracketAt(s, i);
    depth += b.delta;
    i += b.width - 1;
    if (depth === 0 && i < s.length - 1) return false;
  }
  return depth === 0 && s.length >= openLen + closeLen;
}

const RELATION_OPS = ['\\le', '\\ge', '\\ne', '<', '>', '='];

export function parseShape(raw: string, depth = 0): Shape {
  const s = raw.trim();
  if (depth > 6) return { kind: 'scalar', text: s };
  // Brackets around a matrix environment are decoration: [\begin{array}…\end{array}].
  const framed = /^[[(](\\begin\{([a-zA-Z]*matrix|array)\}[\s\S]*\\end\{\2\})[\])]$/.exec(s);
  if (framed) return parseShape(framed[1], depth + 1);
  const matrix = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}$/.exec(s);
  if (matrix) {
    const rows = matrix[2]
      .split(ROW_BREAK)
      .map((r) => r.trim())
      .filter((r) => r.length > 0)
      .map((r) => r.split('&').map((cell) => parseShape(cell.trim(), depth + 1)));
    return { kind: 'matrix', rows };
  }
  // `a = b \approx c`: the exact value before the approximation; `x \approx c`: the approximation.
  const approx = splitTop(s, ['\\approx']);
  if (approx.parts.length > 1) {
    const head = approx.parts[0];
    return parseShape(splitTop(head, ['=']).parts.length > 1 ? head : approx.parts[approx.parts.length - 1], depth + 1);
  }
  // `x \in [a, b]`: the set.
  const member = /^(?:[a-zA-Z]|\\[a-zA-Z]+)\\in(?![a-zA-Z])(.+)$/.exec(s);
  if (member) return parseShape(member[1].trim(), depth + 1);
  // a \\pm b is the pair {a + b, a - b}.
  const pm = splitTop(s, ['\\pm']);
  if (pm.parts.length === 2 && splitTop(s, [',', '=', '<', '>']).parts.length === 1) {
    const [a, b] = pm.parts;
    return { kind: 'set', bare: true, items: [parseShape(`${a}+${b}`, depth + 1), parseShape(`${a}-${b}`, depth + 1)] };
  }
  const union = splitTop(s, ['\\cup']);
  if (union.parts.length > 1) return { kind: 'union', parts: union.parts.map((p) => parseShape(p, depth + 1)) };
  if (s.startsWith('\\{') && s.endsWith('\\}') && wrapsWhole(s, 2, 2)) {
    const inner = s.slice(2, -2);
    const items = inner.length === 0 ? [] : splitTop(inner, [',', ';']).parts.map((p) => parseShape(p, depth + 1));
    return { kind: 'set', items, bare: false };
  }
  if ((s[0] === '(' || s[0] === '[') && (s.endsWith(')') || s.endsWith(']')) && wrapsWhole(s, 1, 1)) {
    const inner = s.slice(1, -1);
    const { parts } = splitTop(inner, [',']);
    if (parts.length >= 2) {
      return { kind: 'seq', open: s[0], close: s[s.length - 1], items: parts.map((p) => parseShape(p, depth + 1)) };
    }
    if (s[0] === '(' && s.endsWith(')')) return parseShape(inner, depth + 1);
  }
  const list = splitTop(s, [',', ';']);
  if (list.parts.length >= 2 && list.parts.every((p) => p.length > 0)) {
    return { kind: 'set', items: list.parts.map((p) => parseShape(p, depth + 1)), bare: true };
  }
  const rel = splitTop(s, RELATION_OPS);
  if (rel.parts.length >= 2 && rel.parts.every((p) => p.length > 0)) {
    // A chain of equalities (x = 5+5+1 = 11) ends in its value.
    if (rel.parts.length >= 3 && rel.seps.every((o) => o === '=')) return parseShape(rel.parts[rel.parts.length - 1], depth + 1);
    if (rel.parts.length <= 3) return { kind: 'relation', terms: rel.parts.map((p) => p.trim()), ops: rel.seps };
  }
  return { kind: 'scalar', text: s };
}

export function describeShape(s: Shape): string {
  switch (s.kind) {
    case 'scalar':
      return s.text;
    case 'seq':
      return `${s.open}${s.items.map(describeShape).join(',')}${s.close}`;
    case 'set':
      return `{${s.items.map(describeShape).join(',')}}`;
    case 'union':
      return s.parts.map(describeShape).join(' ∪ ');
    case 'matrix':
      return `[${s.rows.map((r) => r.map(describeShape).join(' ')).join('; ')}]`;
    case 'relation':
      return s.terms.map((t, i) => (i === 0 ? t : `${s.ops[i - 1]} ${t}`)).join(' ');
  }
}
