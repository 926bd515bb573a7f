// pass@k with the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
// Code", eq. 1 and its numerically stable form): with n samples of which c are correct,
// pass@k = 1 − C(n−c, k) / C(n, k) = 1 − Π_{i=n−c+1}^{n} (1 − k/i).  And 95% confidence intervals over
// problems (normal approximation: mean ± 1.96·s/√N, s the sample standard deviation across problems).

export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k)) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new Error(`passAtK: need integers 0 ≤ c ≤ n, 1 ≤ k ≤ n (got n=${n}, c=${c}, k=${k})`);
  }
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

export interface MeanCI {
  mean: number;
  /** 95% interval, clipped to [0, 1]. */
  lo: number;
  hi: number;
  /** Problems averaged over. */
  n: number;
}

/** Mean of per-problem values with a 95% normal-approximation interval (0 width for one problem). */
export function meanCI(xs: readonly number[]): MeanCI {
  const n = xs.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const half = (1.96 * sd) / Math.sqrt(n);
  return { mean, lo: Math.max(0, mean - half), hi: Math.min(1, mean + half), n };
}
