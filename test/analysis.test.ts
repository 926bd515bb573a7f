// Loading run logs (JSONL, Parquet, TRL tables), the statistics and the diff behind the figures and the viewer.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  changedFraction,
  ciText,
  commonOptions,
  configDiff,
  displayLabel,
  finalBySeed,
  inlineMarkdownImages,
  loadRuns,
  runLabels,
  stepTimeRatio,
  summaryMarkdown,
  loadMetrics,
  loadRollouts,
  meanCI,
  metricsFrame,
  rolloutsFrame,
  seedBands,
  selectPrompt,
  stageSummary,
  syntheticRun,
  toJsonl,
  transitions,
  wordDiff,
  writeRolloutsParquet,
} from '../src/analysis/index.js';
import type { MetricsRecord, RolloutRecord } from '../src/train/records.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-analysis-'));
const write = (name: string, text: string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};

test('rollouts and metrics round-trip through JSONL with every record validated', async () => {
  const run = syntheticRun({ algo: 'igrpo', seed: 3, steps: 3 });
  const rollouts = await loadRollouts(write('r.jsonl', toJsonl(run.rollouts)));
  const metrics = await loadMetrics(write('m.jsonl', toJsonl(run.metrics)));
  assert.deepEqual(rollouts, run.rollouts);
  assert.deepEqual(metrics, run.metrics);
});

test('a malformed rollout log names the file, the bad line and the field', async () => {
  const run = syntheticRun({ algo: 'grpo', seed: 1, steps: 1 });
  const lines = toJsonl(run.rollouts).trimEnd().split('\n');
  const bad = JSON.parse(lines[2]);
  bad.reward = 'high';
  lines[2] = JSON.stringify(bad);
  lines.splice(1, 0, ''); // a blank line still counts, so the bad record is on line 4
  const file = write('bad.jsonl', lines.join('\n'));
  await assert.rejects(loadRollouts(file), (err: Error) => {
    assert.match(err.message, new RegExp(`${file.replace(/[.]/g, '\\.')}:4: field 'reward'`));
    return true;
  });
  const notJson = write('notjson.jsonl', `${lines[0]}\n{"step": 0,\n`);
  await assert.rejects(loadRollouts(notJson), /notjson\.jsonl:2: not JSON/);
  await assert.rejects(loadMetrics(write('m-bad.jsonl', '{"step": -1}\n')), /m-bad\.jsonl:1: field 'step'/);
});

test('Parquet rollout logs load like JSONL ones, and a bad row is named', async () => {
  const run = syntheticRun({ algo: 'igrpo', seed: 2, steps: 2 });
  const file = path.join(tmp, 'r.parquet');
  writeRolloutsParquet(run.rollouts, file);
  const back = await loadRollouts(file);
  // Optional fields a record lacks are stored as nulls and come back absent; the drafts' null advantage stays.
  assert.deepEqual(back, run.rollouts);
  const noGold = run.rollouts.map(({ gold: _gold, chosen: _chosen, ...r }) => r);
  writeRolloutsParquet(noGold, file);
  assert.deepEqual(await loadRollouts(file), noGold);
  const broken = run.rollouts.map((r, i) => (i === 5 ? { ...r, stage: 'polish' as RolloutRecord['stage'] } : r));
  const badFile = path.join(tmp, 'bad.parquet');
  writeRolloutsParquet(broken, badFile);
  await assert.rejects(loadRollouts(badFile), /bad\.parquet: row 6: field 'stage'/);
});

