// `igrpo report`: the standard figures (PNG and SVG) and a markdown summary for one or more run directories.
// A run directory holds metrics.jsonl and (optionally) rollouts.jsonl; a directory without them is searched two
// levels down, so a results folder with one subfolder per algorithm and seed reports as one comparison.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEvals, type EvalRecord, type MetricsRecord, type RolloutRecord } from '../train/records.js';
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
import { loadMetrics, loadRollouts } from './load.js';
import { finalBySeed, meanCI, metricValue, transitions } from './stats.js';
import type { ProgressBar } from './progress.js';

export interface ReportOptions {
  /** Where to write (default: RUN_DIR/report for one directory). */
  outDir?: string;
  formats?: ImageFormat[];
  width?: number;
  height?: number;
  /** Summary and figure JSON only (no Chromium needed). */
  noImages?: boolean;
  progress?: (label: string, total: number) => ProgressBar;
}

export interface RunLogs {
  dirs: string[];
  metrics: MetricsRecord[];
  rollouts: RolloutRecord[];
  /** Held-out evaluations (evals.jsonl), when the runs wrote them. */
  evals?: EvalRecord[];
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
  const metrics: MetricsRecord[] = [];
  const rollouts: RolloutRecord[] = [];
  const evals: EvalRecord[] = [];
  for (const d of runDirs) {
    metrics.push(...(await loadMetrics(path.join(d, 'metrics.jsonl'))));
    const r = path.join(d, 'rollouts.jsonl');
    if (fs.existsSync(r)) rollouts.push(...(await loadRollouts(r)));
    const e = path.join(d, 'evals.jsonl');
    if (fs.existsSync(e)) evals.push(...readEvals(e));
  }
  return { dirs: runDirs, metrics, rollouts, evals };
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
  figs.set('comparison', has('eval.passAt1') ? comparisonFigure(logs.metrics, 'eval.passAt1', 'held-out pass@1') : comparisonFigure(logs.metrics, 'accuracy', 'training accuracy'));
  figs.set('stage-time', stageTimeFigure(logs.metrics));
  return figs;
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const ci = (c: { mean: number; half: number }) => `${fmt(c.mean)} ± ${fmt(c.half)}`;

/** The markdown summary: runs, final metrics per method with 95% CIs over seeds, transitions, cost, figures. */
export function summaryMarkdown(logs: RunLogs, figureFiles: string[], outDir: string): string {
  const algos = [...new Set(logs.metrics.map((m) => m.algo))].sort();
  const lines = ['# Run report', '', `Runs: ${logs.dirs.map((d) => `\`${d}\``).join(', ')}`, ''];
  lines.push('| method | seeds | steps | final accuracy | final reward | held-out pass@1 | ms/step | tokens/step |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const algo of algos) {
    const ms = logs.metrics.filter((m) => m.algo === algo);
    const only = (key: string) => finalBySeed(ms, key).get(algo);
    const acc = only('accuracy');
    const rew = only('reward');
    const ev = only('eval.passAt1');
    const seeds = [...new Set(ms.map((m) => m.seed))].sort((a, b) => a - b);
    const steps = Math.max(...ms.map((m) => m.step)) + 1;
    const wall = meanCI(ms.map((m) => m.wallMs.total));
    const tokens = meanCI(ms.map((m) => m.completionTokens));
    lines.push(
      `| ${algo} | ${seeds.join(', ')} | ${steps} | ${acc ? ci(acc.ci) : '–'} | ${rew ? ci(rew.ci) : '–'} | ${ev ? ci(ev.ci) : '–'} | ${fmt(wall.mean, 0)} | ${fmt(tokens.mean, 0)} |`,
    );
  }
  lines.push('', 'Values at each seed\'s last step: mean ± half-width of the 95% t interval over seeds.');
  if (algos.includes('grpo') && algos.includes('igrpo')) {
    const wall = (a: string) => meanCI(logs.metrics.filter((m) => m.algo === a).map((m) => m.wallMs.total)).mean;
    lines.push('', `Wall time per step, iGRPO / GRPO: **${fmt(wall('igrpo') / wall('grpo'), 2)}×** (the paper reports about +13% GPU-hours).`);
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
          written.push(await ex.write(fig, path.join(outDir, `${name}.${format}`), { format, width: opts.width ?? 800, height: opts.height ?? 500 }));
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
