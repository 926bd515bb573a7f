// Refinement diagnostics in the analysis module: rows and frames from rollouts alone (old logs too) or metrics,
// zero-variance reasons, verl's rollout dumps beside our logs, the figures, and the viewer's copy marker.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  accuracyCurve, diagnosticsFrame, diagnosticsFromMetrics, diagnosticsFromRollouts, lengthHistogram, lengthVsReward, loadRollouts, metricCurve,
  refinementDiagnosticsFigure, refinementDiagnosticsRows, rewardCurve, rolloutsFrame, rolloutViewerHtml, rolloutViewerText, selectPrompt,
  stepRowsFromRollouts, syntheticRun, toJsonl, zeroVarianceFigure, zeroVarianceFromMetrics, zeroVarianceFromRollouts, zeroVarianceRows,
} from '../src/analysis/index.js';
import type { Group, Scored } from '../src/rl/rollout.js';
import { metricsOf, rolloutRecords, type MetricsRecord, type RolloutRecord } from '../src/train/records.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-refine-'));
const close = (a: number | null | undefined, b: number, msg = '') => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${msg} ${a} ≠ ${b}`);

// One hand-made iGRPO step, two prompts. Prompt 0: d̂ 'A=7' wrong (gold 8) with answer 7; refinements: a copy, a fix,
// a restated copy ('7.0'), one without an answer. Prompt 1: d̂ right ('B=2'); refinements: a copy (right), a break.
const sc = (text: string, answer: string | null, correct: boolean): Scored => ({
  ids: [...text].map(() => 1), logprobs: [], text, finishReason: 'stop',
  score: { reward: correct ? 1 : 0, rewards: { accuracy: correct ? 1 : 0 }, correct, answer },
});
const group = (id: string, prompt: string, completions: Scored[]): Group => ({ problem: { id, problem: id, answer: '?' }, prompt: { text: prompt, ids: [1] }, completions });
const draftGroups = [
  group('p0', 'Q0', [sc('A=7', '7', false), sc('A=6', '6', false)]),
  group('p1', 'Q1', [sc('B=3', '3', false), sc('B=2', '2', true)]),
];
const chosen = [0, 1];
const refinements = [
  group('p0', 'Q0\nA=7\n', [sc('A=7', '7', false), sc('A=8', '8', true), sc('A=7.0', '7.0', false), sc('hmm', null, false)]),
  group('p1', 'Q1\nB=2\n', [sc('B=2', '2', true), sc('B=5', '5', false)]),
];
const update = { kl: 0, clipFraction: 0, loss: 0, gradNorm: 0 };
const step = (s: number) => ({ step: s, lr: 1e-4, draftGroups, chosen, groups: refinements, update, times: { total: 1 } });

test('diagnostics from rollouts alone: fix, break and copy rates and overlaps, as the live metrics have them', () => {
  const run = { algo: 'igrpo' as const, seed: 3 };
  const records = [0, 1].flatMap((s) => rolloutRecords(step(s), run));
  const metrics = [0, 1].map((s) => metricsOf(step(s), run));
  const rows = diagnosticsFromRollouts(records);
  assert.equal(rows.length, 2);
  const [r] = rows;
  assert.deepEqual([r.algo, r.seed, r.step, r.refinements, r.source], ['igrpo', 3, 0, 6, 'rollouts']);
  close(r.fixRate, 1 / 4); // d̂ wrong: 4 refinements, one right
  close(r.breakRate, 1 / 2); // d̂ right: 2 refinements, one wrong
  close(r.copyRate, 3 / 6); // 'A=7', 'A=7.0' (same answer by the verifier), 'B=2'
  close(r.overlapWithDraft, (1 + 2 / 3 + 0.6 + 0 + 1 + 2 / 3) / 6);
  close(r.overlapBetweenDrafts, 2 / 3);
  // the live metrics say the same
  close(metrics[0].copyRate, r.copyRate!);
  close(metrics[0].overlapWithDraft, r.overlapWithDraft!);
  close(metrics[0].wrongToRight, r.fixRate!);
  close(metrics[0].rightToWrong, r.breakRate!);
  // logs written before the diagnostics (no copy / overlap fields) analyse the same
  const old = records.map(({ copy: _c, overlapWithDraft: _o, ...x }) => x as RolloutRecord);
  assert.deepEqual(diagnosticsFromRollouts(old), rows);
  // metrics-only logs: the rates they hold
  const fromMetrics = diagnosticsFromMetrics(metrics);
  assert.deepEqual(fromMetrics.map((x) => [x.step, x.source, x.fixRate, x.breakRate, x.copyRate]), [[0, 'metrics', 0.25, 0.5, 0.5], [1, 'metrics', 0.25, 0.5, 0.5]]);
  // one run with rollouts, one with only metrics: each from its best source
  const other = metrics.map((m) => ({ ...m, seed: 4 }));
  const both = refinementDiagnosticsRows({ metrics: [...metrics, ...other], rollouts: records });
  assert.deepEqual(both.map((x) => [x.seed, x.source]), [[3, 'rollouts'], [3, 'rollouts'], [4, 'metrics'], [4, 'metrics']]);
  const f = diagnosticsFrame(both);
  assert.equal(f.shape[0], 4);
  assert.ok(f.columns.includes('copyRate') && f.columns.includes('fixRate'));
});

test('a fallback to q, another round\'s stage names, and a GRPO run give no copy counts', () => {
  const fallback = [group('p0', 'Q0', refinements[0].completions), refinements[1]];
  const rs = rolloutRecords({ step: 0, draftGroups, chosen, groups: fallback }, { algo: 'igrpo', seed: 0 });
  const [row] = diagnosticsFromRollouts(rs);
  close(row.copyRate, 1 / 2); // only prompt 1 showed d̂
  close(row.fixRate, 1 / 4); // transitions still count every refinement, as the metrics' wrongToRight does
  const renamed = rs.map((r) => ({ ...r, stage: (r.stage === 'draft' ? 'draft' : 'refinement') as RolloutRecord['stage'] }));
  assert.equal(diagnosticsFromRollouts(renamed, { from: 'draft', to: 'grpo' }).length, 0);
  assert.equal(diagnosticsFromRollouts(syntheticRun({ algo: 'grpo', seed: 0, steps: 2 }).rollouts).length, 0);
});

test('zero-variance groups per stage by reason, from rollouts and from metrics', () => {
  const rs = [0, 1].flatMap((s) => rolloutRecords(step(s), { algo: 'igrpo', seed: 0 }));
  const zv = zeroVarianceFromRollouts(rs);
  // drafts: prompt 0 all wrong; refinements: both prompts vary
  const at0 = zv.filter((z) => z.step === 0);
  assert.deepEqual(at0.map((z) => [z.stage, z.groups, z.zeroVariance, z.allCorrect, z.allWrong, z.other, z.fraction]), [
    ['draft', 2, 1, 0, 1, 0, 0.5],
    ['refinement', 2, 0, 0, 0, 0, 0],
  ]);
  const ms = [0, 1].map((s) => metricsOf(step(s), { algo: 'igrpo', seed: 0 }));
  const fromMetrics = zeroVarianceFromMetrics(ms).filter((z) => z.step === 0);
  assert.deepEqual(fromMetrics.map((z) => [z.stage, z.zeroVariance, z.allWrong]), [['draft', 1, 1], ['refinement', 0, 0]]);
  // metrics written before the diagnostics have no zeroVariance: nothing, not zeros
  const old = ms.map(({ zeroVariance: _z, ...m }) => m as MetricsRecord);
  assert.equal(zeroVarianceRows({ metrics: old }).length, 0);
  const fig = zeroVarianceFigure(zv);
  assert.deepEqual(fig.data.map((t) => t.name), ['all correct', 'all wrong', 'other equal rewards']);
  assert.deepEqual(fig.data[0].x, ['iGRPO · draft', 'iGRPO · refinement']);
  assert.deepEqual(fig.data[1].y, [0.5, 0]);
});

const VERL = path.join(import.meta.dirname, 'fixtures', 'verl-rollout-dump');

test("verl's rollout dumps (trainer.rollout_data_dir) load into the same records and frames", async () => {
  const rs = await loadRollouts(VERL, { seed: 7 });
  assert.equal(rs.length, 16);
  // step 1's rows come interleaved (after _balance_batch): groups by input text in order of first appearance
  const s1 = rs.filter((r) => r.step === 1);
  assert.deepEqual(s1.map((r) => [r.group, r.index]), [[0, 0], [1, 0], [0, 1], [1, 1], [0, 2], [1, 2], [0, 3], [1, 3]]);
  assert.ok(s1[0].prompt.includes('What is 3 + 4?') && s1[1].prompt.includes('√16'));
  assert.deepEqual(s1.filter((r) => r.group === 0).map((r) => [r.correct, r.reward, r.answer]), [[true, 1, '7'], [false, -1, '8'], [false, -1, null], [true, 1, '7']]);
  assert.deepEqual(s1[0].rewards, { score: 1, acc: 1 });
  assert.equal(s1[0].gold, '7');
  assert.ok(rs.every((r) => r.algo === 'grpo' && r.stage === 'grpo' && r.seed === 7 && r.advantage === null));
  assert.equal(s1[0].tokens, 9); // "3 + 4 = 7. The answer is \boxed{7}." in whitespace words
  // a single dump file loads the same (recognised by its fields)
  assert.deepEqual(await loadRollouts(path.join(VERL, '2.jsonl'), { seed: 7 }), rs.filter((r) => r.step === 2));
  // per-step rows derived from the rollouts: accuracy and reward as hand-counted
  const steps = stepRowsFromRollouts(rs);
  assert.deepEqual(steps.map((r) => [r.step, r.accuracy, r.reward, r.zeroStdFraction]), [[1, 6 / 8, 4 / 8, 1 / 2], [2, 3 / 8, -2 / 8, 1 / 2]]);
  const zv = zeroVarianceFromRollouts(rs);
  assert.deepEqual(zv.map((z) => [z.step, z.stage, z.allCorrect, z.allWrong]), [[1, 'grpo', 1, 0], [2, 'grpo', 0, 1]]);
  assert.equal(rolloutsFrame(rs).shape[0], 16);
});

test('every stage-free figure draws for a verl run beside our own', async () => {
  const verl = (await loadRollouts(VERL)).map((r) => ({ ...r, label: 'verl' }));
  const ours = syntheticRun({ algo: 'grpo', seed: 0, steps: 2 }).rollouts.map((r) => ({ ...r, label: 'grpo' }));
  const both = [...verl, ...ours];
  const steps = stepRowsFromRollouts(both);
  for (const fig of [rewardCurve(steps), accuracyCurve(steps), metricCurve(steps, 'zeroStdFraction', 'Zero-variance groups'), lengthHistogram(both), lengthVsReward(both), zeroVarianceFigure(zeroVarianceFromRollouts(both))]) {
    const names = JSON.stringify(fig.data.map((t) => [t.name, t.x]));
    assert.match(names, /verl/, fig.layout.title.text);
  }
  assert.ok(rewardCurve(steps).data.some((t) => t.name === 'verl' && (t.y as number[]).length === 2));
});

test('verl dumps from versions without gts, and a bad dump line named by file and line', async () => {
  const dir = path.join(tmp, 'old-verl');
  fs.mkdirSync(dir);
  // the older _dump_generations(inputs, outputs, scores, ...): no gts; GSM8K's float compute_score adds no extras
  fs.writeFileSync(path.join(dir, '10.jsonl'), '{"input": "Q", "output": "#### 3", "score": 1.0, "step": 10}\n{"input": "Q", "output": "#### 4", "score": 0.0, "step": 10}\n');
  fs.writeFileSync(path.join(dir, '9.jsonl'), '{"input": "Q", "output": "#### 3", "score": 0.0, "step": 9}\n');
  const rs = await loadRollouts(dir);
  assert.deepEqual(rs.map((r) => [r.step, r.correct, r.gold, r.answer]), [[9, false, undefined, undefined], [10, true, undefined, undefined], [10, false, undefined, undefined]]);
  fs.writeFileSync(path.join(dir, '11.jsonl'), '{"input": "Q", "output": "x", "score": "high", "step": 11}\n');
  await assert.rejects(loadRollouts(dir), /11\.jsonl:1: field 'reward'/);
  await assert.rejects(loadRollouts(tmp), /no verl rollout dumps/);
});

test('refinement figure: fix, break, copy and overlap panels, runs side by side, each named once in the legend', () => {
  const a = [0, 1].flatMap((s) => rolloutRecords(step(s), { algo: 'igrpo', seed: 0 })).map((r) => ({ ...r, label: 'igrpo' }));
  const b = syntheticRun({ algo: 'igrpo', seed: 1, steps: 2 }).rollouts.map((r) => ({ ...r, label: 'igrpo igrpo.draftContent=answer' }));
  const fig = refinementDiagnosticsFigure(diagnosticsFromRollouts([...a, ...b]));
  const legend = fig.data.filter((t) => t.showlegend !== false).map((t) => t.name);
  assert.deepEqual(legend, ['iGRPO', 'iGRPO igrpo.draftContent=answer']);
  assert.deepEqual([...new Set(fig.data.map((t) => t.yaxis))], ['y', 'y2', 'y3', 'y4']);
  assert.equal((fig.layout.yaxis3 as { title: { text: string } }).title.text, 'copy rate');
  assert.equal((fig.layout.annotations as { text: string; yref: string }[])[2].text, "copy rate (d̂'s answer repeated)");
  assert.equal((fig.layout.annotations as { text: string; yref: string }[])[2].yref, 'y3 domain');
  // metrics written before the copy fields: fix and break panels only
  const old = syntheticRun({ algo: 'igrpo', seed: 0, steps: 3 }).metrics.map((m) => ({ ...m, wrongToRight: 0.1, rightToWrong: 0.2 }));
  const oldFig = refinementDiagnosticsFigure(diagnosticsFromMetrics(old));
  assert.deepEqual([...new Set(oldFig.data.map((t) => t.yaxis))], ['y', 'y2']);
  assert.throws(() => refinementDiagnosticsFigure([]), /no refinement diagnostics/);
});

test('the viewer marks a refinement that copies d̂\'s answer (logged or judged from the records)', () => {
  const rs = rolloutRecords(step(0), { algo: 'igrpo', seed: 0 });
  const p = selectPrompt(rs, { step: 0, group: 0 });
  const html = rolloutViewerHtml(p);
  assert.equal(html.match(/class="copy"/g)?.length, 2); // 'A=7' and 'A=7.0'
  assert.match(html, /text overlap with d̂ 60%/);
  assert.match(rolloutViewerText(p), /refinement 0: .*\(copy of d̂\)/);
  assert.doesNotMatch(rolloutViewerText(p), /refinement 1: .*\(copy of d̂\)/);
  const old = selectPrompt(rs.map(({ copy: _c, overlapWithDraft: _o, ...r }) => r as RolloutRecord), { step: 0, group: 0 });
  assert.equal(rolloutViewerHtml(old).match(/class="copy"/g)?.length, 2);
  fs.writeFileSync(path.join(tmp, 'r.jsonl'), toJsonl(rs));
});

test('igrpo report: refinement diagnostics, zero-variance and probe figures and tables; metrics-only logs from before the diagnostics', async () => {
  const { run: report } = await import('../src/cli/report.js');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-refine-report-'));
  for (const seed of [0, 1]) {
    const dir = path.join(root, `igrpo-s${seed}`);
    fs.mkdirSync(dir);
    const run = { algo: 'igrpo' as const, seed };
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), toJsonl([0, 1].map((s) => metricsOf(step(s), run))));
    fs.writeFileSync(path.join(dir, 'rollouts.jsonl'), toJsonl([0, 1].flatMap((s) => rolloutRecords(step(s), run))));
    const probe = { passAt1: 0.5, k: 2, n: 4, drafts: 2, draftAccuracy: 0.25, bestDraftAccuracy: 0.5, copyRate: 0.75 };
    fs.writeFileSync(path.join(dir, 'evals.jsonl'), toJsonl([0, 2].map((updates) => ({ algo: 'igrpo', seed, updates, passAt1: 0.25, k: 2, n: 4, refinementProbe: probe }))));
  }
  const out = path.join(root, 'out');
  assert.equal(await report([root, '--out', out, '--no-images']), 0);
  for (const name of ['refinement-diagnostics', 'zero-variance', 'refinement-probe']) assert.ok(fs.existsSync(path.join(out, `${name}.json`)), name);
  const md = fs.readFileSync(path.join(out, 'summary.md'), 'utf8');
  // both seeds identical: fix 25%, break 50%, copy 50%; drafts half zero-variance (all wrong), refinements none
  assert.match(md, /## Refinement diagnostics/);
  assert.match(md, /\| igrpo \| 0, 1 \| 25\.0% \| 50\.0% \| 50\.0% \|/);
  assert.match(md, /50\.0% \(0\.0% \/ 50\.0% \/ 0\.0%\)/);
  assert.match(md, /\| igrpo \| 2 \| 0\.250 ± 0\.000 \| 0\.500 ± 0\.000 \| 0\.500 ± 0\.000 \| 0\.750 ± 0\.000 \|/);
  // the v3 experiment's logs (metrics.jsonl only, written before the diagnostics): fix and break rates still report
  const v3 = path.join(import.meta.dirname, '..', 'results', 'grpo-vs-igrpo-v3-always-step', 'logs');
  const out3 = path.join(root, 'v3');
  assert.equal(await report([v3, '--out', out3, '--no-images']), 0);
  const fig = JSON.parse(fs.readFileSync(path.join(out3, 'refinement-diagnostics.json'), 'utf8'));
  assert.deepEqual([...new Set(fig.data.map((t: { yaxis: string }) => t.yaxis))], ['y', 'y2']); // no copy rate logged then
  assert.match(fs.readFileSync(path.join(out3, 'summary.md'), 'utf8'), /\| igrpo \| 0, 1, 2, 3, 4, 5 \| [\d.]+% \| [\d.]+% \| – \|/);
});
