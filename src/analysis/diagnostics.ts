// Refinement diagnostics as rows and frames, per run (label), seed and step: fix rate (wrong→right), break rate
// (right→wrong), copy rate, overlap with d̂ beside the sibling-draft baseline, and zero-variance groups per stage by
// reason. Computed from rollouts.jsonl records alone (the chosen draft is marked `chosen`), so logs written before
// the diagnostics existed analyse the same way; a run that logged only metrics (logRollouts: false) gives what its
// metrics hold (fix and break rates always, copy rate when it was logged). The pure functions underneath are the
// trainer's own (src/rl/diagnostics.ts), so a log and its live metrics agree.
import * as dfd from 'danfojs-node';
import { refinementDiagnostics, zeroVarianceCounts, type Attempt, type AttemptGroup } from '../rl/diagnostics.js';
import type { MetricsRecord, RolloutRecord } from '../train/records.js';
import { uniformRows } from './flat.js';
import { groupOf } from './labels.js';

type Labeled = { label?: string };

/** One step of one run (seed) of one variant. Rates are null where nothing was there to count. */
export interface DiagnosticsRow {
  algo: string;
  label?: string;
  seed: number;
  step: number;
  /** Refinements paired with a chosen draft this step (0 when read from metrics). */
  refinements: number;
  /** Among refinements of a wrong d̂, the fraction right. */
  fixRate: number | null;
  /** Among refinements of a right d̂, the fraction wrong. */
  breakRate: number | null;
  /** Among refinements whose d̂ has an answer (and was shown), the fraction repeating it. */
  copyRate: number | null;
  overlapWithDraft: number | null;
  overlapBetweenDrafts: number | null;
  /** Where the row came from: the rollouts themselves or the step's metrics line. */
  source: 'rollouts' | 'metrics';
}

/** A round of refinement in the logs: the stage d̂ is chosen from and the stage sampled under q′ = template(q, d̂). */
export interface RoundStages {
  from: string;
  to: string;
}

/** The paper's two rounds: drafts, then refinements. */
export const PAPER_ROUND: RoundStages = { from: 'draft', to: 'refinement' };

const attempt = (r: RolloutRecord): Attempt => ({ text: r.text, answer: r.answer ?? null, correct: r.correct, reward: r.reward });

