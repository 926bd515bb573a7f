// The held-out refinement probe: pass@1 under q′ built from the policy's own best of N drafts, scored as in
// training — on a recording sampler with known answers, and through a run's evals.jsonl when eval.refinementProbe is on.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../src/data/schema.js';
import { IgrpoOptions, type RolloutDeps } from '../src/rl/igrpo.js';
import type { Completion, SampleRequest, Score } from '../src/rl/rollout.js';
import { refinementProbe } from '../src/train/evaluate.js';
import { readEvals } from '../src/train/records-file.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');

const completion = (text: string): Completion => ({ ids: [...text].map(() => 1), logprobs: [], text, finishReason: 'stop' });

test('refinementProbe: drafts under q, d̂ chosen and q′ built as in training, k refinements scored under q′', async () => {
  const problems: Problem[] = [{ id: 'a', problem: 'Q:a', answer: '1' }, { id: 'b', problem: 'Q:b', answer: '2' }];
  const drafts: Record<string, string[]> = { 'Q:a': ['=5', '=1', '=7'], 'Q:b': ['=3', '=4', '=9'] };
  const refined: Record<string, string[]> = { 'Q:a\n=1\n': ['=1', '=1'], 'Q:b\n=3\n': ['=2', '=3'] };
  const requests: { stage: string; texts: string[]; n: number; seed: number }[] = [];
  const sampler = (stage: string, table: Record<string, string[]>) => async (req: SampleRequest) => {
    requests.push({ stage, texts: req.prompts.map((p) => p.text), n: req.n, seed: req.seed });
    return req.prompts.map((p) => table[p.text].slice(0, req.n).map(completion));
  };
  const score = (p: Problem, c: Completion): Score => {
    const answer = c.text.slice(1);
    const correct = answer === p.answer;
    return { reward: correct ? 1 : 0, rewards: { accuracy: correct ? 1 : 0 }, correct, answer };
  };
  const deps: RolloutDeps = {
    sample: sampler('draft', drafts), score, promptOf: (p) => p.problem, encode: (t) => [...t].map((ch) => ch.charCodeAt(0)),
    contextLength: 64, maxNewTokens: 8, seed: 5,
  };
  const r = await refinementProbe(problems, deps, IgrpoOptions.parse({ drafts: 3, refinements: 5 }), { k: 2, refine: sampler('refine', refined), temperature: 0.6, chunk: 1 });
  // a: d̂ = '=1' (the only correct draft); b: no draft correct, d̂ = the first; q′ = q, d̂, newline ('plain')
  assert.deepEqual(requests.map((q) => [q.stage, q.texts, q.n]), [
    ['draft', ['Q:a'], 3], ['refine', ['Q:a\n=1\n'], 2],
    ['draft', ['Q:b'], 3], ['refine', ['Q:b\n=3\n'], 2],
  ]);
  assert.notEqual(requests[0].seed, requests[2].seed); // a stream per chunk
  assert.deepEqual(r.perProblem, [1, 0.5]);
  assert.equal(r.passAt1, 0.75);
  assert.equal(r.n, 2);
  assert.equal(r.k, 2);
  assert.equal(r.drafts, 3);
  assert.equal(r.draftAccuracy, 1 / 6);
  assert.equal(r.bestDraftAccuracy, 1 / 2);
  assert.equal(r.copyRate, 3 / 4); // a: '1', '1' repeat d̂'s 1; b: '3' repeats d̂'s 3, '2' does not
  assert.equal(r.temperature, 0.6);
  assert.ok(Math.abs(r.stderr! - Math.sqrt(0.125 / 2)) < 1e-12); // sample variance of [1, 0.5] over 2 problems
});

test('eval.refinementProbe logs the probe beside single-pass pass@1 in evals.jsonl at each evaluation; off by default', async () => {
  for (const on of [true, false]) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-probe-'));
    const cfg = tinyConfig({ steps: 1, eval: { every: 1, size: 3, k: 2, atStart: true, refinementProbe: on } });
    const t = await Trainer.create(cfg, { policy: tinyPolicy(3), score: lengthScore, out });
    await t.run();
    t.dispose();
    const evals = readEvals(path.join(out, 'evals.jsonl'));
    assert.deepEqual(evals.map((e) => e.updates), [0, 1]);
    for (const e of evals) {
      if (!on) {
        assert.equal(e.refinementProbe, undefined);
        continue;
      }
      const p = e.refinementProbe!;
      assert.deepEqual([p.n, p.k, p.drafts, p.temperature], [3, 2, 2, 0.6]);
      assert.ok(p.passAt1 >= 0 && p.passAt1 <= 1 && p.bestDraftAccuracy >= 0 && p.bestDraftAccuracy <= 1);
    }
    if (on) continue;
    // the probe samples on its own seeds and changes nothing in training: it may be switched on when resuming
    const more = tinyConfig({ steps: 2, eval: { every: 1, size: 3, k: 2, atStart: true, refinementProbe: true } });
    const r = await Trainer.create(more, { score: lengthScore, out, resume: true });
    await r.run();
    r.dispose();
    const after = readEvals(path.join(out, 'evals.jsonl'));
    assert.deepEqual(after.map((e) => [e.updates, e.refinementProbe !== undefined]), [[0, false], [1, false], [2, true]]);
  }
});
