// Run-folder rules at the Trainer level (issue 14, points 2–5): the lock (stale after a crash on this
// host: taken over, saying so; another host's: refused naming it), --overwrite only on a run folder and
// only after everything has loaded, resume that means resume (and falls back past a corrupt checkpoint),
// the resolved backend compared instead of its name, and config mismatches that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { readMetrics } from '../src/train/records-file.js';
import { RunFolderError } from '../src/train/run-lock.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-runfolder-'));
const weights = (t: Trainer) => t.policy.parameters().map((p) => Array.from(p.dataSync()));
const collect = () => {
  const lines: string[] = [];
  return { lines, warn: (m: string) => void lines.push(m) };
};

/** A finished run of `steps` steps, a checkpoint after each (keeps 3). */
async function makeRun(out: string, steps = 2, over = {}): Promise<number[][]> {
  const t = await Trainer.create(tinyConfig({ steps, checkpoint: { every: 1, keep: 3 }, ...over }), { policy: tinyPolicy(3), score: lengthScore, out });
  await t.run();
  const w = weights(t);
  t.dispose();
  return w;
}

test('the lock: a second trainer on a held folder is refused naming the holder; released by dispose()', async () => {
  const out = tmp();
  const a = await Trainer.create(tinyConfig(), { policy: tinyPolicy(1), score: lengthScore, out });
  const lock = JSON.parse(fs.readFileSync(path.join(out, '.lock'), 'utf8'));
  assert.deepEqual([lock.pid, lock.host], [process.pid, os.hostname()]);
  await assert.rejects(() => Trainer.create(tinyConfig(), { policy: tinyPolicy(1), out, overwrite: true }),
    (e: Error) => e instanceof RunFolderError && e.message.includes(`pid ${process.pid} on host ${os.hostname()}`));
  await assert.rejects(() => Trainer.create(tinyConfig(), { out, resume: true }), /in use by another training/);
  await a.step();
  a.dispose();
  assert.equal(fs.existsSync(path.join(out, '.lock')), false);
});

test('a stale lock (this host, dead pid) is taken over saying so; another host\'s lock is refused', async () => {
  const out = tmp();
  await makeRun(out, 1);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  fs.writeFileSync(path.join(out, '.lock'), JSON.stringify({ pid: dead, host: os.hostname(), startedAt: '2026-01-01T00:00:00Z' }));
  const w = collect();
  const t = await Trainer.create(tinyConfig({ steps: 2, checkpoint: { every: 1, keep: 3 } }), { out, resume: true, score: lengthScore, warn: w.warn });
  assert.match(w.lines.join('\n'), new RegExp(`taking over a lock of pid ${dead} on host .*no longer running`));
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, '.lock'), 'utf8')).pid, process.pid);
  t.dispose();
  fs.writeFileSync(path.join(out, '.lock'), JSON.stringify({ pid: dead, host: 'elsewhere', startedAt: '2026-01-01T00:00:00Z' }));
  await assert.rejects(() => Trainer.create(tinyConfig({ steps: 2 }), { out, resume: true }), /pid \d+ on host elsewhere.*if that process is gone, delete .*\.lock/);
});

test('overwrite replaces only a run, only after the policy loads, and never removes foreign files', async () => {
  // not a run: refused, the file kept
  const notRun = tmp();
  fs.writeFileSync(path.join(notRun, 'thesis.tex'), 'precious');
  await assert.rejects(() => Trainer.create(tinyConfig(), { policy: tinyPolicy(1), out: notRun, overwrite: true }), /holds no run/);
  assert.equal(fs.readFileSync(path.join(notRun, 'thesis.tex'), 'utf8'), 'precious');

  // a run, but the new policy does not load: the run is untouched
  const out = tmp();
  await makeRun(out, 2);
  const before = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
  await assert.rejects(() => Trainer.create(tinyConfig({ policy: path.join(out, 'typo') }), { out, overwrite: true }), /typo/);
  assert.equal(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'), before);
  assert.deepEqual(listCheckpoints(out).map((c) => c.step), [1, 2]);
  assert.equal(fs.existsSync(path.join(out, '.lock')), false);

  // a run with a foreign file: refused naming it, nothing removed
  fs.writeFileSync(path.join(out, 'notes.md'), 'mine');
  await assert.rejects(() => Trainer.create(tinyConfig(), { policy: tinyPolicy(1), out, overwrite: true }), /files a run does not write \(notes\.md\)/);
  assert.equal(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'), before);
  fs.rmSync(path.join(out, 'notes.md'));

  // a run: replaced (checkpoints and logs of the old run gone, a fresh one written)
  const t = await Trainer.create(tinyConfig({ steps: 1 }), { policy: tinyPolicy(1), score: lengthScore, out, overwrite: true });
  assert.deepEqual(listCheckpoints(out), []);
  await t.run();
  t.dispose();
  assert.equal(readMetrics(path.join(out, 'metrics.jsonl')).length, 1);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).kind, 'igrpo-run');
});

