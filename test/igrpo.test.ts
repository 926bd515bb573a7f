// iGRPO: best-draft selection and its options, the q' templates, matched budgets, and that no gradient
// reaches stage 1 (drafts are plain data; perturbing them leaves the update's gradient unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../src/data/schema.js';
import {
  draftRequest, grpoRequest, grpoRollout, igrpoRollout, IgrpoOptions, questionPrompts, refinementPrompt, refinementPrompts, refinementRequest, selectBestDraft,
  type RolloutDeps,
} from '../src/rl/igrpo.js';
import type { Completion, SampleRequest, Scored } from '../src/rl/rollout.js';
import { getTemplate, registerTemplate } from '../src/rl/templates.js';
import { policyUpdate, type GradientOptimizer } from '../src/rl/update.js';
import { ObjectiveConfig } from '../src/rl/loss.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');

const draft = (text: string, reward: number, correct = false, answer: string | null = null): Scored => ({
  ids: Array.from({ length: text.length }, () => 5), logprobs: [], text, finishReason: 'stop',
  score: { reward, rewards: { accuracy: reward }, correct, answer },
});

test('argmax of rewards: first / shortest / seeded random among ties only', () => {
  const ds = [draft('aaaa', 1), draft('b', 0), draft('cc', 1), draft('ddd', 1)];
  assert.equal(selectBestDraft(ds, 'first', 0), 0);
  assert.equal(selectBestDraft(ds, 'shortest', 0), 2);
  const picks = new Set(Array.from({ length: 40 }, (_, s) => selectBestDraft(ds, 'random', s)));
  assert.deepEqual([...picks].sort(), [0, 2, 3]); // never the lower-reward draft 1, and every tie reachable
  assert.equal(selectBestDraft(ds, 'random', 7), selectBestDraft(ds, 'random', 7));
  assert.equal(selectBestDraft([draft('x', -1), draft('y', 0.5)], 'first', 0), 1);
});

test("templates: plain and paper q', answer-only drafts, fallback when no draft is correct, user templates", () => {
  const opts = IgrpoOptions.parse({ template: 'plain' });
  const ds = [draft('<think>1+1=3</think><answer>3</answer>', 1, false, '3')];
  assert.equal(refinementPrompt('Q:1+1\n', ds, 0, opts), 'Q:1+1\n\n<think>1+1=3</think><answer>3</answer>\n');
  const paper = refinementPrompt('What is 1+1?', ds, 0, IgrpoOptions.parse({}));
  assert.ok(paper.startsWith('What is 1+1?') && paper.includes('prior attempt') && paper.includes(ds[0].text));
  assert.ok(paper.indexOf(ds[0].text) > paper.indexOf('What is 1+1?'));
  assert.equal(refinementPrompt('Q:1+1\n', ds, 0, IgrpoOptions.parse({ template: 'plain', draftContent: 'answer' })), 'Q:1+1\n\n3\n');
  assert.equal(refinementPrompt('Q:1+1\n', ds, 0, IgrpoOptions.parse({ template: 'plain', whenNoneCorrect: 'fallback' })), 'Q:1+1\n');
  const right = [draft('ok', 2, true)];
  assert.equal(refinementPrompt('Q', right, 0, IgrpoOptions.parse({ template: 'plain', whenNoneCorrect: 'fallback' })), 'Q\nok\n');
  registerTemplate('mine', ({ question, draft }) => `[${question}|${draft}]`);
  assert.equal(getTemplate('mine')({ question: 'q', draft: 'd' }), '[q|d]');
  assert.throws(() => getTemplate('nope'), /unknown refinement template 'nope'.*plain/);
});

