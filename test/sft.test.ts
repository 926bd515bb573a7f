// SFT warm-up: examples (plain and refinement-format with right or corrupted drafts) and a short run
// whose loss falls; the shipped policy loads and covers the task's alphabet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { corruptSolution, corruptStep, runSft, SftConfig, sftExample, sftPool } from '../src/train/sft.js';
import { evalProblems, promptOf, trainProblems } from '../src/train/task.js';
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

test('corruptStep: one step slips, later steps compute on with the wrong value, the answer is wrong', () => {
  const p = { id: 'x', problem: 'Q:15+9-20', answer: '4', solution: '<think>15+9=24 24-20=4</think><answer>4</answer>', task: 'arithmetic' } as const;
  const rng = new Rng(5);
  const score = makeScorer();
  let slippedFirst = 0;
  for (let i = 0; i < 40; i++) {
    const text = corruptStep(p, rng);
    assert.equal(score(text, p).correct, false, text);
    const m = /^<think>15\+9=(\d+) (\d+)-20=(-?\d+)<\/think><answer>(-?\d+)<\/answer>$/.exec(text);
    assert.ok(m, text);
    const [first, carried, second, answer] = m.slice(1).map(Number);
    assert.equal(answer, second);
    if (first !== 24) {
      slippedFirst++;
      assert.equal(carried, first); // the slip is carried into step 2…
      assert.equal(second, first - 20); // …which is then computed right
    } else assert.notEqual(second, 4);
  }
  assert.ok(slippedFirst > 5 && slippedFirst < 35, `${slippedFirst}`);
  for (const q of trainProblems(SftConfig.parse({}).task).slice(0, 100)) assert.equal(score(corruptStep(q, rng), q).correct, false);
});

test('own drafts: a share of refinement examples shows them, for their own problem, target the reference', () => {
  const cfg = SftConfig.parse({ refineFraction: 1, ownDraftFraction: 0.5, correctDraftFraction: 0, corruption: 'mixed' });
  const problems = trainProblems(cfg.task).slice(0, 200);
  const own = problems.slice(0, 3).map((problem) => ({ problem, draft: '<think>1+1=3</think><answer>3</answer>' }));
  const rng = new Rng(2);
  let shown = 0;
  for (const p of problems) {
    const e = sftExample(p, cfg, rng, own);
    if (!e.prompt.includes('1+1=3')) continue;
    shown++;
    const o = own.find((x) => e.prompt === `${promptOf(x.problem)}\n${x.draft}\n`);
    assert.ok(o, e.prompt);
    assert.equal(e.target, o.problem.solution);
  }
  assert.ok(shown > 70 && shown < 130, `${shown}`);
});

test('a larger SFT pool leaves out the held-out problems the experiment evaluates on', () => {
  const cfg = SftConfig.parse({ poolSize: 8192 });
  const heldOut = new Set(evalProblems(cfg.task).map((p) => p.problem));
  const pool = sftPool(cfg);
  assert.ok(pool.length > 7000);
  assert.equal(pool.filter((p) => heldOut.has(p.problem)).length, 0);
  // without the guard some of them would be in it (the task's space is small)
  assert.ok(trainProblems({ ...cfg.task, trainSize: 8192 }).some((p) => heldOut.has(p.problem)));
  assert.deepEqual(sftPool(SftConfig.parse({})), trainProblems(cfg.task));
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

test('sft --out over an existing policy folder keeps what it does not write (npm run sft keeps data/policy/README.md)', async () => {
  const out = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'igrpo-sft-out-'));
  try {
    const cfg = SftConfig.parse({ steps: 2, batchSize: 4, evalEvery: 0, evalSize: 0, model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 80 }, task: { trainSize: 16, evalSize: 4 }, schedule: { warmupSteps: 0 } });
    const first = await runSft(cfg, { out });
    first.policy.dispose();
    fs.writeFileSync(path.join(out, 'README.md'), 'how this policy was made');
    fs.mkdirSync(path.join(out, 'notes'));
    fs.writeFileSync(path.join(out, 'notes', 'a.txt'), 'mine');
    const before = fs.readFileSync(path.join(out, 'model.safetensors'));
    const second = await runSft({ ...cfg, seed: 1 }, { out });
    second.policy.dispose();
    assert.equal(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), 'how this policy was made');
    assert.equal(fs.readFileSync(path.join(out, 'notes', 'a.txt'), 'utf8'), 'mine');
    assert.notDeepEqual(fs.readFileSync(path.join(out, 'model.safetensors')), before, 'the policy itself was replaced');
    assert.deepEqual(fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith(`.${path.basename(out)}.kept-`)), [], 'no copy left behind');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