function bucket<T>(xs: Iterable<T>, key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

const runStepKey = (r: RolloutRecord & Labeled) => `${groupOf(r)}\u0000${r.seed}\u0000${r.step}`;
const byIndex = (a: RolloutRecord, b: RolloutRecord) => a.index - b.index;

/** Fix, break and copy rates and overlaps per run and step, from rollout records alone (one round: `stages`). */
export function diagnosticsFromRollouts(rollouts: readonly (RolloutRecord & Labeled)[], stages: RoundStages = PAPER_ROUND): DiagnosticsRow[] {
  const rows: DiagnosticsRow[] = [];
  // the paper's round in a run of more rounds (igrpo.rounds > 2): the refinements were conditioned on the last
  // middle round's d̂, so that round is `from` (records carry `round`)
  const from = (r: RolloutRecord) => r.stage === stages.from || (stages === PAPER_ROUND && r.stage === 'intermediate');
  for (const rs of bucket(rollouts.filter((r) => from(r) || r.stage === stages.to), runStepKey).values()) {
    const drafts: AttemptGroup[] = [];
    const refinements: AttemptGroup[] = [];
    const chosen: number[] = [];
    for (const g of bucket(rs, (r) => String(r.group)).values()) {
      const candidates = g.filter(from);
      const last = Math.max(0, ...candidates.map((r) => r.round ?? 1));
      const ds = candidates.filter((r) => (r.round ?? 1) === last).sort(byIndex);
      const refs = g.filter((r) => r.stage === stages.to).sort(byIndex);
      const c = ds.findIndex((d) => d.chosen);
      if (c < 0 || refs.length === 0) continue;
      drafts.push({ prompt: ds[0].prompt, attempts: ds.map(attempt) });
      refinements.push({ prompt: refs[0].prompt, attempts: refs.map(attempt) });
      chosen.push(c);
    }
    if (refinements.length === 0) continue;
    const d = refinementDiagnostics(drafts, chosen, refinements);
    let wrong = 0, fixed = 0, right = 0, broken = 0;
    refinements.forEach((g, i) => {
      const from = drafts[i].attempts[chosen[i]].correct;
      for (const a of g.attempts) {
        if (from) { right++; if (!a.correct) broken++; }
        else { wrong++; if (a.correct) fixed++; }
      }
    });
    const first = rs[0];
    rows.push({
      algo: first.algo, ...(first.label !== undefined ? { label: first.label } : {}), seed: first.seed, step: first.step,
      refinements: wrong + right, fixRate: wrong ? fixed / wrong : null, breakRate: right ? broken / right : null,
      copyRate: d.copyRate, overlapWithDraft: d.overlapWithDraft, overlapBetweenDrafts: d.overlapBetweenDrafts, source: 'rollouts',
    });
  }
  return rows.sort(rowOrder);
}

type RunStep = { algo: string; label?: string; seed: number; step: number };
const rowOrder = (a: RunStep, b: RunStep) => groupOf(a).localeCompare(groupOf(b)) || a.seed - b.seed || a.step - b.step;
const orNull = (x: number | null | undefined) => (x === undefined || (x !== null && !Number.isFinite(x)) ? null : x);

/** The same rows from iGRPO metrics lines (wrongToRight, rightToWrong, and the copy fields where logged). */
export function diagnosticsFromMetrics(metrics: readonly (MetricsRecord & Labeled)[]): DiagnosticsRow[] {
  return metrics
    .filter((m) => m.wrongToRight !== undefined || m.rightToWrong !== undefined || m.copyRate !== undefined)
    .map((m) => ({
      algo: m.algo, ...(m.label !== undefined ? { label: m.label } : {}), seed: m.seed, step: m.step, refinements: 0,
      fixRate: orNull(m.wrongToRight), breakRate: orNull(m.rightToWrong), copyRate: orNull(m.copyRate),
      overlapWithDraft: orNull(m.overlapWithDraft), overlapBetweenDrafts: orNull(m.overlapBetweenDrafts), source: 'metrics' as const,
    }))
    .sort(rowOrder);
}

/**
 * Rows for every run in the logs: from its rollouts where it logged them with chosen drafts, else from its
 * metrics (a run is a label and a seed).
 */
export function refinementDiagnosticsRows(logs: { metrics?: readonly (MetricsRecord & Labeled)[]; rollouts?: readonly (RolloutRecord & Labeled)[] }): DiagnosticsRow[] {
  const fromRollouts = diagnosticsFromRollouts(logs.rollouts ?? []);
  const covered = new Set(fromRollouts.map((r) => `${groupOf(r)}\u0000${r.seed}`));
  const fromMetrics = diagnosticsFromMetrics(logs.metrics ?? []).filter((r) => !covered.has(`${groupOf(r)}\u0000${r.seed}`));
  return [...fromRollouts, ...fromMetrics].sort(rowOrder);
}

/** Zero-variance groups of one stage of one step of one run, by reason, with the fractions of its groups. */
export interface ZeroVarianceRow {
  algo: string;
  label?: string;
  seed: number;
  step: number;
  stage: string;
  groups: number;
  zeroVariance: number;
  allCorrect: number;
  allWrong: number;
  other: number;
  /** zeroVariance / groups. */
  fraction: number;
}

const zvRow = (base: Omit<ZeroVarianceRow, 'groups' | 'zeroVariance' | 'allCorrect' | 'allWrong' | 'other' | 'fraction'>, c: ReturnType<typeof zeroVarianceCounts>): ZeroVarianceRow => ({
  ...base, ...c, fraction: c.groups ? c.zeroVariance / c.groups : 0,
});

/** Per run, step and stage, from rollout records: works for any stage names (verl's and TRL's runs are 'grpo'). */
export function zeroVarianceFromRollouts(rollouts: readonly (RolloutRecord & Labeled)[]): ZeroVarianceRow[] {
  const out: ZeroVarianceRow[] = [];
  for (const rs of bucket(rollouts, (r) => `${runStepKey(r)}\u0000${r.stage}`).values()) {
    const groups = [...bucket(rs, (r) => String(r.group)).values()].map((g) => g.sort(byIndex).map(attempt));
    const f = rs[0];
    out.push(zvRow({ algo: f.algo, ...(f.label !== undefined ? { label: f.label } : {}), seed: f.seed, step: f.step, stage: f.stage }, zeroVarianceCounts(groups)));
  }
  return out.sort((a, b) => rowOrder(a, b) || a.stage.localeCompare(b.stage));
}

/** The same from metrics lines that carry zeroVariance (written since the diagnostics). */
export function zeroVarianceFromMetrics(metrics: readonly (MetricsRecord & Labeled)[]): ZeroVarianceRow[] {
  return metrics.flatMap((m) =>
    Object.entries(m.zeroVariance ?? {}).map(([stage, c]) => zvRow({ algo: m.algo, ...(m.label !== undefined ? { label: m.label } : {}), seed: m.seed, step: m.step, stage }, c)),
  );
}

/** Zero-variance rows for every run: from its rollouts when it logged them, else from its metrics. */
export function zeroVarianceRows(logs: { metrics?: readonly (MetricsRecord & Labeled)[]; rollouts?: readonly (RolloutRecord & Labeled)[] }): ZeroVarianceRow[] {
  const fromRollouts = zeroVarianceFromRollouts(logs.rollouts ?? []);
  const covered = new Set(fromRollouts.map((r) => `${groupOf(r)}\u0000${r.seed}`));
  return [...fromRollouts, ...zeroVarianceFromMetrics(logs.metrics ?? []).filter((r) => !covered.has(`${groupOf(r)}\u0000${r.seed}`))];
}

/**
 * Per-step metrics derived from rollout records alone — mean reward, accuracy, the fraction of zero-variance
 * groups, mean length — for runs that wrote no metrics.jsonl (verl's rollout dumps, TRL's completion tables), so
 * the per-step curves (metricCurve, rewardCurve, accuracyCurve) draw for them too. The stage whose groups get
 * gradients is the one summarised: refinements for iGRPO, the group otherwise.
 */
export interface RolloutStepRow {
  algo: string;
  label?: string;
  seed: number;
  step: number;
  completions: number;
  reward: number;
  accuracy: number;
  zeroStdFraction: number;
  meanLength: number;
}

export function stepRowsFromRollouts(rollouts: readonly (RolloutRecord & Labeled)[]): RolloutStepRow[] {
  const out: RolloutStepRow[] = [];
  for (const rs of bucket(rollouts.filter((r) => r.stage !== 'draft'), runStepKey).values()) {
    const f = rs[0];
    const n = rs.length;
    const groups = [...bucket(rs, (r) => `${r.stage}\u0000${r.group}`).values()].map((g) => g.map(attempt));
    out.push({
      algo: f.algo, ...(f.label !== undefined ? { label: f.label } : {}), seed: f.seed, step: f.step, completions: n,
      reward: rs.reduce((a, r) => a + r.reward, 0) / n, accuracy: rs.filter((r) => r.correct).length / n,
      zeroStdFraction: zeroVarianceCounts(groups).zeroVariance / groups.length, meanLength: rs.reduce((a, r) => a + r.tokens, 0) / n,
    });
  }
  return out.sort(rowOrder);
}

function frame(rows: readonly object[], what: string): dfd.DataFrame {
  if (rows.length === 0) throw new Error(`no ${what} to make a DataFrame from`);
  return new dfd.DataFrame(uniformRows(rows));
}

/** Fix, break and copy rates per run and step (nulls where there was nothing to count). */
export const diagnosticsFrame = (rows: readonly DiagnosticsRow[]): dfd.DataFrame => frame(rows, 'refinement diagnostics');
export const zeroVarianceFrame = (rows: readonly ZeroVarianceRow[]): dfd.DataFrame => frame(rows, 'zero-variance rows');
export const rolloutStepsFrame = (rows: readonly RolloutStepRow[]): dfd.DataFrame => frame(rows, 'rollout step rows');

/** A run group's refinement diagnostics over the last steps of training (for tables and results READMEs). */
export interface DiagnosticsSummary {
  group: string;
  seeds: number[];
  /** Each a mean over seeds of the seed's mean over its last `lastSteps` steps (nulls skipped); null if none. */
  fixRate: number | null;
  breakRate: number | null;
  copyRate: number | null;
  overlapWithDraft: number | null;
  overlapBetweenDrafts: number | null;
  /** Per stage: the fraction of groups with zero variance, and its parts by reason, likewise averaged. */
  zeroVariance: Record<string, { fraction: number; allCorrect: number; allWrong: number; other: number }>;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Mean over seeds of each seed's mean of `value` over its last `last` steps. */
function lastStepsMean<T extends RunStep>(rows: readonly T[], value: (r: T) => number | null | undefined, last: number): number | null {
  const perSeed = [...bucket(rows, (r) => String(r.seed)).values()].map((rs) => {
    const maxStep = Math.max(...rs.map((r) => r.step));
    return mean(rs.filter((r) => r.step > maxStep - last).map(value).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)));
  });
  return mean(perSeed.filter((x): x is number => x !== null));
}

