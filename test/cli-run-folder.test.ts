// `igrpo train` and its run folder, with real processes (issue 14, points 2–4): two trainings on one
// --out (one wins, the other exits 2 naming the holder; each step logged once), a live holder refused, a
// killed holder's lock taken over, SIGTERM releasing the lock, --overwrite that keeps a run when the new
// policy does not load and refuses a folder that holds no run, --resume that needs something to resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readMetrics } from '../src/train/records-file.js';
import { tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');
const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-cli-rf-'));
const policyDir = path.join(tmp, 'policy');
await tinyPolicy(2).save(policyDir);
const configFile = path.join(tmp, 'tiny.json');
fs.writeFileSync(configFile, JSON.stringify({
  promptsPerStep: 2, completionsPerPrompt: 4, igrpo: { drafts: 2, refinements: 2, template: 'plain', maxDraftTokens: 10 },
  data: { trainSize: 16, evalSize: 4 }, sampling: { maxNewTokens: 10 }, eval: { every: 0, size: 4, k: 1, atStart: false }, checkpoint: { every: 1 },
}));
const env = { ...process.env, IGRPO_BACKEND: 'cpu' };
const bin = path.join(root, 'bin', 'igrpo.js');
const train = (...args: string[]) => ['train', '--config', configFile, '--policy', policyDir, '--quiet', ...args];
const igrpo = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, timeout: 180_000 });

function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two trainings started together on one --out: one trains, the other exits 2; each step is logged once', async () => {
  const out = path.join(tmp, 'race');
  const [a, b] = [start([bin, ...train('--steps', '3', '--out', out)]), start([bin, ...train('--steps', '3', '--out', out)])];
  const results = await Promise.all([a.done, b.done]);
  assert.deepEqual(results.map((r) => r.code).sort(), [0, 2], results.map((r) => r.stderr).join('\n---\n'));
  const loser = results.find((r) => r.code === 2)!;
  assert.match(loser.stderr, /in use by another training: pid \d+ on host|already holds a run/);
  assert.deepEqual(readMetrics(path.join(out, 'metrics.jsonl')).map((m) => m.step), [0, 1, 2]);
  assert.equal(fs.existsSync(path.join(out, '.lock')), false);
});

test('a live holder is named and refused (exit 2); once it is killed -9 its lock is taken over, saying so', async () => {
  const out = path.join(tmp, 'held');
  const holder = start(['--import', 'tsx', '--input-type=module', '-e',
    `const { acquireRunLock } = await import(${JSON.stringify(path.join(root, 'src/train/run-lock.ts'))}); acquireRunLock(${JSON.stringify(out)}); setInterval(() => {}, 1000);`]);
  await until(() => fs.existsSync(path.join(out, '.lock')), 'the holder to lock');
  for (const extra of [[], ['--resume'], ['--overwrite']]) {
    const r = igrpo(...train('--steps', '1', '--out', out, ...extra));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`in use by another training: pid ${holder.child.pid} on host ${os.hostname()}`));
  }
  holder.child.kill('SIGKILL');
  await holder.done;
  assert.ok(fs.existsSync(path.join(out, '.lock')), 'kill -9 leaves the lock behind');
  const r = igrpo(...train('--steps', '1', '--out', out));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`taking over a lock of pid ${holder.child.pid} on host .*no longer running`));
  assert.equal(fs.existsSync(path.join(out, '.lock')), false);
});

test('SIGTERM and SIGINT release the lock', async () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const out = path.join(tmp, `signal-${sig}`);
    const run = start([bin, ...train('--steps', '500', '--out', out)]);
    await until(() => fs.existsSync(path.join(out, 'metrics.jsonl')) && fs.statSync(path.join(out, 'metrics.jsonl')).size > 0, 'a first step');
    run.child.kill(sig);
    const r = await run.done;
    assert.equal(r.code, sig === 'SIGTERM' ? 143 : 130, r.stderr);
    assert.equal(fs.existsSync(path.join(out, '.lock')), false);
    // and the run resumes from its last checkpoint
    assert.equal(igrpo(...train('--steps', '2', '--out', out, '--resume')).status, 0);
  }
});

test('--overwrite keeps the run when the new policy does not load, and refuses a folder that holds no run', () => {
  const out = path.join(tmp, 'ow');
  assert.equal(igrpo(...train('--steps', '1', '--out', out)).status, 0);
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
  const typo = igrpo('train', '--config', configFile, '--quiet', '--steps', '1', '--out', out, '--overwrite', '--policy', path.join(tmp, 'typo'));
  assert.notEqual(typo.status, 0);
  assert.match(typo.stderr, /typo/);
  assert.equal(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'), metrics);
  assert.ok(fs.existsSync(path.join(out, 'checkpoints', 'step-000001', 'state.json')));

  const home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(home, 'thesis.tex'), 'precious');
  const r = igrpo(...train('--steps', '1', '--out', home, '--overwrite'));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /holds no run/);
  assert.equal(fs.readFileSync(path.join(home, 'thesis.tex'), 'utf8'), 'precious');
});

test('--resume with nothing to resume exits 2 and leaves the folder as it was', () => {
  const missing = igrpo(...train('--steps', '1', '--out', path.join(tmp, 'missing'), '--resume'));
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /does not exist; there is no run to resume/);
  assert.equal(fs.existsSync(path.join(tmp, 'missing')), false);
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const r = igrpo(...train('--steps', '1', '--out', empty, '--resume'));
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /holds no complete checkpoint/);
  assert.deepEqual(fs.readdirSync(empty), []);
});
