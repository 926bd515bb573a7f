// The experiment runner's variants: a config's `variants` block (each a partial config over the rest), the
// default pair GRPO / iGRPO, errors naming the file and variant, and summaries with paired differences
// (checked against the committed v3 summary, which the old two-method code wrote).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readExperiment, renderTables, summarise, variantConfig } from '../src/train/experiment.js';
import { readTrainConfig } from '../src/train/config-file.js';

const root = path.resolve(import.meta.dirname, '..');
const v3 = path.join(root, 'data/configs/experiment-v3.json');
const v4 = path.join(root, 'data/configs/experiment-v4.json');

test('variants: v4 GRPO and iGRPO are v3 exactly; the new variants; errors name file and variant', () => {
  assert.deepEqual(Object.keys(readExperiment(v4).variants), ['grpo', 'igrpo', 'igrpo-ds', 'igrpo-3r']);
  assert.deepEqual(Object.keys(readExperiment(v3).variants), ['grpo', 'igrpo']);
  for (const algo of ['grpo', 'igrpo']) {
    assert.equal(JSON.stringify(variantConfig(v4, algo, 2)), JSON.stringify(readTrainConfig(v3, { algo, seed: 2 })));
    assert.equal(JSON.stringify(variantConfig(v3, algo, 2)), JSON.stringify(readTrainConfig(v3, { algo, seed: 2 })));
  }
  assert.deepEqual(variantConfig(v4, 'igrpo-3r', 0).igrpo.budget, [4, 2, 2]);
  assert.equal(variantConfig(v4, 'igrpo-ds', 0).dynamicSampling!.maxRounds, 3);
  assert.throws(() => variantConfig(v4, 'nope', 0), /experiment-v4\.json: no variant 'nope' \(known: grpo, igrpo, igrpo-ds, igrpo-3r\)/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-exp-'));
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ variants: { x: { igrpo: { budget: [4, 2, 3] } } } }));
  assert.throws(() => variantConfig(bad, 'x', 0), /bad\.json \(variant 'x'\).*igrpo\.budget/);
  fs.writeFileSync(bad, JSON.stringify({ variants: [] }));
  assert.throws(() => readExperiment(bad), /'variants' must be an object/);
});

test('summarise: the v3 logs give v3\'s committed summary; paired differences per variant pair', () => {
  const dir = path.join(root, 'results/grpo-vs-igrpo-v3-always-step');
  const old = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  const s = summarise(dir, [0, 1, 2, 3, 4, 5], {});
  assert.deepEqual(s.methods.igrpo.finalAccuracies, old.methods.igrpo.finalAccuracies);
  assert.deepEqual(s.finalDifference, old.finalDifference);
  assert.deepEqual(s.stepTimeRatio!.perSeed, old.stepTimeRatio.perSeed);
  const d = s.differences['igrpo − grpo'];
  assert.equal(d.mean, old.finalDifference.mean);
  assert.deepEqual(d.perSeed, old.methods.igrpo.finalAccuracies.map((x: number, i: number) => x - old.methods.grpo.finalAccuracies[i]));
  assert.deepEqual(Object.keys(s.differences), ['igrpo − grpo']);
  const tables = renderTables(s);
  assert.match(tables, /\| iGRPO − GRPO \| [^|]+ \| -9\.5% \| \[-12\.0%, -7\.1%\] \| 0\.96 \|/);
});