/** Per run group: fix, break and copy rates, overlaps and zero-variance reasons over the last `lastSteps` steps. */
export function diagnosticsSummary(rows: readonly DiagnosticsRow[], zv: readonly ZeroVarianceRow[] = [], lastSteps = 10): DiagnosticsSummary[] {
  const groups = [...new Set([...rows.map(groupOf), ...zv.map(groupOf)])].sort();
  return groups.map((g) => {
    const rs = rows.filter((r) => groupOf(r) === g);
    const zs = zv.filter((r) => groupOf(r) === g);
    const zeroVariance: DiagnosticsSummary['zeroVariance'] = {};
    for (const [stage, list] of bucket(zs, (r) => r.stage)) {
      const part = (k: 'allCorrect' | 'allWrong' | 'other') => lastStepsMean(list, (r) => (r.groups ? r[k] / r.groups : null), lastSteps) ?? 0;
      zeroVariance[stage] = { fraction: lastStepsMean(list, (r) => r.fraction, lastSteps) ?? 0, allCorrect: part('allCorrect'), allWrong: part('allWrong'), other: part('other') };
    }
    return {
      group: g,
      seeds: [...new Set([...rs, ...zs].map((r) => r.seed))].sort((a, b) => a - b),
      fixRate: lastStepsMean(rs, (r) => r.fixRate, lastSteps),
      breakRate: lastStepsMean(rs, (r) => r.breakRate, lastSteps),
      copyRate: lastStepsMean(rs, (r) => r.copyRate, lastSteps),
      overlapWithDraft: lastStepsMean(rs, (r) => r.overlapWithDraft, lastSteps),
      overlapBetweenDrafts: lastStepsMean(rs, (r) => r.overlapBetweenDrafts, lastSteps),
      zeroVariance,
    };
  });
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

/** The summary as a markdown table (igrpo report's and a results README's "Refinement diagnostics"). */
export function diagnosticsMarkdown(summary: readonly DiagnosticsSummary[], lastSteps = 10, name: (group: string) => string = (g) => g): string {
  const order = ['grpo', 'draft', 'refinement'];
  const rank = (s: string) => (order.includes(s) ? order.indexOf(s) : order.length); // later rounds after the paper's
  const stages = [...new Set(summary.flatMap((s) => Object.keys(s.zeroVariance)))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const head = ['run', 'seeds', 'fix (wrong→right)', 'break (right→wrong)', 'copy rate', 'overlap with d̂', 'd̂ vs sibling drafts', ...stages.map((s) => `zero-variance ${s} (all right / all wrong / other)`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of summary) {
    const zv = stages.map((st) => {
      const z = s.zeroVariance[st];
      return z ? `${pct(z.fraction)} (${pct(z.allCorrect)} / ${pct(z.allWrong)} / ${pct(z.other)})` : '–';
    });
    lines.push(`| ${[name(s.group), s.seeds.join(', '), pct(s.fixRate), pct(s.breakRate), pct(s.copyRate), pct(s.overlapWithDraft), pct(s.overlapBetweenDrafts), ...zv].join(' | ')} |`);
  }
  lines.push('', `Means over seeds of each seed's mean over its last ${lastSteps} steps. Copy rate: refinements whose extracted answer is d̂'s (verifier-equivalent), among those whose d̂ has an answer; overlap: 1 − edit distance / longer length, over characters (src/rl/overlap.ts). A dash: not logged (copy rate needs rollouts.jsonl or metrics written since the diagnostics).`);
  return lines.join('\n');
}
