import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { bannedBias, bannedIds, generate, parseSampleOptions, rowSeed, sample, selectTokens } from '../src/sampling/index.js';
import type { GPT } from '../src/model/gpt.js';
import { Rng } from '../src/util/rng.js';
import { tinyGPT } from './core-fixtures.js';
import { GQA } from './gqa-fixtures.js';

const PROMPTS = ['12+34=', '(5*6)-7=', '9'];

/**
 * Per position of the completion, the sampling distribution's log-probs over the vocabulary: the
 * model's logits, temperature-scaled, with the never-generated ids (pad, bos) removed. Computed
 * independently of the sampler: a full forward, then plain JS.
 */
function stepLogProbs(m: GPT, prompt: number[], completion: number[], temperature: number): number[][] {
  const banned = new Set(bannedIds(m.tokenizer));
  const rows = tf.tidy(() => {
    const seq = [...prompt, ...completion];
    const logits = m.logits(tf.tensor2d([seq], undefined, 'int32')) as tf.Tensor3D;
    return logits.slice([0, prompt.length - 1, 0], [1, completion.length, -1]).squeeze([0]).arraySync() as number[][];
  });
  return rows.map((row) => {
    const x = row.map((l, i) => (banned.has(i) ? -Infinity : l / temperature));
    const mx = Math.max(...x);
    const lse = mx + Math.log(x.reduce((a, v) => a + Math.exp(v - mx), 0));
    return x.map((v) => v - lse);
  });
}

test('sampling is reproducible by seed and differs across seeds', async () => {
  const m = tinyGPT();
  const a = await sample(m, PROMPTS, { n: 4, maxNewTokens: 12, seed: 5 });
  const b = await sample(m, PROMPTS, { n: 4, maxNewTokens: 12, seed: 5 });
  const c = await sample(m, PROMPTS, { n: 4, maxNewTokens: 12, seed: 6 });
  const ids = (r: typeof a) => r.map((g) => g.map((x) => x.ids.join(',')).join('|')).join('#');
  assert.equal(ids(a), ids(b));
  assert.notEqual(ids(a), ids(c));
  // completions of one group differ from each other (own streams)
  assert.ok(new Set(a[0].map((x) => x.ids.join(','))).size > 1);
  assert.equal(a.length, PROMPTS.length);
  assert.ok(a.every((g) => g.length === 4));
  m.dispose();
});

test('reported log-probs are those of the sampling distribution (temperature 1: the model’s own, less pad/bos)', async () => {
  const m = tinyGPT();
  const [group] = await sample(m, [PROMPTS[0]], { n: 3, maxNewTokens: 10, seed: 2 });
  const prompt = m.tokenizer.encode(PROMPTS[0]);
  for (const c of group) {
    const lp = stepLogProbs(m, prompt, c.ids, 1);
    c.ids.forEach((id, t) => assert.ok(Math.abs(lp[t][id] - c.logprobs[t]) < 1e-4, `t=${t}: ${lp[t][id]} vs ${c.logprobs[t]}`));
  }
  m.dispose();
});

test('greedy (temperature 0) follows the argmax of the full forward', async () => {
  const m = tinyGPT();
  const [[c]] = await sample(m, [PROMPTS[1]], { n: 1, maxNewTokens: 10, temperature: 0, stopOnEos: false });
  const lp = stepLogProbs(m, m.tokenizer.encode(PROMPTS[1]), c.ids, 1);
  c.ids.forEach((id, t) => assert.equal(id, lp[t].indexOf(Math.max(...lp[t]))));
  m.dispose();
});

