// Objectives: advantages, clipped surrogate, aggregations, GSPO ratios, k3 KL and their gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { groupAdvantages, sampleStd, zeroStdFraction } from '../src/rl/advantages.js';
import {
  aggregate, clippedSurrogate, k3, logRatio, ObjectiveConfig, policyLoss, stopGradient, tokenEntropy, type Normalizer,
} from '../src/rl/loss.js';
import { buildSequenceBatch } from '../src/rl/batch.js';

await tf.setBackend('cpu');
const close = (a: number, b: number, tol = 1e-5, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);
const closeAll = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) close(a[i], b[i], tol, `[${i}]`);
};

test('group advantages: sample std, constant groups 0, batch and none scaling', () => {
  const s = Math.sqrt(1 / 3); // std of [1,0,0,1] with n−1
  close(sampleStd([1, 0, 0, 1]), s);
  const [g, c] = groupAdvantages([[1, 0, 0, 1], [1, 1, 1, 1]], { scale: 'group', eps: 1e-4 });
  closeAll(g, [0.5 / (s + 1e-4), -0.5 / (s + 1e-4), -0.5 / (s + 1e-4), 0.5 / (s + 1e-4)]);
  assert.deepEqual(c, [0, 0, 0, 0]);
  const [n] = groupAdvantages([[2, 0, 1]], { scale: 'none', eps: 1e-4 });
  closeAll(n, [1, -1, 0]);
  // batch: centre on each group's mean, divide by the std of all 6 rewards
  const rewards = [[1, 0, 0], [1, 1, 0]];
  const bs = sampleStd([1, 0, 0, 1, 1, 0]);
  const b = groupAdvantages(rewards, { scale: 'batch', eps: 0 });
  closeAll(b[0], [(1 - 1 / 3) / bs, (-1 / 3) / bs, (-1 / 3) / bs]);
  closeAll(b[1], [(1 / 3) / bs, (1 / 3) / bs, (-2 / 3) / bs]);
  assert.equal(zeroStdFraction([[1, 1], [0, 1], [0, 0]]), 2 / 3);
  assert.deepEqual(groupAdvantages([[0.7]], { scale: 'group', eps: 1e-4 }), [[0]]);
});

test('clipped surrogate matches hand values for positive and negative advantages (clip-higher)', () => {
  const ratio = tf.tensor2d([[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]]);
  const out = clippedSurrogate(ratio, tf.tensor1d([1, -1]), 0.2, 0.28).arraySync();
  closeAll(out[0], [-0.5, -1, -1.28]);
  closeAll(out[1], [0.8, 1, 1.5]);
});

test('aggregations: grpo, bnpo, dr_grpo, dapo', () => {
  const per = tf.tensor2d([[1, 2, 3], [4, 9, 9]]);
  const mask = tf.tensor2d([[1, 1, 1], [1, 0, 0]]);
  const norm: Normalizer = { sequences: 2, tokens: 8, microBatches: 2, maxCompletionLength: 4 };
  close(aggregate(per, mask, 'grpo', norm).arraySync(), (2 + 4) / 2);
  close(aggregate(per, mask, 'bnpo', norm).arraySync(), 10 / 4 / 2);
  close(aggregate(per, mask, 'dr_grpo', norm).arraySync(), 10 / (2 * 4));
  close(aggregate(per, mask, 'dapo', norm).arraySync(), 10 / 8);
});

test('k3 KL, GSPO sequence ratio and entropy by hand', () => {
  close(k3(tf.scalar(Math.log(0.5)), tf.scalar(Math.log(0.25))).arraySync() as number, 0.5 + Math.log(2) - 1);
  close(k3(tf.scalar(-1.3), tf.scalar(-1.3)).arraySync() as number, 0);
  const lr = logRatio(tf.tensor2d([[0.1, 0.3, 9]]), tf.tensor2d([[0, 0, 0]]), tf.tensor2d([[1, 1, 0]]), 'sequence');
  closeAll(lr.dataSync(), [0.2, 0.2, 0.2]);
  const h = tokenEntropy(tf.tensor3d([[[0, 0, 0, 0], [Math.log(3), 0, -1e9, -1e9]]])).dataSync();
  close(h[0], Math.log(4));
  close(h[1], -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)), 1e-5);
});

test('on-policy grpo gradient is −Â_j / (G |o_j|) per token (ratio 1, the paper loss)', () => {
  const cfg = ObjectiveConfig.parse({});
  const logp = tf.variable(tf.tensor2d([[-1, -2, -0.5], [-0.3, -0.7, -2]]));
  const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
  const adv = tf.tensor1d([0.8, -1.5]);
  const norm: Normalizer = { sequences: 2, tokens: 5, microBatches: 1, maxCompletionLength: 3 };
  const g = tf.grad((x: tf.Tensor) => policyLoss({ logp: x as tf.Tensor2D, oldLogp: stopGradient(x as tf.Tensor2D), advantages: adv, mask }, cfg, norm).loss)(logp);
  closeAll(g.dataSync(), [-0.8 / 6, -0.8 / 6, -0.8 / 6, 1.5 / 4, 1.5 / 4, 0]);
  const parts = policyLoss({ logp, oldLogp: logp, advantages: adv, mask }, cfg, norm);
  close(parts.loss.arraySync(), -(0.8 + -1.5) / 2); // ratio 1: loss = −mean Â
});

