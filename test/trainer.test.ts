// The trainer's step API: each stage's output, matched budgets, logs valid under the record schemas,
// config errors naming the field, no tensor leaks over steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, parseTrainConfig } from '../src/train/config.js';
import { readEvals, readMetrics, readRollouts } from '../src/train/records-file.js';
import { learningRate } from '../src/train/schedule.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-trainer-'));

test('iGRPO step API: each stage fills its field; q′ holds d̂; metrics and rollouts logged', async () => {
  const out = tmp();
  const t = await Trainer.create(tinyConfig({ algo: 'igrpo', steps: 2 }), { policy: tinyPolicy(5), score: lengthScore, out });
  const s = t.begin();
  assert.equal(s.problems.length, 2);
  const drafts = await t.sampleDrafts(s);
  assert.deepEqual(drafts.map((g) => g.length), [2, 2]);
  const scored = t.scoreDrafts(s);
  const chosen = t.selectDrafts(s);
  chosen.forEach((c, i) => assert.equal(scored[i].completions[c].score.reward, Math.max(...scored[i].completions.map((d) => d.score.reward))));
  const prompts = t.buildPrompts(s);
  prompts.forEach((q2, i) => assert.equal(q2.text, `${scored[i].prompt.text}\n${scored[i].completions[chosen[i]].text}\n`));
  const refinements = await t.sampleRefinements(s);
  assert.deepEqual(refinements.map((g) => g.length), [2, 2]);
  t.scoreRefinements(s);
  const adv = t.computeAdvantages(s);
  assert.equal(adv.flat().length, 4);
  const u = await t.update(s);
  assert.ok(u.gradNorm > 0 && Number.isFinite(u.loss));
  const m = await t.finish(s);
  assert.equal(m.sampledCompletions, 8); // N + G per prompt
  assert.equal(m.completionTokens, [...drafts.flat(), ...refinements.flat()].reduce((a, c) => a + c.ids.length, 0));
  assert.equal(t.stepIndex, 1);
  assert.ok(m.wallMs.draft! > 0 && m.wallMs.refine! > 0 && m.wallMs.update! > 0);
  await t.step();
  const rollouts = readRollouts(path.join(out, 'rollouts.jsonl'));
  assert.equal(rollouts.length, 16);
  assert.equal(rollouts.filter((r) => r.stage === 'draft').length, 8);
  assert.equal(rollouts.filter((r) => r.chosen).length, 4); // one d̂ per prompt per step
  assert.ok(rollouts.filter((r) => r.stage === 'refinement').every((r) => r.advantage !== null && r.prompt.startsWith('Q:') && r.prompt.split('\n').length >= 3));
  const metrics = readMetrics(path.join(out, 'metrics.jsonl'));
  assert.deepEqual(metrics.map((x) => x.step), [0, 1]);
  assert.ok(metrics[1].eval, 'the last step evaluates');
  assert.equal(readEvals(path.join(out, 'evals.jsonl')).at(-1)!.updates, 2);
  t.dispose();
});

test('GRPO at matched budget samples one group of N + G under q and has no draft stages', async () => {
  const t = await Trainer.create(tinyConfig({ algo: 'grpo' }), { policy: tinyPolicy(5), score: lengthScore });
  const s = await t.step();
  assert.equal(s.drafts, undefined);
  assert.deepEqual(s.samples!.map((g) => g.length), [4, 4]);
  assert.deepEqual(s.prompts!.map((p) => p.text), s.problems.map((p) => `${p.problem}\n`));
  assert.equal(s.metrics!.sampledCompletions, 8);
  await assert.rejects(() => t.sampleDrafts(t.begin()), /iGRPO stage/);
  t.dispose();
});

test('no tensor leaks over training steps', async () => {
  const t = await Trainer.create(tinyConfig({ algo: 'igrpo', steps: 10 }), { policy: tinyPolicy(2), score: lengthScore });
  await t.step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await t.step();
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

test('config errors name the field; the budget split must match', () => {
  assert.throws(() => parseTrainConfig({ optimizer: { lr: -1 } }), (e: Error) => e instanceof ConfigError && /optimizer\.lr/.test(e.message));
  assert.throws(() => parseTrainConfig({ completionsPerPrompt: 8, igrpo: { drafts: 4, refinements: 3 } }), /igrpo\.refinements.*must equal completionsPerPrompt/);
  assert.throws(() => parseTrainConfig({ objective: { lossType: 'ppo' } }), /objective\.lossType/);
  assert.throws(() => parseTrainConfig({ sampling: { temprature: 1 } }), /sampling.*temprature/);
  assert.equal(parseTrainConfig({ algo: 'grpo', igrpo: { drafts: 1, refinements: 2 } }).algo, 'grpo');
});

test('cosine schedule with warm-up and minimum ratio', () => {
  const s = { type: 'cosine' as const, warmupSteps: 2, minLrRatio: 0.1 };
  assert.equal(learningRate(1, 0, 12, s), 0.5);
  assert.equal(learningRate(1, 2, 12, s), 1);
  assert.ok(Math.abs(learningRate(1, 7, 12, s) - 0.55) < 1e-12); // halfway: 0.1 + 0.9 · 0.5
  assert.ok(Math.abs(learningRate(1, 12, 12, s) - 0.1) < 1e-12);
});

test('the refinement wrapper runs over every objective: iGRPO+DAPO, iGRPO+GSPO, KL to a reference, several iterations', async () => {
  const variants = [
    { lossType: 'dapo' as const, epsilonLow: 0.2, epsilonHigh: 0.28, maskTruncated: true },
    { lossType: 'grpo' as const, importanceSampling: 'sequence' as const, epsilonLow: 3e-4, epsilonHigh: 4e-4 },
    { lossType: 'dr_grpo' as const, beta: 0.05, scaleRewards: 'none' as const },
    { lossType: 'bnpo' as const, scaleRewards: 'batch' as const },
  ];
  for (const objective of variants) {
    const t = await Trainer.create(tinyConfig({ algo: 'igrpo', objective, optimizer: { numIterations: 2, lr: 5e-2 } }), { policy: tinyPolicy(6), score: lengthScore });
    const s = await t.step();
    const m = s.metrics!;
    assert.ok(Number.isFinite(m.loss) && m.gradNorm > 0, JSON.stringify(objective));
    if (objective.importanceSampling === 'sequence') assert.ok(m.clipFraction > 0, 'GSPO’s tight clip engages on the second iteration');
    if (objective.beta) assert.ok(m.kl > 0, 'the policy moved away from the reference');
    t.dispose();
  }
});
