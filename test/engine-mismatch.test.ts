// Server mode's two additions to the update: the sampler-vs-trainer log-prob mismatch (mean and max
// |Δ log p| over completion tokens) and TRL's truncated importance-sampling weights min(exp(Δ), cap).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ObjectiveConfig, policyLoss, stopGradient } from '../src/rl/loss.js';
import { policyUpdate, type TrainSequence } from '../src/rl/update.js';
import { tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');

test('truncated IS: the on-policy grpo loss becomes −Â · mean_t min(exp(Δ_t), cap)', () => {
  const cfg = ObjectiveConfig.parse({});
  const logp = tf.tensor2d([[-1, -2, -0.5]]);
  const d = [0.1, -0.2, 0.5];
  const w = d.map((x) => Math.min(Math.exp(x), 1.2)); // 1.10517, 0.81873, 1.2 (capped)
  const parts = policyLoss(
    { logp, oldLogp: stopGradient(logp), advantages: tf.tensor1d([2]), mask: tf.ones([1, 3]) as tf.Tensor2D, isWeight: tf.tensor2d([w]) },
    cfg,
    { sequences: 1, tokens: 3, microBatches: 1, maxCompletionLength: 3 },
  );
  const want = (-2 * (w[0] + w[1] + w[2])) / 3;
  assert.ok(Math.abs(parts.loss.dataSync()[0] - want) < 1e-6, `${parts.loss.dataSync()[0]} vs ${want}`);
});

test('policyUpdate: mismatch stats against the trainer log-probs; tisCap weights change the gradient, a cap at exp(Δ)=1 does not', async () => {
  const policy = tinyPolicy(2);
  const prompt = [1, 2, 3];
  const completion = [4, 5, 6];
  const ids = tf.tensor2d([[...prompt, ...completion]], [1, 6], 'int32');
  const trainer = Array.from(policy.tokenLogProbs(ids, { temperature: 0.7 }).dataSync()).slice(prompt.length - 1);
  ids.dispose();
  const offsets = [0.1, -0.2, 0.5];
  const seq = (sampleLogprobs?: number[]): TrainSequence[] => [{ promptIds: prompt, completionIds: completion, advantage: 1, truncated: false, sampleLogprobs }];
  const grads: number[][] = [];
  const optimizer = { step: (g: tf.Tensor[]) => void grads.push(g.flatMap((t) => Array.from(t.dataSync()))) };
  const opts = { objective: ObjectiveConfig.parse({}), temperature: 0.7, microBatchSize: 4, numIterations: 1, maxCompletionLength: 3, lr: 0 };
  const before = tf.memory().numTensors;
  const plain = await policyUpdate(policy, optimizer, seq(), opts);
  assert.equal(plain.mismatch, undefined);
  const engine = trainer.map((x, k) => x - offsets[k]);
  const r = await policyUpdate(policy, optimizer, seq(engine), opts);
  assert.ok(Math.abs(r.mismatch!.mean - 0.8 / 3) < 1e-5 && Math.abs(r.mismatch!.max - 0.5) < 1e-5 && r.mismatch!.tokens === 3, JSON.stringify(r.mismatch));
  const same = (a: number[], b: number[]) => a.every((x, i) => x === b[i]);
  assert.ok(same(grads[1], grads[0]), 'without tisCap the sampler log-probs change nothing in the gradient');
  // no mismatch: every weight is min(1, cap) = 1 → the plain gradient
  await policyUpdate(policy, optimizer, seq(trainer), { ...opts, tisCap: 2 });
  assert.ok(grads[2].every((x, i) => Math.abs(x - grads[0][i]) < 1e-7));
  // with mismatch and a cap: a different gradient
  await policyUpdate(policy, optimizer, seq(engine), { ...opts, tisCap: 1.2 });
  assert.ok(!grads[3].every((x, i) => Math.abs(x - grads[0][i]) < 1e-7));
  await assert.rejects(policyUpdate(policy, optimizer, seq(), { ...opts, tisCap: 2 }), /needs the sampler's log-probs/);
  assert.equal(tf.memory().numTensors, before);
  policy.dispose();
});
