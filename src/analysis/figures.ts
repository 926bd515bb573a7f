// Plotly figure builders for run logs. Each returns a plain figure object ({ data, layout }) that can be shown in
// a notebook (display.ts), exported to PNG/SVG (export.ts) or saved as JSON for plotly in any language.
import type { EvalRecord, MetricsRecord, RolloutRecord } from '../train/records.js';
import { displayLabel, groupOf } from './labels.js';
import { bandsOf, evalPoints, finalBySeed, seedBands, transitions, type Band, type StepRecord } from './stats.js';

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

/** The algorithm a group label starts with ("igrpo igrpo.template=paper" → "igrpo"). */
const algoOf = (label: string) => label.split(' ')[0];

/** How a group is named in a legend or on an axis. */
const nameOf = (label: string) => LABELS[label] ?? displayLabel(label);

/** Seeds behind a band: the most that contributed at any step. */
const seedsOf = (b: Band) => Math.max(0, ...b.n);

/**
 * What the shaded bands are, for a title: "95% CI over seeds" when every group has ≥ 2 seeds; otherwise which
 * groups have a single seed and so no band ("1 seed: no CI" when none has more).
 */
export function ciNote(bands: readonly Band[]): string {
  const single = bands.filter((b) => seedsOf(b) < 2);
  if (single.length === 0) return '95% CI over seeds';
  if (single.length === bands.length) return `${seedsOf(bands[0]) === 1 && bands.length === 1 ? '1 seed' : '1 seed each'}: no CI`;
  return `95% CI over seeds; no band for ${single.map((b) => nameOf(b.algo)).join(', ')} (1 seed)`;
}

/** A group's name in legends and on axes ("iGRPO igrpo.template=paper"), and the layout every figure here shares. */
export { nameOf as groupName, layout as figureLayout };

