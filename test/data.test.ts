// Datasets: every format, adapters, clear errors (file, line, field), skip-and-count, seeded splits,
// and the public benchmarks: zero load errors, and reference solutions that verify against their gold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import {
  loadProblems, loadProblemsSync, loadBenchmark, benchmarksDir, BENCHMARKS, shuffleBySeed, splitBySeed, DatasetError,
  gsm8kAdapter, competitionAdapter, mathAdapter,
} from '../src/data/index.js';
import { extractAnswer, explain, goldProblem, verify } from '../src/verify/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-data-'));
const write = (name: string, text: string | Uint8Array) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

test('JSONL, JSON, CSV and Parquet load to the same problems', async () => {
  const rows = [
    { id: 'a', problem: 'What is 1+1?', answer: '2', level: 1 },
    { id: 'b', problem: 'Say "hi", twice', answer: '\\frac{1}{2}', level: 2 },
  ];
  const jsonl = write('p.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n\n');
  const json = write('p.json', JSON.stringify({ data: rows }));
  const csv = write('p.csv', 'id,problem,answer,level\r\na,What is 1+1?,2,1\nb,"Say ""hi"", twice",\\frac{1}{2},2\n');
  const pq = write('p.parquet', new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'id', data: rows.map((r) => r.id), type: 'STRING' },
      { name: 'problem', data: rows.map((r) => r.problem), type: 'STRING' },
      { name: 'answer', data: rows.map((r) => r.answer), type: 'STRING' },
      { name: 'level', data: rows.map((r) => r.level), type: 'INT32' },
    ],
  })));
  for (const f of [jsonl, json, csv, pq]) {
    const r = await loadProblems(f);
    assert.deepEqual(r.problems.map((p) => [p.id, p.problem, p.answer]), rows.map((p) => [p.id, p.problem, p.answer]), f);
    assert.equal(Number(r.problems[1].level), 2, 'extra fields pass through');
    assert.equal(r.skipped.length, 0);
  }
  assert.equal(loadProblemsSync(jsonl, { limit: 1 }).problems.length, 1);
  assert.throws(() => loadProblemsSync(pq), /async/);
});

