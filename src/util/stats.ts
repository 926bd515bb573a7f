// The one mean ± 95% Student-t interval, for the analysis side (seed bands, reports) and the experiment
// runner alike (train may not import analysis, so it lives here).

/** Two-sided 95% Student-t quantiles by degrees of freedom (1..30; beyond that the normal 1.96 is within 4%). */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function t95(df: number): number {
  return df <= 0 ? NaN : df <= T95.length ? T95[df - 1] : 1.96;
}

export interface MeanCI {
  n: number;
  mean: number;
  /** Half-width of the 95% t interval (0 for a single value). */
  half: number;
}

export function meanCI(xs: readonly number[]): MeanCI {
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, half: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, half: 0 };
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return { n, mean, half: t95(n - 1) * Math.sqrt(variance / n) };
}

/** The interval [mean − half, mean + half]. */
export const ci95 = (c: MeanCI): [number, number] => [c.mean - c.half, c.mean + c.half];
