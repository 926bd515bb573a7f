// Checkpoints and resume: a run stopped and resumed continues bit-identically (weights, optimizer,
// data order, sampling); a run killed mid-checkpoint resumes from the last complete one with its logs
// cut back to it; a non-finite loss stops training with a clear message and keeps the last checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { type MetricsRecord } from '../src/train/records.js';
import { readMetrics } from '../src/train/records-file.js';
import { Trainer, TrainingStoppedError } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

import { selectBackend } from '../src/backend/select.js';

await tf.setBackend('cpu');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-resume-'));
const cfgFor = (backend: string) => tinyConfig({ algo: 'igrpo', steps: 4, backend, checkpoint: { every: 2, keep: 3 } });

/** Metrics without the wall-clock fields (those differ run to run by nature). */
const stable = (ms: MetricsRecord[]) => ms.map(({ wallMs, tokensPerSecond, eval: ev, ...rest }) => ({ ...rest, eval: ev && { ...ev } }));
const weights = (t: Trainer) => t.policy.parameters().map((p) => Array.from(p.dataSync()));

async function straightRun(cfg: ReturnType<typeof cfgFor>): Promise<{ out: string; w: number[][]; rollouts: string }> {
  const out = tmp();
  const t = await Trainer.create(cfg, { policy: tinyPolicy(9), score: lengthScore, out });
  await t.run();
  const w = weights(t);
  t.dispose();
  return { out, w, rollouts: fs.readFileSync(path.join(out, 'rollouts.jsonl'), 'utf8') };
}

for (const backend of ['cpu', 'wasm']) test(`resume is bit-identical (${backend}), also after a kill mid-checkpoint`, async () => {
  await selectBackend(backend);
  const cfg = cfgFor(backend);
  const ref = await straightRun(cfg);
  assert.deepEqual(listCheckpoints(ref.out).map((c) => c.step), [2, 4]);

  // run 3 steps (a checkpoint at 2), then simulate a kill in the middle of writing checkpoint 4:
  // a temporary folder and a half-written log line past the checkpoint
  const out = tmp();
  const a = await Trainer.create(cfg, { policy: tinyPolicy(9), score: lengthScore, out });
  for (let i = 0; i < 3; i++) await a.step();
  a.dispose();
  fs.mkdirSync(path.join(out, 'checkpoints', '.tmp-step-4-999', 'policy'), { recursive: true });
  fs.appendFileSync(path.join(out, 'metrics.jsonl'), '{"step": 3, "trunc');

  const b = await Trainer.create(cfg, { score: lengthScore, out, resume: true });
  assert.equal(b.stepIndex, 2);
  assert.equal(readMetrics(path.join(out, 'metrics.jsonl')).length, 2, 'logs cut back to the checkpoint');
  assert.equal(fs.existsSync(path.join(out, 'checkpoints', '.tmp-step-4-999')), false);
  await b.run();
  assert.deepEqual(weights(b), ref.w);
  b.dispose();
  assert.deepEqual(stable(readMetrics(path.join(out, 'metrics.jsonl'))), stable(readMetrics(path.join(ref.out, 'metrics.jsonl'))));
  assert.equal(fs.readFileSync(path.join(out, 'rollouts.jsonl'), 'utf8'), ref.rollouts);
  await tf.setBackend('cpu');
});

test('a fresh run refuses a folder that holds one; resume refuses a changed config', async () => {
  const out = tmp();
  const t = await Trainer.create(tinyConfig({ steps: 2, checkpoint: { every: 1 } }), { policy: tinyPolicy(1), score: lengthScore, out });
  await t.step();
  t.dispose();
  await assert.rejects(() => Trainer.create(tinyConfig({ steps: 2 }), { policy: tinyPolicy(1), out }), /already holds a run/);
  await assert.rejects(() => Trainer.create(tinyConfig({ steps: 2, seed: 5, checkpoint: { every: 1 } }), { out, resume: true }), /different config/);
});

test('a non-finite loss stops training, names the last good checkpoint and leaves the weights untouched', async () => {
  const out = tmp();
  let poison = false;
  const score: typeof lengthScore = (p, c) => {
    const s = lengthScore(p, c);
    return poison ? { ...s, reward: c.text.length % 2 ? NaN : s.reward } : s;
  };
  const t = await Trainer.create(tinyConfig({ algo: 'grpo', steps: 4, checkpoint: { every: 1 } }), { policy: tinyPolicy(4), score, out });
  await t.step();
  const good = weights(t);
  poison = true;
  await assert.rejects(() => t.step(), (e: Error) => e instanceof TrainingStoppedError && /non-finite/.test(e.message) && /step-000001/.test(e.message));
  assert.deepEqual(weights(t), good);
  assert.deepEqual(listCheckpoints(out).map((c) => c.step), [1]);
  t.dispose();
});
