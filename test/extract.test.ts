// Answer extraction: each source, its priority, strict vs flexible, and bounded time on pathological text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAnswer, lastBoxed, matchBrace, bracesBalanced, verify } from '../src/verify/index.js';

const ex = (text: string, mode?: 'strict' | 'flexible') => extractAnswer(text, { mode });

test('GSM8K #### N', () => {
  assert.deepEqual(ex('She has 3+4=<<3+4=7>>7 apples.\n#### 7'), { answer: '7', source: 'gsm8k' });
  assert.deepEqual(ex('so\n#### 1,234'), { answer: '1234', source: 'gsm8k' });
  assert.deepEqual(ex('#### -3.5'), { answer: '-3.5', source: 'gsm8k' });
});

test('last \\boxed / \\fbox / \\boxed N with nesting', () => {
  assert.equal(ex('first \\boxed{1} then \\boxed{\\frac{a}{b^{2}}}.')?.answer, '\\frac{a}{b^{2}}');
  assert.equal(ex('\\fbox{12}')?.answer, '12');
  assert.equal(ex('so the answer is $\\boxed 5$.')?.answer, '5');
  assert.equal(ex('\\boxed{\\{1, 2\\}}')?.answer, '\\{1, 2\\}');
  assert.equal(lastBoxed('\\boxed{a{b}c}'), 'a{b}c');
  // An unclosed final box falls back to the last closed one.
  assert.equal(ex('\\boxed{3} and then \\boxed{4')?.answer, '3');
  // Adjacent boxes form one answer (default 'group'); 'last' takes the last box (MATH convention).
  const group = (t: string) => extractAnswer(t)?.answer;
  assert.equal(extractAnswer('$\\boxed{1}$ and $\\boxed{2}$', { boxes: 'last' })?.answer, '2');
  assert.equal(group('$\\boxed{1}$ and $\\boxed{2}$'), '1, 2');
  assert.equal(group('\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}'), '(3, 3), (1, 1)');
  assert.equal(group('\\boxed{1}. Much later, after a long discussion of something else entirely, \\boxed{2}'), '2');
  assert.equal(group('\\boxed{1} '.repeat(50) + '\\boxed{9}'), '1, '.repeat(50) + '9', 'a long run of boxes is one answer set too (issue 14.9)');
  assert.equal(group('\\boxed{1} papers and \\boxed{2} bins'), '1, 2');
  assert.equal(group('\\boxed{1} no no no or no no \\boxed{2}'), '2', 'prose between boxes separates them');
  assert.equal(group('$$\\boxed{20}$$ \\boxed{143}'), '143', 'display math closes an answer');
});

test('<answer> tag comes first and is unwrapped', () => {
  assert.deepEqual(ex('<think>\\boxed{9}</think><answer>33</answer>'), { answer: '33', source: 'answer-tag' });
  assert.equal(ex('<answer>$\\boxed{\\frac12}$</answer>')?.answer, '\\frac12');
  assert.deepEqual(ex('<answer> 7 '), { answer: '7', source: 'answer-tag' }, 'an unclosed final tag runs to the end');
  assert.equal(ex('<answer></answer> 5', 'strict'), undefined);
});

test('"the answer is"', () => {
  assert.deepEqual(ex('Thus, the answer is 42.'), { answer: '42', source: 'answer-is' });
  assert.equal(ex('The final answer is $\\frac{3}{4}$. I hope it is correct.')?.answer, '\\frac{3}{4}');
  assert.equal(ex('Final Answer: The largest $n$ is 34.')?.answer, '34');
  assert.equal(ex('The answer is: 3.5 meters')?.answer, '3.5', 'prose around the value is dropped');
  assert.equal(ex('The answer is \\boxed{12}, clearly')?.answer, '12');
});

test('inline math, bare answers and the final number are flexible-only', () => {
  assert.deepEqual(ex('We get $x = 2$ and finally $\\frac{1}{2}$'), { answer: '\\frac{1}{2}', source: 'inline-math' });
  assert.equal(ex('so \\(3\\sqrt{2}\\) it is')?.answer, '3\\sqrt{2}');
  assert.equal(ex('result: \\[ 17 \\]')?.answer, '17');
  assert.deepEqual(ex('\\frac{10}{9}'), { answer: '\\frac{10}{9}', source: 'whole' });
  assert.deepEqual(ex('there were 12 cows and 7 pigs'), { answer: '7', source: 'last-number' });
  assert.equal(ex('costs 1,234.50 total')?.answer, '1234.50');
  assert.equal(ex('code AZYUK2A'), undefined, 'digits inside a word are not a number');
  for (const t of ['We get $x = 2$', 'there were 12 cows', '\\frac{10}{9}']) assert.equal(ex(t, 'strict'), undefined, t);
  // A `$` escaped as \$ is a dollar sign, and inline math does not run across lines.
  assert.equal(ex('Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $')?.answer, '\\frac{1}{2} \\$ = \\frac{10}{9}');
  assert.equal(ex('Answer $ \n 9 \n $')?.source, 'last-number');
});

