// The Llama-family policy against an independent PyTorch forward written from transformers' modeling
// code (scripts/hf_reference.py), on tiny random checkpoints of each family in real HF layout (BF16; llama_tied in F16):
// Llama with llama3 rope scaling + GQA (untied), Llama tied with one kv head (SmolLM2-like), Qwen2
// with q/k/v biases (tied, sharded), Qwen3 with head_dim ≠ hidden/heads and q/k norm (untied, new
// config form). Also: KV-cache decoding equals the full forward, the chunked log-probs' gradient equals
// the unchunked one, sample() with a shared group prefix, no tensor leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/model/hf.js';
import { LlamaModel } from '../src/model/llama.js';
import { openCheckpointTensors } from '../src/model/safetensors-file.js';
import { sample } from '../src/sampling/index.js';
import { FIXTURE_NAMES, type FixtureName, assertAllClose, fixtureDir, reference } from './hf-fixtures.js';

await tf.setBackend('cpu');

// fp32 on both sides; the two differ by summation order only. Logits are O(1-10).
const LOGIT_ATOL = 2e-4;
const LOGIT_RTOL = 1e-4;

function checkAgainstReference(name: FixtureName): void {
  const ref = reference(name);
  const m = loadPretrained(fixtureDir(name), { logProbChunkRows: 5 }); // several chunks per call
  try {
    const ids = tf.tensor2d(ref.ids, undefined, 'int32');
    const logits = m.logits(ids);
    assertAllClose(logits.dataSync(), ref.logits.flat(2), `${name} logits`, LOGIT_ATOL, LOGIT_RTOL);
    const lp = m.tokenLogProbs(ids);
    assert.deepEqual(lp.shape, [ref.ids.length, ref.ids[0].length - 1]);
    assertAllClose(lp.dataSync(), ref.logprobs.flat(), `${name} token log-probs`, LOGIT_ATOL, LOGIT_RTOL);
    // temperature divides the logits before the softmax
    const lpT = m.tokenLogProbs(ids, { temperature: 0.7 });
    const expT = ref.logits.flatMap((row, b) =>
      row.slice(0, -1).map((l, t) => {
        const z = l.map((v) => v / 0.7);
        const mx = Math.max(...z);
        return z[ref.ids[b][t + 1]] - mx - Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
      }),
    );
    assertAllClose(lpT.dataSync(), expT, `${name} log-probs at temperature 0.7`, LOGIT_ATOL, LOGIT_RTOL);
    tf.dispose([ids, logits, lp, lpT]);
  } finally {
    m.dispose();
  }
}

for (const name of FIXTURE_NAMES) {
  test(`${name}: logits and token log-probs match the PyTorch reference (atol ${LOGIT_ATOL}, rtol ${LOGIT_RTOL})`, () => checkAgainstReference(name));
}

test('config details reach the model: GQA heads, head_dim, biases, q/k norm, tying', () => {
  const q3 = loadPretrained(fixtureDir('qwen3'));
  const q2 = loadPretrained(fixtureDir('qwen2'));
  const ll = loadPretrained(fixtureDir('llama'));
  try {
    assert.equal(q3.config.headDim, 16);
    assert.equal(q3.config.qkNorm, true);
    assert.ok(q3.namedParameters().some(([n]) => n === 'model.layers.1.self_attn.k_norm.weight'));
    assert.equal(q2.config.qkvBias, true);
    assert.equal(q2.config.tieEmbeddings, true);
    assert.ok(!q2.namedParameters().some(([n]) => n === 'lm_head.weight'));
    assert.ok(q2.namedParameters().some(([n]) => n === 'model.layers.2.self_attn.v_proj.bias'));
    assert.equal(ll.config.rope.type, 'llama3');
    assert.equal(ll.config.kvHeads, 2);
    assert.ok(ll.namedParameters().some(([n]) => n === 'lm_head.weight'));
    // the fixtures cover both 16-bit formats end to end
    const dtypes = (name: FixtureName) => new Set([...openCheckpointTensors(fixtureDir(name)).values()].map((e) => e.dtype));
    assert.deepEqual(dtypes('llama_tied'), new Set(['F16']));
    assert.deepEqual(dtypes('qwen2'), new Set(['BF16']));
  } finally {
    [q3, q2, ll].forEach((m) => m.dispose());
  }
});

