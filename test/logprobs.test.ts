// Policy.tokenLogProbs, the one log-prob path: row-chunked (never [B, T, V] logits whole) equals the
// log-softmax of the full logits, in value and in gradient, with logits divided by the temperature;
// and Policy.clone() is an independent copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../src/model/gpt.js';
import { arithmeticTokenizer } from './core-fixtures.js';

await tf.setBackend('cpu');

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const IDS = [[4, 9, 12, 5, 8, 3, 6], [7, 7, 10, 4, 6, 11, 5], [3, 5, 8, 13, 9, 4, 10]];
const WEIGHTS = [[0.3, -1.1, 0.7, 0.2, -0.5, 0.1], [1.3, 0.4, -0.8, 0.9, 0.6, -0.2], [-0.7, 0.5, 0.25, -1.2, 0.8, 0.4]];

/** The reference: log-softmax of the model's full logits / temperature, gathered at the next token. */
function referenceLogProbs(m: GPT, ids: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, t] = ids.shape;
    const logits = tf.div(m.logits(ids).slice([0, 0, 0], [b, t - 1, -1]), temperature) as tf.Tensor3D;
    const onehot = tf.oneHot(ids.slice([0, 1], [b, t - 1]), logits.shape[2]);
    return tf.sum(tf.mul(tf.logSoftmax(logits), onehot), -1) as tf.Tensor2D;
  });
}

for (const tied of [true, false]) {
  test(`chunked tokenLogProbs equals the full log-softmax in value and gradient (${tied ? 'tied' : 'untied'} head)`, () => {
    const tok = arithmeticTokenizer();
    const m = new GPT({ vocabSize: tok.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, initStd: 0.4, seed: 5, tiedEmbeddings: tied }, tok);
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const w = tf.tensor2d(WEIGHTS);
    const params = m.parameters();
    const before = tf.memory().numTensors;
    for (const temperature of [1, 0.7]) {
      const ref = referenceLogProbs(m, ids, temperature);
      // 18 rows: one chunk (default), chunks of 4 (uneven last chunk) and of 1 row
      for (const chunkRows of [undefined, 4, 1]) {
        const lp = tf.tidy(() => m.tokenLogProbs(ids, { temperature, chunkRows }));
        assert.deepEqual(lp.shape, [3, 6]);
        assert.ok(maxDiff(lp.dataSync(), ref.dataSync()) < 1e-5, `values, T=${temperature}, chunkRows=${chunkRows}`);
        lp.dispose();
      }
      const gradOf = (f: () => tf.Tensor2D) => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), w)) as tf.Scalar, params);
        const out = params.map((p) => grads[p.name].dataSync() as Float32Array);
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      };
      const gRef = gradOf(() => referenceLogProbs(m, ids, temperature));
      for (const chunkRows of [undefined, 4, 1]) {
        const g = gradOf(() => m.tokenLogProbs(ids, { temperature, chunkRows }));
        g.forEach((gi, i) => assert.ok(maxDiff(gi, gRef[i]) < 1e-5, `gradient of ${params[i].name}, T=${temperature}, chunkRows=${chunkRows}`));
      }
      ref.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    tf.dispose([ids, w]);
    m.dispose();
  });
}

test('temperature divides the logits: log-probs at T equal log-softmax(logits / T) by hand', () => {
  const tok = arithmeticTokenizer();
  const m = new GPT({ vocabSize: tok.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, initStd: 0.4, seed: 2 }, tok);
  const seq = [5, 9, 11, 4];
  const ids = tf.tensor2d([seq], undefined, 'int32');
  const logits = m.logits(ids).arraySync()[0];
  const lp = m.tokenLogProbs(ids, { temperature: 0.5, chunkRows: 2 }).arraySync()[0];
  for (let t = 0; t < 3; t++) {
    const row = logits[t].map((x) => x / 0.5);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
    assert.ok(Math.abs(lp[t] - (row[seq[t + 1]] - lse)) < 1e-5);
  }
  assert.throws(() => m.tokenLogProbs(ids, { temperature: 0 }), /temperature must be > 0/);
  ids.dispose();
  m.dispose();
});

test('clone() is an independent copy with equal log-probs', () => {
  const tok = arithmeticTokenizer();
  const m = new GPT({ vocabSize: tok.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, seed: 4 }, tok);
  const c = m.clone();
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  assert.deepEqual(c.tokenLogProbs(ids).dataSync(), m.tokenLogProbs(ids).dataSync());
  const p = m.parameters()[0];
  p.assign(tf.add(p, 1));
  assert.notDeepEqual(c.tokenLogProbs(ids).dataSync(), m.tokenLogProbs(ids).dataSync());
  m.dispose();
  assert.equal(c.tokenLogProbs(ids).shape[1], 6, 'the clone outlives its source');
  c.dispose();
  ids.dispose();
});

test('a frozen head (weightGrad false): hidden gradients equal log-softmax over whole logits, either weight layout, any chunking', async () => {
  const { headTokenLogProbs } = await import('../src/model/logprobs.js');
  const n = 7;
  const d = 5;
  const vocab = 13;
  const hidden = tf.variable(tf.randomNormal([n, d], 0, 1, 'float32', 3) as tf.Tensor2D, true, 'fh_hidden');
  const wVd = tf.variable(tf.randomNormal([vocab, d], 0, 0.7, 'float32', 4) as tf.Tensor2D, false, 'fh_w');
  const targets = tf.tensor1d([3, 0, 12, 7, 7, 1, 9], 'int32');
  const dyw = tf.tensor1d([0.5, -1, 2, 0.25, -0.3, 1.1, 0.9]);
  for (const temperature of [1, 0.7]) {
    const want = tf.variableGrads(() => {
      const lp = tf.logSoftmax(tf.div(tf.matMul(hidden, wVd, false, true), temperature));
      return tf.sum(tf.mul(tf.sum(tf.mul(lp, tf.oneHot(targets, vocab)), -1), dyw)) as tf.Scalar;
    }, [hidden]);
    for (const transposeWeight of [true, false]) {
      for (const chunkRows of [2, 3, 100]) {
        const before = tf.memory().numTensors;
        const got = tf.variableGrads(() => {
          const w = transposeWeight ? wVd : (tf.transpose(wVd) as tf.Tensor2D);
          return tf.sum(tf.mul(headTokenLogProbs(hidden, w, transposeWeight, targets, { temperature, chunkRows, weightGrad: false }), dyw)) as tf.Scalar;
        }, [hidden]);
        const what = `τ ${temperature}, transposeWeight ${transposeWeight}, chunkRows ${chunkRows}`;
        assert.ok(Math.abs(got.value.dataSync()[0] - want.value.dataSync()[0]) < 1e-5, `${what}: value`);
        assert.ok(maxDiff(got.grads.fh_hidden.dataSync(), want.grads.fh_hidden.dataSync()) < 1e-5, `${what}: gradient`);
        tf.dispose([got.value, ...Object.values(got.grads)]);
        assert.equal(tf.memory().numTensors, before, `${what}: tensors left behind`);
      }
    }
    tf.dispose([want.value, ...Object.values(want.grads)]);
  }
  tf.dispose([hidden, wVd, targets, dyw]);
});
