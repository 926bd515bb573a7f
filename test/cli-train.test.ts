// CLI smoke: `igrpo train` on a tiny saved policy writes its logs and exits 0; bad input exits 2 naming
// the field; `igrpo eval` prints pass@1 as JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readEvals, readMetrics, readRollouts } from '../src/train/records-file.js';
import { tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');
const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-cli-'));
const policyDir = path.join(tmp, 'policy');
await tinyPolicy(2).save(policyDir);
const configFile = path.join(tmp, 'tiny.json');
fs.writeFileSync(configFile, JSON.stringify({
  promptsPerStep: 2, completionsPerPrompt: 4, igrpo: { drafts: 2, refinements: 2, template: 'plain', maxDraftTokens: 10 },
  data: { trainSize: 16, evalSize: 4 }, sampling: { maxNewTokens: 10 }, eval: { every: 0, size: 4, k: 1 }, checkpoint: { every: 1 },
}));

const igrpo = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin', 'igrpo.js'), ...args], { encoding: 'utf8', env: { ...process.env, IGRPO_BACKEND: 'cpu' }, timeout: 120_000 });

test('igrpo train writes metrics, rollouts, evals, checkpoints and a summary', () => {
  const out = path.join(tmp, 'run');
  const r = igrpo('train', '--algo', 'igrpo', '--steps', '2', '--seed', '3', '--out', out, '--config', configFile, '--policy', policyDir, '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /igrpo seed 3 done: 2 steps/);
  assert.equal(readMetrics(path.join(out, 'metrics.jsonl')).length, 2);
  assert.equal(readRollouts(path.join(out, 'rollouts.jsonl')).length, 2 * 2 * 4);
  assert.deepEqual(readEvals(path.join(out, 'evals.jsonl')).map((e) => e.updates), [0, 2]);
  assert.ok(fs.existsSync(path.join(out, 'checkpoints', 'step-000002', 'policy', 'model.safetensors')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).steps, 2);
  // the same folder again without --resume is refused (bad usage: exit 2); with --resume and more steps it continues
  const again = igrpo('train', '--steps', '2', '--out', out, '--config', configFile, '--policy', policyDir, '--quiet', '--seed', '3');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds a run/);
  // a resume with nothing left to do leaves summary.json as the finished run wrote it
  const summary = fs.readFileSync(path.join(out, 'summary.json'), 'utf8');
  const noop = igrpo('train', '--steps', '2', '--seed', '3', '--out', out, '--config', configFile, '--policy', policyDir, '--quiet', '--resume');
  assert.equal(noop.status, 0, noop.stderr);
  assert.equal(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'), summary);
  const more = igrpo('train', '--steps', '3', '--seed', '3', '--out', out, '--config', configFile, '--policy', policyDir, '--quiet', '--resume');
  assert.equal(more.status, 0, more.stderr);
  assert.equal(readMetrics(path.join(out, 'metrics.jsonl')).length, 3);
});

test('usage and config errors exit 2 and name the problem', () => {
  const noOut = igrpo('train', '--steps', '1');
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /--out DIR is required/);
  assert.equal(igrpo('train', '--algo', 'ppo', '--out', tmp).status, 2);
  const backend = igrpo('train', '--out', path.join(tmp, 'y'), '--backend', 'gpu9');
  assert.equal(backend.status, 2);
  assert.match(backend.stderr, /unknown backend 'gpu9'/);
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ optimizer: { lr: 'fast' } }));
  const r = igrpo('train', '--out', path.join(tmp, 'x'), '--config', bad);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /optimizer\.lr/);
});

test('igrpo eval --json reports pass@1 over k samples', () => {
  const r = igrpo('eval', '--policy', policyDir, '--n', '3', '--k', '2', '--max-new-tokens', '8', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(j.k, 2);
  assert.equal(j.n, 3);
  assert.ok(j.passAt1 >= 0 && j.passAt1 <= 1);
});
