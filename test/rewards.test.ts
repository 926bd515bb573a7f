// Rewards: accuracy and format (the paper's pair), penalties, custom rewards, and no free 1.0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  scoreCompletion, accuracyReward, formatReward, lengthPenalty, formattingPenalty, makeAccuracyReward, DEFAULT_REWARDS,
  type RewardFunction,
} from '../src/verify/index.js';
import type { Problem } from '../src/data/index.js';

const p = (answer: string, extra: Record<string, unknown> = {}): Problem => ({ id: 't', problem: 'Q', answer, ...extra });

test('accuracy + format, weight 1 each, with a per-reward breakdown', () => {
  const r = scoreCompletion('<think>7*3=21 12+21=33</think><answer>33</answer>', p('33'));
  assert.deepEqual(r.rewards, { accuracy: 1, format: 1 });
  assert.equal(r.reward, 2);
  assert.equal(r.correct, true);
  assert.equal(r.answer, '33');

  const wrong = scoreCompletion('<think>7*3=21</think><answer>34</answer>', p('33'));
  assert.deepEqual(wrong.rewards, { accuracy: 0, format: 1 });
  assert.equal(wrong.reward, 1);
  assert.equal(wrong.correct, false);

  const unformatted = scoreCompletion('the answer is \\boxed{33}', p('33'));
  assert.deepEqual(unformatted.rewards, { accuracy: 1, format: 0 });
  assert.equal(scoreCompletion('blah', p('33')).reward, 0);
});

test('format reward: the exact template only', () => {
  const f = (c: string) => scoreCompletion(c, p('1'), [{ fn: formatReward, weight: 1 }]).reward;
  assert.equal(f('<think>a</think><answer>1</answer>'), 1);
  assert.equal(f('<think>\na\n</think>\n<answer>\n1\n</answer>\n'), 1);
  assert.equal(f('<answer>1</answer>'), 0);
  assert.equal(f('<think>a</think>'), 0);
  assert.equal(f('<think>a</think><answer></answer>'), 0);
  assert.equal(f('x<think>a</think><answer>1</answer>'), 0);
  assert.equal(f('<think>a</think><answer>1</answer>tail'), 0);
  assert.equal(f('<think>a<answer>2</answer></think><answer>1</answer>'), 0);
});

test('accuracy reward uses the equivalence checker and strict extraction by default', () => {
  assert.equal(scoreCompletion('<answer>\\frac{1}{2}</answer>', p('0.5')).rewards.accuracy, 1);
  assert.equal(scoreCompletion('<answer>(1, 2)</answer>', p('(2,1)')).rewards.accuracy, 0);
  // No marker: strict extraction finds nothing, so listing numbers earns nothing …
  assert.equal(scoreCompletion('1 2 3 4 5 33', p('33')).rewards.accuracy, 0);
  // … unless the researcher asks for flexible extraction.
  const flexible = makeAccuracyReward({ extract: { mode: 'flexible' } });
  assert.equal(scoreCompletion('1 2 3 4 5 33', p('33'), [{ fn: flexible, weight: 1 }]).reward, 1);
});

test('an unusable gold is flagged and scores 0, never a free 1.0', () => {
  for (const gold of ['\\text{ }', '$$', '\\boxed{}', '\\frac{1}{2']) {
    const r = scoreCompletion('<think>x</think><answer></answer>', p(gold));
    assert.equal(r.rewards.accuracy, 0, gold);
    assert.equal(r.correct, false);
    assert.match(r.flagged ?? '', /empty|unbalanced/, gold);
    const r2 = scoreCompletion('<think>x</think><answer>5</answer>', p(gold));
    assert.equal(r2.rewards.accuracy, 0);
    assert.ok(r2.flagged);
  }
  // A countdown problem without its numbers is flagged too.
  assert.ok(scoreCompletion('<answer>1+2</answer>', p('1+2', { task: 'countdown' })).flagged);
});

test('countdown answers are checked by rule, not by string', () => {
  const cd = p('(3+5)*2', { task: 'countdown', numbers: [3, 5, 2], target: 16 });
  assert.equal(scoreCompletion('<think>.</think><answer>(3+5)*2</answer>', cd).rewards.accuracy, 1);
  assert.equal(scoreCompletion('<think>.</think><answer>2*(5+3)</answer>', cd).rewards.accuracy, 1);
  assert.equal(scoreCompletion('<think>.</think><answer>16</answer>', cd).rewards.accuracy, 0);
  assert.equal(scoreCompletion('<think>.</think><answer>3*5+2-1</answer>', cd).rewards.accuracy, 0);
  assert.equal(scoreCompletion('<think>.</think><answer>3+5+2</answer>', cd).rewards.accuracy, 0);
});

test('penalties and custom rewards combine as a weighted sum', () => {
  const short: RewardFunction = { name: 'short', score: (c) => (c.length < 40 ? 0.5 : 0) };
  const rewards = [...DEFAULT_REWARDS, { fn: short, weight: 2 }, { fn: lengthPenalty({ maxChars: 10, perChar: 0.01 }), weight: 1 }];
  const c = '<think>a</think><answer>1</answer>'; // 34 chars
  const r = scoreCompletion(c, p('1'), rewards);
  assert.equal(r.rewards.short, 0.5);
  assert.ok(Math.abs(r.rewards.length - -0.24) < 1e-12);
  assert.ok(Math.abs(r.reward - (1 + 1 + 2 * 0.5 - 0.24)) < 1e-12);
  const fp = formattingPenalty(0.5);
  assert.equal(scoreCompletion('<answer>1</answer> more', p('1'), [{ fn: fp, weight: 1 }]).reward, -0.5);
  assert.equal(scoreCompletion('<answer>1</answer><answer>2</answer>', p('1'), [{ fn: fp, weight: 1 }]).reward, -0.5);
  assert.equal(scoreCompletion('<answer>1</answer>', p('1'), [{ fn: fp, weight: 1 }]).reward, 0);
  const broken: RewardFunction = { name: 'broken', score: () => NaN };
  assert.throws(() => scoreCompletion(c, p('1'), [{ fn: broken, weight: 1 }]), /broken/);
  assert.equal(accuracyReward.name, 'accuracy');
});
