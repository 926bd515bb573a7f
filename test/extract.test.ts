// Answer extraction: each source, its priority, strict vs flexible, and bounded time on pathological text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAnswer, lastBoxed, matchBrace, bracesBalanced } from '../src/verify/index.js';

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
  assert.equal(group('\\boxed{1} '.repeat(50) + '\\boxed{9}'), '9', 'a long run of boxes is not one answer');
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
    ['a thousand boxes', '\\boxed{1} '.repeat(999) + '\\boxed{1000}', '1000'],
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
    assert.equal(extractAnswer(text, { mode: 'strict', boxes: 'last' })?.answer, got, name);
    const ms = Date.now() - t0;
    assert.equal(got, expected, name);
    // Generous bound: the point is "not quadratic", not a benchmark.
    assert.ok(ms < 5000, `${name} took ${ms} ms`);
  }
  // Flexible mode on the same inputs also terminates with some answer or none.
  for (const [, text] of cases) extractAnswer(text);
});
