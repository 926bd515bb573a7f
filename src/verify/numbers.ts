// Numbers written out: the fast path. Most rewards compare "42" with "42.0" or "1,000" with "1000";
// those never reach the normaliser or the CAS. Literals are compared as exact rationals, so 1,000,000
// and 1,000,001 or 1/2187 and 1/2188 differ however close they are; a tolerance applies only where a
// decimal stands for a fraction it cannot write exactly (0.3333333 for 1/3) or to values the CAS computed.

/** Relative tolerance for approximate comparisons: |a-b| ≤ tol·max(|a|, |b|) (against an exact 0: |x| ≤ 1e-12). */
export const DEFAULT_TOLERANCE = 1e-6;

/** An exact rational as written, and whether it was written as a decimal (a point or an exponent). */
export interface Literal {
  num: bigint;
  den: bigint;
  decimal: boolean;
  value: number;
}

const DECIMAL = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d{1,3}))?$/;
// Math-Verify's rule: thousands groups follow 1–3 leading digits that do not start with 0 ("0,111" is not 111).
const THOUSANDS = /^[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/;
const DECIMAL_COMMA = /^([-+]?\d+),(\d+)$/;
const SIMPLE_FRACTION = /^([-+]?[\d.]+)\s*\/\s*([\d.]+)$/;
const LATEX_FRACTION = /^([-+]?)\\frac\{\s*(-?[\d.]+)\s*\}\{\s*(-?[\d.]+)\s*\}$/;

export const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  while (b) [a, b] = [b, a % b];
  return a;
};

function make(num: bigint, den: bigint, decimal: boolean): Literal | undefined {
  if (den === 0n) return undefined;
  if (den < 0n) (num = -num), (den = -den);
  const g = gcd(num, den) || 1n;
  num /= g;
  den /= g;
  return { num, den, decimal, value: Number(num) / Number(den) };
}

function parseDecimal(t: string): Literal | undefined {
  const m = DECIMAL.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '') || m[2].length + (m[3] ?? '').length > 300) return undefined;
  const frac = m[3] ?? '';
  const exp = Number(m[4] ?? 0) - frac.length;
  let num = BigInt((m[2] || '0') + frac);
  let den = 1n;
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den = 10n ** BigInt(-exp);
  return make(m[1] === '-' ? -num : num, den, m[3] !== undefined || m[4] !== undefined);
}

function divide(a: Literal | undefined, b: Literal | undefined): Literal | undefined {
  return a && b && b.num !== 0n ? make(a.num * b.den, a.den * b.num, a.decimal || b.decimal) : undefined;
}

/** "42", "-3.5", "1,000", "1e-3", "3/4", "\frac{3}{4}" as an exact rational; undefined for anything else. */
export function parseLiteral(s: string): Literal | undefined {
  const t = s.trim();
  if (THOUSANDS.test(t)) return parseDecimal(t.replace(/,/g, ''));
  const plain = parseDecimal(t);
  if (plain) return plain;
  const sf = SIMPLE_FRACTION.exec(t);
  if (sf) return divide(parseDecimal(sf[1]), parseDecimal(sf[2]));
  const lf = LATEX_FRACTION.exec(t);
  const q = lf ? divide(parseDecimal(lf[2]), parseDecimal(lf[3])) : undefined;
  return q && lf![1] === '-' ? make(-q.num, q.den, q.decimal) : q;
}

/**
 * A number written with a decimal comma, by Math-Verify's rule: a comma between digits that is not a
 * thousands separator (see THOUSANDS) is a decimal comma: "1000,99" → 1000.99, "0,111" → 0.111,
 * "2,74" → 2.74. Undefined for anything else. Kept out of parseLiteral: "1,2" alone may be a list.
 */
export function parseDecimalComma(s: string): Literal | undefined {
  const t = s.trim();
  const m = DECIMAL_COMMA.exec(t);
  return m && !THOUSANDS.test(t) ? parseDecimal(`${m[1]}.${m[2]}`) : undefined;
}

/** The value of a plain number ("42", "-3.5", "1,000", "1e-3", "3/4"), or undefined for anything else. */
export function parsePlainNumber(s: string): number | undefined {
  return /\\/.test(s) ? undefined : parseLiteral(s)?.value;
}

/** Approximate equality of two computed values (relative tolerance, tiny absolute floor near zero). */
export function numbersEqual(a: number, b: number, tol = DEFAULT_TOLERANCE): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  const diff = Math.abs(a - b);
  // Near an exact zero (sin π = 1.2e-16) an absolute floor; elsewhere purely relative, so tiny values
  // such as 2^-98 and 2^-99 stay apart.
  if (a === 0 || b === 0) return diff <= 1e-12;
  return diff <= tol * Math.max(Math.abs(a), Math.abs(b));
}

/** True when the fraction has a finite decimal expansion (its denominator is 2^i·5^j). */
function terminates(x: Literal): boolean {
  let d = x.den;
  while (d % 2n === 0n) d /= 2n;
  while (d % 5n === 0n) d /= 5n;
  return d === 1n;
}

/**
 * Equal literals: exactly, or, when one is a decimal and the other a fraction with no finite decimal
 * expansion (1/3 vs 0.3333333), within the relative tolerance.
 */
export function literalsEqual(a: Literal, b: Literal, tol = DEFAULT_TOLERANCE): boolean {
  if (a.num === b.num && a.den === b.den) return true;
  if (a.decimal === b.decimal) return false; // both exact as written
  const exact = a.decimal ? b : a;
  if (terminates(exact)) return false; // it could have been written exactly
  return numbersEqual(a.value, b.value, tol);
}

/** x / 100, exactly (for percentages). */
export function percentOf(x: Literal): Literal {
  return make(x.num, x.den * 100n, x.decimal)!;
}
