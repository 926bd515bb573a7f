// Plain numbers: the fast path. Most rewards compare "42" with "42.0" or "1,000" with "1000"; those
// never reach the normaliser or the CAS.

/** Relative tolerance for comparing numbers (decimals vs fractions): |a-b| ≤ tol·max(1, |a|, |b|). */
export const DEFAULT_TOLERANCE = 1e-6;

const PLAIN_NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const THOUSANDS = /^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const SIMPLE_FRACTION = /^([-+]?\d+)\s*\/\s*(\d+)$/;

/** The value of a plain number ("42", "-3.5", "1,000", "1e-3", "3/4"), or undefined for anything else. */
export function parsePlainNumber(s: string): number | undefined {
  const t = s.trim();
  if (PLAIN_NUMBER.test(t)) return Number(t);
  if (THOUSANDS.test(t)) return Number(t.replace(/,/g, ''));
  const f = SIMPLE_FRACTION.exec(t);
  if (f && Number(f[2]) !== 0) return Number(f[1]) / Number(f[2]);
  return undefined;
}

export function numbersEqual(a: number, b: number, tol = DEFAULT_TOLERANCE): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

const LATEX_FRACTION = /^([-+]?)\\frac\{\s*(-?\d+(?:\.\d+)?)\s*\}\{\s*(-?\d+(?:\.\d+)?)\s*\}$/;

/** parsePlainNumber, plus `\\frac{a}{b}` / `-\\frac{a}{b}` with numeric a, b (no CAS needed for those). */
export function parseSimpleNumber(s: string): number | undefined {
  const plain = parsePlainNumber(s);
  if (plain !== undefined) return plain;
  const f = LATEX_FRACTION.exec(s.trim());
  if (!f || Number(f[3]) === 0) return undefined;
  return (f[1] === '-' ? -1 : 1) * (Number(f[2]) / Number(f[3]));
}