test('stopGradient: value passes, gradient is zero', () => {
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(stopGradient(x), x)))(tf.tensor1d([2, 3]));
  closeAll(g.dataSync(), [2, 3]); // d/dx (c·x) with c = x held constant
});

// Central differences in float64 arithmetic of float32 losses: h large enough, points away from kinks.
function finiteDiffCheck(cfg: ObjectiveConfig, lossType: string) {
  const B = 3, L = 4;
  const rnd = mulberry(7);
  const old = Array.from({ length: B * L }, () => -0.3 - rnd());
  const cur = old.map((o) => o + (rnd() - 0.5) * 0.6); // ratios in about [0.74, 1.35]: some clipped
  const ref = old.map((o) => o + (rnd() - 0.5) * 0.4);
  const mask = tf.tensor2d([1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0], [B, L]);
  const adv = tf.tensor1d([1.1, -0.7, 0.4]);
  const norm: Normalizer = { sequences: B, tokens: 9, microBatches: 1, maxCompletionLength: L };
  const lossAt = (x: tf.Tensor) =>
    policyLoss({ logp: x as tf.Tensor2D, oldLogp: tf.tensor2d(old, [B, L]), refLogp: tf.tensor2d(ref, [B, L]), advantages: adv, mask }, cfg, norm).loss;
  const x0 = tf.tensor2d(cur, [B, L]);
  const g = tf.grad(lossAt)(x0).dataSync();
  const h = 1e-3;
  for (let i = 0; i < B * L; i++) {
    const plus = cur.slice(); plus[i] += h;
    const minus = cur.slice(); minus[i] -= h;
    const fd = ((lossAt(tf.tensor2d(plus, [B, L])).arraySync() as number) - (lossAt(tf.tensor2d(minus, [B, L])).arraySync() as number)) / (2 * h);
    close(g[i], fd, 2e-3, `${lossType} ${cfg.importanceSampling} β=${cfg.beta} d/dlogp[${i}]`);
  }
}

test('gradients match finite differences for every loss type, token and sequence ratios, with KL', () => {
  for (const lossType of ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const) {
    for (const importanceSampling of ['token', 'sequence'] as const) {
      const eps = importanceSampling === 'sequence' ? { epsilonLow: 0.05, epsilonHigh: 0.08 } : { epsilonLow: 0.2, epsilonHigh: 0.28 };
      finiteDiffCheck(ObjectiveConfig.parse({ lossType, importanceSampling, beta: 0.05, ...eps }), lossType);
    }
  }
});

test('clip counts: low only for Â<0 below 1−ε, high only for Â>0 above 1+ε_high', () => {
  const cfg = ObjectiveConfig.parse({ epsilonLow: 0.2, epsilonHigh: 0.3 });
  const oldLogp = tf.zeros([2, 3]) as tf.Tensor2D;
  const logp = tf.log(tf.tensor2d([[0.7, 1.25, 1.4], [0.7, 1.25, 1.4]])) as tf.Tensor2D;
  const parts = policyLoss({ logp, oldLogp, advantages: tf.tensor1d([1, -1]), mask: tf.ones([2, 3]) as tf.Tensor2D }, cfg, { sequences: 2, tokens: 6, microBatches: 1, maxCompletionLength: 3 });
  assert.equal(parts.clippedHigh.arraySync(), 1); // row 0, ratio 1.4
  assert.equal(parts.clippedLow.arraySync(), 1); // row 1, ratio 0.7
});

test('sequence batch: right padding and the completion mask in log-prob layout', () => {
  const b = buildSequenceBatch([{ prompt: [5, 6], completion: [7, 8, 9] }, { prompt: [5, 6, 6, 6], completion: [1] }], 0);
  assert.equal(b.length, 5);
  assert.deepEqual(Array.from(b.ids), [5, 6, 7, 8, 9, 5, 6, 6, 6, 1]);
  assert.deepEqual(Array.from(b.mask), [0, 1, 1, 1, 0, 0, 0, 1]);
  assert.deepEqual(b.completionTokens, [3, 1]);
});

test('no tensor leaks from policyLoss', () => {
  const cfg = ObjectiveConfig.parse({ beta: 0.1 });
  const x = tf.randomNormal([2, 3]) as tf.Tensor2D;
  const mask = tf.ones([2, 3]) as tf.Tensor2D;
  const adv = tf.tensor1d([1, -1]);
  const run = () => { const p = policyLoss({ logp: x, oldLogp: x, refLogp: x, advantages: adv, mask }, cfg, { sequences: 2, tokens: 6, microBatches: 1, maxCompletionLength: 3 }); tf.dispose([p.loss, p.policyLoss, p.klSum, p.clippedLow, p.clippedHigh, p.entropySum, p.entropyCount, ...Object.values(p.metrics)]); };
  run();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) run();
  assert.equal(tf.memory().numTensors, before);
});

function mulberry(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