test('rollout: N drafts under q, G refinements under template(q, d̂); GRPO baseline samples N + G under q', async () => {
  const problems: Problem[] = [{ id: 'a', problem: 'Q:1', answer: '1' }, { id: 'b', problem: 'Q:2', answer: '2' }];
  const requests: SampleRequest[] = [];
  // a fake sampler: completion j of prompt i is "p<i>c<j>"; the reward favours j = 2 in stage 1
  const sampleFn = async (req: SampleRequest): Promise<Completion[][]> => {
    requests.push(req);
    return req.prompts.map((_, i) => Array.from({ length: req.n }, (_, j) => ({ ids: [j], logprobs: [-1], text: `p${i}c${j}`, finishReason: 'stop' as const })));
  };
  const score = (_p: Problem, c: Completion) => ({ reward: c.text.endsWith('c2') ? 1 : 0, rewards: {}, correct: false, answer: null });
  const opts = IgrpoOptions.parse({ drafts: 3, refinements: 5, template: 'plain' });
  // a fake tokenizer: one id per character
  const encode = (text: string) => [...text].map((ch) => ch.charCodeAt(0));
  const deps: RolloutDeps = { sample: sampleFn, score, promptOf: (p: Problem) => p.problem, encode, contextLength: 64, maxNewTokens: 9, seed: 4 };
  const r = await igrpoRollout(problems, deps, opts);
  assert.deepEqual(requests.map((q) => q.n), [3, 5]);
  assert.deepEqual(requests[0].prompts.map((p) => p.text), ['Q:1', 'Q:2']);
  assert.deepEqual(r.chosen, [2, 2]);
  assert.deepEqual(requests[1].prompts.map((p) => p.text), ['Q:1\np0c2\n', 'Q:2\np1c2\n']);
  // each prompt is encoded once and sampled under those ids
  requests.flatMap((q) => q.prompts).forEach((p) => assert.deepEqual(p.ids, encode(p.text)));
  assert.deepEqual(r.refinements.map((g) => g.prompt), requests[1].prompts);
  assert.equal(r.refinements[0].completions.length, 5);
  assert.notEqual(requests[0].seed, requests[1].seed);
  const questions = questionPrompts(problems, deps);
  assert.equal(grpoRequest(questions, deps, 8).n, 8);
  assert.equal(draftRequest(questions, deps, opts).n + refinementRequest(questions.slice(0, 1), deps, opts).n, 8);
  assert.equal(draftRequest(questions, deps, IgrpoOptions.parse({ maxDraftTokens: 4 })).maxNewTokens, 4);
  assert.deepEqual(refinementPrompts(r.drafts, [0, 1], opts, deps).map((p) => p.text), ['Q:1\np0c0\n', 'Q:2\np1c1\n']);
  // a q' that leaves less than min(8, maxNewTokens) positions to generate falls back to q
  const tight = { ...deps, contextLength: 'Q:1\np0c0\n'.length + 7 };
  assert.deepEqual(refinementPrompts(r.drafts, [0, 1], opts, tight).map((p) => p.text), ['Q:1', 'Q:2']);
});

/** A sampler that records every request (prompt texts and ids, n, limits, seed) and answers deterministically. */
function recordingSampler(): { requests: SampleRequest[]; sample: (req: SampleRequest) => Promise<Completion[][]> } {
  const requests: SampleRequest[] = [];
  const sample = async (req: SampleRequest) => {
    requests.push(structuredClone(req));
    return req.prompts.map((p, i) =>
      Array.from({ length: req.n }, (_, j) => {
        const text = `${(req.seed + 7 * i + 3 * j + p.ids.length) % 10}${'9'.repeat(j % 3)}`;
        return { ids: [...text].map((ch) => ch.charCodeAt(0) % 16 + 3), logprobs: [-0.5], text, finishReason: 'stop' as const };
      }),
    );
  };
  return { requests, sample };
}