test('TRL completion tables map onto rollout records (groups by prompt within a step, rewards summed)', async () => {
  const rows = [
    { step: '10', prompt: 'Q1', completion: 'a b c', accuracy_reward: 1, format_reward: 0.5, advantage: 0.7 },
    { step: '10', prompt: 'Q1', completion: 'a b', accuracy_reward: 0, format_reward: 0.5, advantage: -0.7 },
    { step: '10', prompt: 'Q2', completion: 'x', accuracy_reward: 0, format_reward: 0, advantage: 0 },
    { step: '11', prompt: 'Q1', completion: 'y y', accuracy_reward: 1, format_reward: 0, advantage: 0 },
  ];
  const rs = await loadRollouts(write('trl.jsonl', toJsonl(rows)), { seed: 9 });
  assert.deepEqual(rs.map((r) => [r.step, r.group, r.index, r.promptId]), [[10, 0, 0, 's10-g0'], [10, 0, 1, 's10-g0'], [10, 1, 0, 's10-g1'], [11, 0, 0, 's11-g0']]);
  assert.deepEqual(rs.map((r) => r.reward), [1.5, 0.5, 0, 1]);
  assert.deepEqual(rs.map((r) => r.correct), [true, false, false, true]);
  assert.deepEqual(rs.map((r) => r.tokens), [3, 2, 1, 2]);
  assert.deepEqual(rs[0].rewards, { accuracy_reward: 1, format_reward: 0.5 });
  assert.ok(rs.every((r) => r.stage === 'grpo' && r.algo === 'grpo' && r.seed === 9));
  // The same table as Parquet (steps as INT64 → BigInt in hyparquet) gives the same records.
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const pq = parquetWriteBuffer({
    columnData: [
      { name: 'step', data: rows.map((r) => BigInt(r.step)), type: 'INT64' },
      { name: 'prompt', data: rows.map((r) => r.prompt), type: 'STRING' },
      { name: 'completion', data: rows.map((r) => r.completion), type: 'STRING' },
      { name: 'accuracy_reward', data: rows.map((r) => r.accuracy_reward), type: 'DOUBLE' },
      { name: 'format_reward', data: rows.map((r) => r.format_reward), type: 'DOUBLE' },
      { name: 'advantage', data: rows.map((r) => r.advantage), type: 'DOUBLE' },
    ],
  });
  const pqFile = write('trl.parquet', '');
  fs.writeFileSync(pqFile, Buffer.from(pq));
  assert.deepEqual(await loadRollouts(pqFile, { seed: 9 }), rs);
});

test('meanCI uses the t quantile: [1,2,3] → 2 ± 4.303/√3', () => {
  const ci = meanCI([1, 2, 3]);
  assert.equal(ci.mean, 2);
  assert.ok(Math.abs(ci.half - 4.303 / Math.sqrt(3)) < 1e-12);
  assert.deepEqual(meanCI([5]), { n: 1, mean: 5, half: 0 });
});

test('seed bands and finals aggregate over seeds per step and algorithm', () => {
  const runs = [1, 2, 3].map((seed) => syntheticRun({ algo: 'grpo', seed, steps: 4 }));
  const metrics = runs.flatMap((r) => r.metrics);
  const [band] = seedBands(metrics, 'accuracy');
  assert.equal(band.algo, 'grpo');
  assert.deepEqual(band.step, [0, 1, 2, 3]);
  for (let s = 0; s < 4; s++) {
    const xs = runs.map((r) => r.metrics[s].accuracy);
    const ci = meanCI(xs);
    assert.ok(Math.abs(band.mean[s] - ci.mean) < 1e-12);
    assert.ok(Math.abs(band.hi[s] - band.lo[s] - 2 * ci.half) < 1e-12);
    assert.equal(band.n[s], 3);
  }
  const finals = finalBySeed(metrics, 'eval.passAt1').get('grpo')!;
  assert.deepEqual(finals.seeds, [1, 2, 3]);
  assert.deepEqual(finals.values, runs.map((r) => r.metrics[3].eval!.passAt1));
});

function rec(p: Partial<RolloutRecord>): RolloutRecord {
  return { step: 0, algo: 'igrpo', seed: 0, promptId: 'p', stage: 'refinement', group: 0, index: 0, prompt: 'q', text: '', tokens: 1,
    finishReason: 'stop', reward: 0, rewards: {}, correct: false, advantage: 0, ...p };
}

