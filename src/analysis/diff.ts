// Word-level diff (longest common subsequence over whitespace-separated tokens), to show what a refinement
// changed relative to the draft it was conditioned on.

export interface DiffPart {
  op: 'same' | 'add' | 'del';
  text: string;
}

/** Tokens that keep their trailing whitespace, so joining them gives the text back. */
export function tokenize(s: string): string[] {
  return s.match(/\S+\s*|\s+/g) ?? [];
}

/** Above this many token pairs the LCS table would be large; we fall back to "all deleted, all added". */
const MAX_CELLS = 4_000_000;

export function wordDiff(before: string, after: string): DiffPart[] {
  const a = tokenize(before);
  const b = tokenize(after);
  const key = (t: string) => t.trim();
  if (a.length * b.length > MAX_CELLS) {
    return [
      { op: 'del', text: before },
      { op: 'add', text: after },
    ].filter((p) => p.text !== '') as DiffPart[];
  }
  // lcs[i][j] = LCS length of a[i:] and b[j:]
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = key(a[i]) === key(b[j]) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const parts: DiffPart[] = [];
  const push = (op: DiffPart['op'], text: string) => {
    const last = parts[parts.length - 1];
    if (last && last.op === op) last.text += text;
    else parts.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (key(a[i]) === key(b[j])) {
      push('same', b[j]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) push('del', a[i++]);
    else push('add', b[j++]);
  }
  while (i < a.length) push('del', a[i++]);
  while (j < b.length) push('add', b[j++]);
  return parts;
}

/** Fraction of the after-text's tokens that are new (0 = copied the draft verbatim). */
export function changedFraction(parts: DiffPart[]): number {
  const count = (op: DiffPart['op']) => parts.filter((p) => p.op === op).reduce((n, p) => n + tokenize(p.text).length, 0);
  const added = count('add');
  const total = added + count('same');
  return total === 0 ? 0 : added / total;
}
