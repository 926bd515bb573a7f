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

/** Stands for a LaTeX row break `\\` while the other rules run (matrices split on it). */
export const ROW_BREAK = '\u23ce';

/**
 * Every string rule, repeated to a fixed point (rules can expose work for each other: `\\fracgcm` →
 * `\\frac{g}{c}m` → a unit to strip), so normalise(normalise(x)) = normalise(x); fast-check tests it.
 */
export function normalise(input: string): Normalised {
  let current = { text: input, percent: false };
  for (let pass = 0; pass < 6; pass++) {
    const next = normalisePass(current.text);
    next.percent ||= current.percent;
    if (next.text === current.text && pass > 0) return next;
    current = next;
  }
  return current;
}

function normalisePass(input: string): Normalised {
  let s = stripDelimiters(input.replace(/\r?\n/g, ' '));
  // Doubled escapes (`\\frac` from JSON written twice) outside matrices: \\left → \left.
  if (!s.includes('\\begin')) s = s.replace(/\\\\(?=[a-zA-Z])/g, '\\');
  s = s.replace(/\\\\/g, ROW_BREAK);
  s = s.replace(/\\(?:displaystyle|textstyle|scriptstyle)(?![a-zA-Z])/g, '');
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|bigg|Bigg)\s*(\\[{}|]|[()[\].|])/g, (_m, d: string) => (d === '.' ? '' : d));
  s = s.replace(/\\(?:left|right)(?![a-zA-Z])/g, '');
  s = s.replace(/\s*\{\s*,\s*\}\s*/g, ',').replace(/,\s*\\[!,]\s*/g, ',');
  s = s.replace(/\\[!,]/g, '');
  s = s.replace(/\\[;:>]|\\ |~|\\q?quad(?![a-zA-Z])/g, ' ');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac');
  s = s.replace(/\\over(?![a-zA-Z])/g, '/');
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|°|\\degree(?![a-zA-Z])/g, '');
  let percent = false;
  s = s.replace(/\\?%|\\percent(?![a-zA-Z])/g, () => ((percent = true), ''));
  s = s.replace(/(\d)\s*(?:\\text\{\s*)?(?:percent(?:age)?|pct)\}?\s*$/i, (_m, d: string) => ((percent = true), d));
  s = s.replace(/\\\$|\$|\\(?:textdollar|dollar)(?![a-zA-Z])|\\?(?:USD|US\$)|€|£|¥/g, '');
  // A trailing `\text{ unit}` after a value is a unit (MATH: remove_right_units); other text wrappers unwrap.
  s = s.replace(/(\S)\s*\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z\s.^23]*\}\s*$/, '$1');
  s = unwrapCommands(s);
  s = s.replace(TRAILING_UNIT, '$1');
  // An ordinal suffix on a lone number: 12th, 21^{st} → the number.
  s = s.replace(/^(\d+)\s*(?:\^\s*\{?\s*)?(?:st|nd|rd|th)\s*\}?$/i, '$1');
  s = s.replace(/^\s*(?:USD|dollars?)\s*/i, '');
  s = s.trim().replace(/[\s.]+$/, '');
  // Lists written in words: "19, 46, and 82", "3 and 4", "(11,7) or (7,11)".
  s = s.replace(/,\s*and\s+/g, ', ').replace(/([\d})\]])\s*\b(?:and|or)\b\s*(?=[-\w\\([])/g, '$1, ');
  s = fixSqrt(fixFracs(s));
  // Relation spellings: >= <= != \gt \lt \geq \leqslant ≤ ≥ ≠.
  s = s.replace(/>=|\\geq?slant(?![a-zA-Z])|\\geq?(?![a-zA-Z])|≥/g, '\\ge ').replace(/<=|\\leq?slant(?![a-zA-Z])|\\leq?(?![a-zA-Z])|≤/g, '\\le ');
  s = s.replace(/!=|\\neq?(?![a-zA-Z])|≠/g, '\\ne ').replace(/\\gt(?![a-zA-Z])/g, '>').replace(/\\lt(?![a-zA-Z])/g, '<');
  s = s.replace(/\\(?:cdot|times)(?![a-zA-Z])/g, '\\times ');
  s = s.replace(/\\(?:varnothing|emptyset)(?![a-zA-Z])/g, '\\emptyset ').replace(/\\infinity(?![a-zA-Z])/g, '\\infty ');
  // Thousands separators inside a lone number: 1,000,000 → 1000000 (not a list such as "32, 349").
  if (isLoneNumber(s)) s = s.replace(/,/g, '');
  s = s.replace(/(^|[^\d])\.(\d)/g, '$10.$2');
  // Spaces go, except one between a command and a following letter (\pi r must not become \pir).
  s = s.replace(/(\\[a-zA-Z]+)?\s+(?=([a-zA-Z])?)/g, (_m, cmd: string | undefined, next: string | undefined) =>
    cmd ? (next ? `${cmd} ` : cmd) : '',
  );
  // List commas keep one space, so a list "32, 349" never later reads as the number 32,349.
  s = s.replace(/,\s*/g, ', ').trim();
  // A bare `{…}` group around the whole answer is only grouping: {1,3} → 1,3.
  while (s.startsWith('{') && s.endsWith('}') && groupWrapsWhole(s)) s = s.slice(1, -1);
  return { text: s, percent };
}

function groupWrapsWhole(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0 && i < s.length - 1) return false;
  }
  return depth === 0;
}

/** True when the whole answer is one number written with thousands separators (not a list "1, 234"). */
function isLoneNumber(s: string): boolean {
  return /^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s.trim());
}