test('transitions count refinements by their chosen draft, per step, seed and group', () => {
  const rs = [
    rec({ stage: 'draft', group: 0, chosen: true, correct: false, advantage: null }),
    rec({ stage: 'draft', group: 0, chosen: false, correct: false, advantage: null }),
    rec({ group: 0, correct: true }),
    rec({ group: 0, correct: false }),
    rec({ group: 0, correct: true }),
    rec({ stage: 'draft', group: 1, chosen: true, correct: true, advantage: null }),
    rec({ group: 1, correct: false }),
    rec({ group: 1, correct: true }),
    rec({ group: 1, correct: true, seed: 5 }), // another seed: no chosen draft there, not counted
  ];
  const t = transitions(rs);
  assert.deepEqual(t.counts, [[1, 2], [1, 1]]);
  assert.equal(t.wrongToRight, 2 / 3);
  assert.equal(t.rightToWrong, 1 / 2);
  assert.equal(t.total, 5);
  const summary = stageSummary(rs.filter((r) => r.seed === 0));
  const refine = summary.find((s) => s.stage === 'refinement')!;
  assert.equal(refine.completions, 5);
  assert.equal(refine.accuracy, 3 / 5);
});

test('wordDiff keeps common words, marks the rest, and reassembles both texts', () => {
  const before = 'so 2 + 3 = 6 and the answer is 6';
  const after = 'so 2 + 3 = 5 and the answer is 5';
  const parts = wordDiff(before, after);
  const join = (ops: string[]) => parts.filter((p) => ops.includes(p.op)).map((p) => p.text).join('');
  assert.equal(join(['same', 'add']), after);
  assert.equal(join(['same', 'del']), before);
  assert.deepEqual(parts.filter((p) => p.op === 'add').map((p) => p.text.trim()), ['5', '5']);
  assert.equal(changedFraction(parts), 2 / 11); // 2 of the 11 words after are new
  assert.equal(changedFraction(wordDiff('a b', 'a b')), 0);
});

test('the viewer selects one prompt: drafts, chosen d̂, q\' and refinements', () => {
  const run = syntheticRun({ algo: 'igrpo', seed: 4, steps: 2, prompts: 3, drafts: 3, group: 2 });
  const p = selectPrompt(run.rollouts, { step: 1, group: 2 });
  assert.equal(p.drafts.length, 3);
  assert.equal(p.refinements.length, 2);
  assert.ok(p.chosen?.chosen);
  assert.ok(p.refinementPrompt?.includes(p.chosen!.text));
  assert.throws(() => selectPrompt(run.rollouts, { step: 9 }), /no rollouts/);
});

test('danfo frames flatten nested fields into columns', () => {
  const run = syntheticRun({ algo: 'igrpo', seed: 1, steps: 2 });
  const rf = rolloutsFrame(run.rollouts);
  assert.equal(rf.shape[0], run.rollouts.length);
  assert.ok(rf.columns.includes('rewards.accuracy') && rf.columns.includes('completion') && !rf.columns.includes('index'));
  assert.equal(rf.loc({ columns: ['algo', 'step'] }).shape[1], 2); // loc works (a column named "index" broke it)
  const mf = metricsFrame(run.metrics);
  assert.ok(mf.columns.includes('wallMs.total') && mf.columns.includes('eval.passAt1'));
  const grouped = rf.groupby(['stage']).col(['correct']).mean();
  const draftRow = (grouped.values as unknown[][]).find((r) => r[0] === 'draft')!;
  const drafts = run.rollouts.filter((r) => r.stage === 'draft');
  assert.equal(draftRow[1], drafts.filter((d) => d.correct).length / drafts.length);
});

test('progress line and bar: percentage, counts, values; outside a terminal one line per tenth', async () => {
  const { progressLine, ProgressBar } = await import('../src/analysis/progress.js');
  const line = progressLine({ done: 5, total: 20, label: 'train', info: { reward: 0.4567, step: 5 }, elapsedMs: 2000 }, 8);
  assert.equal(line, 'train  25% |██░░░░░░| 5/20 [2.0s<6.0s] reward=0.457 step=5');
  const written: string[] = [];
  const write = process.stderr.write;
  const tty = process.stderr.isTTY;
  (process.stderr as { isTTY?: boolean }).isTTY = false;
  process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
  try {
    const bar = new ProgressBar({ total: 20, label: 'x', intervalMs: 0 });
    for (let i = 0; i < 20; i++) bar.tick();
    bar.finish();
  } finally {
    process.stderr.write = write;
    (process.stderr as { isTTY?: boolean }).isTTY = tty;
  }
  assert.deepEqual(written.map((w) => w.match(/(\d+)\/20/)![1]), ['0', '2', '4', '6', '8', '10', '12', '14', '16', '18', '20']);
});

