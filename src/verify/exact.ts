// Exact rational arithmetic for answers built only from numbers, + - × ÷, powers with integer exponents,
// \frac and brackets (2^{100}-2, \frac{1}{2^{98}}, 3\cdot 5^2). The CAS works in floating point for these
// and calls 2^{100}-2 and 2^{100}-3 equal; here they differ, exactly, and without the CAS's cost.
import { gcd, parseLiteral, type Literal } from './numbers.js';

type Q = { num: bigint; den: bigint; decimal: boolean };

const MAX_EXPONENT = 4096n;
const MAX_BITS = 1 << 16;

const bits = (x: bigint) => (x < 0n ? -x : x).toString(16).length * 4;

function q(num: bigint, den: bigint, decimal: boolean): Q {
  if (den === 0n) throw new Error('division by zero');
  if (den < 0n) (num = -num), (den = -den);
  const g = gcd(num, den) || 1n;
  const out = { num: num / g, den: den / g, decimal };
  if (bits(out.num) + bits(out.den) > MAX_BITS) throw new Error('too large');
  return out;
}

const TOKEN = /\\frac|\\times|\\div|\d+(?:\.\d+)?|[-+*/^(){}[\]]/y;

/** The exact value of an arithmetic-only LaTeX answer, or undefined when it has anything else in it. */
export function evaluateExact(latex: string): Literal | undefined {
  const src = latex.replace(/\s+/g, '');
  if (src.length === 0 || src.length > 400 || !/\d/.test(src)) return undefined;
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m || m.index !== start) return undefined;
    tokens.push(m[0]);
  }
  let i = 0;
  const peek = () => tokens[i];
  const expect = (t: string) => {
    if (tokens[i++] !== t) throw new Error(`expected ${t}`);
  };
  const CLOSE: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
  const atom = (): Q => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('end');
    if (t === '\\frac') {
      expect('{');
      const a = sum();
      expect('}');
      expect('{');
      const b = sum();
      expect('}');
      return q(a.num * b.den, a.den * b.num, a.decimal || b.decimal);
    }
    if (CLOSE[t]) {
      const v = sum();
      expect(CLOSE[t]);
      return v;
    }
    const lit = parseLiteral(t);
    if (!lit) throw new Error(`unexpected ${t}`);
    return lit;
  };
  const power = (): Q => {
    const base = atom();
    if (peek() !== '^') return base;
    i++;
    // `2^10` is ambiguous in LaTeX (an unbraced exponent is one character): leave it to the CAS.
    if (/^\d{2,}/.test(peek() ?? '')) throw new Error('unbraced multi-digit exponent');
    const e = atom();
    if (e.den !== 1n || e.decimal || (e.num < 0n ? -e.num : e.num) > MAX_EXPONENT) throw new Error('exponent');
    if (bits(base.num) * Number(e.num < 0n ? -e.num : e.num) > MAX_BITS) throw new Error('too large');
    const k = e.num < 0n ? -e.num : e.num;
    const [n, d] = e.num < 0n ? [base.den ** k, base.num ** k] : [base.num ** k, base.den ** k];
    return q(n, d, base.decimal);
  };
  const unary = (): Q => {
    if (peek() === '-') {
      i++;
      const v = unary();
      return { ...v, num: -v.num };
    }
    if (peek() === '+') {
      i++;
      return unary();
    }
    return power();
  };
  const product = (): Q => {
    let v = unary();
    for (;;) {
      const t = peek();
      if (t === '*' || t === '\\times' || t === '/' || t === '\\div') {
        i++;
        const w = unary();
        v = t === '/' || t === '\\div' ? q(v.num * w.den, v.den * w.num, v.decimal || w.decimal) : q(v.num * w.num, v.den * w.den, v.decimal || w.decimal);
      } else if (t === '(' || t === '\\frac' || t === '{') {
        const w = unary(); // implicit product: 3(4+1), 2\frac{1}{2} is NOT a mixed number here
        v = q(v.num * w.num, v.den * w.den, v.decimal || w.decimal);
      } else return v;
    }
  };
  const sum = (): Q => {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      const sign = tokens[i++] === '+' ? 1n : -1n;
      const w = product();
      v = q(v.num * w.den + sign * w.num * v.den, v.den * w.den, v.decimal || w.decimal);
    }
    return v;
  };
  try {
    const v = sum();
    if (i !== tokens.length) return undefined;
    return { ...v, value: Number(v.num) / Number(v.den) };
  } catch {
    return undefined;
  }
}