test('a malformed row names file, line and field; skip mode counts it instead', () => {
  const f = write('bad.jsonl', [
    JSON.stringify({ id: 'a', problem: 'p', answer: '1' }),
    JSON.stringify({ id: 'b', problem: 'p' }),
    '{not json',
    JSON.stringify({ id: 'a', problem: 'p', answer: '2' }),
    JSON.stringify({ id: 'c', problem: '', answer: '3' }),
    JSON.stringify({ id: 'd', problem: 'p', answer: '4' }),
  ].join('\n'));
  assert.throws(() => loadProblemsSync(f), (e: unknown) => {
    assert.ok(e instanceof DatasetError);
    assert.equal(e.at, 'line 2');
    assert.equal(e.field, 'answer');
    assert.match(e.message, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 2: field 'answer'`));
    return true;
  });
  const r = loadProblemsSync(f, { onError: 'skip' });
  assert.deepEqual(r.problems.map((p) => p.id), ['a', 'd']);
  assert.deepEqual(r.skipped.map((s) => s.at), ['line 2', 'line 3', 'line 4', 'line 5']);
  assert.match(r.skipped[1].message, /invalid JSON/);
  assert.match(r.skipped[2].message, /field 'id': duplicate id 'a': line 1 and line 4 both have it/);
  assert.match(r.skipped[3].message, /field 'problem'/);
  const csv = write('bad.csv', 'id,problem,answer\nx,p\n');
  assert.throws(() => loadProblemsSync(csv), /bad\.csv: line 2: 2 cells, header has 3/);
  assert.throws(() => loadProblemsSync(write('bad.json', '{"rows": 3}')), /expected an array/);
  assert.throws(() => loadProblemsSync(path.join(dir, 'missing.txt')), /unknown data format/);
});

test('adapters: GSM8K ####, MATH boxed, AIME leading zeros, AMC floats', () => {
  const g = gsm8kAdapter({ id: '1', question: 'Q?', answer: 'work <<2*3=6>>6\n#### 1,234' });
  assert.equal(g.problem, 'Q?');
  assert.equal(g.answer, '1234');
  assert.match(String(g.solution), /#### 1,234/);
  assert.equal(mathAdapter({ id: '1', problem: 'P', solution: 'so $\\boxed{\\frac{1}{2}}$.' }).answer, '\\frac{1}{2}');
  const a = competitionAdapter({ id: '1', problem: 'P', answer: '025' });
  assert.equal(a.answer, '25');
  assert.equal(a.answer_original, '025');
  assert.equal(competitionAdapter({ id: '1', problem: 'P', answer: 27.0 }).answer, '27');
});

test('seeded shuffles and splits are deterministic and partition the items', () => {
  const xs = Array.from({ length: 101 }, (_, i) => i);
  assert.deepEqual(shuffleBySeed(xs, 3), shuffleBySeed(xs, 3));
  assert.notDeepEqual(shuffleBySeed(xs, 3), shuffleBySeed(xs, 4));
  assert.deepEqual([...shuffleBySeed(xs, 3)].sort((a, b) => a - b), xs);
  const s = splitBySeed(xs, { train: 0.8, val: 0.1, test: 0.1 }, 0);
  assert.equal(s.train.length + s.val.length + s.test.length, 101);
  assert.equal(s.train.length, 81);
  assert.deepEqual([...s.train, ...s.val, ...s.test].sort((a, b) => a - b), xs);
  assert.throws(() => splitBySeed(xs, { a: 0 }, 0));
});

const haveBenchmarks = fs.existsSync(benchmarksDir());

test('every public benchmark loads through its adapter with zero errors', { skip: !haveBenchmarks && 'no ../shared/data/benchmarks' }, () => {
  const expected: Record<string, number> = {
    gsm8k_test: 1319, gsm8k_train: 7473, math500_test: 500, math_train: 7498, minerva_math: 272, aime24: 30, aime25: 30, amc23: 40,
  };
  for (const name of Object.keys(BENCHMARKS)) {
    const r = loadBenchmark(name, { onError: 'skip' });
    assert.equal(r.skipped.length, 0, `${name}: ${r.skipped[0]?.message}`);
    assert.equal(r.problems.length, expected[name], name);
    // Every gold is usable by the reward (no flagged zero waiting in a benchmark).
    const unusable = r.problems.filter((p) => goldProblem(p.answer) !== undefined).map((p) => `${p.id}: ${goldProblem(p.answer)}`);
    assert.deepEqual(unusable, [], name);
  }
});

// Default extraction groups adjacent boxes; 10 MATH reference solutions box an intermediate value right
// before the final one (e.g. `\boxed{30^\circ}, \boxed{150^\circ}` with gold 150°), which the grouped
// reading counts as a two-element answer. With boxes: 'last' (how the gold fields were built) all verify.
test('reference solutions verify against their gold (MATH-500, MATH train, GSM8K, Minerva)', { skip: !haveBenchmarks && 'no benchmarks' }, () => {
  for (const [name, boxes] of [['math500_test', 'group'], ['math_train', 'group'], ['math_train', 'last'], ['gsm8k_test', 'group'], ['gsm8k_train', 'group'], ['minerva_math', 'group']] as const) {
    const { problems } = loadBenchmark(name);
    let ok = 0;
    const misses: string[] = [];
    for (const p of problems) {
      const e = extractAnswer(p.solution!, { mode: 'strict', boxes });
      const v = e ? explain(p.answer, e.answer) : undefined;
      if (v?.equivalent) ok++;
      else misses.push(`${p.id}: gold ${p.answer} extracted ${e?.answer} (${v?.reason ?? 'nothing extracted'})`);
    }
    const rate = ok / problems.length;
    console.log(`# ${name} (boxes: ${boxes}): ${ok}/${problems.length} reference answers verify (${(100 * rate).toFixed(2)}%)`);
    if (boxes === 'last') assert.equal(ok, problems.length, misses.join('\n'));
    assert.ok(rate >= 0.995, `${name}: ${(100 * rate).toFixed(2)}%\n${misses.slice(0, 10).join('\n')}`);
  }
});

test('gold answers verify against themselves when dressed, and rarely against other problems', { skip: !haveBenchmarks && 'no benchmarks' }, () => {
  const { problems } = loadBenchmark('math500_test');
  let self = 0;
  const misses: string[] = [];
  for (const p of problems) {
    if (verify(p.answer, `The final answer is $\\boxed{${p.answer}}$.`.replace(/.*\\boxed\{(.*)\}\$\.$/, '$1'))
      && verify(p.answer, extractAnswer(`Therefore the answer is $\\boxed{${p.answer}}$.`)!.answer)) self++;
    else misses.push(p.answer);
  }
  console.log(`# math500 gold vs its own boxed form: ${self}/${problems.length}`);
  assert.equal(self, problems.length, misses.slice(0, 10).join(' | '));
  // Cross pairs: each gold against the next problem's gold. An acceptance must be a real equality:
  // the same number, or one side defining a variable as the other ("x=5" and "5").
  let accepted = 0;
  for (let i = 0; i < problems.length; i++) {
    const a = problems[i].answer;
    const b = problems[(i + 1) % problems.length].answer;
    if (verify(a, b)) {
      accepted++;
      const value = (s: string) => s.replace(/^\s*[a-z]\s*=\s*/i, '').replace(/\s/g, '');
      assert.equal(value(a), value(b), `${a} accepted as ${b}`);
    }
  }
  console.log(`# math500 neighbouring golds accepted as equal: ${accepted}/${problems.length}`);
  assert.ok(accepted < 10);
  // Near misses: the gold with its last digit changed must be rejected. The only exceptions allowed are
  // exponents of units, which normalisation drops by design (864 inches^2 vs 864 inches^3).
  const nearMisses: string[] = [];
  for (const p of problems) {
    const i = p.answer.search(/\d(?!.*\d)/s);
    if (i < 0) continue;
    const q = p.answer.slice(0, i) + String((Number(p.answer[i]) + 1) % 10) + p.answer.slice(i + 1);
    if (verify(p.answer, q) && !/\\(?:mbox|text)\{[^}]*\}\^\d$/.test(q)) nearMisses.push(`${p.answer} vs ${q}`);
  }
  assert.deepEqual(nearMisses, []);
});

test('non-UTF-8 input fails naming file and line, or reads as Latin-1 when asked', async () => {
  const latin = Buffer.concat([
    Buffer.from('{"id":"a","problem":"1+1","answer":"2"}\n{"id":"b","problem":"caf'),
    Buffer.from([0xe9]), // é in Latin-1, not UTF-8
    Buffer.from('","answer":"3"}\n'),
  ]);
  for (const name of ['latin.jsonl', 'latin.csv', 'latin.json']) {
    const f = write(name, name.endsWith('.csv') ? Buffer.concat([Buffer.from('id,problem,answer\na,1+1,2\nb,caf'), Buffer.from([0xe9]), Buffer.from(',3\n')])
      : name.endsWith('.json') ? Buffer.concat([Buffer.from('[{"id":"a","problem":"1+1","answer":"2"},\n{"id":"b","problem":"caf'), Buffer.from([0xe9]), Buffer.from('","answer":"3"}]')])
      : latin);
    const line = name.endsWith('.csv') ? 3 : 2;
    assert.throws(() => loadProblemsSync(f), (e: Error) => e instanceof DatasetError && e.message.startsWith(`${f}: line ${line}: not valid UTF-8 (byte 0xE9`), name);
    await assert.rejects(() => loadProblems(f), new RegExp(`line ${line}: not valid UTF-8`), name);
    const r = loadProblemsSync(f, { encoding: 'latin1' });
    assert.equal(r.problems[1].problem, 'café', name);
  }
});

test('a UTF-8 byte-order mark is dropped: record 1 is kept (JSONL, JSON, CSV)', () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const files = {
    'bom.jsonl': '{"id":"a","problem":"1+1","answer":"2"}\n{"id":"b","problem":"2+2","answer":"4"}\n',
    'bom.json': '[{"id":"a","problem":"1+1","answer":"2"},{"id":"b","problem":"2+2","answer":"4"}]',
    'bom.csv': 'id,problem,answer\na,1+1,2\nb,2+2,4\n',
  };
  for (const [name, text] of Object.entries(files)) {
    const r = loadProblemsSync(write(name, Buffer.concat([bom, Buffer.from(text)])), { onError: 'skip' });
    assert.deepEqual(r.problems.map((p) => p.id), ['a', 'b'], name);
    assert.equal(r.skipped.length, 0, name);
  }
});

