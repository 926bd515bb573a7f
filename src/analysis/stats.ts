// Small statistics over run logs: seed confidence bands, stage summaries, the draft→refinement transition matrix.
import type { EvalRecord, MetricsRecord, RolloutRecord } from '../train/records.js';
import { groupOf } from './labels.js';
import { meanCI, type MeanCI } from '../util/stats.js';

// Records may carry the run's label (loadRuns sets it from each run's config.json); everything here groups by
// label (else algorithm) and seed, so variants of one algorithm stay apart.
type Labeled = { label?: string };

export { meanCI, t95, type MeanCI } from '../util/stats.js';

export type NumericMetric = {
  [K in keyof MetricsRecord]-?: NonNullable<MetricsRecord[K]> extends number ? K : never;
}[keyof MetricsRecord];

/**
 * What a per-step curve needs of a record: its run (algorithm, seed, label) and step. Metrics records fit, and so
 * do rows derived from rollouts (src/analysis/diagnostics.ts), e.g. for runs made with verl or TRL.
 */
export interface StepRecord {
  step: number;
  seed: number;
  algo: string;
  label?: string;
}

/** A metric read from a record, or a path into it such as "eval.passAt1" or "wallMs.total". */
export function metricValue(m: object, key: string): number | undefined {
  let v: unknown = m;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export interface Band {
  /** The group: the run label, or the algorithm when runs carry no label. */
  algo: string;
  step: number[];
  mean: number[];
  lo: number[];
  hi: number[];
  /** Seeds contributing at each step. */
  n: number[];
}

/** Each (algo, seed) series of the metric in step order, as a trailing mean over `window` steps (1 = raw). */
export function smoothedSeries(metrics: readonly StepRecord[], key: string, window = 1): { algo: string; seed: number; step: number; value: number }[] {
  const series = new Map<string, { algo: string; seed: number; step: number; value: number }[]>();
  for (const m of metrics) {
    const value = metricValue(m, key);
    if (value === undefined) continue;
    const k = `${groupOf(m)}\u0000${m.seed}`;
    const points = series.get(k) ?? [];
    points.push({ algo: groupOf(m), seed: m.seed, step: m.step, value });
    series.set(k, points);
  }
  const w = Math.max(1, Math.floor(window));
  return [...series.values()].flatMap((points) => {
    points.sort((a, b) => a.step - b.step);
    let sum = 0;
    return points.map((p, i) => {
      sum += p.value - (i >= w ? points[i - w].value : 0);
      return { ...p, value: sum / Math.min(i + 1, w) };
    });
  });
}

/**
 * Per algorithm, the metric's mean over seeds at each step with a 95% t band (steps where no seed logged it are
 * skipped). `window` > 1 first smooths each seed's curve with a trailing mean over that many steps.
 */
export function seedBands(metrics: readonly StepRecord[], key: string, window = 1): Band[] {
  return bandsOf(smoothedSeries(metrics, key, window));
}

/** One value of one seed's run at one step. */
export interface SeriesPoint {
  algo: string;
  step: number;
  value: number;
}

/** Held-out evaluations (evals.jsonl) as points over the number of updates; the first is before any update. */
export const evalPoints = (evals: readonly (EvalRecord & Labeled)[]): SeriesPoint[] =>
  evals.map((e) => ({ algo: groupOf(e), step: e.updates, value: e.passAt1 }));

/** Per algorithm and step: the mean over seeds and its 95% t interval. */
export function bandsOf(points: Iterable<SeriesPoint>): Band[] {
  const byAlgo = new Map<string, Map<number, number[]>>();
  for (const p of points) {
    const steps = byAlgo.get(p.algo) ?? new Map<number, number[]>();
    byAlgo.set(p.algo, steps);
    const values = steps.get(p.step) ?? [];
    values.push(p.value);
    steps.set(p.step, values);
  }
  return [...byAlgo.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([algo, steps]) => {
    const band: Band = { algo, step: [], mean: [], lo: [], hi: [], n: [] };
    for (const step of [...steps.keys()].sort((a, b) => a - b)) {
      const ci = meanCI(steps.get(step)!);
      band.step.push(step);
      band.mean.push(ci.mean);
      band.lo.push(ci.mean - ci.half);
      band.hi.push(ci.mean + ci.half);
      band.n.push(ci.n);
    }
    return band;
  });
}

/** The metric at each seed's last logged step, per algorithm, with its mean and 95% CI. */
export function finalBySeed(metrics: readonly StepRecord[], key: string): Map<string, { seeds: number[]; values: number[]; ci: MeanCI }> {
  const last = new Map<string, StepRecord>();
  for (const m of metrics) {
    if (metricValue(m, key) === undefined) continue;
    const k = `${groupOf(m)}\u0000${m.seed}`;
    const prev = last.get(k);
    if (!prev || m.step >= prev.step) last.set(k, m);
  }
  const out = new Map<string, { seeds: number[]; values: number[]; ci: MeanCI }>();
  for (const m of [...last.values()].sort((a, b) => a.seed - b.seed)) {
    const e = out.get(groupOf(m)) ?? { seeds: [], values: [], ci: meanCI([]) };
    e.seeds.push(m.seed);
    e.values.push(metricValue(m, key)!);
    out.set(groupOf(m), e);
  }
  for (const e of out.values()) e.ci = meanCI(e.values);
  return out;
}

/**
 * Draft→refinement transitions: for each refinement, whether its conditioning draft d̂ (the chosen draft of the
 * same step, seed and group) was correct, and whether the refinement is. counts[from][to] with 0 = wrong, 1 = right.
 */
export interface Transitions {
  counts: [[number, number], [number, number]];
  /** Among refinements of a wrong d̂, the fraction right (NaN if none). */
  wrongToRight: number;
  /** Among refinements of a right d̂, the fraction wrong (NaN if none). */
  rightToWrong: number;
  total: number;
}

export function transitions(rollouts: (RolloutRecord & Labeled)[]): Transitions {
  const key = (r: RolloutRecord & Labeled) => `${groupOf(r)}\u0000${r.seed}\u0000${r.step}\u0000${r.group}`;
  // the d̂ a refinement was conditioned on: the drafts' (round 1), or with more rounds the last middle round's
  const chosen = new Map<string, boolean>();
  const round = new Map<string, number>();
  for (const r of rollouts) {
    if ((r.stage !== 'draft' && r.stage !== 'intermediate') || !r.chosen) continue;
    const k = r.round ?? (r.stage === 'draft' ? 1 : 2);
    if ((round.get(key(r)) ?? 0) >= k) continue;
    chosen.set(key(r), r.correct);
    round.set(key(r), k);
  }
  const counts: [[number, number], [number, number]] = [[0, 0], [0, 0]];
  for (const r of rollouts) {
    if (r.stage !== 'refinement') continue;
    const from = chosen.get(key(r));
    if (from === undefined) continue;
    counts[from ? 1 : 0][r.correct ? 1 : 0]++;
  }
  const wrong = counts[0][0] + counts[0][1];
  const right = counts[1][0] + counts[1][1];
  return {
    counts,
    wrongToRight: wrong ? counts[0][1] / wrong : NaN,
    rightToWrong: right ? counts[1][0] / right : NaN,
    total: wrong + right,
  };
}

export interface StageRow {
  algo: string;
  step: number;
  stage: string;
  completions: number;
  accuracy: number;
  meanReward: number;
  meanTokens: number;
  truncated: number;
}

/** Per algorithm, step and stage: completions, accuracy, mean reward, mean length, fraction truncated. */
export function stageSummary(rollouts: (RolloutRecord & Labeled)[]): StageRow[] {
  const groups = new Map<string, (RolloutRecord & Labeled)[]>();
  for (const r of rollouts) {
    const k = `${groupOf(r)}\u0000${r.step}\u0000${r.stage}`;
    const rs = groups.get(k) ?? [];
    rs.push(r);
    groups.set(k, rs);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [...groups.values()]
    .map((rs) => ({
      algo: groupOf(rs[0]),
      step: rs[0].step,
      stage: rs[0].stage,
      completions: rs.length,
      accuracy: mean(rs.map((r) => (r.correct ? 1 : 0))),
      meanReward: mean(rs.map((r) => r.reward)),
      meanTokens: mean(rs.map((r) => r.tokens)),
      truncated: mean(rs.map((r) => (r.finishReason === 'length' ? 1 : 0))),
    }))
    .sort((a, b) => a.algo.localeCompare(b.algo) || a.step - b.step || a.stage.localeCompare(b.stage));
}

/**
 * Step wall time of one group over another, as the experiment reports it: per seed present in both, the ratio of
 * the two runs' mean step times (a pair runs side by side, so each ratio sees one load), then their mean and median.
 */
export function stepTimeRatio(num: readonly MetricsRecord[], den: readonly MetricsRecord[]): { perSeed: number[]; seeds: number[]; mean: number; median: number } {
  const meanStep = (ms: readonly MetricsRecord[]) => {
    const by = new Map<number, number[]>();
    for (const m of ms) by.set(m.seed, [...(by.get(m.seed) ?? []), m.wallMs.total]);
    return new Map([...by].map(([seed, xs]) => [seed, xs.reduce((a, b) => a + b, 0) / xs.length]));
  };
  const a = meanStep(num);
  const b = meanStep(den);
  const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  const perSeed = seeds.map((s) => a.get(s)! / b.get(s)!);
  const sorted = [...perSeed].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { perSeed, seeds, mean: perSeed.length ? perSeed.reduce((x, y) => x + y, 0) / perSeed.length : NaN, median };
}
