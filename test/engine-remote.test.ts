// The remote sampler against real `igrpo serve` processes on 127.0.0.1: two servers at once with
// least-loaded dispatch, a server killed mid-batch and restarted (retries, nothing lost or duplicated), and
// a fault-injecting proxy (dropped connections, malformed JSON, slow answers, 5xx, schema failures).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { sample } from '../src/sampling/index.js';
import { mixSeed } from '../src/util/rng.js';
import { EngineError, makeJudgeReward, makeRemoteSampler, toCompletions, type EngineProgress, type PromptIn, type SampleFn } from '../src/engine/index.js';
import { faultProxy, startServe, stopProcess, type Served } from './serve-helpers.js';

const policy = loadPolicy(dataPath('policy'));
const texts = ['Q:12+7*3\n', 'Q:3*4\n', 'Q:9-2\n', 'Q:5+5*5\n', 'Q:8*8\n', 'Q:1+1\n', 'Q:7*6-2\n', 'Q:4+4\n'];
const prompts: PromptIn[] = texts.map((text) => ({ text, ids: policy.tokenizer.encode(text) }));
const req = { prompts, n: 3, maxNewTokens: 20, seed: 11 };

/** What the sampler must return: each prompt sampled locally with its HTTP request's seed. */
async function expected(r: typeof req) {
  return Promise.all(r.prompts.map(async (p, i) => (await sample(policy, [p.ids], { n: r.n, maxNewTokens: r.maxNewTokens, seed: mixSeed(r.seed, i) & 0x7fffffff }))[0]));
}

function assertSame(got: Awaited<ReturnType<SampleFn>>, want: Awaited<ReturnType<SampleFn>>): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.equal(g.length, want[i].length, `prompt ${i}: ${g.length} completions`);
    g.forEach((c, j) => {
      assert.deepEqual(c.ids, want[i][j].ids, `prompt ${i} completion ${j}`);
      assert.equal(c.text, want[i][j].text);
      c.logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - want[i][j].logprobs[k]) < 1e-4));
    });
  });
}

let a: Served;
let b: Served;
let want: Awaited<ReturnType<SampleFn>>;

before(async () => {
  await tf.setBackend('cpu');
  [a, b] = await Promise.all([startServe(['--served-model-name', 'tiny']), startServe(['--served-model-name', 'tiny'])]);
  want = await expected(req);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  policy.dispose();
});

