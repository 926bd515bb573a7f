// Synthetic tasks: seeded, exact (answers re-derived independently), short, and within the charset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateArithmetic, generateCountdown, checkCountdown, evaluateCountdownExpression, workArithmetic,
  SYNTHETIC_CHARSET, ProblemSchema, makeRng,
} from '../src/data/index.js';
import { scoreCompletion } from '../src/verify/index.js';

/** Independent evaluator: JS arithmetic on the problem's expression (only digits and + - * reach it). */
function evalArithmetic(expr: string): number {
  assert.match(expr, /^[\d+\-*]+$/);
  return Function(`"use strict"; return (${expr});`)() as number;
}

test('the generators are deterministic by seed and differ across seeds', () => {
  assert.deepEqual(generateArithmetic({ count: 20, seed: 7 }), generateArithmetic({ count: 20, seed: 7 }));
  assert.notDeepEqual(generateArithmetic({ count: 20, seed: 7 }), generateArithmetic({ count: 20, seed: 8 }));
  assert.deepEqual(generateCountdown({ count: 20, seed: 7 }), generateCountdown({ count: 20, seed: 7 }));
  assert.notDeepEqual(generateCountdown({ count: 20, seed: 7 }), generateCountdown({ count: 20, seed: 8 }));
  const rng = makeRng(1);
  const xs = Array.from({ length: 1000 }, () => rng.int(1, 6));
  assert.ok(xs.every((x) => x >= 1 && x <= 6) && new Set(xs).size === 6);
});

test('arithmetic: exact answers, worked steps, schema, charset, length, difficulty', () => {
  for (const difficulty of [1, 2, 3, 4, 5]) {
    const items = generateArithmetic({ count: 200, seed: difficulty, difficulty });
    for (const it of items) {
      ProblemSchema.parse(it);
      const expr = it.problem.replace(/^Q:/, '');
      assert.equal(Number(it.answer), evalArithmetic(expr), it.problem);
      assert.ok(Number(it.answer) >= 0, 'no negatives by default');
      assert.equal((expr.match(/[+\-*]/g) ?? []).length, [1, 2, 3, 4, 5][difficulty - 1]);
      // Every step is itself true arithmetic, and the last step yields the answer.
      const steps = /<think>(.*)<\/think>/.exec(it.solution!)![1].split(' ');
      for (const s of steps) {
        const [lhs, rhs] = s.split('=');
        assert.equal(evalArithmetic(lhs), Number(rhs), s);
      }
      assert.equal(steps[steps.length - 1].split('=')[1], it.answer);
      for (const ch of it.problem + it.solution!) assert.ok(SYNTHETIC_CHARSET.includes(ch), `char ${ch}`);
      assert.equal(scoreCompletion(it.solution!, it).reward, 2, 'the reference solution earns full reward');
    }
    if (difficulty === 2) {
      const maxLen = Math.max(...items.map((i) => i.problem.length + i.solution!.length));
      assert.ok(maxLen <= 100, `difficulty 2 fits a small context (${maxLen} chars)`);
    }
  }
  assert.deepEqual(workArithmetic([12, 7, 3], ['+', '*']), { value: 33, steps: ['7*3=21', '12+21=33'] });
  assert.deepEqual(workArithmetic([9, 2, 3], ['-', '-']), { value: 4, steps: ['9-2=7', '7-3=4'] });
  const neg = generateArithmetic({ count: 300, seed: 1, allowNegative: true, ops: ['-'], numOps: 2 });
  assert.ok(neg.some((i) => Number(i.answer) < 0));
});

test('countdown: every reference answer reaches the target with each number once', () => {
  for (const difficulty of [1, 2, 3, 4]) {
    for (const it of generateCountdown({ count: 200, seed: 10 + difficulty, difficulty })) {
      ProblemSchema.parse(it);
      const numbers = it.numbers as number[];
      assert.equal(numbers.length, difficulty + 1);
      assert.equal(it.problem, `Q:${numbers.join(',')}->${it.target}`);
      const v = checkCountdown(it.answer, numbers, it.target as number);
      assert.ok(v.correct, `${it.problem} ${it.answer}: ${v.reason}`);
      // Cross-check with plain JS evaluation of the answer expression.
      assert.equal(Function(`return (${it.answer})`)(), it.target);
      for (const ch of it.problem + it.solution!) assert.ok(SYNTHETIC_CHARSET.includes(ch), `char ${ch}`);
      assert.equal(scoreCompletion(it.solution!, it).reward, 2);
    }
  }
});

test('checkCountdown: exact rationals, each number once, clear reasons', () => {
  assert.equal(checkCountdown('(3+5)*2', [3, 5, 2], 16).correct, true);
  assert.equal(checkCountdown('(3+5)*2=16', [2, 3, 5], 16).correct, true);
  assert.equal(checkCountdown('6/4*8', [6, 4, 8], 12).correct, true, 'fractions along the way are fine');
  assert.match(checkCountdown('3*5+2', [3, 5, 2], 16).reason, /evaluates to 17/);
  assert.match(checkCountdown('3+5+2+2', [3, 5, 2], 12).reason, /uses \[2,2,3,5\]/);
  assert.match(checkCountdown('3+5', [3, 5, 2], 8).reason, /must use/);
  assert.match(checkCountdown('1/(3-3)', [1, 3, 3], 0).reason, /division by zero/);
  assert.match(checkCountdown('3+', [3], 3).reason, /not an arithmetic expression/);
  assert.match(checkCountdown('2**3', [2, 3], 8).reason, /not an arithmetic expression/);
  assert.equal(checkCountdown('7/2', [7, 2], 3).correct, false, '3.5 is not 3');
  assert.deepEqual(evaluateCountdownExpression('1/3+1/6').value, [1n, 2n]);
});