function rgba(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

// Python plotly's "plotly_white" look, spelled out: plotly.js has no named templates (a string `template` is ignored
// and the figure came out grey), but it takes a template object, which any plotly.js ≥ 1.39 (and VS Code's 3.x) applies.
const WHITE_AXIS = { gridcolor: '#EBF0F8', linecolor: '#EBF0F8', zerolinecolor: '#EBF0F8', zerolinewidth: 2, automargin: true };
export const PLOTLY_WHITE = { layout: { paper_bgcolor: 'white', plot_bgcolor: 'white', xaxis: WHITE_AXIS, yaxis: WHITE_AXIS } };

function layout(title: string, x: string, y: string, extra: Record<string, unknown> = {}): Layout {
  return {
    title: { text: title },
    xaxis: { title: { text: x } },
    yaxis: { title: { text: y } },
    template: PLOTLY_WHITE,
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
  // The band spans only the steps with ≥ 2 seeds: one seed has no interval (its half-width would read as 0).
  const at = band.step.map((_, i) => i).filter((i) => band.n[i] >= 2);
  const showBand = at.length > 0;
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
    x: [...at.map((i) => band.step[i]), ...[...at].reverse().map((i) => band.step[i])],
    y: [...at.map((i) => clip(band.hi[i])), ...[...at].reverse().map((i) => clip(band.lo[i]))],
    fill: 'toself',
    fillcolor: rgba(color, 0.18),
    line: { width: 0, color: rgba(color, 0) },
    hoverinfo: 'skip',
    showlegend: false,
  };
  return [bandTrace, mean];
}

/** Metrics that are fractions: their bands are cut to [0, 1] (any case: refinementAccuracy, clipFraction, …). */
export const UNIT_INTERVAL = /accuracy|passat1|fraction|wrongtoright|righttowrong/i;

export interface CurveOptions {
  /** Trailing mean over this many steps, per seed, before the band (default 1: raw per-step values). */
  smooth?: number;
}

const smoothNote = (o: CurveOptions) => ((o.smooth ?? 1) > 1 ? `, ${o.smooth}-step mean` : '');

/** Records as the figures take them: optionally labelled with their run's variant (report.ts loadRuns). */
type Labeled = { label?: string };

export interface MetricCurveOptions extends CurveOptions {
  /** A legend name per group (default: the group's display name). */
  nameOf?: (group: string) => string;
}

/**
 * Any logged metric (or a path like "eval.passAt1") over steps, one line per group (run label, else algorithm)
 * with its seed band. The title gets what the band is appended: "(95% CI over seeds)", or which groups have none.
 */
export function metricCurve(metrics: readonly StepRecord[], key: string, title: string, yTitle = key, opts: MetricCurveOptions = {}): PlotlyFigure {
  const bands = seedBands(metrics, key, opts.smooth);
  if (bands.length === 0) throw new Error(`no metrics records carry '${key}'`);
  const bounds: [number, number] | undefined = UNIT_INTERVAL.test(key) ? [0, 1] : undefined;
  const name = opts.nameOf ?? nameOf;
  const data = bands.flatMap((b, i) => bandTraces(b, name(b.algo), colorOf(b.algo, i), bounds));
  return { data, layout: layout(`${title} (${ciNote(bands)}${smoothNote(opts)})`, 'step', yTitle) };
}

export const rewardCurve = (m: readonly StepRecord[], o: CurveOptions = {}) => metricCurve(m, 'reward', 'Mean reward', 'reward', o);

/**
 * Training accuracy. GRPO's is measured on completions of q, iGRPO's on its refinements, sampled under
 * q′ = template(q, d̂) with the best draft in the prompt — an easier condition, so the two are not the same
 * quantity: the legend and title say which is which. Held-out pass@1 (evalCurve/heldOutCurve) compares like with like.
 */
export function accuracyCurve(m: readonly StepRecord[], o: CurveOptions = {}): PlotlyFigure {
  const groups = new Set(m.map(groupOf));
  const mixed = [...groups].some((g) => algoOf(g) === 'igrpo') && [...groups].some((g) => algoOf(g) !== 'igrpo');
  const name = (g: string) => (algoOf(g) === 'igrpo' ? `${nameOf(g)} (refinements, under q′)` : `${nameOf(g)} (under q)`);
  const title = mixed ? 'Training accuracy — not like for like: iGRPO under q′ (q + best draft), GRPO under q' : 'Training accuracy';
  return metricCurve(m, 'accuracy', title, 'accuracy', { ...o, nameOf: mixed ? name : nameOf });
}
export const entropyCurve = (m: (MetricsRecord & Labeled)[], o: CurveOptions = {}) =>
  metricCurve(m, 'entropy', 'Policy entropy', 'entropy (nats/token)', o);
export const evalCurve = (m: (MetricsRecord & Labeled)[]) => metricCurve(m, 'eval.passAt1', 'Held-out pass@1', 'pass@1');

/** Held-out pass@1 from evals.jsonl over the number of updates, starting with the policy before any update. */
export function heldOutCurve(evals: readonly (EvalRecord & Labeled)[]): PlotlyFigure {
  const bands = bandsOf(evalPoints(evals));
  if (bands.length === 0) throw new Error('no evaluation records');
  const data = bands.flatMap((b, i) => bandTraces(b, nameOf(b.algo), colorOf(b.algo, i), [0, 1]));
  return { data, layout: layout(`Held-out pass@1 (${ciNote(bands)})`, 'updates', 'pass@1') };
}

/** iGRPO's two stages: draft accuracy vs refinement accuracy over steps (and the best draft's). */
export function draftVsRefinementCurve(metrics: (MetricsRecord & Labeled)[], opts: CurveOptions = {}): PlotlyFigure {
  const igrpo = metrics.filter((m) => m.algo === 'igrpo');
  const series: [string, string, string][] = [
    ['draftAccuracy', 'drafts', COLORS.draft],
    ['bestDraftAccuracy', 'best draft d̂', '#8c564b'],
    ['refinementAccuracy', 'refinements', COLORS.refinement],
  ];
  // Several iGRPO variants: one set of curves each, dashed differently, named by variant.
  const groups = [...new Set(igrpo.map(groupOf))].sort();
  const dashes = ['solid', 'dash', 'dot', 'dashdot', 'longdash'];
  const bands: Band[] = [];
  const data = groups.flatMap((g, gi) =>
    series.flatMap(([key, label, color]) => {
      const [band] = seedBands(igrpo.filter((m) => groupOf(m) === g), key, opts.smooth);
      if (!band) return [];
      bands.push({ ...band, algo: g });
      const traces = bandTraces(band, groups.length > 1 ? `${nameOf(g)}: ${label}` : label, color, [0, 1]);
      for (const t of traces) if (t.fill === undefined) t.line = { color, width: 2, dash: dashes[gi % dashes.length] };
      return traces;
    }),
  );
  if (data.length === 0) throw new Error('no iGRPO metrics with draftAccuracy/refinementAccuracy');
  return { data, layout: layout(`iGRPO: draft vs refinement accuracy (${ciNote(bands)}${smoothNote(opts)})`, 'step', 'accuracy') };
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

/**
 * Completion-length histograms, one panel per stage (GRPO's completions, iGRPO's drafts, its refinements), each
 * stage of each run group in its own row with a shared length axis, so no stage hides behind another.
 */
export function lengthHistogram(rollouts: (RolloutRecord & Labeled)[]): PlotlyFigure {
  const ORDER = ['grpo', 'draft', 'intermediate', 'refinement'];
  const panels = [...new Set(rollouts.map((r) => `${groupOf(r)}\u0000${r.stage}`))]
    .map((k) => k.split('\u0000') as [string, string])
    .sort(([ga, sa], [gb, sb]) => ga.localeCompare(gb) || ORDER.indexOf(sa) - ORDER.indexOf(sb));
  if (panels.length === 0) throw new Error('no rollouts');
  const groups = new Set(panels.filter(([, s]) => s !== 'grpo').map(([g]) => g));
  // a loop, not Math.max(...xs): a results folder holds hundreds of thousands of completions (stack overflow)
  const maxTokens = rollouts.reduce((a, r) => Math.max(a, r.tokens), -Infinity);
  const panelName = (g: string, s: string) => (s === 'grpo' ? nameOf(g) : groups.size > 1 ? `${nameOf(g)} ${LABELS[s] ?? s}s` : `${LABELS[s] ?? s}s`);
  const axis = (i: number) => (i === 0 ? '' : String(i + 1));
  const data: Trace[] = panels.map(([g, s], i) => ({
    type: 'histogram',
    name: panelName(g, s),
    x: rollouts.filter((r) => groupOf(r) === g && r.stage === s).map((r) => r.tokens),
    xbins: { start: -0.5, end: maxTokens + 0.5, size: Math.max(1, Math.ceil((maxTokens + 1) / 40)) },
    marker: { color: s === 'grpo' ? colorOf(g, i) : colorOf(s, i) },
    xaxis: `x${axis(i)}`,
    yaxis: `y${axis(i)}`,
  }));
  const extra: Record<string, unknown> = {
    grid: { rows: panels.length, columns: 1, pattern: 'independent', roworder: 'top to bottom' },
    height: Math.max(300, 170 * panels.length),
    showlegend: false,
  };
  panels.forEach(([g, s], i) => {
    extra[`yaxis${axis(i)}`] = { title: { text: panelName(g, s) } };
    // One length scale for every panel.
    extra[`xaxis${axis(i)}`] = { range: [-0.5, maxTokens + 0.5], title: { text: 'completion tokens' } };
  });
  return { data, layout: layout('Completion lengths by stage (count of completions)', 'completion tokens', panelName(...panels[0]), extra) };
}

/** Length against reward per stage (and per run group when there are several): do longer completions earn more? */
export function lengthVsReward(rollouts: (RolloutRecord & Labeled)[]): PlotlyFigure {
  const ORDER = ['grpo', 'draft', 'refinement'];
  const series = [...new Set(rollouts.map((r) => `${groupOf(r)}\u0000${r.stage}`))]
    .map((k) => k.split('\u0000') as [string, string])
    .sort(([ga, sa], [gb, sb]) => ga.localeCompare(gb) || ORDER.indexOf(sa) - ORDER.indexOf(sb) || sa.localeCompare(sb));
  const several = new Set(series.map(([g]) => g)).size > 1;
  const name = (g: string, s: string) => (s === 'grpo' ? nameOf(several ? g : s) : several ? `${nameOf(g)} ${LABELS[s] ?? s}s` : (LABELS[s] ?? s));
  const data: Trace[] = series.map(([g, s], i) => {
    const rs = rollouts.filter((r) => groupOf(r) === g && r.stage === s);
    return {
      type: 'scatter',
      mode: 'markers',
      name: name(g, s),
      x: rs.map((r) => r.tokens),
      y: rs.map((r) => r.reward),
      marker: { color: several && s === 'grpo' ? colorOf(g, i) : colorOf(s, i), size: 5, opacity: 0.5 },
    };
  });
  return { data, layout: layout('Length vs reward', 'completion tokens', 'reward') };
}

/**
 * GRPO vs iGRPO: the metric at each seed's last step, as a bar of the mean with its 95% CI and one dot per seed.
 * Use key "eval.passAt1" for held-out accuracy (the paper's headline), "accuracy" for training accuracy.
 */
export function comparisonFigure(metrics: (MetricsRecord & Labeled)[], key = 'accuracy', yTitle = key): PlotlyFigure {
  const finals = [...finalBySeed(metrics, key).entries()].sort(([a], [b]) => a.localeCompare(b));
  if (finals.length === 0) throw new Error(`no metrics records carry '${key}'`);
  const names = finals.map(([a]) => nameOf(a));
  const single = finals.filter(([, f]) => f.values.length < 2).map(([a]) => nameOf(a));
  const ciText = single.length === 0 ? '95% CI over seeds' : single.length === finals.length ? '1 seed each: no CI' : `95% CI; none for ${single.join(', ')} (1 seed)`;
  const bars: Trace = {
    type: 'bar',
    name: 'mean over seeds',
    x: names,
    y: finals.map(([, f]) => f.ci.mean),
    // No whisker where there is one seed (a zero-width interval would look like certainty).
    error_y: { type: 'data', array: finals.map(([, f]) => (f.values.length < 2 ? NaN : f.ci.half)), visible: single.length < finals.length },
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
  return { data: [bars, dots], layout: layout(`${names.join(' vs ')}: final ${yTitle} (${ciText})`, 'method', yTitle) };
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
export function stageTimeFigure(metrics: (MetricsRecord & Labeled)[]): PlotlyFigure {
  const algos = [...new Set(metrics.map(groupOf))].sort();
  const meanOf = (algo: string, stage: string) => {
    const xs = metrics.filter((m) => groupOf(m) === algo).map((m) => (m.wallMs as Record<string, number | undefined>)[stage] ?? 0);
    return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  };
  const data: Trace[] = STAGES.filter(([s]) => algos.some((a) => meanOf(a, s) > 0)).map(([s, color]) => ({
    type: 'bar',
    name: s,
    x: algos.map(nameOf),
    y: algos.map((a) => meanOf(a, s)),
    marker: { color },
  }));
  return { data, layout: layout('Wall time per step by stage', 'method', 'ms per step (mean)', { barmode: 'stack' }) };
}