test('top-k and top-p never emit a token outside the allowed set', async () => {
  const m = tinyGPT({ initStd: 0.15 }); // flatter distributions: more tokens near the cut
  const temperature = 1.3;
  for (const opts of [{ topK: 3 }, { topP: 0.6 }, { topK: 5, topP: 0.8 }]) {
    const res = await sample(m, PROMPTS, { n: 6, maxNewTokens: 8, seed: 9, temperature, stopOnEos: false, ...opts });
    res.forEach((group, p) => {
      const prompt = m.tokenizer.encode(PROMPTS[p]);
      for (const c of group) {
        const lp = stepLogProbs(m, prompt, c.ids, temperature);
        c.ids.forEach((id, t) => {
          const order = lp[t].map((x, i) => [x, i]).sort((a, b) => b[0] - a[0]);
          const k = 'topK' in opts ? opts.topK : order.length;
          let allowed = order.slice(0, k);
          if ('topP' in opts) {
            // renormalise over the top k, keep while the mass before a token is below p
            const z = allowed.reduce((s, [x]) => s + Math.exp(x), 0);
            let before = 0;
            allowed = allowed.filter(([x]) => {
              const keep = before < opts.topP! + 1e-5; // float slack at the boundary
              before += Math.exp(x) / z;
              return keep;
            });
          }
          assert.ok(allowed.some(([, i]) => i === id), `${JSON.stringify(opts)}: token ${id} at step ${t} not in ${allowed.map(([, i]) => i)}`);
        });
      }
    });
  }
  m.dispose();
});

test('selectTokens on hand-made logits: support and log-probs of the filtered distribution', () => {
  const logits = tf.tensor2d([[0, 1, 2, 3, 4]]);
  const rng = new Rng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) {
    const k = 2;
    const noise = tf.tensor2d(Array.from({ length: k }, () => rng.gumbel()), [1, k]);
    const [[id], [lp]] = selectTokens(logits, noise, { temperature: 1, topK: k, topP: 1 }).arraySync();
    noise.dispose();
    seen.add(id);
    // over {3, 4}: p(4) = e/(1+e), p(3) = 1/(1+e)
    const want = id === 4 ? Math.log(Math.E / (1 + Math.E)) : Math.log(1 / (1 + Math.E));
    assert.ok(Math.abs(lp - want) < 1e-5);
  }
  assert.deepEqual([...seen].sort(), [3, 4]);
  // top-p = 0.5 over softmax([0..4]): p(4) ≈ 0.636 already reaches 0.5, so only token 4 remains, log-prob 0
  const noise = tf.tensor2d([[0, 5, 5, 5, 5]]);
  const [[id], [lp]] = selectTokens(logits, noise, { temperature: 1, topK: 0, topP: 0.5 }).arraySync();
  assert.equal(id, 4);
  assert.ok(Math.abs(lp) < 1e-6);
  // temperature 2 without filtering: log-prob of token 0 = 0/2 - logsumexp([0, .5, 1, 1.5, 2])
  const big = tf.tensor2d([[100, 0, 0, 0, 0]]); // noise that forces token 0
  const [[id0], [lp0]] = selectTokens(logits, big, { temperature: 2, topK: 0, topP: 1 }).arraySync();
  const lse = Math.log([0, 0.5, 1, 1.5, 2].reduce((s, x) => s + Math.exp(x), 0));
  assert.equal(id0, 0);
  assert.ok(Math.abs(lp0 - (0 - lse)) < 1e-5);
  // banned ids (padding) are never chosen, even when they dominate, and leave the others renormalised
  const padFirst = tf.tensor2d([[10, 0, 0]]);
  const bias = bannedBias(3, [0])!;
  for (let i = 0; i < 50; i++) {
    const n3 = tf.tensor2d([[rng.gumbel() + 50, rng.gumbel(), rng.gumbel()]]);
    const [[idb], [lpb]] = selectTokens(padFirst, n3, { temperature: 1, topK: 0, topP: 1 }, bias).arraySync();
    n3.dispose();
    assert.notEqual(idb, 0);
    assert.ok(Math.abs(lpb - Math.log(0.5)) < 1e-6);
  }
  assert.equal(bannedBias(3, []), null);
  [logits, noise, big, padFirst, bias].forEach((t) => t.dispose());
});

