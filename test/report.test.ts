// igrpo report: figures and summary for a results folder holding one run directory per algorithm and seed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { finalBySeed, pngSize, syntheticRun, toJsonl } from '../src/analysis/index.js';
import { run as report } from '../src/cli/report.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-report-'));
const all: ReturnType<typeof syntheticRun>[] = [];
for (const algo of ['grpo', 'igrpo'] as const) {
  for (const seed of [1, 2]) {
    const r = syntheticRun({ algo, seed, steps: 4 });
    all.push(r);
    const dir = path.join(root, `${algo}-s${seed}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), toJsonl(r.metrics));
    fs.writeFileSync(path.join(dir, 'rollouts.jsonl'), toJsonl(r.rollouts));
  }
}

test('igrpo report writes the standard figures and a summary with per-method CIs', async () => {
  const out = path.join(root, 'out');
  assert.equal(await report([root, '--out', out, '--format', 'png', '--width', '600', '--height', '400']), 0);
  for (const name of ['reward', 'accuracy', 'entropy', 'eval', 'draft-vs-refinement', 'transitions', 'lengths', 'comparison', 'stage-time']) {
    assert.deepEqual(pngSize(fs.readFileSync(path.join(out, `${name}.png`))), { width: 600, height: 400 }, name);
    assert.ok(JSON.parse(fs.readFileSync(path.join(out, `${name}.json`), 'utf8')).data.length > 0);
  }
  const md = fs.readFileSync(path.join(out, 'summary.md'), 'utf8');
  const acc = finalBySeed(all.flatMap((r) => r.metrics), 'accuracy');
  const grpo = acc.get('grpo')!.ci;
  assert.ok(md.includes(`| grpo | 1, 2 | 4 | ${grpo.mean.toFixed(3)} ± ${grpo.half.toFixed(3)} |`), md);
  assert.match(md, /Wall time per step, iGRPO \/ GRPO: \*\*[\d.]+×\*\*/);
  assert.match(md, /## Best draft → refinement/);
  assert.match(md, /!\[accuracy\]\(accuracy\.png\)/);
});

test('report: usage errors give exit code 2 or a message naming the problem', async () => {
  assert.equal(await report([]), 2);
  await assert.rejects(report([root, '--format', 'gif']), /unknown format 'gif'/);
  await assert.rejects(report([path.join(root, 'nope')]), /not a directory/);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-report-empty-'));
  await assert.rejects(report([empty]), /no metrics\.jsonl/);
  const solo = path.join(root, 'grpo-s1');
  assert.equal(await report([solo, '--no-images']), 0);
  assert.ok(fs.existsSync(path.join(solo, 'report', 'summary.md')));
  assert.ok(!fs.existsSync(path.join(solo, 'report', 'accuracy.png')));
});

test('report --scale 2 writes PNGs at twice the pixels of the same layout (SVG unaffected)', async () => {
  const out = path.join(root, 'out-2x');
  assert.equal(await report([path.join(root, 'grpo-s1'), '--out', out, '--format', 'png', '--width', '300', '--height', '200', '--scale', '2']), 0);
  assert.deepEqual(pngSize(fs.readFileSync(path.join(out, 'accuracy.png'))), { width: 600, height: 400 });
  await assert.rejects(report([root, '--scale', '0']), /--scale must be a number in \(0, 8\]/);
});