test('Parquet errors name the file; an empty or 4-byte file is a clear error, and skip mode applies', async () => {
  for (const [name, bytes] of [['empty.parquet', new Uint8Array(0)], ['four.parquet', Buffer.from('PAR1')], ['junk.parquet', Buffer.from('PAR1 this is not parquet at all PAR1')]] as const) {
    const f = write(name, bytes);
    await assert.rejects(() => loadProblems(f), (e: Error) => e instanceof DatasetError && e.message.startsWith(`${f}: whole file: `) && !(e instanceof RangeError), name);
    const r = await loadProblems(f, { onError: 'skip', warn: () => {} });
    assert.equal(r.problems.length, 0, name);
    assert.equal(r.skipped.length, 1, name);
    assert.match(r.skipped[0].message, /Parquet/, name);
  }
  await assert.rejects(() => loadProblems(path.join(dir, 'empty.parquet')), /at least 12/);
});

test('an empty file yields 0 problems with a warning (returned, and on stderr by default)', async () => {
  for (const name of ['empty.jsonl', 'empty.csv', 'blank.jsonl']) {
    const f = write(name, name === 'blank.jsonl' ? '\n\n' : '');
    const seen: string[] = [];
    const r = await loadProblems(f, { warn: (m) => seen.push(m) });
    assert.equal(r.problems.length, 0);
    assert.equal(r.warnings.length, 1, name);
    assert.match(r.warnings[0], /no records \(the file is empty\)/);
    assert.ok(r.warnings[0].startsWith(f), r.warnings[0]);
    assert.deepEqual(seen, [`warning: ${r.warnings[0]}`]);
  }
  const ok = loadProblemsSync(write('one.jsonl', '{"id":"a","problem":"1+1","answer":"2"}\n'));
  assert.deepEqual(ok.warnings, []);
});
