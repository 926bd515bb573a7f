// Answer extraction: where, in a model's completion or a reference solution, the final answer is.
// Sources are tried in a fixed priority; each is a linear scan, so pathological outputs (a thousand
// boxes, a megabyte of text, unbalanced braces) return quickly with a defined result.
import { CONNECTOR, lastBoxed, lastBoxedGroup, matchBrace } from '../util/braces.js';

export type AnswerSource = 'answer-tag' | 'boxed' | 'gsm8k' | 'answer-is' | 'inline-math' | 'whole' | 'last-number';

export interface Extraction {
  answer: string;
  source: AnswerSource;
}

export interface ExtractOptions {
  /**
   * 'strict': only explicit markers (`<answer>`, `\boxed`, `#### N`, "the answer is").
   * 'flexible' (default): also the last inline math (`$…$`, `\(…\)`, `\[…\]`), a whole text that is a bare
   * answer (short, no prose), and, last of all, the final number.
   */
  mode?: 'strict' | 'flexible';
  /**
   * 'group' (default): the last box together with the boxes right before it, joined into one answer
   * (`\\boxed{1} and \\boxed{2}` → `1, 2`), as Math-Verify reads them; so hedging over several boxed
   * values does not earn the reward when the last happens to be right. 'last': the last box only (the
   * convention the MATH `answer` fields were built with).
   */
  boxes?: 'last' | 'group';
  /** Only look at the last this-many characters (default 20,000): answers sit at the end. */
  tailChars?: number;
}

// Numbers standing alone (not inside a word such as "AZYUK2A"): thousands groups with commas or
// spaces, decimal commas ("2,74"), fractions a/b, leading-dot decimals.
const NUMBER_RE =
  /(?<![A-Za-z\d.])(?:-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!,?\d)|-?\d{1,3}(?: \d{3})+(?![\d.,])|-?\d+,\d{1,2}(?![\d,])|-?\d+(?:\.\d+)?(?:\/\d+)?|-?\.\d+)(?!\d)/g;

/** Contents of the last `<answer>…</answer>` (an unclosed final `<answer>` runs to the end). */
export function answerTag(text: string): string | undefined {
  const open = text.lastIndexOf('<answer>');
  if (open < 0) return undefined;
  const start = open + '<answer>'.length;
  const close = text.indexOf('</answer>', start);
  const inner = (close < 0 ? text.slice(start) : text.slice(start, close)).trim();
  return inner.length > 0 ? inner : undefined;
}

/** GSM8K's `#### 42` final line (commas dropped, as the dataset's answers are). */
export function gsm8kAnswer(text: string): string | undefined {
  const at = text.lastIndexOf('####');
  if (at < 0) return undefined;
  const m = /^\s*([-$]?\s*[\d,]*\.?\d+)/.exec(text.slice(at + 4, at + 64));
  return m ? m[1].replace(/[,$\s]/g, '') : undefined;
}

/** What follows the last "the (final) answer is" up to the end of that sentence or line. */
export function answerIsPhrase(text: string): string | undefined {
  const lower = text.toLowerCase();
  let at = -1;
  let len = 0;
  for (const phrase of ['answer is:', 'answer is', 'answer:']) {
    const i = lower.lastIndexOf(phrase);
    if (i > at) (at = i), (len = phrase.length);
  }
  if (at < 0) return undefined;
  let rest = text.slice(at + len, at + len + 500).replace(/^[\s:]+/, '');
  // A boxed or math-delimited answer right after the phrase is taken whole.
  const boxed = lastBoxed(rest.split('\n')[0]);
  if (boxed !== undefined) return boxed;
  const math = firstInlineMath(rest);
  if (math !== undefined && math.start < 3) return math.body;
  rest = rest.split('\n')[0];
  // End of sentence: a period followed by space/end (not a decimal point).
  const m = /^(.*?)(?:\.(?=\s|$)|$)/.exec(rest);
  const out = (m ? m[1] : rest).trim().replace(/^\*\*|\*\*$/g, '').trim();
  if (out.length === 0) return undefined;
  return hasProse(out.replace(/\$[^$]*\$/g, '')) ? lastValueIn(out) : out;
}

interface MathSpan {
  start: number;
  end: number;
  body: string;
}

const DELIMS: Array<[string, string]> = [
  ['$$', '$$'],
  ['\\[', '\\]'],
  ['\\(', '\\)'],
  ['$', '$'],
];

/** Next occurrence of a delimiter; a `$` escaped as `\$` is a dollar sign, not a delimiter. */
function findDelim(text: string, delim: string, from: number): number {
  let at = text.indexOf(delim, from);
  while (delim[0] === '$' && at > 0 && text[at - 1] === '\\') at = text.indexOf(delim, at + 1);
  return at;
}