test('the viewer HTML escapes completion text and marks what a refinement changed', async () => {
  const { rolloutViewerHtml } = await import('../src/analysis/viewer.js');
  const p = {
    step: 0, promptId: 'p', question: 'What is 2+3?', gold: '5',
    drafts: [rec({ stage: 'draft', chosen: true, text: 'so <b>6</b>', advantage: null })],
    chosen: rec({ stage: 'draft', chosen: true, text: 'so <b>6</b>', advantage: null }),
    refinementPrompt: 'What is 2+3?\nso <b>6</b>\n',
    refinements: [rec({ text: 'so <b>5</b>', correct: true, reward: 1, rewards: { accuracy: 1 } })],
    completions: [],
  };
  const html = rolloutViewerHtml(p);
  assert.ok(!html.includes('<b>6</b>') && html.includes('&lt;b&gt;6&lt;/b&gt;'));
  assert.match(html, /<del>&lt;b&gt;6&lt;\/b&gt;<\/del><ins>&lt;b&gt;5&lt;\/b&gt;<\/ins>/);
  assert.match(html, /chosen d̂/);
});

// Issue 13: run labels, single-seed summaries, the step-time ratio as the experiment reports it, report images.
test('run labels: the algorithm plus the options that differ from the defaults and from the other runs', () => {
  const cfg = (o: Record<string, unknown>) => ({ steps: 100, optimizer: { lr: 1e-4 }, ...o });
  const runs = [
    { algo: 'grpo', config: cfg({ algo: 'grpo', seed: 0, igrpo: { template: 'paper' } }) },
    { algo: 'igrpo', config: cfg({ algo: 'igrpo', seed: 0 }) },
    { algo: 'igrpo', config: cfg({ algo: 'igrpo', seed: 1 }) },
    { algo: 'igrpo', config: cfg({ algo: 'igrpo', seed: 0, igrpo: { template: 'paper' } }) },
    { algo: 'igrpo', config: cfg({ algo: 'igrpo', seed: 0, igrpo: { tieBreak: 'random' }, backend: 'cpu' }) },
  ];
  assert.deepEqual(configDiff(runs[3].config), ['igrpo.template=paper', 'optimizer.lr=0.0001', 'steps=100']);
  // the seed, the backend and (for GRPO) the igrpo block do not make a variant; shared options are factored out
  assert.deepEqual(runLabels(runs), ['grpo', 'igrpo', 'igrpo', 'igrpo igrpo.template=paper', 'igrpo igrpo.tieBreak=random']);
  assert.deepEqual(commonOptions(runs), ['optimizer.lr=0.0001', 'steps=100']);
  assert.deepEqual(runLabels([{ algo: 'grpo' }, { algo: 'igrpo' }]), ['grpo', 'igrpo']);
  assert.equal(displayLabel('igrpo igrpo.template=paper'), 'iGRPO igrpo.template=paper');
});

test('loadRuns labels every record by its run config, and statistics group by label and seed', async () => {
  const root = fs.mkdtempSync(path.join(tmp, 'ablation-'));
  const variants = [
    { name: 'plain', config: { algo: 'igrpo' } },
    { name: 'paper', config: { algo: 'igrpo', igrpo: { template: 'paper' } } },
  ];
  for (const v of variants) {
    for (const seed of [1, 2]) {
      const dir = path.join(root, `${v.name}-s${seed}`);
      fs.mkdirSync(dir);
      const r = syntheticRun({ algo: 'igrpo', seed: seed + (v.name === 'paper' ? 10 : 0), steps: 3 });
      fs.writeFileSync(path.join(dir, 'metrics.jsonl'), toJsonl(r.metrics.map((m) => ({ ...m, seed }))));
      fs.writeFileSync(path.join(dir, 'rollouts.jsonl'), toJsonl(r.rollouts.map((m) => ({ ...m, seed }))));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...v.config, seed }));
    }
  }
  const logs = await loadRuns([root]);
  assert.deepEqual([...new Set(logs.metrics.map((m) => m.label))].sort(), ['igrpo', 'igrpo igrpo.template=paper']);
  const bands = seedBands(logs.metrics, 'accuracy');
  assert.deepEqual(bands.map((b) => [b.algo, b.n[0]]), [['igrpo', 2], ['igrpo igrpo.template=paper', 2]]);
  const finals = finalBySeed(logs.metrics, 'accuracy');
  assert.deepEqual(finals.get('igrpo igrpo.template=paper')!.seeds, [1, 2]);
  // transitions pair each refinement with the d̂ of its own variant (same seed/step/group exists in both)
  const own = transitions(logs.rollouts.filter((r) => r.label === 'igrpo')).total + transitions(logs.rollouts.filter((r) => r.label !== 'igrpo')).total;
  assert.equal(transitions(logs.rollouts).total, own);
  const md = summaryMarkdown(logs, [], root);
  assert.match(md, /\| igrpo igrpo\.template=paper \| 1, 2 \| 3 \|/);
});

