// The batcher inside `igrpo serve` (in-process, to read its counters): concurrent requests with equal
// sampling parameters share one generate() call; different parameters never share one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import OpenAI from 'openai';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { buildServer } from '../src/serve/app.js';

test('16 concurrent clients are sampled in a few calls; a different temperature gets its own call', async () => {
  await tf.setBackend('cpu');
  const policy = loadPolicy(dataPath('policy'));
  const server = buildServer(policy, { modelName: 'tiny', port: 0, batch: { windowMs: 20 } });
  const url = await server.listen();
  try {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const ask = (seed: number, temperature = 1) => client.completions.create({ model: 'tiny', prompt: 'Q:1+2*3\n', n: 2, max_tokens: 12, seed, temperature });
    const before = tf.memory().numTensors;
    const rs = await Promise.all([...Array.from({ length: 16 }, (_, i) => ask(i)), ask(99, 0.5)]);
    assert.equal(rs.length, 17);
    rs.forEach((r) => assert.equal(r.choices.length, 2));
    const s = server.batcher.stats;
    assert.equal(s.rows, 34);
    assert.ok(s.maxJobs >= 8, `at most ${s.maxJobs} requests shared a call`);
    assert.ok(s.calls >= 2 && s.calls <= 4, `${s.calls} calls`);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  } finally {
    await server.close();
    policy.dispose();
  }
});