/** Inline math spans in order (each delimiter pair, left to right, non-overlapping). */
function mathSpans(text: string, limit = 10_000): MathSpan[] {
  const spans: MathSpan[] = [];
  let i = 0;
  while (i < text.length && spans.length < limit) {
    let found: { at: number; open: string; close: string } | undefined;
    for (const [open, close] of DELIMS) {
      const at = findDelim(text, open, i);
      if (at >= 0 && (!found || at < found.at || (at === found.at && open.length > found.open.length))) {
        found = { at, open, close };
      }
    }
    if (!found) break;
    const bodyStart = found.at + found.open.length;
    const end = findDelim(text, found.close, bodyStart);
    if (end < 0) break;
    const raw = text.slice(bodyStart, end);
    // Inline `$…$` and `\(…\)` stay on one line; a newline means the delimiters do not pair up.
    if ((found.open === '$' || found.open === '\\(') && raw.includes('\n')) {
      i = bodyStart;
      continue;
    }
    const body = raw.trim();
    if (body.length > 0) spans.push({ start: found.at, end: end + found.close.length, body });
    i = end + found.close.length;
  }
  return spans;
}

function firstInlineMath(text: string): MathSpan | undefined {
  return mathSpans(text, 1)[0];
}

/** The last inline math span's body. */
export function lastInlineMath(text: string): string | undefined {
  const spans = mathSpans(text);
  if (spans.length === 0) return undefined;
  // "$1$ and $2$ and $3$", "$21,16$ or $11$": spans joined only by connectors are one answer.
  const group = [spans[spans.length - 1].body];
  for (let k = spans.length - 2; k >= 0 && group.length < 6; k--) {
    const gap = text.slice(spans[k].end, spans[k + 1].start);
    if (gap.length > 20 || !/\S/.test(gap) || !CONNECTOR.test(gap)) break;
    group.unshift(spans[k].body);
  }
  return group.join(', ');
}

/** The last standalone number in the text, with its end offset (separators removed, decimal comma → dot). */
function lastNumberAt(text: string): { value: string; end: number } | undefined {
  let last: RegExpExecArray | undefined;
  NUMBER_RE.lastIndex = 0;
  for (let m = NUMBER_RE.exec(text); m; m = NUMBER_RE.exec(text)) last = m;
  if (!last) return undefined;
  const raw = last[0];
  const value = /^-?\d+,\d{1,2}$/.test(raw) ? raw.replace(',', '.') : raw.replace(/[, ]/g, '');
  return { value, end: last.index + raw.length };
}

export function lastNumber(text: string): string | undefined {
  return lastNumberAt(text)?.value;
}

/** Prose: a word of three or more letters that is not a LaTeX command. */
function hasProse(text: string): boolean {
  return /(?<![\\a-zA-Z])[a-zA-Z]{3,}/.test(text.replace(/\\(?:text|mathrm|mbox)\{[^}]*\}/g, ''));
}

/** In a sentence such as "The largest $n$ is 34", the answer is whatever math or number comes last. */
function lastValueIn(sentence: string): string | undefined {
  const spans = mathSpans(sentence);
  const math = spans.length > 0 ? spans[spans.length - 1] : undefined;
  const num = lastNumberAt(sentence);
  if (math && (!num || math.end >= num.end)) return math.body;
  return num?.value;
}

/** Unwraps an answer that is itself wrapped: `\boxed{…}` inside `<answer>`, `$…$` around it. */
function unwrap(answer: string): string {
  let a = answer.trim();
  const boxed = lastBoxed(a);
  if (boxed !== undefined) a = boxed.trim();
  const m = /^(?:\$\$|\$|\\\(|\\\[)([\s\S]*?)(?:\$\$|\$|\\\)|\\\])$/.exec(a);
  if (m) a = m[1].trim();
  return a;
}

/** The final answer of a completion or reference solution, with where it was found; undefined if none. */
export function extractAnswer(text: string, opts: ExtractOptions = {}): Extraction | undefined {
  const mode = opts.mode ?? 'flexible';
  const tail = text.length > (opts.tailChars ?? 20_000) ? text.slice(-(opts.tailChars ?? 20_000)) : text;
  const tag = answerTag(tail);
  if (tag !== undefined) return { answer: unwrap(tag), source: 'answer-tag' };
  const boxed = opts.boxes === 'last' ? lastBoxed(tail) : lastBoxedGroup(tail);
  if (boxed !== undefined && boxed.trim().length > 0) return { answer: boxed.trim(), source: 'boxed' };
  const gsm = gsm8kAnswer(tail);
  if (gsm !== undefined) return { answer: gsm, source: 'gsm8k' };
  const said = answerIsPhrase(tail);
  if (said !== undefined) return { answer: unwrap(said), source: 'answer-is' };
  if (mode === 'strict') return undefined;
  const math = lastInlineMath(tail);
  if (math !== undefined) return { answer: math, source: 'inline-math' };
  const whole = tail.trim();
  // Numbers separated only by spaces ("1 2 3 33") are a list of guesses, not one answer (but "1 000" is).
  const looseDigits = /\d\s+\d/.test(whole) && !/^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(whole);
  if (whole.length > 0 && whole.length <= 200 && !hasProse(whole) && !looseDigits) return { answer: whole, source: 'whole' };
  const num = lastNumber(tail);
  if (num !== undefined) return { answer: num, source: 'last-number' };
  return undefined;
}

export { matchBrace };
