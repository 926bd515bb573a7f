import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { AUTO_ORDER, selectBackend } from '../src/backend/select.js';
import { sample } from '../src/sampling/index.js';
import { tinyGPT } from './core-fixtures.js';

test('an unknown backend is an error listing the valid names', async () => {
  await assert.rejects(selectBackend('cuda'), /unknown backend 'cuda'; valid names: auto, tensorflow-gpu, tensorflow, native, webgpu, wasm, cpu/);
});

test('a backend asked for by name that cannot start is an error naming what to install', async () => {
  // tfjs-node is overridden to plain tfjs in package.json (danfojs), so it registers no 'tensorflow' backend
  await assert.rejects(selectBackend('tensorflow'), /backend 'tensorflow' could not start: .*registers no tensorflow backend; to use it, install the real @tensorflow\/tfjs-node/);
  let gpu: unknown;
  try {
    gpu = await selectBackend('tensorflow-gpu');
  } catch (e) {
    assert.match((e as Error).message, /backend 'tensorflow-gpu' could not start: .*; to use it, install @tensorflow\/tfjs-node-gpu/);
  }
  if (gpu) assert.equal(tf.getBackend(), 'tensorflow'); // only where tfjs-node-gpu really is installed
});

test('auto picks the first backend that starts and says why the earlier ones did not', async () => {
  const r = await selectBackend('auto');
  assert.equal(tf.getBackend(), r.tfBackend);
  const order = AUTO_ORDER.indexOf(r.name);
  assert.ok(order >= 0, 'auto never picks webgpu');
  assert.deepEqual(r.skipped.map((s) => s.name), AUTO_ORDER.slice(0, order));
  assert.ok(r.skipped.every((s) => s.why.length > 0));
  const prev = process.env.IGRPO_BACKEND;
  process.env.IGRPO_BACKEND = 'cpu';
  try {
    const env = await selectBackend();
    assert.equal(env.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
  } finally {
    if (prev === undefined) delete process.env.IGRPO_BACKEND;
    else process.env.IGRPO_BACKEND = prev;
  }
});

test('cpu and wasm sample the same tokens for the same seed', async () => {
  await selectBackend('cpu');
  const m = tinyGPT();
  const opts = { n: 3, maxNewTokens: 12, seed: 17 };
  const prompts = ['12+34=', '(5*6)-7='];
  const onCpu = await sample(m, prompts, opts);
  const withTopK = await sample(m, prompts, { ...opts, topK: 4, temperature: 0.8 });
  await selectBackend('wasm'); // the model's variables move to the new backend on first use
  assert.equal(tf.getBackend(), 'wasm');
  const onWasm = await sample(m, prompts, opts);
  const withTopKWasm = await sample(m, prompts, { ...opts, topK: 4, temperature: 0.8 });
  assert.deepEqual(onWasm.map((g) => g.map((c) => c.ids)), onCpu.map((g) => g.map((c) => c.ids)));
  assert.deepEqual(withTopKWasm.map((g) => g.map((c) => c.ids)), withTopK.map((g) => g.map((c) => c.ids)));
  onWasm.flat().forEach((c, i) => c.logprobs.forEach((x, t) => assert.ok(Math.abs(x - onCpu.flat()[i].logprobs[t]) < 1e-4)));
  m.dispose();
  await selectBackend('cpu');
});
