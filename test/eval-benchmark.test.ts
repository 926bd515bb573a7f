// igrpo eval on benchmark files: the pass@k estimator against brute-force counting, CIs by hand, resume
// after an interruption (a cut-off last line included) giving the uninterrupted file byte for byte, and the
// CLI on a local policy and on `igrpo serve` (same completions: same seeding on both paths).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Problem } from '../src/data/schema.js';
import type { SampleFn } from '../src/sampling/request.js';
import { mixSeed } from '../src/util/rng.js';
import { runBenchmark, readRecords, fingerprint } from '../src/train/benchmark.js';
import { passAtK, rateCI } from '../src/train/passk.js';
import { startServe } from './serve-helpers.js';

const choose = (n: number, k: number): number => {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
};

test('pass@k: hand values and 1 − C(n−c,k)/C(n,k) for every n ≤ 12', () => {
  assert.ok(Math.abs(passAtK(5, 2, 1) - 0.4) < 1e-12);
  assert.ok(Math.abs(passAtK(5, 2, 2) - 0.7) < 1e-12); // 1 − C(3,2)/C(5,2) = 1 − 3/10
  assert.equal(passAtK(4, 0, 2), 0);
  assert.equal(passAtK(4, 4, 1), 1);
  assert.equal(passAtK(4, 3, 2), 1); // n − c < k: every k-subset holds a correct one
  for (let n = 1; n <= 12; n++) for (let c = 0; c <= n; c++) for (let k = 1; k <= n; k++) {
    const want = 1 - (n - c >= k ? choose(n - c, k) / choose(n, k) : 0);
    assert.ok(Math.abs(passAtK(n, c, k) - want) < 1e-12, `n=${n} c=${c} k=${k}`);
  }
  assert.throws(() => passAtK(4, 5, 1), /0 ≤ c ≤ n/);
  assert.throws(() => passAtK(4, 1, 5), /1 ≤ k ≤ n/);
});

test('rateCI: mean ± t(N−1)·s/√N (util/stats), clipped to [0, 1]', () => {
  const r = rateCI([0.2, 0.4, 0.6]); // s = 0.2, t(2) = 4.303, half = 4.303·0.2/√3 = 0.4968676
  assert.ok(Math.abs(r.mean - 0.4) < 1e-12);
  assert.ok(Math.abs(r.lo - 0) < 1e-12 && Math.abs(r.hi - (0.4 + 0.4968676)) < 1e-6);
  // 30 problems (AIME): t(29) = 2.045, not 1.96
  const xs: number[] = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const m = 10 / 30, s = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / 29);
  const r30 = rateCI(xs);
  assert.ok(Math.abs(r30.hi - (m + (2.045 * s) / Math.sqrt(30))) < 1e-9);
  assert.deepEqual(rateCI([1, 1]), { mean: 1, lo: 1, hi: 1, n: 2 });
  assert.equal(rateCI([0, 1]).lo, 0);
});

const problems: Problem[] = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, problem: `Q:${i}+${i}`, answer: String(2 * i) }));

/** A fake engine: completion j is right when the hash of (seed, prompt, j) is even; fails on demand. */
function fakeSampler(failOn?: (text: string) => boolean): SampleFn & { calls: number } {
  const fn = (async (req) => {
    fn.calls++;
    return req.prompts.map((p, i) => {
      if (failOn?.(p.text)) throw new Error('engine died');
      return Array.from({ length: req.n }, (_, j) => {
        const h = mixSeed(req.seed, i, j, p.text.length);
        const ans = h % 2 === 0 ? String(2 * Number(/\d+/.exec(p.text)![0])) : '-1';
        return { ids: [1, 2], logprobs: [-1, -1], text: `<think>x</think><answer>${ans}</answer>`, finishReason: 'stop' as const };
      });
    });
  }) as SampleFn & { calls: number };
  fn.calls = 0;
  return fn;
}

