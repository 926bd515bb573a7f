// The README's first command, as a newcomer runs it (issue 18, point 2): `npm run main` in a clean tree —
// the repository's files without runs/ — twice. Each run must exit 0 and write metrics; the second replaces
// the first (--overwrite). The command is package.json's own scripts.main, run by npm, never a copy of it.
// The tree is this checkout's tracked and untracked-but-not-ignored files (what a commit of it would hold),
// so uncommitted changes are tested too; node_modules and the native build are linked, as npm ci makes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const script: string = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.main;

/** A copy of the repository as a clone would have it (no runs/, no build outputs), with node_modules linked. */
function cleanTree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-main-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 })
    .split('\0')
    .filter((f) => f && fs.existsSync(path.join(root, f)) && fs.statSync(path.join(root, f)).isFile());
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(dir, f));
  }
  for (const linked of ['node_modules', 'native/build']) {
    if (!fs.existsSync(path.join(root, linked))) continue;
    fs.mkdirSync(path.dirname(path.join(dir, linked)), { recursive: true });
    fs.symlinkSync(fs.realpathSync(path.join(root, linked)), path.join(dir, linked));
  }
  assert.equal(fs.existsSync(path.join(dir, 'runs')), false, 'the clean tree has no runs/');
  return dir;
}

test('npm run main works in a clean tree the first time and every time after (the README\'s first command)', () => {
  const out: string = script.match(/--out\s+(\S+)/)?.[1] ?? '';
  assert.ok(out, `scripts.main names its run folder with --out: ${script}`);
  const dir = cleanTree();
  try {
    const created: string[] = [];
    for (const attempt of [1, 2]) {
      const r = spawnSync('npm', ['run', 'main'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, `npm run main, attempt ${attempt} (${script}):\n${r.stdout}\n${r.stderr}`);
      const metrics: string[] = fs.readFileSync(path.join(dir, out, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
      assert.ok(metrics.length > 0, `attempt ${attempt}: ${out}/metrics.jsonl has no lines`);
      for (const l of metrics) assert.equal(typeof JSON.parse(l).step, 'number');
      created.push(JSON.parse(fs.readFileSync(path.join(dir, out, 'run.json'), 'utf8')).createdAt);
      assert.equal(fs.existsSync(path.join(dir, out, '.lock')), false, 'the lock is released');
    }
    assert.notEqual(created[0], created[1], 'the second run replaced the first');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