describe('remote sampler', () => {
  test('two servers at once: results equal local sampling; the slower server gets fewer requests (least-loaded)', async () => {
    const slow = await faultProxy(a.url, [], { after: 'delay', delayMs: 2500 });
    try {
      const progress: EngineProgress[] = [];
      const fn = makeRemoteSampler({ urls: [`${slow.url}/v1`, `${b.url}/v1`], model: 'tiny', maxConcurrency: 2 }, { onProgress: (p) => progress.push(p) });
      const got = await fn(req);
      assertSame(got, want);
      const [sa, sb] = fn.pool.stats();
      assert.equal(sa.requests + sb.requests, prompts.length);
      assert.ok(sa.requests >= 1 && sb.requests > sa.requests, `slow server ${sa.requests} requests, fast ${sb.requests}`);
      assert.ok(sa.peakInFlight <= 2 && sb.peakInFlight <= 2, 'concurrency limit per server');
      assert.deepEqual(progress.map((p) => p.done), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(progress.at(-1)!.completions, 24);
    } finally {
      await slow.close();
    }
  });

  test('a server killed mid-batch and restarted on its port: retries, then every prompt exactly once, as without the kill', async () => {
    let server = await startServe(['--served-model-name', 'tiny']);
    const port = server.port;
    let restarted: Promise<Served> | undefined;
    const progress: EngineProgress[] = [];
    const fn = makeRemoteSampler(
      // one request at a time so that some are still to come when the server dies
      { urls: [`${server.url}/v1`], model: 'tiny', maxConcurrency: 1, retries: 40, backoffMs: 100, maxBackoffMs: 500 },
      {
        onProgress: (p) => {
          progress.push(p);
          if (p.done === 2 && !restarted) {
            restarted = stopProcess(server.proc, 'SIGKILL').then(() => startServe(['--served-model-name', 'tiny'], port));
          }
        },
      },
    );
    try {
      const got = await fn(req);
      assertSame(got, want);
      assert.ok(progress.at(-1)!.retries >= 1, 'the dead server made the sampler retry');
      assert.deepEqual(progress.map((p) => p.done), [1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      server = (await restarted) ?? server;
      await server.stop();
    }
  });

  test('fault proxy: a dropped connection, malformed JSON, a 500 and a slow answer are retried, then succeed', async () => {
    const proxy = await faultProxy(b.url, ['drop', 'malformed', 'error500', 'slow'], { slowMs: 30_000 });
    try {
      const progress: EngineProgress[] = [];
      const fn = makeRemoteSampler({ urls: [`${proxy.url}/v1`], model: 'tiny', maxConcurrency: 1, timeoutMs: 8_000, retries: 5, backoffMs: 20, maxModelLen: policy.maxSeqLen }, { onProgress: (p) => progress.push(p) });
      const two = { ...req, prompts: prompts.slice(0, 2) };
      assertSame(await fn(two), want.slice(0, 2));
      assert.deepEqual(proxy.seen, ['drop', 'malformed', 'error500', 'slow', 'pass', 'pass']);
      assert.equal(progress.at(-1)!.retries, 4);
      assert.equal(fn.pool.stats()[0].failures, 4);
    } finally {
      await proxy.close();
    }
  });

  test('fault proxy: errors name the server and the request — 5xx past the retries, schema failures and 4xx at once', async () => {
    const proxy = await faultProxy(b.url, [], { after: 'error500' });
    try {
      const fn = makeRemoteSampler({ urls: [`${proxy.url}/v1`], model: 'tiny', retries: 2, backoffMs: 10, maxModelLen: policy.maxSeqLen });
      await assert.rejects(fn({ ...req, prompts: prompts.slice(0, 1) }), (e: Error) => {
        assert.ok(e instanceof EngineError);
        assert.match(e.message, new RegExp(`^${proxy.url}/v1: completions for prompts 0\\.\\.0 of 1 \\(n 3, seed \\d+, model tiny\\): HTTP 500: injected \\(gave up after 3 attempts in \\d+\\.\\d s\\)`));
        return true;
      });
      assert.equal(proxy.seen.length, 3);
    } finally {
      await proxy.close();
    }
    const bad = await faultProxy(b.url, [], { after: 'schema' });
    try {
      const fn = makeRemoteSampler({ urls: [`${bad.url}/v1`], model: 'tiny', retries: 3, backoffMs: 10, maxModelLen: policy.maxSeqLen });
      await assert.rejects(fn({ ...req, prompts: prompts.slice(0, 1) }), /: completions for prompts 0\.\.0 of 1 .*response fails its schema: choices\.0\.text: Required/);
      assert.equal(bad.seen.length, 1, 'a schema failure is not retried');
    } finally {
      await bad.close();
    }
    // a request failing for good cancels the rest of the call: nothing more is sent
    const first = await faultProxy(b.url, ['schema']);
    try {
      const fn = makeRemoteSampler({ urls: [`${first.url}/v1`], model: 'tiny', maxConcurrency: 1, retries: 3, maxModelLen: policy.maxSeqLen });
      await assert.rejects(fn({ ...req, prompts: prompts.slice(0, 4) }), /response fails its schema/);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(first.seen, ['schema']);
    } finally {
      await first.close();
    }
    const wrongModel = makeRemoteSampler({ urls: [`${b.url}/v1`], model: 'nope', retries: 3 });
    await assert.rejects(wrongModel({ ...req, prompts: prompts.slice(0, 1) }), (e: Error) => e instanceof EngineError && e.status === 404 && e.message.includes(b.url) && /The model `nope` does not exist/.test(e.message));
    // more tokens than the context leaves: capped to the room max_model_len (/v1/models) leaves, as locally
    const tooLong = makeRemoteSampler({ urls: [`${b.url}/v1`], model: 'tiny', retries: 3 });
    const room = policy.maxSeqLen - prompts[0].ids.length;
    const capped = await tooLong({ ...req, prompts: prompts.slice(0, 1), maxNewTokens: 200 });
    assert.ok(capped[0].every((c) => c.ids.length <= room && (c.ids.length === room || c.finishReason === 'stop')));
    const nobody = makeRemoteSampler({ urls: ['http://127.0.0.1:9/v1'], model: 'tiny', retries: 1, backoffMs: 10 });
    await assert.rejects(nobody({ ...req, prompts: prompts.slice(0, 1) }), /^Error|http:\/\/127\.0\.0\.1:9\/v1: .*connection failed.*gave up after 2 attempts/);
  });

  test('the judge reward against igrpo serve (the char GPT as a judge that never answers with a score): a flagged 0', async () => {
    const judge = makeJudgeReward({ url: `${b.url}/v1`, model: 'tiny', api: 'completions', prompt: 'Q:{completion}\n', maxTokens: 16, retries: 0 });
    const { judge: ask } = judge;
    const out = await ask('12+7', { id: 'j', problem: '12+7', answer: '19' });
    assert.equal(out.score, 0);
    assert.match(out.flagged!, /^judge: no score in \[0, 1\] in its reply/);
    assert.equal(judge.stats.requests, 1);
    const chat = makeJudgeReward({ url: `${b.url}/v1`, model: 'tiny', prompt: 'Q:{completion}', maxTokens: 16, retries: 0 });
    assert.equal((await chat.judge('3*4', { id: 'j', problem: '3*4', answer: '12' })).score, 0);
  });

  test('toCompletions names what is missing or malformed', () => {
    const base = { id: 'c', object: 'text_completion' as const, created: 1, model: 'm', usage: null };
    const choice = (tokens: string[], lps: (number | null)[]) => ({ index: 0, text: 'x', finish_reason: 'stop' as const, logprobs: { tokens, token_logprobs: lps, text_offset: tokens.map(() => 0) } });
    assert.deepEqual(toCompletions({ ...base, choices: [choice(['token_id:5', 'token_id:2'], [-0.5, -0.1])] }, 1, 1, 4), [[{ ids: [5, 2], logprobs: [-0.5, -0.1], text: 'x', finishReason: 'stop' }]]);
    assert.throws(() => toCompletions({ ...base, choices: [choice(['hello'], [-1])] }, 1, 1, 4), /tokens\[0\] is "hello", not "token_id:N"/);
    // SGLang / vLLM ≥ 0.10.2 return_token_ids: the ids come as a list, the token strings may be text
    assert.deepEqual(toCompletions({ ...base, choices: [{ ...choice(['he', 'llo'], [-1, -2]), token_ids: [7, 9] }] }, 1, 1, 4)[0][0].ids, [7, 9]);
    assert.throws(() => toCompletions({ ...base, choices: [{ ...choice(['he'], [-1]), token_ids: [7, 9] }] }, 1, 1, 4), /2 tokens but 1 log-probs/);
    assert.throws(() => toCompletions({ ...base, choices: [choice(['token_id:1'], [null])] }, 1, 1, 4), /token_logprobs\[0\] is null/);
    assert.throws(() => toCompletions({ ...base, choices: [{ ...choice([], []), logprobs: null }] }, 1, 1, 4), /logprobs missing/);
    assert.throws(() => toCompletions({ ...base, choices: [choice(['token_id:1'], [-1])] }, 1, 2, 4), /expected 2 choices, got 1/);
    assert.throws(() => toCompletions({ ...base, choices: [choice(['token_id:1', 'token_id:1'], [-1, -1])] }, 1, 1, 1), /more than max_tokens 1/);
  });
});