test('runBenchmark: records, summary, and a resumed run writing the uninterrupted file byte for byte', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-bench-'));
  try {
    const opts = (out: string) => ({ n: 4, ks: [1, 4], maxNewTokens: 8, seed: 3, chunk: 3, out, prompt: (p: Problem) => ({ text: `${p.problem}\n`, ids: [] }), settings: { model: 'fake' } });
    const full = path.join(dir, 'full.jsonl');
    const a = await runBenchmark(problems, fakeSampler(), opts(full));
    assert.equal(a.records.length, 10);
    a.records.forEach((r) => assert.equal(r.correct, r.completions.filter((c) => c.correct).length));
    assert.ok(a.records.some((r) => r.correct > 0) && a.records.some((r) => r.correct < 4));
    assert.ok(Math.abs(a.summary.accuracy.mean - a.records.reduce((s, r) => s + r.correct / 4, 0) / 10) < 1e-12);
    assert.ok(Math.abs(a.summary.passAt['4'].mean - a.records.filter((r) => r.correct > 0).length / 10) < 1e-12);

    // interrupted in chunk 2 (problems 6..8), with a line cut off mid-write at the end of the file
    const part = path.join(dir, 'part.jsonl');
    await assert.rejects(runBenchmark(problems, fakeSampler((t) => t.startsWith('Q:7')), opts(part)), /engine died/);
    assert.equal(fs.readFileSync(part, 'utf8').trim().split('\n').length, 6);
    fs.appendFileSync(part, '{"id":"p6","fingerprint":"');
    const again = fakeSampler();
    const b = await runBenchmark(problems, again, opts(part));
    assert.equal(again.calls, 2, 'chunks 0 and 1 are skipped');
    assert.equal(b.summary.resumed, 6);
    assert.equal(fs.readFileSync(part, 'utf8'), fs.readFileSync(full, 'utf8'));
    assert.deepEqual(b.summary.accuracy, a.summary.accuracy);

    // a file written with other settings is refused, naming the line
    await assert.rejects(runBenchmark(problems, fakeSampler(), { ...opts(full), seed: 4 }), /full\.jsonl: line 1 was written with other settings/);
    fs.writeFileSync(path.join(dir, 'bad.jsonl'), 'nonsense\n{}\n');
    assert.throws(() => readRecords(path.join(dir, 'bad.jsonl'), fingerprint({})), /bad\.jsonl: line 1 is not JSON/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('igrpo eval --benchmark: a local policy and the same policy on igrpo serve give the same records', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-evalcli-'));
  const server = await startServe(['--served-model-name', 'tiny']);
  try {
    const bench = path.join(dir, 'arith.jsonl');
    const lines = ['Q:3+7+14|24', 'Q:13+11+17|41', 'Q:5*3+2|17', 'Q:9-4|5', 'Q:é|1'].map((l, i) => JSON.stringify({ id: `a${i}`, problem: l.split('|')[0], answer: l.split('|')[1] }));
    fs.writeFileSync(bench, lines.join('\n') + '\n');
    const common = ['--benchmark', bench, '--k', '3', '--pass-at', '1,3', '--chunk', '2', '--max-new-tokens', '30', '--json'];
    const runCli = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['bin/igrpo.js', 'eval', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
        p.on('exit', (status) => {
          clearTimeout(t);
          resolve({ status, stdout, stderr });
        });
      });
    const local = await runCli([...common, '--backend', 'cpu', '--out', path.join(dir, 'local.jsonl')]);
    assert.equal(local.status, 0, local.stderr);
    const remote = await runCli([...common, '--engine-url', `${server.url}/v1`, '--model', 'tiny', '--tokenizer', 'data/policy/tokenizer.json', '--out', path.join(dir, 'remote.jsonl')]);
    // 'é' is not in the character tokenizer: a per-problem error locally; the engine path tokenizes locally too
    assert.equal(remote.status, 0, remote.stderr);
    const L = JSON.parse(local.stdout);
    const R = JSON.parse(remote.stdout);
    assert.equal(L.problems, 5);
    assert.equal(L.errors, 1);
    assert.deepEqual(R.accuracy, L.accuracy);
    assert.deepEqual(R.passAt, L.passAt);
    const strip = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l), fingerprint: undefined }));
    assert.deepEqual(strip(path.join(dir, 'remote.jsonl')), strip(path.join(dir, 'local.jsonl')));
    assert.ok(fs.readFileSync(path.join(dir, 'local.summary.md'), 'utf8').includes('| pass@3 |'));
    // the old mode is untouched
    const old = spawnSync(process.execPath, ['bin/igrpo.js', 'eval', '--help'], { encoding: 'utf8' });
    assert.match(old.stdout, /--benchmark FILE/);
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('igrpo eval --benchmark benchmark:NAME reads $IGRPO_BENCHMARKS/NAME.jsonl as --data does; a missing folder is named (issue 18)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-evalbench-'));
  try {
    const lines = ['Q:3+7|10', 'Q:9-4|5'].map((l, i) => JSON.stringify({ id: `gsm8k-test-${i}`, problem: l.split('|')[0], answer: l.split('|')[1] }));
    fs.writeFileSync(path.join(dir, 'gsm8k_test.jsonl'), lines.join('\n') + '\n');
    const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['bin/igrpo.js', 'eval', '--benchmark', 'benchmark:gsm8k_test', '--k', '1', '--max-new-tokens', '8',
      '--backend', 'cpu', '--out', path.join(dir, 'out.jsonl'), '--json'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
    const ok = run({ IGRPO_BENCHMARKS: dir });
    assert.equal(ok.status, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout.trim().split('\n').pop()!);
    assert.equal(summary.benchmark, path.join(dir, 'gsm8k_test.jsonl'));
    assert.equal(summary.problems, 2);
    const missing = run({ IGRPO_BENCHMARKS: path.join(dir, 'nope') });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, new RegExp(`benchmark:gsm8k_test: the benchmarks folder ${path.join(dir, 'nope')} does not exist \\(benchmark:NAME reads NAME\\.jsonl from \\$IGRPO_BENCHMARKS`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
