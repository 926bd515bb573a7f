// Runs of equal values: [a, a, b, b] is two runs of length 2 (how a batch lays out a prompt's G rows).

/** xs = [a, a, …, b, b, …] in runs of one common length: the run values and that length; undefined if uneven or empty. */
export function uniformRuns(xs: readonly number[]): { values: number[]; length: number } | undefined {
  if (xs.length === 0) return undefined;
  let len = 1;
  while (len < xs.length && xs[len] === xs[0]) len++;
  if (xs.length % len !== 0) return undefined;
  const values: number[] = [];
  for (let i = 0; i < xs.length; i += len) {
    for (let j = 1; j < len; j++) if (xs[i + j] !== xs[i]) return undefined;
    values.push(xs[i]);
  }
  return { values, length: len };
}
