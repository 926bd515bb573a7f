// `igrpo report`: the standard figures (PNG and SVG) and a markdown summary for one or more run directories.
// A run directory holds metrics.jsonl and (optionally) rollouts.jsonl; a directory without them is searched two
// levels down, so a results folder with one subfolder per algorithm and seed reports as one comparison.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvalRecord, MetricsRecord, RolloutRecord } from '../train/records.js';
import { readEvals } from '../train/records-file.js';
import { withExporter, type ImageFormat } from './export.js';
import {
  accuracyCurve,
  comparisonFigure,
  draftVsRefinementCurve,
  entropyCurve,
  evalCurve,
  heldOutCurve,
  lengthHistogram,
  rewardCurve,
  stageTimeFigure,
  transitionHeatmap,
  type PlotlyFigure,
} from './figures.js';
import { diagnosticsMarkdown, diagnosticsSummary, refinementDiagnosticsRows, zeroVarianceRows } from './diagnostics.js';
import { refinementDiagnosticsFigure, refinementProbeCurve, zeroVarianceFigure } from './diagnostics-figures.js';
import { commonOptions, groupOf, runLabels } from './labels.js';
import { loadMetrics, loadRollouts } from './load.js';
import { finalBySeed, meanCI, metricValue, stepTimeRatio, transitions } from './stats.js';
import type { ProgressBar } from './progress.js';

export interface ReportOptions {
  /** Where to write (default: RUN_DIR/report for one directory). */
  outDir?: string;
  formats?: ImageFormat[];
  width?: number;
  height?: number;
  /** PNG pixel density: 2 writes 2×width × 2×height pixels of the same layout (default 1). SVG ignores it. */
  scale?: number;
  /** Summary and figure JSON only (no Chromium needed). */
  noImages?: boolean;
  progress?: (label: string, total: number) => ProgressBar;
}

/** A record tagged with its run's label (algorithm + the options that tell it from the other runs). */
export type Labelled<T> = T & { label?: string };

export interface RunLogs {
  dirs: string[];
  metrics: Labelled<MetricsRecord>[];
  rollouts: Labelled<RolloutRecord>[];
  /** Held-out evaluations (evals.jsonl), when the runs wrote them. */
  evals?: Labelled<EvalRecord>[];
  /** Each run folder's label (from its config.json; the algorithm alone when it has none). */
  labels?: Map<string, string>;
  /** Options every run shares that differ from the defaults (said once instead of in every label). */
  common?: string[];
}

function readConfig(dir: string): Record<string, unknown> | undefined {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) return undefined;
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
}

/** Directories under `dir` (itself included, two levels down) that hold a metrics.jsonl. */
export function findRunDirs(dir: string, depth = 2): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  if (fs.existsSync(path.join(dir, 'metrics.jsonl'))) return [dir];
  if (depth === 0) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => findRunDirs(path.join(dir, e.name), depth - 1));
}

export async function loadRuns(dirs: string[]): Promise<RunLogs> {
  const runDirs = dirs.flatMap((d) => findRunDirs(d));
  if (runDirs.length === 0) throw new Error(`no metrics.jsonl in ${dirs.join(', ')} (nor two levels below)`);
  const metrics: Labelled<MetricsRecord>[] = [];
  const rollouts: Labelled<RolloutRecord>[] = [];
  const evals: Labelled<EvalRecord>[] = [];
  const runs: { dir: string; algo: string; config?: Record<string, unknown>; metrics: MetricsRecord[]; rollouts: RolloutRecord[]; evals: EvalRecord[] }[] = [];
  for (const d of runDirs) {
    const ms = await loadMetrics(path.join(d, 'metrics.jsonl'));
    const r = path.join(d, 'rollouts.jsonl');
    const e = path.join(d, 'evals.jsonl');
    const config = readConfig(d);
    const algo = String(config?.algo ?? ms[0]?.algo ?? 'igrpo');
    runs.push({ dir: d, algo, config, metrics: ms, rollouts: fs.existsSync(r) ? await loadRollouts(r) : [], evals: fs.existsSync(e) ? readEvals(e) : [] });
  }
  const labels = runLabels(runs);
  runs.forEach((run, i) => {
    const label = labels[i];
    metrics.push(...run.metrics.map((m) => ({ ...m, label })));
    rollouts.push(...run.rollouts.map((x) => ({ ...x, label })));
    evals.push(...run.evals.map((x) => ({ ...x, label })));
  });
  return { dirs: runDirs, metrics, rollouts, evals, labels: new Map(runs.map((r, i) => [r.dir, labels[i]])), common: commonOptions(runs) };
}

