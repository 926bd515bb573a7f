// Multi-round iGRPO (igrpo.rounds / igrpo.budget / igrpo.trainOn): the config's rules, the requests of each
// round as a recording sampler sees them, the trainer's step and its stage-by-stage cells making the same
// requests, every round in the StepState and the logs; the two-round default stays what it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../src/data/schema.js';
import { igrpoRollout, IgrpoOptions, roundBudget, type RolloutDeps } from '../src/rl/igrpo.js';
import type { Completion, SampleRequest } from '../src/rl/rollout.js';
import { mixSeed } from '../src/util/rng.js';
import { parseTrainConfig } from '../src/train/config.js';
import { readMetrics, readRollouts } from '../src/train/records-file.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');

test('config: budget, rounds, drafts and refinements agree, and every error names its field', () => {
  const d = parseTrainConfig({});
  assert.deepEqual([d.igrpo.drafts, d.igrpo.refinements], [4, 4]);
  // the default config is what it was: no new keys (config.json and the resume hash unchanged)
  assert.equal('rounds' in d.igrpo || 'budget' in d.igrpo || 'trainOn' in d.igrpo || 'dynamicSampling' in d, false);
  assert.deepEqual(Object.keys(d.igrpo), ['drafts', 'refinements', 'tieBreak', 'whenNoneCorrect', 'draftContent', 'template']);
  const three = parseTrainConfig({ igrpo: { budget: [4, 2, 2] } });
  assert.deepEqual([three.igrpo.drafts, three.igrpo.refinements], [4, 2]);
  assert.deepEqual(roundBudget(three.igrpo), [4, 2, 2]);
  assert.deepEqual(roundBudget(parseTrainConfig({ igrpo: { drafts: 5, refinements: 3 } }).igrpo), [5, 3]);
  const bad = (c: object, re: RegExp) => assert.throws(() => parseTrainConfig(c), re);
  bad({ igrpo: { budget: [4, 2, 3] } }, /igrpo\.budget: igrpo\.budget \[4, 2, 3\] adds up to 9, not completionsPerPrompt \(8\)/);
  bad({ igrpo: { rounds: 3 } }, /igrpo\.budget: igrpo\.rounds is 3: give igrpo\.budget/);
  bad({ igrpo: { rounds: 2, budget: [4, 2, 2] } }, /igrpo\.rounds: .*must equal the length of igrpo\.budget \(3/);
  bad({ igrpo: { drafts: 3, budget: [4, 2, 2] } }, /igrpo\.drafts: igrpo\.drafts \(3\) must equal igrpo\.budget\[0\] \(4\)/);
  bad({ igrpo: { refinements: 4, budget: [4, 2, 2] } }, /igrpo\.refinements: .*last entry \(2\)/);
  bad({ igrpo: { budget: [6, 1, 1] } }, /igrpo\.budget: igrpo\.budget\[2\] is 1: a trained round needs a group of at least 2/);
  bad({ igrpo: { budget: [4, 1, 3], trainOn: 'all' } }, /igrpo\.budget\[1\] is 1/);
  bad({ igrpo: { drafts: 5 } }, /igrpo\.refinements: igrpo\.drafts \(5\) \+ igrpo\.refinements \(4\) must equal completionsPerPrompt/);
  bad({ dynamicSampling: { maxRounds: 0 } }, /dynamicSampling\.maxRounds/);
  // rounds: 2 with the default split is allowed (the paper)
  assert.equal(parseTrainConfig({ igrpo: { rounds: 2 } }).igrpo.refinements, 4);
  assert.equal(IgrpoOptions.parse({ budget: [3, 3], trainOn: 'all' }).refinements, 3);
});

/** Records every request; completion j of prompt i of request r is "r<r>p<i>c<j>" (digits only: "<r><i><j>", for the character policy). */
function recorder(digits = false) {
  const requests: SampleRequest[] = [];
  const sample = async (req: SampleRequest): Promise<Completion[][]> => {
    requests.push(structuredClone(req));
    const r = requests.length;
    return req.prompts.map((_, i) => Array.from({ length: req.n }, (_, j) => ({ ids: [j], logprobs: [-1], text: digits ? `${r}${i}${j}` : `r${r}p${i}c${j}`, finishReason: 'stop' as const })));
  };
  return { requests, sample };
}

test("three rounds: round k samples budget[k−1] under template(q, d̂⁽ᵏ⁻¹⁾) — q, not q⁽ᵏ⁻¹⁾ — with its own seed; d̂ per round", async () => {
  const problems: Problem[] = [{ id: 'a', problem: 'Q:1', answer: '1' }, { id: 'b', problem: 'Q:2', answer: '2' }];
  const { requests, sample } = recorder();
  // reward = j (the last completion of each group is d̂), except round 2 of prompt 1 whose best is c0
  const score = (_p: Problem, c: Completion) => {
    const j = Number(c.text.slice(-1));
    return { reward: c.text.startsWith('r2p1') ? -j : j, rewards: {}, correct: false, answer: null };
  };
  const encode = (text: string) => [...text].map((ch) => ch.charCodeAt(0));
  const deps: RolloutDeps = { sample, score, promptOf: (p) => p.problem, encode, contextLength: 64, maxNewTokens: 9, seed: 4 };
  const opts = IgrpoOptions.parse({ budget: [3, 2, 4], maxDraftTokens: 5 });
  const r = await igrpoRollout(problems, deps, opts);
  assert.deepEqual(requests.map((q) => q.n), [3, 2, 4]);
  assert.deepEqual(requests.map((q) => q.maxNewTokens), [5, 5, 9], 'every round but the last is a draft round');
  assert.deepEqual(requests.map((q) => q.seed), [mixSeed(4, 1), mixSeed(4, 3), mixSeed(4, 3, 3)]);
  assert.deepEqual(requests[0].prompts.map((p) => p.text), ['Q:1', 'Q:2']);
  assert.deepEqual(requests[1].prompts.map((p) => p.text), ['Q:1\nr1p0c2\n', 'Q:2\nr1p1c2\n']);
  assert.deepEqual(requests[2].prompts.map((p) => p.text), ['Q:1\nr2p0c1\n', 'Q:2\nr2p1c0\n']);
  requests.flatMap((q) => q.prompts).forEach((p) => assert.deepEqual(p.ids, encode(p.text)));
  assert.equal(r.rounds.length, 3);
  assert.deepEqual(r.rounds.map((x) => x.chosen), [[2, 2], [1, 0], undefined]);
  assert.equal(r.drafts, r.rounds[0].groups);
  assert.equal(r.refinements, r.rounds[2].groups);
  assert.deepEqual(r.refinements.map((g) => g.completions.length), [4, 4]);

  // whenNoneCorrect 'fallback' applies to each round: round 2's groups hold no correct completion, so round 3 is under q
  const rec2 = recorder();
  const correctInRound1 = (_p: Problem, c: Completion) => ({ reward: 1, rewards: {}, correct: c.text.startsWith('r1'), answer: null });
  await igrpoRollout(problems, { ...deps, sample: rec2.sample, score: correctInRound1 }, IgrpoOptions.parse({ budget: [2, 2, 2], whenNoneCorrect: 'fallback' }));
  assert.deepEqual(rec2.requests[1].prompts.map((p) => p.text), ['Q:1\nr1p0c0\n', 'Q:2\nr1p1c0\n']);
  assert.deepEqual(rec2.requests[2].prompts.map((p) => p.text), ['Q:1', 'Q:2']);
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-rounds-'));
const cfg3 = (over: object = {}) => tinyConfig({ algo: 'igrpo', steps: 2, completionsPerPrompt: 6, igrpo: { budget: [2, 2, 2] }, ...over });

test('the trainer with 3 rounds: step() makes igrpoRollout\'s requests, the cells (refineRound) the same; every round in the StepState and the logs', async () => {
  const out = tmp();
  const trained = recorder(true);
  const t = await Trainer.create(cfg3(), { policy: tinyPolicy(3), score: lengthScore, out });
  (t as unknown as { sampleFn: unknown }).sampleFn = trained.sample;
  const s = await t.step();
  const direct = recorder(true);
  await igrpoRollout(t.problemsFor(0), { ...t.rolloutDeps(t.begin()), seed: s.seed, sample: direct.sample }, t.config.igrpo);
  assert.deepEqual(trained.requests, direct.requests);
  assert.equal(trained.requests.length, 3);
  assert.equal(s.rounds!.length, 3);
  assert.equal(s.rounds![2].groups, s.groups);
  assert.deepEqual(s.rounds![1].groups.map((g) => g.prompt), trained.requests[1].prompts);

  const cells = recorder(true);
  const v = await Trainer.create(cfg3(), { policy: tinyPolicy(3), score: lengthScore });
  (v as unknown as { sampleFn: unknown }).sampleFn = cells.sample;
  const c = v.begin();
  await v.sampleDrafts(c);
  v.scoreDrafts(c);
  v.selectDrafts(c);
  assert.throws(() => v.buildPrompts(c), /rounds 1…2 come first \(1 done\): call refineRound/);
  const mid = await v.refineRound(c);
  assert.equal(mid.chosen!.length, 2);
  await assert.rejects(v.refineRound(c), /round 3 is the last/);
  v.buildPrompts(c);
  await v.sampleRefinements(c);
  v.scoreRefinements(c);
  assert.deepEqual(cells.requests, trained.requests);
  assert.equal(c.rounds!.length, 3);
  v.computeAdvantages(c);
  await v.update(c);
  await v.finish(c);
  assert.deepEqual(c.metrics!.rounds!.map((r) => r.round), [1, 2, 3]);
  v.dispose();
  t.dispose();

  const recs = readRollouts(path.join(out, 'rollouts.jsonl'));
  assert.deepEqual([...new Set(recs.map((r) => `${r.stage}:${r.round}`))], ['draft:1', 'intermediate:2', 'refinement:3']);
  assert.equal(recs.length, 2 * 6);
  assert.deepEqual(recs.filter((r) => r.chosen).map((r) => r.round), [1, 1, 2, 2], 'd̂ marked in every round but the last');
  assert.ok(recs.filter((r) => r.stage !== 'refinement').every((r) => r.advantage === null));
  assert.ok(recs.filter((r) => r.stage === 'refinement').every((r) => r.advantage !== null));
  const m = readMetrics(path.join(out, 'metrics.jsonl'))[0];
  assert.equal(m.sampledCompletions, 12);
  assert.equal(m.rounds!.length, 3);
  assert.equal(m.rounds![0].bestAccuracy, m.bestDraftAccuracy);
  assert.equal(m.rounds![2].accuracy, m.refinementAccuracy);
  assert.equal(m.rounds![2].wrongToRight, m.wrongToRight);
  assert.equal(m.rounds![0].wrongToRight, undefined);
});

test("trainOn 'all': every round's group is trained (advantages per round, logged), 'last' trains the last only", async () => {
  const out = tmp();
  const t = await Trainer.create(cfg3({ igrpo: { budget: [2, 2, 2], trainOn: 'all' } }), { policy: tinyPolicy(3), score: lengthScore, out });
  const s = await t.step();
  assert.equal(s.advantages!.length, 3 * 2);
  assert.equal(t.trainSequences(s).length, 2 * 6);
  // the draft round's sequences are (q, draft)
  assert.deepEqual(t.trainSequences(s)[0].promptIds, s.rounds![0].groups[0].prompt.ids);
  t.dispose();
  const recs = readRollouts(path.join(out, 'rollouts.jsonl'));
  assert.ok(recs.every((r) => r.advantage !== null));
  const last = await Trainer.create(cfg3(), { policy: tinyPolicy(3), score: lengthScore });
  const l = await last.step();
  assert.equal(last.trainSequences(l).length, 2 * 2);
  last.dispose();
});

test('two rounds written as a budget ([2, 2]) sample, train and log exactly as drafts/refinements do', async () => {
  const run = async (igrpo: object) => {
    const out = tmp();
    const t = await Trainer.create(tinyConfig({ algo: 'igrpo', steps: 2, igrpo }), { policy: tinyPolicy(7), score: lengthScore, out });
    await t.run();
    t.dispose();
    const metrics = readMetrics(path.join(out, 'metrics.jsonl')).map(({ wallMs, tokensPerSecond, ...m }) => m);
    return { metrics, rollouts: fs.readFileSync(path.join(out, 'rollouts.jsonl'), 'utf8') };
  };
  const a = await run({});
  const b = await run({ budget: [2, 2], rounds: 2 });
  assert.equal(b.rollouts, a.rollouts);
  assert.deepEqual(b.metrics, a.metrics);
  assert.equal(a.metrics[0].rounds, undefined, 'no per-round block for the paper\'s two rounds');
});

test('viewer and transitions with 3 rounds: the middle round shown under q⁽²⁾, refinements diffed and counted against d̂⁽²⁾', async () => {
  const { selectPrompt, rolloutViewerHtml, rolloutViewerText } = await import('../src/analysis/viewer.js');
  const { transitions } = await import('../src/analysis/stats.js');
  const base = { step: 0, algo: 'igrpo' as const, seed: 0, promptId: 'p', group: 0, tokens: 2, finishReason: 'stop' as const, rewards: {}, answer: null, gold: '5' };
  const rec = (stage: 'draft' | 'intermediate' | 'refinement', round: number, index: number, text: string, correct: boolean, chosen?: boolean) => ({
    ...base, stage, round, index, prompt: round === 1 ? 'Q' : `Q|${round}`, text, reward: correct ? 1 : 0, correct, advantage: stage === 'refinement' ? 0.5 : null,
    ...(chosen === undefined ? {} : { chosen }),
  });
  const rs = [
    rec('draft', 1, 0, 'one', true, true), rec('draft', 1, 1, 'two', false, false),
    rec('intermediate', 2, 0, 'three', false, true), rec('intermediate', 2, 1, 'four', false, false),
    rec('refinement', 3, 0, 'three five', true), rec('refinement', 3, 1, 'six', false),
  ];
  const p = selectPrompt(rs, { step: 0 });
  assert.deepEqual(p.middle!.map((m) => [m.round, m.prompt, m.completions.length, m.chosen!.text]), [[2, 'Q|2', 2, 'three']]);
  assert.equal(p.conditioning!.text, 'three');
  const html = rolloutViewerHtml(p);
  assert.ok(html.includes('round 2: 2 completions') && html.includes('chosen d̂⁽2⁾'));
  assert.ok(html.includes('<ins>five</ins>') || html.includes('<ins> five</ins>'), 'the refinement is diffed against d̂⁽²⁾ ("three")');
  assert.ok(rolloutViewerText(p).includes('q(2): Q|2'));
  // d̂⁽²⁾ is wrong: the refinements are wrong→right 1 of 2, and nothing is counted from the right d̂⁽¹⁾
  const t = transitions(rs);
  assert.deepEqual(t.counts, [[1, 1], [0, 0]]);
});

test('refinement diagnostics from the rollouts of a 3-round run compare the refinements with d̂⁽²⁾ (logged marks agree)', async () => {
  const { diagnosticsFromRollouts } = await import('../src/analysis/diagnostics.js');
  const out = tmp();
  const t = await Trainer.create(cfg3({ steps: 2 }), { policy: tinyPolicy(4), score: lengthScore, out });
  const states = [await t.step(), await t.step()];
  t.dispose();
  const recs = readRollouts(path.join(out, 'rollouts.jsonl'));
  const rows = diagnosticsFromRollouts(recs);
  assert.equal(rows.length, 2);
  rows.forEach((row, step) => {
    assert.equal(row.refinements, 2 * 2);
    // the logged metrics (computed from the trainer's own rounds) and the rows from the logs agree
    const m = states[step].metrics!;
    assert.equal(row.fixRate, m.wrongToRight);
    assert.equal(row.breakRate, m.rightToWrong);
    assert.equal(row.copyRate, m.copyRate);
    assert.equal(row.overlapWithDraft, m.overlapWithDraft);
    assert.deepEqual(m.zeroVariance!.intermediate!.groups, 2);
  });
  // the overlap is with round 2's d̂, not the draft's: recompute it by hand for one refinement
  const { textSimilarity } = await import('../src/rl/overlap.js');
  const ref = recs.find((r) => r.stage === 'refinement')!;
  const d2 = recs.find((r) => r.step === ref.step && r.group === ref.group && r.round === 2 && r.chosen)!;
  assert.equal(ref.overlapWithDraft, textSimilarity(d2.text, ref.text));
});