for (const name of ['llama', 'qwen3', 'qwen2'] as const) {
  test(`${name}: KV-cache decoding (prefill, then one token at a time, a group sharing the prefix) equals the full forward`, () => {
    const ref = reference(name);
    const m = loadPretrained(fixtureDir(name));
    try {
      const seq = ref.ids[0];
      const tp = 4;
      const full = tf.tidy(() => m.logits(tf.tensor2d([seq], undefined, 'int32')).arraySync()[0]);
      const { logits, cache: c0 } = m.prefill(tf.tensor2d([seq.slice(0, tp)], undefined, 'int32'));
      assertAllClose(logits.dataSync(), full[tp - 1], 'prefill logits', 1e-4, 1e-4);
      logits.dispose();
      const cache = c0.select([0, 0, 0]); // three rows sharing one prompt row
      c0.dispose();
      for (let t = tp; t < seq.length; t++) {
        const step = m.decode(tf.tensor2d([[seq[t]], [seq[t]], [seq[t]]], undefined, 'int32'), cache);
        const rows = step.arraySync();
        for (const r of rows) assertAllClose(r, full[t], `decode step at position ${t}`, 1e-4, 1e-4);
        step.dispose();
      }
      cache.dispose();
    } finally {
      m.dispose();
    }
  });
}

test('prompts of different lengths decode in one batch (left-padded, masked cache) as they would alone', () => {
  const ref = reference('llama');
  const m = loadPretrained(fixtureDir('llama'));
  try {
    const a = ref.ids[0].slice(0, 3);
    const b = ref.ids[1].slice(0, 6);
    const fa = tf.tidy(() => m.logits(tf.tensor2d([[...a, 5]], undefined, 'int32')).arraySync()[0][3]);
    const fb = tf.tidy(() => m.logits(tf.tensor2d([[...b, 5]], undefined, 'int32')).arraySync()[0][6]);
    const pa = m.prefill(tf.tensor2d([a], undefined, 'int32'));
    const pb = m.prefill(tf.tensor2d([b], undefined, 'int32'));
    const cache = pa.cache.concat([pb.cache]);
    const step = m.decode(tf.tensor2d([[5], [5]], undefined, 'int32'), cache);
    const rows = step.arraySync();
    assertAllClose(rows[0], fa, 'short prompt', 1e-4, 1e-4);
    assertAllClose(rows[1], fb, 'long prompt', 1e-4, 1e-4);
    tf.dispose([pa.logits, pb.logits, step]);
    [pa.cache, pb.cache, cache].forEach((c) => c.dispose());
  } finally {
    m.dispose();
  }
});

test('gradients of the chunked token log-probs equal those of log_softmax over whole logits', () => {
  const ref = reference('qwen2');
  const m = loadPretrained(fixtureDir('qwen2'), { logProbChunkRows: 3 });
  try {
    const ids = tf.tensor2d(ref.ids, undefined, 'int32');
    const w = tf.tensor2d(ref.ids.map((r) => r.slice(1).map((_, i) => ((i * 37) % 11) / 11 - 0.4)));
    const chunked = tf.variableGrads(() => tf.sum(tf.mul(m.tokenLogProbs(ids, { temperature: 0.8 }), w)) as tf.Scalar, m.parameters());
    const whole = tf.variableGrads(() => {
      const [b, t] = ids.shape;
      const logits = m.logits(ids).slice([0, 0, 0], [b, t - 1, -1]);
      const lp = tf.logSoftmax(tf.div(logits, 0.8), -1);
      const mask = tf.oneHot(ids.slice([0, 1], [b, t - 1]), m.config.vocabSize);
      return tf.sum(tf.mul(tf.sum(tf.mul(lp, mask), -1), w)) as tf.Scalar;
    }, m.parameters());
    assert.ok(Math.abs(chunked.value.dataSync()[0] - whole.value.dataSync()[0]) < 1e-4);
    for (const p of m.parameters()) {
      assertAllClose(chunked.grads[p.name].dataSync(), whole.grads[p.name].dataSync(), `gradient of ${p.name}`, 1e-4, 1e-3);
    }
    tf.dispose([ids, w, chunked.value, whole.value, ...Object.values(chunked.grads), ...Object.values(whole.grads)]);
  } finally {
    m.dispose();
  }
});