for (const algo of ['igrpo', 'grpo'] as const) {
  test(`the rollout the trainer runs is ${algo}Rollout: a fake sampler sees exactly the requests that function makes`, async () => {
    const trained = recordingSampler();
    const t = await Trainer.create(tinyConfig({ algo, steps: 2 }), { policy: tinyPolicy(3), score: lengthScore });
    // the trainer samples through its SampleFn: swap in the recording fake
    (t as unknown as { sampleFn: unknown }).sampleFn = trained.sample;
    const direct = recordingSampler();
    for (let step = 0; step < 2; step++) {
      const before = trained.requests.length;
      const s = await t.step();
      // the same step's deps, with the fake as the sampler, into the rl function itself
      const deps = { ...t.rolloutDeps(t.begin()), seed: s.seed, sample: direct.sample };
      const problems = t.problemsFor(step);
      const groups = algo === 'igrpo' ? (await igrpoRollout(problems, deps, t.config.igrpo)).refinements : await grpoRollout(problems, deps, t.config.completionsPerPrompt);
      assert.deepEqual(trained.requests.slice(before), direct.requests.slice(before));
      assert.equal(direct.requests.length - before, algo === 'igrpo' ? 2 : 1);
      assert.deepEqual(s.groups!.map((g) => g.prompt), groups.map((g) => g.prompt));
      assert.deepEqual(s.groups!.map((g) => g.completions.map((c) => c.text)), groups.map((g) => g.completions.map((c) => c.text)));
    }
    // stage by stage (a notebook, one cell each) makes the same requests as step()
    const stages = recordingSampler();
    const viaStages = await Trainer.create(tinyConfig({ algo, steps: 2 }), { policy: tinyPolicy(3), score: lengthScore });
    (viaStages as unknown as { sampleFn: unknown }).sampleFn = stages.sample;
    const s = viaStages.begin();
    if (algo === 'igrpo') {
      await viaStages.sampleDrafts(s);
      viaStages.scoreDrafts(s);
      viaStages.selectDrafts(s);
    }
    viaStages.buildPrompts(s);
    await viaStages.sampleRefinements(s);
    assert.deepEqual(stages.requests, trained.requests.slice(0, algo === 'igrpo' ? 2 : 1));
    t.dispose();
    viaStages.dispose();
  });
}

function hasTensor(x: unknown): boolean {
  if (x instanceof tf.Tensor) return true;
  if (Array.isArray(x)) return x.some(hasTensor);
  if (x && typeof x === 'object') return Object.values(x).some(hasTensor);
  return false;
}

test('no gradient through stage 1: drafts are plain data, and perturbing them leaves the gradient unchanged', async () => {
  const t = await Trainer.create(tinyConfig({ algo: 'igrpo' }), { policy: tinyPolicy(3), score: lengthScore });
  const s = t.begin();
  const before = tf.memory().numTensors;
  await t.sampleDrafts(s);
  assert.equal(tf.memory().numTensors, before, 'stage 1 leaves no tensors behind');
  t.scoreDrafts(s);
  assert.equal(hasTensor(s.drafts) || hasTensor(s.draftGroups), false);
  t.selectDrafts(s);
  t.buildPrompts(s);
  await t.sampleRefinements(s);
  t.scoreRefinements(s);
  t.computeAdvantages(s);
  assert.ok(s.advantages!.flat().some((a) => a !== 0), 'the stand-in reward gives a signal');

  const gradsOf = async () => {
    const grads: Float32Array[] = [];
    const recorder: GradientOptimizer = { step: (gs) => gs.forEach((g) => grads.push(g.dataSync() as Float32Array)) };
    await policyUpdate(t.policy, recorder, t.trainSequences(s), {
      objective: ObjectiveConfig.parse({}), temperature: 0.7, microBatchSize: 3, numIterations: 1, maxCompletionLength: 12, lr: 0,
    });
    return grads;
  };
  const g1 = await gradsOf();
  // perturb everything about the drafts except which one was chosen and its text (which q' already holds)
  for (const g of s.draftGroups!) for (const c of g.completions) { c.logprobs = c.logprobs.map((x) => x * 3 - 1); c.score.reward += 10; }
  for (const row of s.drafts!) for (const c of row) c.logprobs = c.logprobs.map(() => -100);
  const g2 = await gradsOf();
  assert.equal(g1.length, t.policy.parameters().length);
  assert.ok(g1.some((g) => g.some((x) => x !== 0)));
  g1.forEach((g, i) => assert.deepEqual(g2[i], g));
  // the sequences trained on are exactly (q', refinement): no draft sequence is among them
  const seqs = t.trainSequences(s);
  assert.equal(seqs.length, 2 * 2);
  const tok = t.policy.tokenizer;
  seqs.forEach((q, i) => assert.equal(tok.decode(q.promptIds), s.prompts![Math.floor(i / 2)].text));
  t.dispose();
});
