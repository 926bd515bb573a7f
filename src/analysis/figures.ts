// Plotly figure builders for run logs. Each returns a plain figure object ({ data, layout }) that can be shown in
// a notebook (display.ts), exported to PNG/SVG (export.ts) or saved as JSON for plotly in any language.
import type { EvalRecord, MetricsRecord, RolloutRecord } from '../train/records.js';
import { bandsOf, evalPoints, finalBySeed, seedBands, transitions, type Band } from './stats.js';

export interface Trace {
  type: string;
  name?: string;
  x?: (number | string)[];
  y?: (number | string)[];
  z?: number[][];
  [key: string]: unknown;
}

export interface Axis {
  title: { text: string };
  [key: string]: unknown;
}

export interface Layout {
  title: { text: string };
  xaxis: Axis;
  yaxis: Axis;
  [key: string]: unknown;
}

export interface PlotlyFigure {
  data: Trace[];
  layout: Layout;
}

const COLORS: Record<string, string> = { grpo: '#1f77b4', igrpo: '#d62728', draft: '#ff7f0e', refinement: '#2ca02c' };
const FALLBACK = ['#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const LABELS: Record<string, string> = { grpo: 'GRPO', igrpo: 'iGRPO', draft: 'draft', refinement: 'refinement' };

export function colorOf(name: string, i = 0): string {
  return COLORS[name] ?? FALLBACK[i % FALLBACK.length];
}

function rgba(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

function layout(title: string, x: string, y: string, extra: Record<string, unknown> = {}): Layout {
  return {
    title: { text: title },
    xaxis: { title: { text: x } },
    yaxis: { title: { text: y } },
    template: 'plotly_white',
    font: { family: 'Liberation Sans, Arial, sans-serif', size: 13 },
    margin: { l: 60, r: 20, t: 50, b: 50 },
    legend: { orientation: 'h', y: -0.2 },
    ...extra,
  };
}

/** Mean line plus a shaded 95% band: two traces, the band drawn as lower bound filled up to the upper one. */
export function bandTraces(band: Band, label: string, color: string, bounds?: [number, number]): Trace[] {
  // A t interval over few seeds can leave the metric's range (accuracy below 0); draw it cut to the range.
  const clip = (x: number) => (bounds ? Math.min(bounds[1], Math.max(bounds[0], x)) : x);
  const showBand = band.n.some((n) => n > 1);
  const mean: Trace = {
    type: 'scatter',
    mode: 'lines',
    name: label,
    x: band.step,
    y: band.mean,
    line: { color, width: 2 },
    customdata: band.n,
    hovertemplate: `${label}<br>step %{x}<br>%{y:.3f} (seeds: %{customdata})<extra></extra>`,
  };
  if (!showBand) return [mean];
  // One closed polygon (hi forward, lo backward) keeps the band a single trace that legends and exports agree on.
  const bandTrace: Trace = {
    type: 'scatter',
    mode: 'lines',
    name: `${label} 95% CI`,
    x: [...band.step, ...[...band.step].reverse()],
    y: [...band.hi.map(clip), ...[...band.lo].reverse().map(clip)],
    fill: 'toself',
    fillcolor: rgba(color, 0.18),
    line: { width: 0, color: rgba(color, 0) },
    hoverinfo: 'skip',
    showlegend: false,
  };
  return [bandTrace, mean];
}

/** Metrics that are fractions: their bands are cut to [0, 1]. */
const UNIT_INTERVAL = /accuracy|passAt1|Fraction|wrongToRight|rightToWrong/;

export interface CurveOptions {
  /** Trailing mean over this many steps, per seed, before the band (default 1: raw per-step values). */
  smooth?: number;
}

const smoothNote = (o: CurveOptions) => ((o.smooth ?? 1) > 1 ? `, ${o.smooth}-step mean` : '');

/** Any logged metric (or a path like "eval.passAt1") over steps, one line per algorithm with its seed band. */
export function metricCurve(metrics: MetricsRecord[], key: string, title: string, yTitle = key, opts: CurveOptions = {}): PlotlyFigure {
  const bands = seedBands(metrics, key, opts.smooth);
  if (bands.length === 0) throw new Error(`no metrics records carry '${key}'`);
  const bounds: [number, number] | undefined = UNIT_INTERVAL.test(key) ? [0, 1] : undefined;
  const data = bands.flatMap((b, i) => bandTraces(b, LABELS[b.algo] ?? b.algo, colorOf(b.algo, i), bounds));
  return { data, layout: layout(title.replace(/\)$/, `${smoothNote(opts)})`), 'step', yTitle) };
}

export const rewardCurve = (m: MetricsRecord[], o: CurveOptions = {}) => metricCurve(m, 'reward', 'Mean reward (95% CI over seeds)', 'reward', o);
export const accuracyCurve = (m: MetricsRecord[], o: CurveOptions = {}) =>
  metricCurve(m, 'accuracy', 'Training accuracy (95% CI over seeds)', 'accuracy', o);
export const entropyCurve = (m: MetricsRecord[], o: CurveOptions = {}) =>
  metricCurve(m, 'entropy', 'Policy entropy (95% CI over seeds)', 'entropy (nats/token)', o);
export const evalCurve = (m: MetricsRecord[]) => metricCurve(m, 'eval.passAt1', 'Held-out pass@1 (95% CI over seeds)', 'pass@1');

/** Held-out pass@1 from evals.jsonl over the number of updates, starting with the policy before any update. */
export function heldOutCurve(evals: readonly EvalRecord[]): PlotlyFigure {
  const bands = bandsOf(evalPoints(evals));
  if (bands.length === 0) throw new Error('no evaluation records');
  const data = bands.flatMap((b, i) => bandTraces(b, LABELS[b.algo] ?? b.algo, colorOf(b.algo, i), [0, 1]));
  return { data, layout: layout('Held-out pass@1 (95% CI over seeds)', 'updates', 'pass@1') };
}

/** iGRPO's two stages: draft accuracy vs refinement accuracy over steps (and the best draft's). */
export function draftVsRefinementCurve(metrics: MetricsRecord[], opts: CurveOptions = {}): PlotlyFigure {
  const igrpo = metrics.filter((m) => m.algo === 'igrpo');
  const series: [string, string, string][] = [
    ['draftAccuracy', 'drafts', COLORS.draft],
    ['bestDraftAccuracy', 'best draft d̂', '#8c564b'],
    ['refinementAccuracy', 'refinements', COLORS.refinement],
  ];
  const data = series.flatMap(([key, label, color]) => {
    const [band] = seedBands(igrpo, key, opts.smooth);
    return band ? bandTraces(band, label, color, [0, 1]) : [];
  });
  if (data.length === 0) throw new Error('no iGRPO metrics with draftAccuracy/refinementAccuracy');
  return { data, layout: layout(`iGRPO: draft vs refinement accuracy (95% CI over seeds${smoothNote(opts)})`, 'step', 'accuracy') };
}

/** Heatmap of d̂ correctness (rows) → refinement correctness (columns), counts annotated with row percentages. */
export function transitionHeatmap(rollouts: RolloutRecord[]): PlotlyFigure {
  const t = transitions(rollouts);
  if (t.total === 0) throw new Error('no refinements with a chosen draft in these rollouts (iGRPO logs needed)');
  const rows = ['d̂ wrong', 'd̂ right'];
  const cols = ['refinement wrong', 'refinement right'];
  const annotations = t.counts.flatMap((row, i) => {
    const sum = row[0] + row[1];
    return row.map((c, j) => ({
      x: cols[j],
      y: rows[i],
      text: `${c}<br>(${sum ? ((100 * c) / sum).toFixed(1) : '–'}%)`,
      showarrow: false,
      font: { color: c > 0.6 * Math.max(...t.counts.flat()) ? 'white' : 'black' },
    }));
  });
  return {
    // Light (few) to dark (many); plotly's named 'Blues' runs the other way round.
    data: [{ type: 'heatmap', x: cols, y: rows, z: t.counts.map((r) => [...r]), colorscale: [[0, '#f7fbff'], [0.5, '#6baed6'], [1, '#08306b']], showscale: true }],
    layout: layout('Best draft → refinement correctness', 'refinement', 'best draft d̂', { annotations }),
  };
}

/** Completion-length histograms, one overlaid per stage (draft / refinement / grpo). */
export function lengthHistogram(rollouts: RolloutRecord[]): PlotlyFigure {
  const stages = [...new Set(rollouts.map((r) => r.stage))].sort();
  const data: Trace[] = stages.map((s, i) => ({
    type: 'histogram',
    name: LABELS[s] ?? s,
    x: rollouts.filter((r) => r.stage === s).map((r) => r.tokens),
    opacity: 0.6,
    marker: { color: colorOf(s, i) },
  }));
  return { data, layout: layout('Completion lengths', 'completion tokens', 'completions', { barmode: 'overlay' }) };
}

/** Length against reward per stage: do longer completions earn more? */
export function lengthVsReward(rollouts: RolloutRecord[]): PlotlyFigure {
  const stages = [...new Set(rollouts.map((r) => r.stage))].sort();
  const data: Trace[] = stages.map((s, i) => {
    const rs = rollouts.filter((r) => r.stage === s);
    return {
      type: 'scatter',
      mode: 'markers',
      name: LABELS[s] ?? s,
      x: rs.map((r) => r.tokens),
      y: rs.map((r) => r.reward),
      marker: { color: colorOf(s, i), size: 5, opacity: 0.5 },
    };
  });
  return { data, layout: layout('Length vs reward', 'completion tokens', 'reward') };
}

/**
 * GRPO vs iGRPO: the metric at each seed's last step, as a bar of the mean with its 95% CI and one dot per seed.
 * Use key "eval.passAt1" for held-out accuracy (the paper's headline), "accuracy" for training accuracy.
 */
export function comparisonFigure(metrics: MetricsRecord[], key = 'accuracy', yTitle = key): PlotlyFigure {
  const finals = [...finalBySeed(metrics, key).entries()].sort(([a], [b]) => a.localeCompare(b));
  if (finals.length === 0) throw new Error(`no metrics records carry '${key}'`);
  const names = finals.map(([a]) => LABELS[a] ?? a);
  const bars: Trace = {
    type: 'bar',
    name: 'mean over seeds',
    x: names,
    y: finals.map(([, f]) => f.ci.mean),
    error_y: { type: 'data', array: finals.map(([, f]) => f.ci.half), visible: true },
    marker: { color: finals.map(([a], i) => rgba(colorOf(a, i), 0.7)) },
  };
  const dots: Trace = {
    type: 'scatter',
    mode: 'markers',
    name: 'seeds',
    x: finals.flatMap(([, f], i) => f.values.map(() => names[i])),
    y: finals.flatMap(([, f]) => f.values),
    text: finals.flatMap(([, f]) => f.seeds.map((s) => `seed ${s}`)),
    marker: { color: 'black', size: 7 },
  };
  return { data: [bars, dots], layout: layout(`GRPO vs iGRPO: final ${yTitle} (95% CI)`, 'method', yTitle) };
}

/** Stages of a step as the trainer times them (GRPO's sampling is "sample", iGRPO's are "draft" and "refine"). */
const STAGES: [string, string][] = [
  ['draft', '#ff7f0e'], ['sample', '#1f77b4'], ['refine', '#2ca02c'], ['score', '#9467bd'],
  ['select', '#8c564b'], ['advantage', '#e377c2'], ['update', '#7f7f7f'],
];

/**
 * Wall time per step by stage and algorithm (stacked), the cost side of the matched-budget comparison.
 * Evaluation is not part of a training step and is left out.
 */
export function stageTimeFigure(metrics: MetricsRecord[]): PlotlyFigure {
  const algos = [...new Set(metrics.map((m) => m.algo))].sort();
  const meanOf = (algo: string, stage: string) => {
    const xs = metrics.filter((m) => m.algo === algo).map((m) => (m.wallMs as Record<string, number | undefined>)[stage] ?? 0);
    return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  };
  const data: Trace[] = STAGES.filter(([s]) => algos.some((a) => meanOf(a, s) > 0)).map(([s, color]) => ({
    type: 'bar',
    name: s,
    x: algos.map((a) => LABELS[a] ?? a),
    y: algos.map((a) => meanOf(a, s)),
    marker: { color },
  }));
  return { data, layout: layout('Wall time per step by stage', 'method', 'ms per step (mean)', { barmode: 'stack' }) };
}