test('a single-seed report prints values without "± 0.000"; with ≥ 2 seeds it prints the interval', () => {
  const one = syntheticRun({ algo: 'grpo', seed: 1, steps: 3 });
  const two = [1, 2].map((seed) => syntheticRun({ algo: 'grpo', seed, steps: 3 }));
  const solo = summaryMarkdown({ dirs: ['r'], metrics: one.metrics, rollouts: [] }, [], '.');
  assert.doesNotMatch(solo, /±/);
  assert.match(solo, new RegExp(`\\| grpo \\| 1 \\| 3 \\| ${one.metrics[2].accuracy.toFixed(3)} \\|`));
  assert.match(solo, /one seed per method: no confidence interval/);
  const pair = summaryMarkdown({ dirs: ['r'], metrics: two.flatMap((r) => r.metrics), rollouts: [] }, [], '.');
  assert.match(pair, /\d\.\d{3} ± \d\.\d{3}/);
  assert.equal(ciText({ n: 1, mean: 0.5, half: 0 }), '0.500');
});

test("the step-time ratio is the experiment's (per seed pair, then the mean): 1.07 on results/grpo-vs-igrpo-v2", async () => {
  const dir = 'results/grpo-vs-igrpo-v2';
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { stepTimeRatio: { perSeed: number[]; mean: number } };
  const logs = await loadRuns([path.join(dir, 'logs')]);
  const r = stepTimeRatio(logs.metrics.filter((m) => m.algo === 'igrpo'), logs.metrics.filter((m) => m.algo === 'grpo'));
  r.perSeed.forEach((x, i) => assert.ok(Math.abs(x - summary.stepTimeRatio.perSeed[i]) < 1e-9, `seed ${i}`));
  assert.ok(Math.abs(r.mean - summary.stepTimeRatio.mean) < 1e-9);
  assert.equal(r.mean.toFixed(2), '1.07'); // the README's figure
  assert.match(summaryMarkdown(logs, [], dir), /iGRPO \/ GRPO: \*\*1\.07×\*\* mean over 6 seeds, median 1\.02/);
  // hand check: ratio of per-seed means, not of pooled means
  const a = [{ seed: 0, wallMs: { total: 2 } }, { seed: 1, wallMs: { total: 30 } }] as unknown as MetricsRecord[];
  const b = [{ seed: 0, wallMs: { total: 1 } }, { seed: 1, wallMs: { total: 30 } }] as unknown as MetricsRecord[];
  assert.deepEqual(stepTimeRatio(a, b), { perSeed: [2, 1], seeds: [0, 1], mean: 1.5, median: 1.5 });
});

test("a report's markdown shows its images inside the notebook: local images embedded as data URLs", () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'md-'));
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
  fs.writeFileSync(path.join(dir, 'accuracy.png'), png);
  const md = '# r\n\n![accuracy](accuracy.png)\n\n![remote](https://x.org/a.png) ![gone](missing.png)\n';
  const out = inlineMarkdownImages(md, dir);
  assert.ok(out.includes(`![accuracy](data:image/png;base64,${png.toString('base64')})`));
  assert.ok(out.includes('![remote](https://x.org/a.png)') && out.includes('![gone](missing.png)'));
});
