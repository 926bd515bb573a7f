// `igrpo serve` command-line errors: one readable line and the documented exit codes, before any port opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const serve = (...args: string[]) => spawnSync(process.execPath, ['bin/igrpo.js', 'serve', ...args], { encoding: 'utf8', timeout: 60_000 });

test('igrpo serve: bad usage exits 2, a bad --lora-dir exits 1 naming it', () => {
  const none = serve();
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^igrpo serve: --checkpoint is required/);
  const loraOff = serve('--checkpoint', 'embedded', '--lora-dir', '/tmp');
  assert.equal(loraOff.status, 2);
  assert.match(loraOff.stderr, /--lora-dir needs --enable-lora-updates/);
  const missing = serve('--checkpoint', 'embedded', '--backend', 'cpu', '--enable-lora-updates', '--lora-dir', '/nonexistent/adapters', '--port', '0');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /igrpo serve: --lora-dir \/nonexistent\/adapters: ENOENT/);
  const noDir = serve('--checkpoint', 'embedded', '--backend', 'cpu', '--enable-lora-updates', '--port', '0');
  assert.equal(noDir.status, 1);
  assert.match(noDir.stderr, /--enable-lora-updates needs at least one --lora-dir/);
  assert.match(serve('--help').stdout, /binds|127\.0\.0\.1/);
});
