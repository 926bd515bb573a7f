import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const igrpo = (...args: string[]) => spawnSync(process.execPath, ['bin/igrpo.js', 'sample', ...args], { encoding: 'utf8', timeout: 60_000 });

test('igrpo sample --json prints one object per completion, reproducibly, and says which policy it used', () => {
  const args = ['--prompt', '1+1=', '--n', '3', '--seed', '4', '--max-new-tokens', '6', '--top-k', '5', '--json', '--backend', 'cpu'];
  const a = igrpo(...args);
  assert.equal(a.status, 0, a.stderr);
  const lines = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  lines.forEach((c, i) => {
    assert.equal(c.index, i);
    assert.ok(c.tokens >= 1 && c.tokens <= 6 && c.ids.length === c.tokens && c.logprobs.length === c.tokens);
    assert.ok(c.finishReason === 'stop' || c.finishReason === 'length');
  });
  assert.match(a.stderr, /backend cpu: asked for by name/);
  assert.match(a.stderr, /policy: .*(RANDOMLY INITIALISED|data\/policy)/);
  assert.equal(igrpo(...args).stdout, a.stdout);
});

test('igrpo sample usage errors exit 2 (as the README says) with a readable message', () => {
  const bad = igrpo('--prompt', 'x', '--backend', 'gpu9');
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^igrpo sample: unknown backend 'gpu9'; valid names: auto, /);
  const missing = igrpo('--n', '2');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^igrpo sample: --prompt is required/);
  const unknown = igrpo('--prompt', 'x', '--temprature', '0.5');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^igrpo sample: Unknown option '--temprature'/);
  const nan = igrpo('--prompt', 'x', '--n', 'two');
  assert.equal(nan.status, 2);
  assert.match(nan.stderr, /--n expects a number, got 'two'/);
});
