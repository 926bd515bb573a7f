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
