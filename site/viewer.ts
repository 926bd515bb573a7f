// The run viewer: a run folder's logs dropped on the page (metrics.jsonl, rollouts.jsonl, evals.jsonl, Parquet,
// or a TRL completions table), parsed and validated in the page by src/analysis/log-text.ts, shown with the
// rollout viewer and the standard figures of src/analysis. Nothing is uploaded anywhere.
import { accuracyCurve, draftVsRefinementCurve, heldOutCurve, rewardCurve, transitionHeatmap, type PlotlyFigure } from '../src/analysis/figures.js';
import { evalsFromRows, isParquet, jsonlRows, metricsFromRows, parquetRows, rolloutsFromRows } from '../src/analysis/log-text.js';
import { stageSummary } from '../src/analysis/stats.js';
import { rolloutViewerHtml, selectPrompt } from '../src/analysis/viewer.js';
import type { EvalRecord, MetricsRecord, RolloutRecord } from '../src/train/records.js';
import { $, escapeHtml, fmt, table } from './dom.js';
import { drawFigure } from './plot.js';

export interface RunLogs {
  metrics: MetricsRecord[];
  rollouts: RolloutRecord[];
  evals: EvalRecord[];
  files: string[];
}

/** Which log a file is, by name: metrics / evals by their names, anything else with completions a rollouts table. */
function kindOf(name: string): 'metrics' | 'evals' | 'rollouts' | 'skip' {
  const base = name.split('/').pop()!.toLowerCase();
  if (!/\.(jsonl|parquet|pq)$/.test(base)) return 'skip';
  if (base.startsWith('metrics')) return 'metrics';
  if (base.startsWith('evals')) return 'evals';
  return 'rollouts';
}

export async function readRunFiles(files: readonly File[]): Promise<RunLogs> {
  const logs: RunLogs = { metrics: [], rollouts: [], evals: [], files: [] };
  for (const f of files) {
    const name = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const kind = kindOf(name);
    if (kind === 'skip') continue;
    const pq = isParquet(name);
    const rows = pq ? await parquetRows(await f.arrayBuffer(), name) : jsonlRows(await f.text(), name);
    if (kind === 'metrics') logs.metrics.push(...metricsFromRows(rows, pq));
    else if (kind === 'evals') logs.evals.push(...evalsFromRows(rows));
    else logs.rollouts.push(...rolloutsFromRows(rows, pq));
    logs.files.push(name);
  }
  if (logs.files.length === 0) throw new Error(`none of ${files.map((f) => f.name).join(', ') || 'the dropped files'} is a run log (metrics.jsonl, rollouts.jsonl, evals.jsonl, or .parquet)`);
  return logs;
}

async function figure(id: string, build: () => PlotlyFigure): Promise<void> {
  const el = $(id);
  try {
    await drawFigure(el, build());
    el.hidden = false;
  } catch (e) {
    el.hidden = true; // this run's logs lack what the figure needs (e.g. GRPO has no drafts)
    el.dataset.skipped = (e as Error).message;
  }
}

export async function showRun(logs: RunLogs): Promise<void> {
  const { metrics, rollouts, evals } = logs;
  const algos = [...new Set([...metrics, ...rollouts, ...evals].map((r) => r.algo))].join(', ');
  const steps = new Set(rollouts.map((r) => r.step)).size || new Set(metrics.map((m) => m.step)).size;
  const lastEval = evals[evals.length - 1];
  $('v-summary').innerHTML =
    `<p>${escapeHtml(logs.files.join(', '))}: ${metrics.length} metrics lines, ${rollouts.length} rollouts, ${evals.length} evaluations · ${escapeHtml(algos)} · ${steps} steps` +
    (lastEval ? ` · last held-out pass@1 ${fmt(lastEval.passAt1)} after ${lastEval.updates} updates` : '') + '</p>' +
    (rollouts.length ? table(['algo', 'step', 'stage', 'completions', 'accuracy', 'mean reward', 'mean tokens', 'truncated'],
      stageSummary(rollouts).slice(0, 12).map((r) => [r.algo, r.step, r.stage, r.completions, r.accuracy, r.meanReward, r.meanTokens, r.truncated])) : '');
  const pick = $<HTMLSelectElement>('v-pick');
  const keys = [...new Map(rollouts.map((r) => [`${r.algo}|${r.seed}|${r.step}|${r.group}`, r])).values()];
  pick.innerHTML = keys.map((r, i) => `<option value="${i}">${escapeHtml(`${r.algo} seed ${r.seed} step ${r.step} prompt ${r.group} (${r.promptId})`)}</option>`).join('');
  const showPrompt = () => {
    const r = keys[Number(pick.value)];
    $('v-rollout').innerHTML = r ? rolloutViewerHtml(selectPrompt(rollouts, { step: r.step, group: r.group, seed: r.seed, algo: r.algo })) : '<p>no rollouts in these logs</p>';
  };
  pick.onchange = showPrompt;
  showPrompt();
  if (metrics.length) {
    await figure('vf-accuracy', () => accuracyCurve(metrics));
    await figure('vf-reward', () => rewardCurve(metrics));
    await figure('vf-drafts', () => draftVsRefinementCurve(metrics));
  }
  if (evals.length) await figure('vf-eval', () => heldOutCurve(evals));
  if (rollouts.length) await figure('vf-transitions', () => transitionHeatmap(rollouts));
  $('viewer-out').hidden = false;
}
