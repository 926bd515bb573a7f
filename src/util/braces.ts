// Brace matching for LaTeX answers. Everything here is linear in the input, so a 1 MB completion
// or a thousand unbalanced braces cannot stall scoring.

/** Index of the `}` closing the `{` at `open`, or -1 if it never closes (escaped `\{` `\}` are skipped). */
export function matchBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) {
      i++; // an escaped character never opens or closes a group
      continue;
    }
    if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

/** True when every `{` closes and no `}` closes nothing (escaped braces ignored). */
export function bracesBalanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 123) depth++;
    else if (c === 125 && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * The argument of the last `\boxed{…}` / `\fbox{…}` / `\boxed N` that closes, searching backwards so a
 * completion with a thousand boxes costs one scan. Undefined when there is none (or none closes).
 */
export function lastBoxed(text: string): string | undefined {
  const re = /\\(?:boxed|fbox)\b/g;
  const starts: number[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index + m[0].length);
  // Try the last first; an unclosed last box falls back to the one before it. Bound the attempts so
  // many unclosed boxes cannot make this quadratic.
  for (let k = starts.length - 1, tries = 0; k >= 0 && tries < 8; k--, tries++) {
    let i = starts[k];
    while (i < text.length && text[i] === ' ') i++;
    if (text[i] === '{') {
      const close = matchBrace(text, i);
      if (close >= 0) return text.slice(i + 1, close);
      continue;
    }
    // `\boxed 5` / `\boxed5` form: the argument runs to the next `$`, whitespace or end.
    const m = /^[^\s$]+/.exec(text.slice(i, i + 200));
    if (m && i > starts[k]) return m[0];
  }
  return undefined;
}

/** Every closed `\\boxed{…}` / `\\fbox{…}` among the last `max`, in order, with their spans. */
export function boxedSpans(text: string, max = 16): Array<{ start: number; end: number; body: string }> {
  const re = /\\(?:boxed|fbox)\s*\{/g;
  const starts: number[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    starts.push(m.index);
    if (starts.length > max) starts.shift();
  }
  const out: Array<{ start: number; end: number; body: string }> = [];
  for (const start of starts) {
    const open = text.indexOf('{', start);
    const close = matchBrace(text, open);
    if (close >= 0 && (out.length === 0 || start >= out[out.length - 1].end)) {
      out.push({ start, end: close + 1, body: text.slice(open + 1, close) });
    }
  }
  return out;
}

const MAX_GROUP = 6;

/** Text that may sit between the parts of one multi-part answer: "and", commas, spacing, `$`. */
export const CONNECTOR = /^(?:\s|,|;|\$|\\[()[\]]|\\q?quad|\\[,;: ]|\\text\s*\{[^{}]{0,40}\}|\band\b|\bor\b|&)*$/i;
/** Between boxes a few plain words may also sit, with an "and"/"or"/comma ("\\boxed{1} papers and \\boxed{2} bins"). */
const BOX_GAP = /^(?:[\sa-zA-Z,;&$]|\\[()[\]]|\\q?quad|\\[,;: ]|\\text\s*\{[^{}]{0,40}\})*$/;

/**
 * The final answer when it is split over adjacent boxes (`\\boxed{1} and \\boxed{2}`): their bodies,
 * joined with commas. A single last box is returned alone.
 */
export function lastBoxedGroup(text: string): string | undefined {
  const spans = boxedSpans(text);
  if (spans.length === 0) return lastBoxed(text);
  const last = spans[spans.length - 1];
  const tail = text.slice(last.end);
  // Another, unclosed \\boxed after the last closed one: fall back to the simple search.
  if (/\\(?:boxed|fbox)/.test(tail)) return lastBoxed(text);
  const group = [last.body];
  for (let k = spans.length - 2; k >= 0; k--) {
    const gap = text.slice(spans[k].end, spans[k + 1].start);
    // Display math ($$ … $$) closes an answer; a few words with an and/or/comma may join two boxes.
    const words = gap.replace(/\\text\s*\{[^{}]*\}/g, ' ').match(/[a-zA-Z]+/g) ?? [];
    const wordy = words.length <= 2 && BOX_GAP.test(gap) && /\band\b|\bor\b|,/.test(gap);
    if (gap.length > 60 || gap.includes('$$') || !(CONNECTOR.test(gap) || wordy)) break;
    group.unshift(spans[k].body);
  }
  // A long run of boxes is degenerate output, not a multi-part answer: the last box stands.
  return group.length > MAX_GROUP ? last.body : group.join(', ');
}
