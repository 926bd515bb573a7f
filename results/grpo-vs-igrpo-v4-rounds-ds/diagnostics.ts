// Refinement diagnostics of the v4 runs from their rollouts, with the analysis module's own functions
// (src/analysis/diagnostics.ts: diagnosticsFromRollouts, zeroVarianceFromRollouts, diagnosticsSummary):
//   node --import tsx results/grpo-vs-igrpo-v4-rounds-ds/diagnostics.ts > results/grpo-vs-igrpo-v4-rounds-ds/diagnostics.md
// rollouts.jsonl is not committed (4–12 MB a run); `npm run experiment` writes it again.
// Per variant: each seed's mean over its first 20 and last 20 steps, then the mean over seeds with a 95% t-interval:
// fix rate (wrong d̂ → right refinement), break rate (right d̂ → wrong), copy rate (refinement's answer is d̂'s,
// verifier-equivalent, among refinements whose d̂ has an answer), overlap with d̂ (1 − edit distance / longer
// length) beside d̂'s overlap with its sibling drafts, and zero-variance groups per stage (all right / all wrong).
// The d̂ a refinement is compared with is the one it was conditioned on: with 3 rounds, round 2's.
// Dynamic sampling logs only the kept (trained) groups, so its refinement-stage figures describe groups that
// carry signal by construction; its draws, drops and budget come from metrics.jsonl.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagnosticsFromRollouts, diagnosticsSummary, zeroVarianceFromRollouts, type DiagnosticsSummary } from '../../src/analysis/diagnostics.js';
import { readMetrics, readRollouts } from '../../src/train/records-file.js';
import { ci95, meanCI } from '../../src/util/stats.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const summaryFile = path.join(here, 'summary.json');
const done = (v: string, s: number) => fs.existsSync(path.join(here, 'logs', `${v}-s${s}`, 'summary.json'));
const variants: string[] = fs.existsSync(summaryFile) ? JSON.parse(fs.readFileSync(summaryFile, 'utf8')).variants : ['grpo', 'igrpo', 'igrpo-ds', 'igrpo-3r'];
const seeds: number[] = [0, 1, 2, 3, 4, 5].filter((s) => variants.every((v) => done(v, s)));
const WINDOW = 20;

type Window = 'first' | 'last';
/** A seed's summary over its first or last WINDOW steps (diagnosticsSummary takes the last: shift the steps for the first). */
function seedSummary(v: string, seed: number): Record<Window, DiagnosticsSummary> {
  const recs = readRollouts(path.join(here, 'logs', `${v}-s${seed}`, 'rollouts.jsonl')).map((r) => ({ ...r, label: v }));
  const rows = diagnosticsFromRollouts(recs);
  const zv = zeroVarianceFromRollouts(recs);
  const first = diagnosticsSummary(rows.filter((r) => r.step < WINDOW), zv.filter((r) => r.step < WINDOW), WINDOW)[0];
  return { first, last: diagnosticsSummary(rows, zv, WINDOW)[0] };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
function cell(xs: (number | null | undefined)[]): string {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return '–';
  const c = meanCI(v);
  const [lo, hi] = ci95(c);
  return v.length > 1 ? `${pct(c.mean)} [${pct(lo)}, ${pct(hi)}]` : pct(c.mean);
}

const per: Record<string, Record<Window, DiagnosticsSummary>[]> = {};
for (const v of variants) per[v] = seeds.map((s) => seedSummary(v, s));

const out: string[] = [];
out.push(`Seeds ${seeds.join(', ')}. Each seed's mean over steps 0–${WINDOW - 1} ("first") and ${100 - WINDOW}–99 ("last"), then the mean over seeds [95% t-interval].`);
out.push('');
const fields: [string, (s: DiagnosticsSummary) => number | null | undefined][] = [
  ['fix rate (wrong d̂ → right)', (s) => s.fixRate],
  ['break rate (right d̂ → wrong)', (s) => s.breakRate],
  ['copy rate (same answer as d̂)', (s) => s.copyRate],
  ['text overlap with d̂', (s) => s.overlapWithDraft],
  ['d̂ vs its sibling drafts', (s) => s.overlapBetweenDrafts],
];
const stages = ['grpo', 'draft', 'intermediate', 'refinement'];
for (const st of stages) {
  fields.push([`zero-variance ${st} groups`, (s) => s.zeroVariance[st]?.fraction]);
  fields.push([`… ${st}: all right`, (s) => s.zeroVariance[st]?.allCorrect]);
  fields.push([`… ${st}: all wrong`, (s) => s.zeroVariance[st]?.allWrong]);
}
out.push(`| diagnostic | ${variants.flatMap((v) => [`${v} first`, `${v} last`]).join(' | ')} |`);
out.push(`|---|${variants.flatMap(() => ['---', '---']).join('|')}|`);
for (const [name, f] of fields) {
  const cells = variants.flatMap((v) => (['first', 'last'] as const).map((w) => cell(per[v].map((s) => f(s[w])))));
  if (cells.every((c) => c === '–')) continue;
  out.push(`| ${name} | ${cells.join(' | ')} |`);
}
out.push('');
/** Groups with signal in the trained batch per step (min(16, drawn − dropped)), mean over seeds, steps [from, to). */
const kept = (ms: ReturnType<typeof readMetrics>[], from: number, to: number) =>
  meanCI(ms.map((r) => { const xs = r.slice(from, to).map((x) => Math.min(16, x.dynamicSampling!.groupsDrawn - x.dynamicSampling!.groupsDropped)); return xs.reduce((a, b) => a + b, 0) / xs.length; })).mean.toFixed(1);
for (const v of variants) {
  const ms = seeds.map((s) => readMetrics(path.join(here, 'logs', `${v}-s${s}`, 'metrics.jsonl')));
  if (!ms[0][0].dynamicSampling) continue;
  const m = (f: (x: (typeof ms)[number]) => number) => cell(ms.map(f));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  out.push(
    `${v}: draws per step ${meanCI(ms.map((r) => avg(r.map((x) => x.dynamicSampling!.draws)))).mean.toFixed(2)} of at most ` +
      `${Math.max(...ms.flat().map((x) => x.dynamicSampling!.draws))}; groups dropped (rewards all equal) ${m((r) => avg(r.map((x) => x.dynamicSampling!.groupsDropped)) / avg(r.map((x) => x.dynamicSampling!.groupsDrawn)))} of those drawn; ` +
      `batch filled in ${m((r) => r.filter((x) => x.dynamicSampling!.filled).length / r.length)} of steps; groups with signal trained per step ` +
      `${kept(ms, 0, 100)} of 16 (first 20 steps ${kept(ms, 0, 20)}, last 20 ${kept(ms, 80, 100)}); ` +
      `completions sampled per step ${meanCI(ms.map((r) => avg(r.map((x) => x.sampledCompletions)))).mean.toFixed(0)} (the matched budget is 128).`,
  );
}
console.log(out.join('\n'));