test('resume means resume: a missing folder or one without a checkpoint is an error, and nothing is rewritten', async () => {
  await assert.rejects(() => Trainer.create(tinyConfig(), { out: path.join(tmp(), 'nope'), resume: true }), (e: Error) => e instanceof RunFolderError && /does not exist/.test(e.message));
  const out = tmp();
  const t = await Trainer.create(tinyConfig({ steps: 3, checkpoint: { every: 0 } }), { policy: tinyPolicy(1), score: lengthScore, out });
  await t.step();
  t.dispose();
  const config = fs.readFileSync(path.join(out, 'config.json'), 'utf8');
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
  await assert.rejects(() => Trainer.create(tinyConfig({ steps: 5, checkpoint: { every: 0 } }), { out, resume: true }), /holds no complete checkpoint/);
  assert.equal(fs.readFileSync(path.join(out, 'config.json'), 'utf8'), config);
  assert.equal(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'), metrics);
  assert.ok(metrics.length > 0);
});

for (const damage of ['optimizer.safetensors', 'policy/model.safetensors', 'state.json']) {
  test(`a corrupt newest checkpoint (${damage}) falls back to the previous one, saying so, and still resumes exactly`, async () => {
    const ref = await makeRun(tmp(), 3);
    const out = tmp();
    await makeRun(out, 3);
    const newest = listCheckpoints(out).pop()!;
    const file = path.join(newest.dir, damage);
    fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 20));
    const w = collect();
    const t = await Trainer.create(tinyConfig({ steps: 3, checkpoint: { every: 1, keep: 3 } }), { out, resume: true, score: lengthScore, warn: w.warn });
    assert.equal(t.stepIndex, 2);
    assert.match(w.lines.join('\n'), /unreadable checkpoint step-000003 \(.*; kept as step-000003\.corrupt\): resuming from step-000002 instead, the logs cut back to step 2/);
    assert.equal(readMetrics(path.join(out, 'metrics.jsonl')).length, 2);
    assert.ok(fs.existsSync(`${newest.dir}.corrupt`));
    await t.run();
    assert.deepEqual(weights(t), ref);
    t.dispose();
    assert.deepEqual(listCheckpoints(out).map((c) => c.step), [1, 2, 3]);
  });
}

test('resume compares the resolved backend, not its name; another backend is allowed with a warning', async () => {
  const out = tmp();
  await makeRun(out, 1, { backend: 'auto' }); // auto, which chose cpu here
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8')).backend, 'cpu');
  const w = collect();
  const same = await Trainer.create(tinyConfig({ steps: 2, backend: 'cpu', checkpoint: { every: 1, keep: 3 } }), { out, resume: true, score: lengthScore, warn: w.warn });
  await same.run();
  same.dispose();
  assert.deepEqual(w.lines, []);
  await selectBackend('wasm');
  try {
    const other = await Trainer.create(tinyConfig({ steps: 3, backend: 'wasm', checkpoint: { every: 1, keep: 3 } }), { out, resume: true, score: lengthScore, warn: w.warn });
    assert.match(w.lines.join('\n'), /made on the cpu backend and resumes on wasm: .*no longer bit-identical/);
    await other.run();
    other.dispose();
    assert.equal(JSON.parse(fs.readFileSync(path.join(listCheckpoints(out).pop()!.dir, 'state.json'), 'utf8')).backend, 'wasm');
  } finally {
    await tf.setBackend('cpu');
  }
});

test('a config mismatch on resume names each differing field with both values', async () => {
  const out = tmp();
  await makeRun(out, 1);
  await assert.rejects(() => Trainer.create(tinyConfig({ steps: 2, seed: 5, checkpoint: { every: 1, keep: 3 }, optimizer: { lr: 0.5 } }), { out, resume: true }),
    (e: Error) => e instanceof RunFolderError && /different config: 'optimizer\.lr' \(0\.01 in the run, 0\.5 now\), 'seed' \(0 in the run, 5 now\)/.test(e.message));
  assert.equal(fs.existsSync(path.join(out, '.lock')), false, 'the lock is released when resume fails');
});

test('a checkpoint from before state.json held the config (legacy hash, backend by name) still resumes, and a mismatch is still named', async () => {
  const out = tmp();
  await makeRun(out, 1);
  fs.rmSync(path.join(out, 'run.json'));
  const file = path.join(listCheckpoints(out)[0].dir, 'state.json');
  const { config, backend, ...state } = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(backend, 'cpu');
  const legacy = crypto.createHash('sha256').update(JSON.stringify({ ...config, steps: 0 })).digest('hex').slice(0, 16);
  fs.writeFileSync(file, JSON.stringify({ ...state, configHash: legacy }));
  await assert.rejects(() => Trainer.create(tinyConfig({ steps: 2, seed: 2, checkpoint: { every: 1, keep: 3 } }), { out, resume: true }), /different config: 'seed' \(0 in the run, 2 now\)/);
  const w = collect();
  const t = await Trainer.create(tinyConfig({ steps: 2, backend: 'auto', checkpoint: { every: 1, keep: 3 } }), { out, resume: true, score: lengthScore, warn: w.warn });
  assert.equal(t.stepIndex, 1);
  assert.deepEqual(w.lines, []);
  t.dispose();
});

test('a checkpoint written before optimizer.gradientCheckpointing existed still resumes; the field may change on resume, others may not', async () => {
  const { configDiff } = await import('../src/train/run-folder.js');
  assert.deepEqual(configDiff({ steps: 1, optimizer: { lr: 1 } }, { steps: 9, optimizer: { lr: 1, gradientCheckpointing: true } }), []);
  assert.deepEqual(configDiff({ optimizer: { lr: 1 } }, { optimizer: { lr: 2, gradientCheckpointing: false } }), ['optimizer.lr']);
  const out = tmp();
  await makeRun(out, 1);
  const file = path.join(listCheckpoints(out)[0].dir, 'state.json');
  const state = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete state.config.optimizer.gradientCheckpointing; // as the previous version wrote it
  fs.writeFileSync(file, JSON.stringify(state));
  const t = await Trainer.create(tinyConfig({ steps: 2, checkpoint: { every: 1, keep: 3 } }), { out, resume: true, score: lengthScore });
  assert.equal(t.stepIndex, 1);
  t.dispose();
});
