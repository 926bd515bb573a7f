import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { sample } from '../src/sampling/index.js';
import { tinyGPT } from './core-fixtures.js';

test('tf.memory().numTensors is unchanged over 50 sample + train iterations', async () => {
  const m = tinyGPT({ dModel: 8, nLayers: 1, maxSeqLen: 24 });
  const opt = tf.train.adam(1e-3);
  const prompts = ['1+2=', '(3*4)-5=']; // two lengths: exercises the padded, compacting decode path
  const iteration = async (i: number) => {
    const groups = await sample(m, prompts, { n: 3, maxNewTokens: 6, seed: i, topK: 5, temperature: 0.9 });
    // one policy-gradient-shaped step on the sampled sequences (right-padded with pad ids)
    const seqs = groups.flatMap((g, p) => g.map((c) => [...m.tokenizer.encode(prompts[p]), ...c.ids]));
    const width = Math.max(...seqs.map((s) => s.length));
    const ids = tf.tensor2d(seqs.map((s) => [...s, ...new Array(width - s.length).fill(m.tokenizer.padId)]), undefined, 'int32');
    opt.minimize(() => tf.neg(tf.mean(m.tokenLogProbs(ids))) as tf.Scalar, false, m.parameters());
    ids.dispose();
  };
  await iteration(0); // the optimizer creates its moment slots on the first step
  const before = tf.memory().numTensors;
  for (let i = 1; i <= 50; i++) await iteration(i);
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  m.dispose();
});
