// SFT warm-up: examples (plain and refinement-format with right or corrupted drafts) and a short run
// whose loss falls; the shipped policy loads and covers the task's alphabet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { corruptSolution, runSft, SftConfig, sftExample } from '../src/train/sft.js';
import { promptOf, trainProblems } from '../src/train/task.js';
import { Rng } from '../src/util/rng.js';
import { makeScorer } from '../src/verify/rewards.js';

await tf.setBackend('cpu');

test('SFT examples: targets are the reference; refinement drafts are right or corrupted to a wrong answer', () => {
  const cfg = SftConfig.parse({ refineFraction: 0.5, correctDraftFraction: 0.5 });
  const problems = trainProblems(cfg.task).slice(0, 200);
  const rng = new Rng(1);
  const score = makeScorer();
  let plain = 0, right = 0, wrong = 0;
  for (const p of problems) {
    const e = sftExample(p, cfg, rng);
    assert.equal(e.target, p.solution);
    assert.ok(score(e.target, p).correct);
    if (e.prompt === promptOf(p)) { plain++; continue; }
    assert.ok(e.prompt.startsWith(promptOf(p)));
    const draft = e.prompt.slice(promptOf(p).length + 1, -1); // the 'plain' template: q \n draft \n
    if (score(draft, p).correct) right++;
    else wrong++;
  }
  assert.ok(plain > 60 && right > 20 && wrong > 20, `${plain} ${right} ${wrong}`);
  for (const p of problems.slice(0, 50)) assert.equal(score(corruptSolution(p, rng), p).correct, false);
});

test('a short SFT run lowers the loss', async () => {
  const cfg = SftConfig.parse({ steps: 30, batchSize: 8, evalEvery: 0, evalSize: 0, lr: 1e-2, model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 80 }, task: { trainSize: 64, evalSize: 4 }, schedule: { warmupSteps: 0 } });
  const losses: number[] = [];
  const { policy } = await runSft(cfg, { onProgress: (p) => losses.push(p.loss) });
  const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(tail < head * 0.8, `loss ${head} → ${tail}`);
  policy.dispose();
});

test('the shipped policy loads and encodes every synthetic problem', { skip: !fs.existsSync(path.join(dataPath('policy'), 'model.safetensors')) }, () => {
  const policy = loadPolicy(dataPath('policy'));
  const info = JSON.parse(fs.readFileSync(path.join(dataPath('policy'), 'sft.json'), 'utf8'));
  for (const p of trainProblems(SftConfig.parse(info.config).task).slice(0, 50)) policy.tokenizer.encode(promptOf(p) + p.solution);
  assert.ok(fs.statSync(path.join(dataPath('policy'), 'model.safetensors')).size < 4e6);
  policy.dispose();
});