test('completions never contain padding or bos', async () => {
  const m = tinyGPT({ initStd: 0.05 }); // near-uniform: pad and bos would come up often
  assert.deepEqual(bannedIds(m.tokenizer), [m.tokenizer.padId, 1]);
  const res = await sample(m, PROMPTS, { n: 8, maxNewTokens: 20, seed: 4, stopOnEos: false });
  const all = res.flat().flatMap((c) => c.ids);
  assert.equal(all.length, PROMPTS.length * 8 * 20);
  assert.ok(!all.includes(0) && !all.includes(1));
  m.dispose();
});

for (const heads of [{}, GQA]) test(`grouped sampling (shared prefix, padded batch) gives the same tokens as each completion alone${heads === GQA ? ' (GQA: 4 query heads over 2 kv heads)' : ''}`, async () => {
  const m = tinyGPT(heads);
  const seed = 21;
  const grouped = await sample(m, PROMPTS, { n: 3, maxNewTokens: 10, seed });
  const opts = parseSampleOptions({ maxNewTokens: 10 });
  for (let p = 0; p < PROMPTS.length; p++) {
    for (let j = 0; j < 3; j++) {
      const [alone] = await generate(m, [{ prompt: m.tokenizer.encode(PROMPTS[p]), seed: rowSeed(seed, p, j) }], opts);
      assert.deepEqual(alone.ids, grouped[p][j].ids, `prompt ${p} completion ${j}`);
      assert.equal(alone.text, grouped[p][j].text);
      alone.logprobs.forEach((x, t) => assert.ok(Math.abs(x - grouped[p][j].logprobs[t]) < 1e-4));
    }
  }
  const unshared = await sample(m, PROMPTS, { n: 3, maxNewTokens: 10, seed, sharePrefix: false });
  assert.deepEqual(unshared.map((g) => g.map((c) => c.ids)), grouped.map((g) => g.map((c) => c.ids)));
  m.dispose();
});

test('finish reasons: length at maxNewTokens, stop on stop ids and stop strings', async () => {
  const m = tinyGPT();
  const V = m.tokenizer.vocabSize;
  const [long] = await sample(m, [PROMPTS[0]], { n: 3, maxNewTokens: 5, seed: 1, stopOnEos: false });
  assert.ok(long.every((c) => c.finishReason === 'length' && c.ids.length === 5 && c.logprobs.length === 5));
  assert.ok(long.every((c) => c.text === m.tokenizer.decode(c.ids)));
  // every id a stop id: each completion is its one stop token, which stays in ids but not in text
  const [stopped] = await sample(m, [PROMPTS[0]], { n: 3, maxNewTokens: 5, seed: 1, stopIds: Array.from({ length: V }, (_, i) => i) });
  assert.ok(stopped.every((c) => c.finishReason === 'stop' && c.ids.length === 1 && c.text === ''));
  // every digit a stop string: text ends at the first digit, which it keeps
  const digits = '0123456789'.split('');
  const [cut] = await sample(m, [PROMPTS[0]], { n: 4, maxNewTokens: 30, seed: 3, stop: digits, stopOnEos: false });
  for (const c of cut) {
    if (c.finishReason === 'stop') assert.match(c.text, /^[^0-9]*[0-9]$/);
    else assert.doesNotMatch(c.text, /[0-9]/);
  }
  // prompts near maxSeqLen stop with 'length' at the position table's end
  const short = tinyGPT({ maxSeqLen: 10 });
  const [edge] = await sample(short, ['12+34='], { n: 2, maxNewTokens: 50, seed: 1, stopOnEos: false });
  assert.ok(edge.every((c) => c.finishReason === 'length' && c.ids.length === 4));
  short.dispose();
  m.dispose();
});

test('bad sampling options are a clear error', async () => {
  const m = tinyGPT();
  await assert.rejects(sample(m, ['1'], { topP: 0 }), /invalid sampling options: topP/);
  await assert.rejects(sample(m, ['1'], { n: 0 }), /invalid sampling options: n/);
  await assert.rejects(sample(m, [[]], {}), /empty prompt/);
  m.dispose();
});