test('brace helpers', () => {
  assert.equal(matchBrace('{a{b}c}d', 0), 6);
  assert.equal(matchBrace('{a\\}b}', 0), 5);
  assert.equal(matchBrace('{{', 0), -1);
  assert.equal(bracesBalanced('{a{b}}'), true);
  assert.equal(bracesBalanced('}{'), false);
});

test('pathological completions return quickly with a defined result', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['a thousand boxes', '\\boxed{1} '.repeat(999) + '\\boxed{1000}', '1, '.repeat(999) + '1000'],
    ['a thousand unclosed boxes', '\\boxed{'.repeat(1000), undefined],
    ['1 MB of text then a box', 'x'.repeat(1 << 20) + ' \\boxed{7}', '7'],
    ['1 MB of opening braces', '{'.repeat(1 << 20), undefined],
    ['1 MB of dollars', '$'.repeat(1 << 20), undefined],
    ['1 MB of digits', '9'.repeat(1 << 20), undefined],
    ['unbalanced braces in a box', '\\boxed{\\frac{1}{2}', undefined],
  ];
  for (const [name, text, expected] of cases) {
    const t0 = Date.now();
    const got = extractAnswer(text, { mode: 'strict' })?.answer;
    const last = extractAnswer(text, { mode: 'strict', boxes: 'last' })?.answer;
    assert.equal(last, name === 'a thousand boxes' ? '1000' : got, name);
    const ms = Date.now() - t0;
    assert.equal(got, expected, name);
    // Generous bound: the point is "not quadratic", not a benchmark.
    assert.ok(ms < 5000, `${name} took ${ms} ms`);
  }
  // Flexible mode on the same inputs also terminates with some answer or none.
  for (const [, text] of cases) extractAnswer(text);
});

test('several boxes are one answer set whatever their number (issue 14.9)', () => {
  for (const k of [2, 6, 7, 12, 40]) {
    const bodies = Array.from({ length: k }, (_, i) => String(i + 1));
    const text = 'The values are ' + bodies.map((b) => `\\boxed{${b}}`).join(', ');
    assert.equal(extractAnswer(text)?.answer, bodies.join(', '), `${k} boxes`);
  }
  // a megabyte of unclosed boxes and of boxes stays linear
  for (const text of ['\\boxed{'.repeat(150_000), '\\boxed{1}'.repeat(100_000)]) {
    const t0 = Date.now();
    extractAnswer(text);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  }
});

test('a box longer than the extraction limit is a clear non-match, not the last number inside it', () => {
  const long = 'so the answer is \\boxed{' + 'x+'.repeat(12_000) + '7}';
  const e = extractAnswer(long);
  assert.equal(e?.answer, '');
  assert.equal(e?.source, 'boxed');
  assert.match(e?.note ?? '', /longer than the 20000-character limit/);
  assert.equal(verify('7', e!.answer), false);
  // a box that never closes but opened before the limit is the same; a closed box inside the limit still wins
  assert.match(extractAnswer('\\boxed{' + '1+'.repeat(12_000))?.note ?? '', /longer than/);
  assert.equal(extractAnswer('\\boxed{' + 'x'.repeat(30_000) + '} then \\boxed{5}')?.answer, '5');
  assert.equal(extractAnswer('\\boxed{5} ' + 'x '.repeat(15_000) + ' so 7')?.answer, '7', 'a closed box before the limit is not "too long"');
});

test("decimal commas follow Math-Verify's rule: thousands only as [1-9]dd?,ddd groups, else a decimal comma", () => {
  const cases: Array<[string, string]> = [
    ['1000,99', '1000.99'], ['0,111', '0.111'], ['2,74', '2.74'], ['12,5', '12.5'], ['1,22', '1.22'],
    ['1,234', '1234'], ['1,234,567', '1234567'], ['12,345.5', '12345.5'], ['1,2,3', '3'],
  ];
  for (const [written, value] of cases) assert.equal(extractAnswer(`so the total is ${written} today`)?.answer, value, written);
  for (const [gold, pred, same] of [
    ['1000.99', '1000,99', true], ['0,111', '0.111', true], ['1,22', '1.22', true], ['2.74', '2,74', true],
    ['111', '0,111', false], ['1000', '1,000', true], ['1,2', '2,1', true], ['1,2', '12', false], ['0.111', '0,1110', true],
  ] as const) {
    assert.equal(verify(gold, pred), same, `${gold} vs ${pred}`);
  }
});
