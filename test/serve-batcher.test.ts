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

test('chat requests go through the tokenizer\'s chat template when it has one (ids as it returns them)', async () => {
  await tf.setBackend('cpu');
  const policy = loadPolicy(dataPath('policy'));
  const calls: unknown[] = [];
  const templated = Object.create(policy.tokenizer, {
    chatTemplate: { value: () => 'a template' },
    applyChatTemplate: {
      value: (messages: { role: string; content: string }[], opts: { addGenerationPrompt: boolean }) => {
        calls.push({ messages, opts });
        if (messages.some((m) => m.content === 'raise')) throw new Error('raise_exception: no such role');
        const text = `Q:${messages.map((m) => m.content).join('+')}\n`;
        return { text, ids: policy.tokenizer.encode(text) };
      },
    },
  });
  const wrapped = Object.create(policy, { tokenizer: { value: templated } });
  const server = buildServer(wrapped, { modelName: 'tiny', port: 0 });
  const url = await server.listen();
  try {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'system', content: '1' }, { role: 'user', content: '2*3' }], max_tokens: 10, seed: 4 });
    const plain = await client.completions.create({ model: 'tiny', prompt: 'Q:1+2*3\n', max_tokens: 10, seed: 4 });
    assert.equal(chat.choices[0].message.content, plain.choices[0].text);
    assert.deepEqual(calls[0], { messages: [{ role: 'system', content: '1' }, { role: 'user', content: '2*3' }], opts: { addGenerationPrompt: true } });
    const models = await client.models.list();
    assert.equal((models.data[0] as unknown as { chat_template: string }).chat_template, 'tokenizer');
    await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'raise' }] }), (e: Error & { status?: number }) => e.status === 400 && /chat template failed: raise_exception/.test(e.message));
  } finally {
    await server.close();
    policy.dispose();
  }
});
