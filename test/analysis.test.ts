// Loading run logs (JSONL, Parquet, TRL tables), the statistics and the diff behind the figures and the viewer.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  changedFraction,
  finalBySeed,
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
import type { RolloutRecord } from '../src/train/records.js';

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
