// Figures of the refinement diagnostics (./diagnostics.ts rows): fix, break and copy rates over training, several
// runs side by side, and zero-variance groups by stage and reason. Groups, names and colours as in ./figures.ts.
import type { EvalRecord } from '../train/records.js';
import type { DiagnosticsRow, ZeroVarianceRow } from './diagnostics.js';
import { bandTraces, ciNote, colorOf, figureLayout, groupName, type CurveOptions, type PlotlyFigure, type Trace } from './figures.js';
import { groupOf } from './labels.js';
import { bandsOf, seedBands, type Band } from './stats.js';

/** The panels, top to bottom; one without data in any run (e.g. copy rate in metrics-only logs) is left out. */
// `axis` is the y-axis title (short: stacked panels leave it ~200 px), `title` the panel's heading above it.
const PANELS: { key: keyof DiagnosticsRow; axis: string; title: string; baseline?: keyof DiagnosticsRow }[] = [
  { key: 'fixRate', axis: 'fix rate', title: 'fix rate (d̂ wrong → right)' },
  { key: 'breakRate', axis: 'break rate', title: 'break rate (d̂ right → wrong)' },
  { key: 'copyRate', axis: 'copy rate', title: "copy rate (d̂'s answer repeated)" },
  { key: 'overlapWithDraft', axis: 'overlap', title: 'text overlap with d̂ (dotted: d̂ vs its sibling drafts)', baseline: 'overlapBetweenDrafts' },
];

/**
 * Fix, break and copy rates (and text overlap) over training steps: one panel each, one line per run group with
 * its band over seeds, in the group's colour in every panel (legend entries once).
 */
export function refinementDiagnosticsFigure(rows: readonly DiagnosticsRow[], opts: CurveOptions = {}): PlotlyFigure {
  const groups = [...new Set(rows.map(groupOf))].sort();
  const panels = PANELS.filter((p) => rows.some((r) => typeof r[p.key] === 'number'));
  if (panels.length === 0) throw new Error('no refinement diagnostics (iGRPO runs with chosen drafts in rollouts.jsonl, or wrongToRight in metrics.jsonl)');
  const axis = (i: number) => (i === 0 ? '' : String(i + 1));
  const all: Band[] = [];
  const data: Trace[] = panels.flatMap((p, pi) =>
    groups.flatMap((g, gi) => {
      const mine = rows.filter((r) => groupOf(r) === g);
      const [band] = seedBands(mine, p.key, opts.smooth);
      if (!band) return [];
      all.push(band);
      const color = colorOf(g, gi);
      const traces = bandTraces(band, groupName(g), color, [0, 1]);
      if (p.baseline) {
        const [base] = seedBands(mine, p.baseline, opts.smooth);
        if (base) traces.push({ type: 'scatter', mode: 'lines', name: `${groupName(g)}: sibling drafts`, x: base.step, y: base.mean, line: { color, width: 1.5, dash: 'dot' }, showlegend: false });
      }
      for (const t of traces) {
        t.xaxis = `x${axis(pi)}`;
        t.yaxis = `y${axis(pi)}`;
        t.legendgroup = g;
        if (pi > 0) t.showlegend = false;
      }
      return traces;
    }),
  );
  const extra: Record<string, unknown> = {
    grid: { rows: panels.length, columns: 1, pattern: 'independent', roworder: 'top to bottom' },
    height: Math.max(320, 220 * panels.length),
  };
  panels.forEach((p, i) => {
    extra[`yaxis${axis(i)}`] = { title: { text: p.axis }, range: [0, 1] };
    extra[`xaxis${axis(i)}`] = { title: { text: i === panels.length - 1 ? 'step' : '' }, matches: i === 0 ? undefined : 'x' };
  });
  extra.annotations = panels.map((p, i) => ({
    text: p.title, showarrow: false, xref: 'paper', x: 0, xanchor: 'left', yref: `y${axis(i)} domain`, y: 1, yanchor: 'bottom', font: { size: 12 },
  }));
  const smooth = (opts.smooth ?? 1) > 1 ? `, ${opts.smooth}-step mean` : '';
  return { data, layout: figureLayout(`Refinements: fix, break and copy rates (${ciNote(all)}${smooth})`, 'step', panels[0].axis, extra) };
}

