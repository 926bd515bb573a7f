// pass@k with the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
// Code", eq. 1 and its numerically stable form): with n samples of which c are correct,
// pass@k = 1 − C(n−c, k) / C(n, k) = 1 − Π_{i=n−c+1}^{n} (1 − k/i).  And 95% confidence intervals over
// problems: util/stats' Student-t interval (mean ± t_{N−1}·s/√N; with AIME's 30 problems the normal 1.96
// would be ~4% too narrow), clipped to [0, 1] since these are rates.
import { meanCI } from '../util/stats.js';

export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k)) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new Error(`passAtK: need integers 0 ≤ c ≤ n, 1 ≤ k ≤ n (got n=${n}, c=${c}, k=${k})`);
  }
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

export interface RateCI {
  mean: number;
  /** 95% t interval, clipped to [0, 1]. */
  lo: number;
  hi: number;
  /** Problems averaged over. */
  n: number;
}

/** Mean of per-problem rates with util/stats' 95% t interval, clipped to [0, 1] (0 width for one problem). */
export function rateCI(xs: readonly number[]): RateCI {
  const { n, mean, half } = meanCI(xs);
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, n: 0 };
  return { mean, lo: Math.max(0, mean - half), hi: Math.min(1, mean + half), n };
}
