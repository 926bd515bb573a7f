// Refinement diagnostics: the text-overlap measure, copy rate, zero-variance reasons — on hand-made groups with known
// answers — and how they reach metrics.jsonl and rollouts.jsonl.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Problem } from '../src/data/schema.js';
import { refinementDiagnostics, sameAnswer, zeroVarianceCounts, type AttemptGroup } from '../src/rl/diagnostics.js';
import { levenshtein, textSimilarity } from '../src/rl/overlap.js';
import type { Group, Scored } from '../src/rl/rollout.js';
import { metricsOf, MetricsRecord, rolloutRecords, RolloutRecord } from '../src/train/records.js';

const close = (a: number | null | undefined, b: number, msg?: string) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} ≠ ${b}`);

test('levenshtein and textSimilarity against hand-computed values', () => {
  assert.equal(levenshtein([...'kitten'], [...'sitting']), 3);
  assert.equal(levenshtein([...'flaw'], [...'lawn']), 2);
  assert.equal(levenshtein([], [...'abc']), 3);
  assert.equal(levenshtein([...'abc'], [...'abc']), 0);
  close(textSimilarity('kitten', 'sitting'), 1 - 3 / 7);
  // one changed digit twice in a 38-character structured completion
  const a = '<think>3+4=7</think><answer>7</answer>';
  assert.equal(a.length, 38);
  close(textSimilarity(a, a), 1);
  close(textSimilarity(a, '<think>3+4=8</think><answer>8</answer>'), 1 - 2 / 38);
  // d̂ kept and as much appended: half of the longer text is new
  close(textSimilarity('abcd', 'abcdwxyz'), 0.5);
  close(textSimilarity('abc', ''), 0);
  close(textSimilarity('', ''), 1);
  close(textSimilarity('  a \n b\t', 'a b'), 1); // layout is not content
  close(textSimilarity('é', 'e'), 0); // code points, not bytes
  close(textSimilarity('A=7', 'no'), 0);
});

test('textSimilarity compares over words when the character table would be too large', () => {
  const body = Array.from({ length: 3000 }, () => 'ab').join(' ');
  const a = body;
  const b = `zz ${body} zz`; // differs at both ends: 8999 × 9005 cells, above MAX_CELLS
  close(textSimilarity(a, b), 1 - 2 / 3002);
  // a short pair with the same change is compared over characters
  close(textSimilarity('ab ab', 'zz ab ab zz'), 1 - 6 / 11);
});

test('sameAnswer: equal strings or verifier-equivalent, never without an answer', () => {
  assert.equal(sameAnswer('7', '7'), true);
  assert.equal(sameAnswer('7', ' 7 '), true);
  assert.equal(sameAnswer('0.5', '1/2'), true);
  assert.equal(sameAnswer('7', '8'), false);
  assert.equal(sameAnswer('7', null), false);
  assert.equal(sameAnswer(null, '7'), false);
  assert.equal(sameAnswer('', ''), false);
});

const at = (text: string, answer: string | null, correct = false, reward = correct ? 1 : 0) => ({ text, answer, correct, reward });

// prompt 0: d̂ = 'A=7' (answer 7); prompt 1: d̂ has no answer; prompt 2: q′ fell back to q (no d̂ shown)
const drafts: AttemptGroup[] = [
  { prompt: 'Q0', attempts: [at('A=5', '5'), at('A=7', '7', true)] },
  { prompt: 'Q1', attempts: [at('x', null), at('y', null)] },
  { prompt: 'Q2', attempts: [at('B=1', '1'), at('B=2', '2')] },
];
const chosen = [1, 0, 0];
const refinements: AttemptGroup[] = [
  { prompt: 'Q0\nA=7\n', attempts: [at('A=7', '7', true), at('A=7.0', '7.0', true), at('no', null), at('A=8', '8')] },
  { prompt: 'Q1\nx\n', attempts: [at('x', null), at('z', '3')] },
  { prompt: 'Q2', attempts: [at('B=1', '1'), at('B=3', '3')] },
];

test('refinementDiagnostics: copies over refinements whose d̂ has an answer, overlap, the sibling baseline, fallbacks left out', () => {
  const d = refinementDiagnostics(drafts, chosen, refinements);
  assert.deepEqual(d.marks.map((g) => g.map((m) => m.copy)), [[true, true, false, false], [null, null], [null, null]]);
  const overlaps = d.marks.map((g) => g.map((m) => m.overlap));
  [[1, 1 - 2 / 5, 0, 1 - 1 / 3], [1, 0]].forEach((row, g) => row.forEach((x, j) => close(overlaps[g][j], x, `overlap[${g}][${j}]`)));
  assert.deepEqual(overlaps[2], [null, null]);
  assert.equal(d.copies, 2);
  assert.equal(d.copyBase, 4); // prompt 1's d̂ has no answer, prompt 2 never showed d̂
  close(d.copyRate, 0.5);
  close(d.overlapWithDraft, (1 + 0.6 + 0 + 2 / 3 + 1 + 0) / 6);
  close(d.overlapBetweenDrafts, (2 / 3 + 0) / 2); // 'A=7' vs 'A=5', 'x' vs 'y'
  // no d̂ with an answer anywhere: no copy rate at all (not 0)
  const none = refinementDiagnostics(drafts.slice(1, 2), [0], refinements.slice(1, 2));
  assert.equal(none.copyRate, null);
  assert.throws(() => refinementDiagnostics(drafts, [0], refinements), /3 draft groups, 1 choices, 3 refinement groups/);
});

test('zeroVarianceCounts: equal rewards by reason', () => {
  const c = zeroVarianceCounts([
    [at('a', '1', true), at('b', '1', true)], // all correct
    [at('a', null), at('b', '2')], // all wrong
    [at('a', '1', true, 1), at('b', '2', false, 1)], // equal rewards, mixed correctness
    [at('a', '1', true), at('b', '2')], // varies: not counted
    [at('a', '2', false, 0.5), at('b', '2', false, 0)], // all wrong but rewards vary (format): not counted
  ]);
  assert.deepEqual(c, { groups: 5, zeroVariance: 3, allCorrect: 1, allWrong: 1, other: 1 });
});

// The same hand-made step as live groups, through the record builders.
const problem = (id: string): Problem => ({ id, problem: id, answer: '7' });
const scored = (a: ReturnType<typeof at>): Scored => ({
  ids: [...a.text].map(() => 1), logprobs: [...a.text].map(() => -0.5), text: a.text, finishReason: 'stop',
  score: { reward: a.reward, rewards: { accuracy: a.reward }, correct: a.correct, answer: a.answer },
});
const live = (gs: AttemptGroup[]): Group[] => gs.map((g, i) => ({ problem: problem(`Q${i}`), prompt: { text: g.prompt, ids: [1] }, completions: g.attempts.map(scored) }));

test('metrics.jsonl carries copy rate, overlaps and zero-variance reasons; rollouts.jsonl marks each refinement', () => {
  const draftGroups = live(drafts);
  const groups = live(refinements);
  const update = { kl: 0, clipFraction: 0, loss: 0, gradNorm: 0 };
  const m = metricsOf({ step: 3, lr: 1e-4, draftGroups, chosen, groups, update, times: { total: 10 } }, { algo: 'igrpo', seed: 1 });
  MetricsRecord.parse(m);
  close(m.copyRate, 0.5);
  close(m.overlapWithDraft, (1 + 0.6 + 0 + 2 / 3 + 1 + 0) / 6);
  close(m.overlapBetweenDrafts, 1 / 3);
  // drafts: prompts 1 and 2 all wrong (rewards 0, 0); refinements: prompts 1 and 2 too; prompt 0 varies in both
  assert.deepEqual(m.zeroVariance, {
    draft: { groups: 3, zeroVariance: 2, allCorrect: 0, allWrong: 2, other: 0 },
    refinement: { groups: 3, zeroVariance: 2, allCorrect: 0, allWrong: 2, other: 0 },
  });
  const rs = rolloutRecords({ step: 3, draftGroups, chosen, groups }, { algo: 'igrpo', seed: 1 });
  rs.forEach((r) => RolloutRecord.parse(r));
  const refs = rs.filter((r) => r.stage === 'refinement');
  assert.deepEqual(refs.map((r) => r.copy), [true, true, false, false, null, null, null, null]);
  assert.equal(refs[1].overlapWithDraft, 0.6);
  assert.ok(rs.filter((r) => r.stage === 'draft').every((r) => !('copy' in r) && !('overlapWithDraft' in r)));
  // GRPO: its one stage, no copy fields
  const g = metricsOf({ step: 0, lr: 1e-4, groups, update, times: { total: 10 } }, { algo: 'grpo', seed: 1 });
  assert.deepEqual(Object.keys(g.zeroVariance!), ['grpo']);
  assert.equal(g.copyRate, undefined);
  assert.ok(rolloutRecords({ step: 0, groups }, { algo: 'grpo', seed: 1 }).every((r) => r.copy === undefined));
});
