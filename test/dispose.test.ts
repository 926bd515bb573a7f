// Trainer.dispose() gives back every tensor the trainer made, on every backend we ship (issue 14.6):
// tf.memory().numTensors returns to its count before the trainer (and its policy) were made, after a
// step and a checkpoint, and again after resuming from that checkpoint. wasm and webgpu keep Adam's
// moments as tensors (their initial copies used to leak); cpu and native keep them as host arrays.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { Adam } from '../src/optim/adam.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';
import { Trainer } from '../src/train/trainer.js';
import { SKIP_WEBGPU, startWebgpu, stopWebgpu } from './webgpu_helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-dispose-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function trainerRoundTrip(backend: string): Promise<void> {
  const cfg = tinyConfig({ steps: 2, backend, checkpoint: { every: 1, keep: 2 }, objective: { beta: 0.04 } });
  const out = path.join(tmp, backend);
  const before = tf.memory().numTensors;
  const t = await Trainer.create(cfg, { out, policy: tinyPolicy(1), score: lengthScore });
  await t.step();
  t.dispose();
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors left after a trainer's dispose()`);
  const resumed = await Trainer.create(cfg, { out, resume: true, score: lengthScore });
  assert.equal(resumed.stepIndex, 1);
  await resumed.step();
  resumed.dispose();
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors left after a resumed trainer's dispose()`);
}

async function adamRoundTrip(backend: string): Promise<void> {
  const params = [tf.variable(tf.ones([3, 4])), tf.variable(tf.zeros([5]))];
  const before = tf.memory().numTensors;
  const opt = new Adam(params, { lr: 1e-2 });
  opt.setState(await opt.getStateAsync());
  opt.dispose();
  assert.equal(tf.memory().numTensors, before, `${backend}: Adam left tensors behind`);
  tf.dispose(params);
}

for (const backend of ['cpu', 'wasm', 'native']) {
  test(`Trainer.dispose() and Adam leave no tensors on ${backend}`, async () => {
    await selectBackend(backend);
    await adamRoundTrip(backend);
    await trainerRoundTrip(backend);
  });
}

test('Trainer.dispose() and Adam leave no tensors on webgpu', { skip: SKIP_WEBGPU ? 'IGRPO_SKIP_WEBGPU=1' : false }, async () => {
  await startWebgpu();
  try {
    await tf.setBackend('webgpu');
    await adamRoundTrip('webgpu');
    await trainerRoundTrip('webgpu');
  } finally {
    await stopWebgpu();
  }
});
