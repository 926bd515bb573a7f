// How much of the best draft d̂'s text a refinement repeats: a normalized edit-distance similarity,
//
//   similarity(a, b) = 1 − lev(a, b) / max(|a|, |b|)          (1 = verbatim copy, 0 = nothing in common)
//
// over characters (Unicode code points) after collapsing whitespace runs to one space and trimming. Why this
// and not the longest common substring: the policies refine short structured completions
// (`<think>…</think><answer>…</answer>`), where one changed digit in the middle would halve a longest-common-
// substring score but costs an edit distance 1/n; edit distance is symmetric, bounded and reads as "the share of
// characters one would have to change" — a refinement that keeps d̂ and appends as much again scores 0.5, one that
// rewrites it scores near the level two unrelated samples of the same task share (the template's tags), which is
// why the step metrics log that level beside it (overlapBetweenDrafts: d̂ against its sibling drafts).
// Cost: O(|a|·|b|) time, O(min) memory, after stripping the common prefix and suffix (a copy costs O(n)). Pairs
// whose table would exceed MAX_CELLS (about 4000 × 4000 characters) are compared over whitespace-separated words
// instead, so a long chain of thought cannot stall a training step.

/** Above this many DP cells (after the common prefix/suffix are stripped) the comparison runs over words. */
export const MAX_CELLS = 16_000_000;

/** Whitespace runs → one space, trimmed: layout is not content. */
export const collapseWhitespace = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Levenshtein distance (insert, delete, substitute: cost 1 each) between two sequences. */
export function levenshtein<T>(a: readonly T[], b: readonly T[]): number {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  // the shorter one indexes the row
  const [s, t] = endA - start <= endB - start ? [a.slice(start, endA), b.slice(start, endB)] : [b.slice(start, endB), a.slice(start, endA)];
  if (s.length === 0) return t.length;
  let prev = new Int32Array(s.length + 1);
  let cur = new Int32Array(s.length + 1);
  for (let i = 0; i <= s.length; i++) prev[i] = i;
  for (let j = 1; j <= t.length; j++) {
    cur[0] = j;
    const tj = t[j - 1];
    for (let i = 1; i <= s.length; i++) {
      const sub = prev[i - 1] + (s[i - 1] === tj ? 0 : 1);
      const del = prev[i] + 1;
      const ins = cur[i - 1] + 1;
      cur[i] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    [prev, cur] = [cur, prev];
  }
  return prev[prev.length - 1];
}

/** Size of the DP table levenshtein would fill for these sequences (common prefix and suffix stripped). */
function cells<T>(a: readonly T[], b: readonly T[]): number {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let tail = 0;
  while (tail < a.length - start && tail < b.length - start && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return (a.length - start - tail) * (b.length - start - tail);
}

/**
 * 1 − lev(a, b) / max(|a|, |b|) over characters of the whitespace-collapsed texts (over words when the pair is too
 * long, see MAX_CELLS). Two empty texts are identical (1).
 */
export function textSimilarity(a: string, b: string): number {
  const x = Array.from(collapseWhitespace(a));
  const y = Array.from(collapseWhitespace(b));
  if (x.length === 0 && y.length === 0) return 1;
  if (cells(x, y) <= MAX_CELLS) return 1 - levenshtein(x, y) / Math.max(x.length, y.length);
  const wx = collapseWhitespace(a).split(' ');
  const wy = collapseWhitespace(b).split(' ');
  return 1 - levenshtein(wx, wy) / Math.max(wx.length, wy.length);
}