test('sample() runs on a tiny Llama (n = 4, grouped prefix): ids in range, log-probs equal the model\'s, seeded', async () => {
  const m = loadPretrained(fixtureDir('llama_tied'));
  try {
    const prompts = [[1, 5, 9, 14], [1, 7]];
    const before = tf.memory().numTensors;
    const out = await sample(m, prompts, { n: 4, maxNewTokens: 6, seed: 3, temperature: 1, stopOnEos: false });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak from sampling');
    assert.equal(out.length, 2);
    for (const [i, group] of out.entries()) {
      assert.equal(group.length, 4);
      for (const c of group) {
        assert.equal(c.ids.length, 6);
        assert.ok(c.ids.every((id) => id >= 0 && id < m.config.vocabSize));
        // the sampler's log-probs are the model's (temperature 1) under the same prompt
        const lp = tf.tidy(() => m.tokenLogProbs(tf.tensor2d([[...prompts[i], ...c.ids]], undefined, 'int32')).dataSync());
        assertAllClose(c.logprobs, Array.from(lp.slice(prompts[i].length - 1)), 'sampled log-probs', 2e-4, 1e-4);
      }
    }
    const again = await sample(m, prompts, { n: 4, maxNewTokens: 6, seed: 3, temperature: 1, stopOnEos: false });
    assert.deepEqual(again.map((g) => g.map((c) => c.ids)), out.map((g) => g.map((c) => c.ids)));
  } finally {
    m.dispose();
  }
});

test('forward, log-probs and decoding leak no tensors; clone() is an independent frozen copy', () => {
  const m = loadPretrained(fixtureDir('qwen3'));
  try {
    const ids = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tf.dispose([m.logits(ids), m.tokenLogProbs(ids)]);
      const { logits, cache } = m.prefill(ids);
      const d = m.decode(tf.tensor2d([[7]], undefined, 'int32'), cache);
      tf.dispose([logits, d]);
      cache.dispose();
    }
    // tensor2d([[7]]) inside decode's argument is the caller's: two of them
    assert.ok(tf.memory().numTensors - before <= 2, `${tf.memory().numTensors - before} tensors leaked`);
    const c = m.clone();
    const a = m.logits(ids).dataSync();
    const b = c.logits(ids).dataSync();
    assertAllClose(b, a, 'clone logits', 0, 0);
    assert.ok(c.parameters().every((p) => !p.trainable));
    const w = m.namedParameters()[0][1];
    w.assign(tf.zerosLike(w));
    assertAllClose(c.logits(ids).dataSync(), a, 'clone after the original changed', 0, 0);
    c.dispose();
    ids.dispose();
  } finally {
    m.dispose();
  }
});

test('a random-init LlamaModel runs with no checkpoint (seeded)', () => {
  const cfg = loadPretrained(fixtureDir('llama')).config;
  const a = new LlamaModel(cfg, { vocabSize: 99, eosId: 2, padId: 0, encode: () => [], decode: () => '', toJSON: () => ({}) }, undefined, { seed: 5 });
  const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
  assert.ok(a.logits(ids).dataSync().every(Number.isFinite));
  a.dispose();
});
