// Dynamic sampling (config.dynamicSampling, DAPO / verl filter_groups): what is kept, dropped and drawn; the
// trainer's fresh prompts and seeds as a recording sampler sees them; counts in the metrics; resume stays
// bit-identical (fresh prompts follow from seed and step).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../src/data/schema.js';
import { fillBatch, hasSignal } from '../src/rl/dynamic-sampling.js';
import { roundSeed } from '../src/rl/igrpo.js';
import type { Completion, SampleRequest, ScoreFn } from '../src/rl/rollout.js';
import { readMetrics } from '../src/train/records-file.js';
import { drawSeed, freshProblems } from '../src/train/step-rollout.js';
import { trainProblems } from '../src/train/task.js';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');

test('fillBatch: keeps groups with signal in draw order, draws until full or capped, cuts the surplus (verl batch[:traj_bsz])', async () => {
  assert.equal(hasSignal([1, 1, 1]), false);
  assert.equal(hasSignal([0, 0, 0.5]), true);
  assert.equal(hasSignal([2]), true, 'a group of one is kept, as verl');
  const odd = (u: number) => u % 2 === 1;
  const supply: Record<number, number[]> = { 1: [5, 6, 7], 2: [9] };
  const calls: number[] = [];
  const draw = async (d: number) => (calls.push(d), supply[d]);
  const full = await fillBatch([0, 1, 2, 3], draw, odd, 3, 5);
  assert.deepEqual(full, { kept: [1, 3, 5], discarded: [0, 2, 6, 7], draws: 2, groupsDrawn: 7, groupsDropped: 3, groupsUnused: 1, filled: true });
  assert.deepEqual(calls, [1]);
  const capped = await fillBatch([0, 1, 2, 3], draw, odd, 3, 1);
  assert.deepEqual({ ...capped, discarded: undefined }, { kept: [1, 3], discarded: undefined, draws: 1, groupsDrawn: 4, groupsDropped: 2, groupsUnused: 0, filled: false });
  assert.deepEqual(calls, [1], 'the cap counts the first draw');
  // nothing with signal in any draw: the step trains on its own (all zero-advantage) groups
  const none = await fillBatch([0, 2], async () => [4], odd, 2, 2);
  assert.deepEqual(none, { kept: [0, 2], discarded: [4], draws: 2, groupsDrawn: 3, groupsDropped: 3, groupsUnused: 0, filled: false });
});

/** Reward: lengthScore, except problems whose id ends in an even digit, which all score 0 (groups without signal). */
const flat = (p: Problem) => Number(p.id.slice(-1)) % 2 === 0;
const halfFlat: ScoreFn = (p, c) => (flat(p) ? { ...lengthScore(p, c), reward: 0, rewards: { digits: 0 } } : lengthScore(p, c));

function recorder() {
  const requests: SampleRequest[] = [];
  const sample = async (req: SampleRequest): Promise<Completion[][]> => {
    requests.push(structuredClone(req));
    return req.prompts.map((p, i) =>
      Array.from({ length: req.n }, (_, j) => {
        const text = `${(req.seed + 7 * i + 3 * j + p.ids.length) % 10}${'9'.repeat(j % 3)}+`;
        return { ids: [...text].map((ch) => (ch.charCodeAt(0) % 16) + 3), logprobs: [-0.5], text, finishReason: 'stop' as const };
      }),
    );
  };
  return { requests, sample };
}

