// `igrpo verify` end to end: one pair (exit codes, --explain) and the JSONL stream (order, errors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { answerLine } from '../src/cli/verify.js';

const BIN = path.resolve('bin/igrpo.js');
const igrpo = (args: string[], input?: string) => spawnSync(process.execPath, [BIN, 'verify', ...args], { input, encoding: 'utf8' });

test('single pair: prints the verdict, exit 0 when equivalent and 1 when not', () => {
  const yes = igrpo(['--gold', '\\frac12', '--pred', '0.5']);
  assert.equal(yes.status, 0, yes.stderr);
  assert.equal(yes.stdout.trim(), 'true');
  const no = igrpo(['--gold', '(1,2)', '--pred', '(2,1)', '--explain']);
  assert.equal(no.status, 1);
  assert.match(no.stdout, /^false\tcomponent 1: numbers differ/);
  const ex = igrpo(['--gold', '3', '--pred', 'so the answer is \\boxed{3}.', '--extract']);
  assert.equal(ex.stdout.trim(), 'true');
  assert.equal(igrpo(['--gold', '3']).status, 2);
  assert.equal(igrpo(['--bogus']).status, 2);
});

test('--jsonl answers every line in order; a malformed line gets an error naming it and exit 1', () => {
  const input = [
    JSON.stringify({ gold: '1/2', pred: '0.5' }),
    'not json',
    JSON.stringify({ gold: 'x<3', pred: '(-\\infty,3)' }),
    JSON.stringify({ gold: 3 }),
    JSON.stringify({ gold: 7, pred: 8 }),
  ].join('\n') + '\n';
  const r = igrpo(['--jsonl'], input);
  assert.equal(r.status, 1);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 5);
  assert.equal(out[0].equivalent, true);
  assert.match(out[1].error, /^line 2: invalid JSON/);
  assert.equal(out[2].equivalent, true);
  assert.match(out[3].error, /^line 4: field 'pred'/);
  assert.deepEqual(Object.keys(out[4]), ['equivalent', 'reason']);
  assert.equal(out[4].equivalent, false);
  const clean = igrpo(['--jsonl'], JSON.stringify({ gold: '2', pred: '2.0' }) + '\n');
  assert.equal(clean.status, 0);
  // blank lines (between pairs, at the end, CRLF) are skipped, not errors; line numbers still count them
  const blanks = igrpo(['--jsonl'], ['', JSON.stringify({ gold: '2', pred: '2.0' }), '   ', '\r', 'oops', '', ''].join('\n'));
  const lines = blanks.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2, blanks.stdout);
  assert.equal(lines[0].equivalent, true);
  assert.match(lines[1].error, /^line 5: invalid JSON/);
  assert.equal(igrpo(['--jsonl'], '\n' + JSON.stringify({ gold: '1', pred: '1' }) + '\n\n').status, 0);
});

test('answerLine is the same function the stream uses', () => {
  assert.deepEqual(answerLine('[1]', 9, false, {}), { out: JSON.stringify({ error: 'line 9: expected a JSON object {"gold", "pred"}' }), ok: false });
  assert.equal(JSON.parse(answerLine('{"gold":"5","pred":"<answer>5</answer>"}', 1, true, {}).out).equivalent, true);
});

test('--extract reads the gold the same way as the prediction; --gold-verbatim keeps it as given (issue 14.9)', () => {
  const pair = { gold: 'Adding the parts gives 32349, so the answer is \\boxed{32349}.', pred: 'I think it is \\boxed{32349}' };
  const r = igrpo(['--jsonl', '--extract'], JSON.stringify(pair) + '\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).equivalent, true);
  const verbatim = igrpo(['--jsonl', '--extract', '--gold-verbatim'], JSON.stringify(pair) + '\n');
  assert.equal(JSON.parse(verbatim.stdout).equivalent, false);
  // single pair mode too; a bare gold (no marker) is unchanged by extraction
  assert.equal(igrpo(['--gold', pair.gold, '--pred', pair.pred, '--extract']).status, 0);
  assert.equal(igrpo(['--gold', '\\frac12', '--pred', 'so \\boxed{0.5}', '--extract']).status, 0);
  assert.equal(igrpo(['--gold', '5', '--pred', '5', '--gold-verbatim']).status, 2, '--gold-verbatim needs --extract');
  // a box longer than the extraction limit is a non-match with a reason, not the last number inside it
  const long = JSON.stringify({ gold: '7', pred: '\\boxed{' + 'x+'.repeat(12_000) + '7}' });
  const out = JSON.parse(igrpo(['--jsonl', '--extract'], long + '\n').stdout);
  assert.equal(out.equivalent, false);
  assert.match(out.reason, /^prediction: the last \\boxed\{\} is longer than/);
});