const REASONS: [keyof ZeroVarianceRow, string, string][] = [
  ['allCorrect', 'all correct', '#2ca02c'],
  ['allWrong', 'all wrong', '#d62728'],
  ['other', 'other equal rewards', '#7f7f7f'],
];

const STAGE_ORDER = ['grpo', 'draft', 'refinement'];

/**
 * Zero-variance groups (no GRPO signal) per run group and stage, split by reason: the mean over steps and seeds of
 * the fraction of the stage's groups, stacked. Any stage names draw (later rounds, verl/TRL's single stage).
 */
export function zeroVarianceFigure(rows: readonly ZeroVarianceRow[]): PlotlyFigure {
  if (rows.length === 0) throw new Error('no zero-variance rows');
  const stageRank = (s: string) => (STAGE_ORDER.includes(s) ? STAGE_ORDER.indexOf(s) : STAGE_ORDER.length);
  const bars = [...new Set(rows.map((r) => `${groupOf(r)}\u0000${r.stage}`))]
    .map((k) => k.split('\u0000') as [string, string])
    .sort(([ga, sa], [gb, sb]) => ga.localeCompare(gb) || stageRank(sa) - stageRank(sb) || sa.localeCompare(sb));
  const x = bars.map(([g, s]) => `${groupName(g)} · ${s}`);
  const data: Trace[] = REASONS.map(([key, name, color]) => ({
    type: 'bar',
    name,
    x,
    y: bars.map(([g, s]) => {
      const rs = rows.filter((r) => groupOf(r) === g && r.stage === s && r.groups > 0);
      return rs.reduce((a, r) => a + (r[key] as number) / r.groups, 0) / Math.max(1, rs.length);
    }),
    marker: { color },
  }));
  return { data, layout: figureLayout('Zero-variance groups by stage and reason (mean fraction of groups per step)', 'run · stage', 'fraction of groups', { barmode: 'stack', yaxis: { title: { text: 'fraction of groups' }, range: [0, 1] } }) };
}

/**
 * Held-out pass@1 over updates, single-pass under q (solid, the paper's number) beside the refinement probe under
 * q′ built from the policy's own best draft (dashed; evals.jsonl refinementProbe), per run group with seed bands.
 */
export function refinementProbeCurve(evals: readonly (EvalRecord & { label?: string })[]): PlotlyFigure {
  const probed = evals.filter((e) => e.refinementProbe);
  if (probed.length === 0) throw new Error('no evaluations with a refinement probe (set eval.refinementProbe)');
  const groups = [...new Set(probed.map(groupOf))].sort();
  const all: Band[] = [];
  const data: Trace[] = groups.flatMap((g, gi) => {
    const mine = evals.filter((e) => groupOf(e) === g);
    const color = colorOf(g, gi);
    const single = bandsOf(mine.map((e) => ({ algo: g, step: e.updates, value: e.passAt1 })))[0];
    const probe = bandsOf(mine.filter((e) => e.refinementProbe).map((e) => ({ algo: g, step: e.updates, value: e.refinementProbe!.passAt1 })))[0];
    all.push(single, probe);
    const dashed = bandTraces(probe, `${groupName(g)}: under q′ (own best draft)`, color, [0, 1]);
    for (const t of dashed) if (t.fill === undefined) t.line = { color, width: 2, dash: 'dash' };
    return [...bandTraces(single, `${groupName(g)}: single pass under q`, color, [0, 1]), ...dashed];
  });
  return { data, layout: figureLayout(`Held-out pass@1: single pass vs refinement probe (${ciNote(all)})`, 'updates', 'pass@1') };
}