for (const algo of ['igrpo', 'grpo'] as const) {
  test(`${algo}: groups without signal are replaced by fresh prompts of draw d (seeded by step and d); counted in the metrics`, async () => {
    const cfg = tinyConfig({ algo, steps: 3, promptsPerStep: 4, dynamicSampling: { maxRounds: 3 } });
    const rec = recorder();
    const t = await Trainer.create(cfg, { policy: tinyPolicy(3), score: halfFlat });
    (t as unknown as { sampleFn: unknown }).sampleFn = rec.sample;
    const pool = trainProblems(cfg.data);
    const perDraw = algo === 'igrpo' ? 2 : 1;
    for (let step = 0; step < 3; step++) {
      const before = rec.requests.length;
      const s = await t.step();
      const own = t.problemsFor(step);
      const reqs = rec.requests.slice(before);
      // draw 0: the step's own prompts, with the step's own seeds (as without dynamic sampling)
      assert.deepEqual(reqs[0].prompts.map((p) => p.text), own.map((p) => `${p.problem}\n`));
      assert.equal(reqs[0].seed, algo === 'igrpo' ? roundSeed(s.seed, 1) : roundSeed(s.seed, 2));
      const seen = new Set(own.map((p) => p.id));
      let expectedKept = own.filter((p) => !flat(p));
      for (let d = 1; d < s.dynamic!.draws; d++) {
        const fresh = freshProblems(pool, cfg, step, d).filter((p) => !seen.has(p.id));
        fresh.forEach((p) => seen.add(p.id));
        const r = reqs[d * perDraw];
        assert.deepEqual(r.prompts.map((p) => p.text), fresh.map((p) => `${p.problem}\n`), `step ${step} draw ${d}: fresh prompts`);
        assert.equal(r.seed, roundSeed(drawSeed(s.seed, d), algo === 'igrpo' ? 1 : 2));
        expectedKept = [...expectedKept, ...fresh.filter((p) => !flat(p))];
      }
      assert.equal(reqs.length, s.dynamic!.draws * perDraw);
      // kept: the prompts with signal, in draw order, cut to the batch
      assert.deepEqual(s.problems.map((p) => p.id), expectedKept.slice(0, 4).map((p) => p.id));
      assert.ok(s.groups!.every((g) => hasSignal(g.completions.map((c) => c.score.reward))));
      assert.equal(s.dynamic!.filled, expectedKept.length >= 4);
      assert.equal(s.dynamic!.draws, s.dynamic!.filled ? s.dynamic!.draws : 3);
      const m = s.metrics!;
      assert.deepEqual(m.dynamicSampling, { draws: s.dynamic!.draws, groupsDrawn: s.dynamic!.groupsDrawn, groupsDropped: s.dynamic!.groupsDropped, groupsUnused: s.dynamic!.groupsUnused, filled: s.dynamic!.filled });
      assert.equal(m.dynamicSampling!.groupsDrawn, reqs.filter((_, i) => i % perDraw === 0).reduce((a, r) => a + r.prompts.length, 0));
      assert.equal(m.sampledCompletions, m.dynamicSampling!.groupsDrawn * cfg.completionsPerPrompt, 'the budget counts every draw');
      assert.equal(m.zeroStdFraction, 0);
    }
    assert.ok(rec.requests.length > 3 * perDraw, 'some step drew fresh prompts');
    // the stage-by-stage cells need resample before the advantages
    const s = t.begin();
    if (algo === 'igrpo') {
      await t.sampleDrafts(s);
      t.scoreDrafts(s);
      t.selectDrafts(s);
    }
    t.buildPrompts(s);
    await t.sampleRefinements(s);
    t.scoreRefinements(s);
    assert.throws(() => t.computeAdvantages(s), /dynamicSampling is on: call resample first/);
    await t.resample(s);
    t.computeAdvantages(s);
    t.dispose();
  });
}

test('resume with dynamic sampling is bit-identical (fresh prompts follow from seed and step)', async () => {
  const cfg = tinyConfig({ algo: 'igrpo', steps: 3, promptsPerStep: 3, dynamicSampling: { maxRounds: 3 }, checkpoint: { every: 2, keep: 2 } });
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-ds-'));
  const weights = (t: Trainer) => t.policy.parameters().map((p) => Array.from(p.dataSync()));
  const ref = tmp();
  const a = await Trainer.create(cfg, { policy: tinyPolicy(9), score: halfFlat, out: ref });
  await a.run();
  const w = weights(a);
  a.dispose();
  const out = tmp();
  const b = await Trainer.create(cfg, { policy: tinyPolicy(9), score: halfFlat, out });
  await b.step();
  await b.step(); // checkpoint at 2
  b.dispose();
  const c = await Trainer.create(cfg, { score: halfFlat, out, resume: true });
  assert.equal(c.stepIndex, 2);
  await c.run();
  assert.deepEqual(weights(c), w);
  c.dispose();
  assert.equal(fs.readFileSync(path.join(out, 'rollouts.jsonl'), 'utf8'), fs.readFileSync(path.join(ref, 'rollouts.jsonl'), 'utf8'));
  const stable = (f: string) => readMetrics(f).map(({ wallMs, tokensPerSecond, ...m }) => m);
  const ms = stable(path.join(ref, 'metrics.jsonl'));
  assert.deepEqual(stable(path.join(out, 'metrics.jsonl')), ms);
  assert.ok(ms.some((m) => m.dynamicSampling!.draws > 1), 'dynamic sampling drew fresh prompts in this run');
});
