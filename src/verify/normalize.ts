// String normalisation of a LaTeX answer: the MATH `is_equiv` rules plus the cosmetic ones Math-Verify
// adds (thousands separators, currency, units, degree signs, text wrappers, `x =` prefixes).
// Structure (tuples, sets, matrices, relations) is decided later in value.ts on the normalised string.

const UNIT_WORDS = [
  'units?', 'square\\s+units?', 'sq\\.?\\s*units?', 'cm', 'centimeters?', 'mm', 'millimeters?', 'km', 'kilometers?',
  'm', 'meters?', 'metres?', 'inches', 'inch', 'in', 'feet', 'foot', 'ft', 'yards?', 'yd', 'miles?', 'mi', 'mph',
  'hours?', 'hrs?', 'minutes?', 'mins?', 'seconds?', 'secs?', 's', 'days?', 'weeks?', 'months?', 'years?',
  'dollars?', 'cents?', 'euros?', 'pounds?', 'lbs?', 'ounces?', 'oz', 'grams?', 'g', 'kg', 'kilograms?', 'liters?',
  'litres?', 'l', 'ml', 'gallons?', 'degrees?', 'deg', 'radians?', 'rad', 'percent', 'people', 'students?',
  'apples?', 'points?', 'sq', 'cubic\\s+\\w+', 'square\\s+\\w+',
];
const TRAILING_UNIT = new RegExp(`(\\d|\\})\\s*(?:${UNIT_WORDS.join('|')})(?:\\^?\\{?[23]\\}?)?\\s*\\.?$`, 'i');

const TEXT_COMMANDS = /\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname|textnormal|mathsf|boldsymbol)\s*\{/g;

/** Replaces `\cmd{X}` by X for wrapper commands (brace-matched, nested wrappers handled). */
export function unwrapCommands(s: string, re: RegExp = TEXT_COMMANDS): string {
  let out = s;
  for (let guard = 0; guard < 50; guard++) {
    re.lastIndex = 0;
    const m = re.exec(out);
    if (!m) break;
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let close = -1;
    for (let i = open; i < out.length; i++) {
      if (out[i] === '\\') {
        i++;
        continue;
      }
      if (out[i] === '{') depth++;
      else if (out[i] === '}' && --depth === 0) {
        close = i;
        break;
      }
    }
    if (close < 0) break;
    out = out.slice(0, m.index) + out.slice(open + 1, close) + out.slice(close + 1);
  }
  return out;
}

/** `\frac12` → `\frac{1}{2}`, `\frac1{x}` → `\frac{1}{x}` (MATH's _fix_fracs). */
export function fixFracs(s: string): string {
  return s.replace(/\\frac\s*(\{[^{}]*\}|[0-9a-zA-Z])\s*(\{[^{}]*\}|[0-9a-zA-Z])/g, (_m, a: string, b: string) => {
    const wrap = (x: string) => (x.startsWith('{') ? x : `{${x}}`);
    return `\\frac${wrap(a)}${wrap(b)}`;
  });
}

/** `\sqrt3` → `\sqrt{3}` (MATH's _fix_sqrt). */
export function fixSqrt(s: string): string {
  return s.replace(/\\sqrt\s*([0-9a-zA-Z])/g, '\\sqrt{$1}');
}

/** `k = 3` → `3` when the left side is a lone variable name (MATH strips `k =` prefixes). */
export function stripVariablePrefix(s: string): string {
  const m = /^\s*(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]+\}?)?(?:\([a-zA-Z]\))?\s*=\s*([^=<>]+)$/.exec(s);
  return m && !/\\(?:le|ge|leq|geq|ne|neq|lt|gt)\b/.test(m[1]) ? m[1] : s;
}

/** Removes delimiters around a whole answer: `$…$`, `\(…\)`, `\[…\]`, and `\boxed{…}`. */
function stripDelimiters(s: string): string {
  let t = s.trim();
  for (let guard = 0; guard < 5; guard++) {
    const m = /^(?:\$\$|\$|\\\(|\\\[)([\s\S]*?)(?:\$\$|\$|\\\)|\\\])$/.exec(t);
    const b = /^\\(?:boxed|fbox)\s*\{([\s\S]*)\}$/.exec(t);
    if (m) t = m[1].trim();
    else if (b) t = b[1].trim();
    else break;
  }
  return t;
}

export interface Normalised {
  /** The normalised LaTeX string. */
  text: string;
  /** The answer had a percent sign (50\% may equal 50 or 0.5). */
  percent: boolean;
}

/** One pass of every string rule; idempotent (normalise(normalise(x)) = normalise(x)), tested by fast-check. */
export function normalise(input: string): Normalised {
  let s = stripDelimiters(input.replace(/\r?\n/g, ' '));
  s = s.replace(/\\(?:displaystyle|textstyle|scriptstyle)\b/g, '');
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)\s*(\\[{}|]|[()[\].|])/g, (_m, d: string) => (d === '.' ? '' : d));
  s = s.replace(/\\(?:left|right)\b/g, '');
  s = s.replace(/\\[!,;:>]|\\ |~|\\q?quad\b/g, ' ');
  s = s.replace(/\\[dt]frac\b/g, '\\frac');
  s = s.replace(/\\over\b/g, '/');
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ\b|°|\\degree\b/g, '');
  let percent = false;
  s = s.replace(/\\?%|\\percent\b/g, () => ((percent = true), ''));
  s = s.replace(/\s*\\text\{\s*percent\s*\}\s*$/i, () => ((percent = true), ''));
  s = s.replace(/\\\$|\$|\\(?:textdollar|dollar)\b|\\?(?:USD|US\$)|€|£|¥/g, '');
  // A trailing `\text{ unit}` after a value is a unit (MATH: remove_right_units); other text wrappers unwrap.
  s = s.replace(/(\S)\s*\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z\s.^23]*\}\s*$/, '$1');
  s = unwrapCommands(s);
  s = s.replace(TRAILING_UNIT, '$1');
  s = s.replace(/^\s*(?:USD|dollars?)\s*/i, '');
  s = s.trim().replace(/\.$/, '').trim();
  s = stripVariablePrefix(s);
  s = fixSqrt(fixFracs(s));
  s = s.replace(/\s+/g, ' ').trim();
  // Thousands separators inside a number: 1,000,000 → 1000000 ("1,\!000" arrives here as "1, 000").
  s = s.replace(/(^|[^\d.,])(\d{1,3}(?:, ?\d{3})+)(?![\d])/g, (m, pre: string, num: string) =>
    /^\d{1,3}(?:, ?\d{3})+$/.test(num) && isLoneNumber(s) ? pre + num.replace(/, ?/g, '') : m,
  );
  s = s.replace(/(^|[^\d])\.(\d)/g, '$10.$2');
  s = s.replace(/\s+/g, '');
  s = s.replace(/\\(?:cdot|times)/g, '\\times');
  s = s.replace(/\\(?:leq|leqslant|le)(?![a-zA-Z])/g, '\\le').replace(/\\(?:geq|geqslant|ge)(?![a-zA-Z])/g, '\\ge');
  s = s.replace(/≤/g, '\\le').replace(/≥/g, '\\ge').replace(/\\(?:neq|ne)(?![a-zA-Z])/g, '\\ne');
  s = s.replace(/\\(?:varnothing|emptyset)(?![a-zA-Z])/g, '\\emptyset').replace(/\\infinity\b/g, '\\infty');
  return { text: s, percent };
}

/** True when the whole answer is one number written with thousands separators (not a list "1, 234"). */
function isLoneNumber(s: string): boolean {
  return /^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s.replace(/\s+/g, ''));
}
