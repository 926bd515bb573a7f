// Zero-advantage steps (TRL steps the optimizer anyway; an option keeps the skip), GSPO's clip fraction
// counted per sequence, and the warning for GSPO with a token-weighted loss type (issue 13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ObjectiveConfig, objectiveWarnings, policyLoss, type Normalizer } from '../src/rl/loss.js';
import { policyUpdate, type TrainSequence } from '../src/rl/update.js';
import { Adam } from '../src/optim/adam.js';
import { parseTrainConfig } from '../src/train/config.js';
import { tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');

const seqs = (advantages: number[]): TrainSequence[] =>
  advantages.map((advantage, i) => ({ promptIds: [1, 2, 3], completionIds: [4 + i, 5, 6], advantage, truncated: false }));
const snapshot = (p: ReturnType<typeof tinyPolicy>) => p.parameters().map((v) => Array.from(v.dataSync()));
const opts = (zeroAdvantage?: 'step' | 'skip') => ({
  objective: ObjectiveConfig.parse({}), temperature: 1, microBatchSize: 4, numIterations: 1, maxCompletionLength: 3, lr: 1e-2, zeroAdvantage,
});

test('a zero-advantage step moves the weights by Adam momentum by default (TRL); zeroAdvantage "skip" leaves them', async () => {
  for (const mode of [undefined, 'step', 'skip'] as const) {
    const policy = tinyPolicy(5);
    const adam = new Adam(policy.parameters(), { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
    await policyUpdate(policy, adam, seqs([1, -1, 0.5, -0.5]), opts(mode)); // builds momentum
    const before = snapshot(policy);
    const tensors = tf.memory().numTensors;
    const r = await policyUpdate(policy, adam, seqs([0, 0, 0, 0]), opts(mode));
    assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
    const after = snapshot(policy);
    const moved = after.some((a, i) => a.some((x, j) => x !== before[i][j]));
    if (mode === 'skip') {
      assert.equal(moved, false);
      assert.equal(adam.stepCount, 1);
      assert.equal(r.optimizerSteps, 0);
    } else {
      assert.equal(moved, true, `mode ${mode}: momentum moves the weights`);
      assert.equal(adam.stepCount, 2);
      assert.equal(r.optimizerSteps, 1);
    }
    adam.dispose();
    policy.dispose();
  }
});

test('the zero step equals an explicit Adam step on zero gradients', async () => {
  const a = tinyPolicy(6), b = tinyPolicy(6);
  const cfg = { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
  const oa = new Adam(a.parameters(), cfg), ob = new Adam(b.parameters(), cfg);
  await policyUpdate(a, oa, seqs([1, -1, 0.5, -0.5]), opts());
  await policyUpdate(b, ob, seqs([1, -1, 0.5, -0.5]), opts());
  await policyUpdate(a, oa, seqs([0, 0, 0, 0]), opts());
  const zeros = b.parameters().map((p) => tf.zerosLike(p));
  ob.step(zeros, 1e-2);
  tf.dispose(zeros);
  assert.deepEqual(snapshot(a), snapshot(b));
  for (const x of [oa, ob, a, b]) x.dispose();
});

test('config: optimizer.zeroAdvantage defaults to "step" and accepts "skip"', () => {
  assert.equal(parseTrainConfig({}).optimizer.zeroAdvantage, 'step');
  assert.equal(parseTrainConfig({ optimizer: { zeroAdvantage: 'skip' } }).optimizer.zeroAdvantage, 'skip');
  assert.throws(() => parseTrainConfig({ optimizer: { zeroAdvantage: 'never' } }), /optimizer\.zeroAdvantage/);
});

test('GSPO counts clipped sequences, not their tokens; token level counts tokens', () => {
  // two sequences of 3 and 1 tokens; the first's sequence ratio exp(mean(0.5)) ≈ 1.65 is clipped (Â > 0)
  const logp = tf.tensor2d([[0.5, 0.5, 0.5], [0, 0, 0]]);
  const old = tf.zeros([2, 3]) as tf.Tensor2D;
  const mask = tf.tensor2d([[1, 1, 1], [1, 0, 0]]);
  const norm: Normalizer = { sequences: 2, tokens: 4, microBatches: 1, maxCompletionLength: 3 };
  const inputs = { logp: logp as tf.Tensor2D, oldLogp: old, advantages: tf.tensor1d([1, 1]), mask: mask as tf.Tensor2D };
  const seq = policyLoss(inputs, ObjectiveConfig.parse({ importanceSampling: 'sequence' }), norm);
  assert.equal(seq.clippedHigh.dataSync()[0], 1);
  const tok = policyLoss(inputs, ObjectiveConfig.parse({}), norm);
  assert.equal(tok.clippedHigh.dataSync()[0], 3);
});

test('GSPO with a loss type other than grpo warns, as TRL does; the usual combinations do not', () => {
  assert.deepEqual(objectiveWarnings({ importanceSampling: 'sequence', lossType: 'grpo' }), []);
  assert.deepEqual(objectiveWarnings({ importanceSampling: 'token', lossType: 'dapo' }), []);
  const [w] = objectiveWarnings({ importanceSampling: 'sequence', lossType: 'dapo' });
  assert.match(w, /importanceSampling 'sequence'.*lossType 'dapo'/);
});