/** The standard figures that these logs can support, by file stem. */
export function standardFigures(logs: RunLogs): Map<string, PlotlyFigure> {
  const figs = new Map<string, PlotlyFigure>();
  const has = (key: string) => logs.metrics.some((m) => metricValue(m, key) !== undefined);
  const algos = new Set(logs.metrics.map((m) => m.algo));
  // Per-step training metrics are noisy over a long run: smooth each seed over ~1/20 of the steps.
  const steps = new Set(logs.metrics.map((m) => m.step)).size;
  const curve = { smooth: Math.max(1, Math.round(steps / 20)) };
  figs.set('reward', rewardCurve(logs.metrics, curve));
  figs.set('accuracy', accuracyCurve(logs.metrics, curve));
  figs.set('entropy', entropyCurve(logs.metrics, curve));
  if (logs.evals?.length) figs.set('eval', heldOutCurve(logs.evals));
  else if (has('eval.passAt1')) figs.set('eval', evalCurve(logs.metrics));
  if (algos.has('igrpo') && has('refinementAccuracy')) figs.set('draft-vs-refinement', draftVsRefinementCurve(logs.metrics, curve));
  if (transitions(logs.rollouts).total > 0) figs.set('transitions', transitionHeatmap(logs.rollouts));
  if (logs.rollouts.length > 0) figs.set('lengths', lengthHistogram(logs.rollouts));
  // fix, break and copy rates (from rollouts where logged, else the metrics' wrongToRight / rightToWrong)
  const diag = refinementDiagnosticsRows(logs);
  if (diag.length) figs.set('refinement-diagnostics', refinementDiagnosticsFigure(diag, curve));
  const zv = zeroVarianceRows(logs);
  if (zv.length) figs.set('zero-variance', zeroVarianceFigure(zv));
  if (logs.evals?.some((e) => e.refinementProbe)) figs.set('refinement-probe', refinementProbeCurve(logs.evals));
  figs.set('comparison', has('eval.passAt1') ? comparisonFigure(logs.metrics, 'eval.passAt1', 'held-out pass@1') : comparisonFigure(logs.metrics, 'accuracy', 'training accuracy'));
  figs.set('stage-time', stageTimeFigure(logs.metrics));
  return figs;
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');
/** mean ± half-width over seeds; with one seed there is no interval, so the value alone ("± 0.000" would claim one). */
export const ciText = (c: { n: number; mean: number; half: number }) => (c.n >= 2 ? `${fmt(c.mean)} ± ${fmt(c.half)}` : fmt(c.mean));

/** The markdown summary: runs, final metrics per method with 95% CIs over seeds, transitions, cost, figures. */
export function summaryMarkdown(logs: RunLogs, figureFiles: string[], outDir: string): string {
  const algos = [...new Set(logs.metrics.map(groupOf))].sort();
  const lines = ['# Run report', '', `Runs: ${logs.dirs.map((d) => `\`${d}\``).join(', ')}`, ''];
  if (logs.common?.length) lines.push(`Shared by every run (differs from the defaults): ${logs.common.map((c) => `\`${c}\``).join(', ')}`, '');
  const note = algos.some((a) => a.startsWith('igrpo')) ? '¹' : '';
  lines.push(`| method | seeds | steps | final accuracy${note} | final reward | held-out pass@1 | ms/step | tokens/step |`);
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const algo of algos) {
    const ms = logs.metrics.filter((m) => groupOf(m) === algo);
    const only = (key: string) => finalBySeed(ms, key).get(algo);
    const acc = only('accuracy');
    const rew = only('reward');
    const ev = only('eval.passAt1');
    const seeds = [...new Set(ms.map((m) => m.seed))].sort((a, b) => a - b);
    const steps = Math.max(...ms.map((m) => m.step)) + 1;
    const wall = meanCI(ms.map((m) => m.wallMs.total));
    const tokens = meanCI(ms.map((m) => m.completionTokens));
    lines.push(
      `| ${algo} | ${seeds.join(', ')} | ${steps} | ${acc ? ciText(acc.ci) : '–'} | ${rew ? ciText(rew.ci) : '–'} | ${ev ? ciText(ev.ci) : '–'} | ${fmt(wall.mean, 0)} | ${fmt(tokens.mean, 0)} |`,
    );
  }
  const seedCounts = algos.map((a) => new Set(logs.metrics.filter((m) => groupOf(m) === a).map((m) => m.seed)).size);
  lines.push(
    '',
    seedCounts.every((n) => n >= 2)
      ? "Values at each seed's last step: mean ± half-width of the 95% t interval over seeds."
      : seedCounts.every((n) => n < 2)
        ? "Values at the run's last step (one seed per method: no confidence interval)."
        : "Values at each seed's last step: mean ± half-width of the 95% t interval over seeds where there are ≥ 2 seeds; a single seed's value stands alone (no interval).",
  );
  if (note) {
    lines.push('', "¹ Training accuracy: GRPO's on completions of q, iGRPO's on its refinements under q′ = q + best draft (an easier condition; compare held-out pass@1).");
  }
  if (algos.includes('grpo') && algos.includes('igrpo')) {
    // As the experiment reports it (src/train/experiment.ts): per seed, mean step time of iGRPO / of GRPO (the pair
    // ran side by side under the same load), then the mean of those ratios.
    const r = stepTimeRatio(logs.metrics.filter((m) => groupOf(m) === 'igrpo'), logs.metrics.filter((m) => groupOf(m) === 'grpo'));
    if (r.perSeed.length) {
      const per = r.perSeed.length > 1 ? ` mean over ${r.perSeed.length} seeds, median ${fmt(r.median, 2)}; per seed ${r.perSeed.map((x) => fmt(x, 2)).join(', ')}` : '';
      lines.push('', `Wall time per step, iGRPO / GRPO: **${fmt(r.mean, 2)}×**${per} (the paper reports about +13% GPU-hours).`);
    }
  }
  const t = transitions(logs.rollouts);
  if (t.total > 0) {
    lines.push(
      '',
      '## Best draft → refinement',
      '',
      '| | refinement wrong | refinement right |',
      '|---|---|---|',
      `| d̂ wrong | ${t.counts[0][0]} | ${t.counts[0][1]} |`,
      `| d̂ right | ${t.counts[1][0]} | ${t.counts[1][1]} |`,
      '',
      `wrong→right ${fmt(t.wrongToRight)}, right→wrong ${fmt(t.rightToWrong)} over ${t.total} refinements.`,
    );
  }
  const diag = refinementDiagnosticsRows(logs);
  const zv = zeroVarianceRows(logs);
  if (diag.length || zv.length) {
    lines.push('', '## Refinement diagnostics', '', diagnosticsMarkdown(diagnosticsSummary(diag, zv), 10));
  }
  const probes = [...new Set((logs.evals ?? []).filter((e) => e.refinementProbe).map(groupOf))].sort();
  if (probes.length) {
    lines.push('', '## Refinement probe (held-out)', '', '| method | updates | single-pass pass@1 | pass@1 under q′ (own best draft) | best draft d̂ correct | probe copy rate |', '|---|---|---|---|---|---|');
    for (const g of probes) {
      const es = logs.evals!.filter((e) => groupOf(e) === g && e.refinementProbe);
      const last = Math.max(...es.map((e) => e.updates));
      const at = es.filter((e) => e.updates === last);
      const m = (f: (e: EvalRecord) => number | null) => {
        const xs = at.map(f).filter((x): x is number => x !== null);
        return xs.length ? meanCI(xs) : { n: 0, mean: NaN, half: 0 };
      };
      const p = (e: EvalRecord) => e.refinementProbe!;
      lines.push(`| ${g} | ${last} | ${ciText(m((e) => e.passAt1))} | ${ciText(m((e) => p(e).passAt1))} | ${ciText(m((e) => p(e).bestDraftAccuracy))} | ${ciText(m((e) => p(e).copyRate))} |`);
    }
    lines.push('', 'At the last evaluation, mean over seeds (± 95% t half-width with ≥ 2 seeds). The probe samples N drafts as in training, conditions on the best one and scores the refinements as in training; the paper reports single-pass pass@1.');
  }
  if (figureFiles.length) {
    const pngs = figureFiles.filter((f) => f.endsWith('.png'));
    lines.push('', '## Figures', '');
    if (pngs.length) for (const f of pngs) lines.push(`![${path.basename(f, '.png')}](${path.relative(outDir, f)})`, '');
    else for (const f of figureFiles) lines.push(`- [${path.basename(f)}](${path.relative(outDir, f)})`);
    lines.push('Each figure is also saved as plotly JSON (NAME.json)' + (figureFiles.some((f) => f.endsWith('.svg')) ? ' and SVG.' : '.'));
  }
  return lines.join('\n') + '\n';
}

/** Writes figures (PNG, SVG and the plotly JSON) and summary.md; returns the files written. */
export async function writeReport(dirs: string[], opts: ReportOptions = {}): Promise<string[]> {
  const logs = await loadRuns(dirs);
  const outDir = opts.outDir ?? (dirs.length === 1 ? path.join(dirs[0], 'report') : 'report');
  fs.mkdirSync(outDir, { recursive: true });
  const figs = standardFigures(logs);
  const written: string[] = [];
  for (const [name, fig] of figs) {
    const file = path.join(outDir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(fig));
    written.push(file);
  }
  if (!opts.noImages) {
    const formats = opts.formats ?? ['png', 'svg'];
    const bar = opts.progress?.('figures', figs.size);
    await withExporter(async (ex) => {
      for (const [name, fig] of figs) {
        for (const format of formats) {
          const size = { width: opts.width ?? 800, height: opts.height ?? 500, scale: opts.scale ?? 1 };
          written.push(await ex.write(fig, path.join(outDir, `${name}.${format}`), { format, ...size }));
        }
        bar?.tick(1, { figure: name });
      }
    });
    bar?.finish();
  }
  const summary = path.join(outDir, 'summary.md');
  fs.writeFileSync(summary, summaryMarkdown(logs, written, outDir));
  return [...written, summary];
}
