// The engine client against what real vLLM and SGLang do (issue 22): each test drives the client against
// test/engine-standin.ts, a stand-in that answers as the engines' own source does (each behaviour cites
// its file there), and each fails on the client as it was before the fix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EngineError, makeRemoteSampler, parseRemoteOptions, finishReasonOf, type PromptIn } from '../src/engine/index.js';
import { EngineSync } from '../src/train/engine-sync.js';
import { EngineConfig } from '../src/train/config.js';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { sample } from '../src/sampling/index.js';
import { startStandin, tokenText, type Standin, type StandinOptions } from './engine-standin.js';

const EOS = 2;
const ids = (n: number, from = 10): PromptIn => ({ text: '', ids: Array.from({ length: n }, (_, k) => from + (k % 20)) });
const fast = { retries: 2, backoffMs: 10, maxBackoffMs: 20 };

const open: Standin[] = [];
async function standin(o: Partial<StandinOptions> & { engine?: StandinOptions['engine'] } = {}): Promise<Standin> {
  const s = await startStandin({ engine: 'vllm', model: 'base', maxModelLen: 64, ...o });
  open.push(s);
  return s;
}
after(async () => {
  await Promise.all(open.map((s) => s.close().catch(() => {})));
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-engine-quirks-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A stand-in for the policy EngineSync writes adapters of: PEFT files whose weights are `weights()`. */
function fakePolicy(weights: () => string, r = 4, delayMs = 0) {
  return {
    tokenizer: { eosId: EOS } as never,
    async saveAdapter(dir: string) {
      const write = (to: string) => {
        fs.mkdirSync(to, { recursive: true });
        fs.writeFileSync(path.join(to, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 8, target_modules: ['q_proj'] }));
        fs.writeFileSync(path.join(to, 'adapter_model.safetensors'), weights());
      };
      if (delayMs === 0) return write(dir);
      // a shared filesystem that shows the folder to the engine's machine only later
      const hidden = `${dir}.tmp`;
      write(hidden);
      setTimeout(() => fs.renameSync(hidden, dir), delayMs);
    },
  };
}
const hashOf = async (text: string) => (await import('node:crypto')).createHash('sha256').update(text).digest('hex').slice(0, 12);
const sync = (s: Standin, dir: string, policy: ReturnType<typeof fakePolicy>, over: Record<string, unknown> = {}, log: string[] = []) =>
  new EngineSync(EngineConfig.parse({ urls: [`${s.url}/v1`], model: 'base', ...fast, ...over }), { temperature: 1, topK: 0, topP: 1 }, dir, policy, (l) => log.push(l));

describe('1. requests that do not fit max_model_len', () => {
  test('max_tokens is capped per prompt from /v1/models, as the local sampler caps it (vLLM answers 400 otherwise)', async () => {
    const s = await standin({ maxModelLen: 24 });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', ...fast });
    const got = await fn({ prompts: [ids(10), ids(20)], n: 2, maxNewTokens: 8, seed: 1 });
    assert.deepEqual(s.bodies.map((b) => b.max_tokens).sort(), [4, 8]);
    assert.ok(got[1].every((c) => c.ids.length <= 4));
    await assert.rejects(fn({ prompts: [ids(24)], n: 1, maxNewTokens: 8, seed: 1 }), /prompt 0 of 24 tokens leaves no room to generate \(the engine's max_model_len is 24\)/);
  });

  test('an engine whose /v1/models has no max_model_len: its 400 (SGLang\'s words, unwrapped body) tells the limit, and the request is sent again capped', async () => {
    const s = await standin({ engine: 'sglang', maxModelLen: 24, noModelLen: true });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', engine: 'sglang', ...fast });
    const got = await fn({ prompts: [ids(20)], n: 1, maxNewTokens: 8, seed: 1 });
    assert.deepEqual(s.bodies.map((b) => b.max_tokens), [8, 4]);
    assert.ok(got[0][0].ids.length <= 4);
  });
});

test('1. igrpo eval --engine-url: the default 2048 max_tokens is capped to what max_model_len leaves each prompt', async () => {
  const { runBenchmarkCommand } = await import('../src/cli/eval-benchmark.js');
  const s = await standin({ maxModelLen: 40 });
  const bench = path.join(tmp, 'bench.jsonl');
  fs.writeFileSync(bench, ['Q:3+7', 'Q:13+11+17+1'].map((p, i) => JSON.stringify({ id: `b${i}`, problem: p, answer: '1' })).join('\n') + '\n');
  const out = path.join(tmp, 'bench-out.jsonl');
  const log = console.log;
  console.log = () => {};
  try {
    const code = await runBenchmarkCommand(['--benchmark', bench, '--engine-url', `${s.url}/v1`, '--model', 'base', '--tokenizer', 'data/policy/tokenizer.json', '--k', '2', '--retries', '1', '--out', out, '--json']);
    assert.equal(code, 0);
  } finally {
    console.log = log;
  }
  const recs = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.length, 2);
  assert.ok(recs.every((r) => !r.error), JSON.stringify(recs.map((r) => r.error)));
  const lens = s.bodies.map((b) => (b.prompt as number[]).length + (b.max_tokens as number));
  assert.deepEqual(lens, [40, 40], 'prompt + max_tokens = max_model_len');
});

describe('2. a stale adapter is never served as new', () => {
  test('a resumed run publishing a version name again: the engine serves the weights just written (load_inplace, or unload then load)', async () => {
    for (const noLoadInplace of [false, true]) {
      const s = await standin({ maxLoras: 4, noLoadInplace });
      const dir = path.join(tmp, `run-stale-${noLoadInplace}`, 'adapters');
      let w = 'crashed-run-step-1';
      const first = sync(s, dir, fakePolicy(() => w));
      await first.publish(1);
      // the run crashes; the resumed one starts from an earlier checkpoint, trains again, publishes step 1
      w = 'resumed-run-step-1';
      const log: string[] = [];
      const resumed = sync(s, dir, fakePolicy(() => w), {}, log);
      assert.equal(resumed.nameOf(1), first.nameOf(1), 'a resume keeps the run tag');
      await resumed.publish(1);
      assert.equal(s.registered().get(resumed.nameOf(1)), await hashOf('resumed-run-step-1'), `engine ${noLoadInplace ? 'without' : 'with'} load_inplace`);
      await resumed.sample({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 });
      assert.equal(s.servedWith.at(-1), await hashOf('resumed-run-step-1'));
      if (noLoadInplace) assert.ok(log.some((l) => /already holds .* unloading it/.test(l)), log.join('\n'));
    }
  });

  test('two runs with the same adapter prefix get different names', () => {
    const p = fakePolicy(() => 'x');
    const s = { url: 'http://127.0.0.1:9' } as Standin;
    assert.notEqual(sync(s, path.join(tmp, 'a', 'adapters'), p).nameOf(3), sync(s, path.join(tmp, 'b', 'adapters'), p).nameOf(3));
  });
});

describe('3. unload failures', () => {
  test('--max-loras 1: the old version was evicted, unloading it answers 500: a warning, once, and training goes on', async () => {
    const s = await standin({ maxLoras: 1 });
    const log: string[] = [];
    let step = 0;
    const e = sync(s, path.join(tmp, 'run-evict', 'adapters'), fakePolicy(() => `w${step}`), {}, log);
    await e.publish(0);
    step = 1;
    await e.publish(1);
    const unloads = s.loraCalls.filter(([u]) => u.endsWith('/unload_lora_adapter'));
    assert.deepEqual(unloads.map(([, , st]) => st), [500], 'one unload, not retried');
    assert.equal(e.unloadFailures, 1);
    assert.ok(log.some((l) => /warning: .*unload_lora_adapter .*HTTP 500: Failed to remove lora adapter/.test(l)), log.join('\n'));
    await e.sample({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 });
    assert.equal(s.servedWith.at(-1), await hashOf('w1'));
  });
});

describe('4. sampling defaults the engine would fill in', () => {
  test('generation_config.json values never reach a rollout: every sampling field is sent (extraBody may set them)', async () => {
    const s = await standin({ generationConfig: { repetition_penalty: 1.05, min_p: 0.05, top_k: 20, top_p: 0.8, temperature: 0.7, presence_penalty: 0.5 } });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', temperature: 1, ...fast });
    await fn({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 });
    assert.deepEqual(s.effective[0], { repetition_penalty: 1, presence_penalty: 0, frequency_penalty: 0, temperature: 1, top_p: 1, top_k: -1, min_p: 0 });
    const tuned = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', extraBody: { min_p: 0.1 }, ...fast });
    await tuned({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 });
    assert.equal(s.effective[1].min_p, 0.1);
  });
});

describe('5. eos at the length limit', () => {
  test('an engine that checks the length first says "length"; the client decides by the last id: "stop", as the local sampler', async () => {
    const s = await standin({ lengthFirst: true, script: () => [5, 6, EOS, 7, 8] });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', eosIds: [EOS], ...fast });
    const [[c]] = await fn({ prompts: [ids(4)], n: 1, maxNewTokens: 3, seed: 0 });
    assert.deepEqual(c.ids, [5, 6, EOS]);
    assert.equal(c.finishReason, 'stop');
    const [[cut]] = await fn({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 });
    assert.equal(cut.finishReason, 'length');
    assert.equal(finishReasonOf([1, EOS], 'length', new Set([EOS])), 'stop');
    assert.equal(finishReasonOf([1, 3], 'content_filter', new Set([EOS])), 'length');
  });

  test('the local sampler: a completion whose eos is its max_new_tokens-th token stopped', async () => {
    await tf.setBackend('cpu');
    const policy = loadPolicy(dataPath('policy'));
    try {
      const prompt = policy.tokenizer.encode('Q:3*4\n');
      const [[free]] = await sample(policy, [prompt], { n: 1, maxNewTokens: 40, temperature: 0, seed: 0 });
      assert.equal(free.finishReason, 'stop', 'the greedy completion ends in eos within 40 tokens');
      const [[exact]] = await sample(policy, [prompt], { n: 1, maxNewTokens: free.ids.length, temperature: 0, seed: 0 });
      assert.deepEqual(exact.ids, free.ids);
      assert.equal(exact.finishReason, 'stop');
    } finally {
      policy.dispose();
    }
  });
});

describe('6. finish reasons and error bodies', () => {
  test('"abort" is retried; SGLang\'s "content_filter" is a cut-off completion ("length")', async () => {
    const s = await standin({ finishFaults: ['abort'] });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', ...fast });
    const [[c]] = await fn({ prompts: [ids(4)], n: 1, maxNewTokens: 3, seed: 0 });
    assert.equal(s.bodies.length, 2, 'aborted once, sent again');
    assert.ok(c.ids.length > 0);
    const g = await standin({ engine: 'sglang', finishFaults: ['content_filter'] });
    const sg = makeRemoteSampler({ urls: [`${g.url}/v1`], model: 'base', engine: 'sglang', ...fast });
    assert.equal((await sg({ prompts: [ids(4)], n: 1, maxNewTokens: 3, seed: 0 }))[0][0].finishReason, 'length');
  });

  test('unwrapped error bodies and vLLM\'s 401 {"error": "Unauthorized"} are read and named', async () => {
    const old = await standin({ errorShape: 'unwrapped' });
    const fn = makeRemoteSampler({ urls: [`${old.url}/v1`], model: 'nope', ...fast });
    await assert.rejects(fn({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 }), (e: Error) => e instanceof EngineError && e.status === 404 && /HTTP 404: The model `nope` does not exist\./.test(e.message));
    const locked = await standin({ apiKey: 'k' });
    const anon = makeRemoteSampler({ urls: [`${locked.url}/v1`], model: 'base', ...fast });
    await assert.rejects(anon({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 }), (e: Error) => e instanceof EngineError && e.status === 401 && /HTTP 401: Unauthorized$/.test(e.message));
    assert.equal(locked.bodies.length, 0);
  });

  test('a lora_path the engine cannot see yet (404 "No adapter found") is retried; a rank above --max-lora-rank (500) is not', async () => {
    const s = await standin({ maxLoras: 2 });
    const late = sync(s, path.join(tmp, 'run-late', 'adapters'), fakePolicy(() => 'late', 4, 300), { retries: undefined, retryForMs: 10_000, backoffMs: 50, maxBackoffMs: 100 });
    await late.publish(0);
    assert.ok(s.loraCalls.filter(([, , st]) => st === 404).length >= 1, 'the first loads found no adapter');
    assert.equal(s.registered().get(late.nameOf(0)), await hashOf('late'));
    const small = await standin({ maxLoraRank: 2 });
    const big = sync(small, path.join(tmp, 'run-rank', 'adapters'), fakePolicy(() => 'big', 4), { retries: undefined, retryForMs: 10_000 });
    await assert.rejects(big.publish(0), /HTTP 500: LoRA rank 4 is greater than max_lora_rank 2\. \(start the engine with --max-lora-rank/);
    assert.equal(small.loraCalls.length, 1, 'not retried');
  });
});

describe('7. text', () => {
  test('special tokens stay in the text, a final stop id does not, a stop string does: the local sampler\'s text', async () => {
    const specials = new Set([EOS, 3]);
    const s = await standin({ specialIds: [EOS, 3], script: () => [5, 3, 6, EOS] });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', eosIds: [EOS], ...fast });
    const [[c]] = await fn({ prompts: [ids(4)], n: 1, maxNewTokens: 8, seed: 0 });
    assert.equal(c.text, [5, 3, 6].map((id) => tokenText(id, specials)).join(''));
    assert.equal(c.finishReason, 'stop');
    // SGLang keeps the stop string only with no_stop_trim
    const g = await standin({ engine: 'sglang', script: () => [5, 6, 7, 8] });
    const sg = makeRemoteSampler({ urls: [`${g.url}/v1`], model: 'base', engine: 'sglang', stop: ['gh'], ...fast });
    const [[t]] = await sg({ prompts: [ids(4)], n: 1, maxNewTokens: 8, seed: 0 });
    assert.equal(t.text, 'fgh');
  });
});

describe('8. SGLang', () => {
  test('the adapter is named as BASE:ADAPTER (naming it alone samples the base model), loaded at /load_lora_adapter', async () => {
    const s = await standin({ engine: 'sglang', maxLoras: 4 });
    const e = sync(s, path.join(tmp, 'run-sglang', 'adapters'), fakePolicy(() => 'sg'), { engine: 'sglang' });
    await e.publish(0);
    assert.ok(s.loraCalls.some(([u, , st]) => u === '/load_lora_adapter' && st === 200));
    await e.sample({ prompts: [ids(4)], n: 2, maxNewTokens: 2, seed: 0 });
    assert.equal(s.bodies[0].model, `base:${e.nameOf(0)}`);
    assert.deepEqual(s.servedWith, [await hashOf('sg'), await hashOf('sg')]);
  });

  test('deterministic inference repeats one seed across n: one request per completion, each with its own seed', async () => {
    const s = await standin({ engine: 'sglang', deterministic: true, vocab: 40 });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', engine: 'sglang', ...fast });
    const [group] = await fn({ prompts: [ids(4)], n: 4, maxNewTokens: 12, seed: 5 });
    assert.equal(s.bodies.length, 4);
    assert.ok(s.bodies.every((b) => b.n === 1 && b.return_token_ids === true && b.return_tokens_as_token_ids === undefined));
    assert.equal(new Set(s.bodies.map((b) => b.seed)).size, 4);
    assert.equal(new Set(group.map((c) => c.ids.join(','))).size, 4, 'four different completions');
    // the same call again: the same completions (each request carries its seed)
    const [again] = await fn({ prompts: [ids(4)], n: 4, maxNewTokens: 12, seed: 5 });
    assert.deepEqual(again.map((c) => c.ids), group.map((c) => c.ids));
  });

  test('a release without return_token_ids: a clear error, not text read as ids', async () => {
    const s = await standin({ engine: 'sglang', tokenIds: false });
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', engine: 'sglang', ...fast });
    await assert.rejects(fn({ prompts: [ids(4)], n: 1, maxNewTokens: 2, seed: 0 }), /no token_ids came back \(does the server support .*return_token_ids/);
  });
});

describe('9. restarts', () => {
  test('the default retry budget outlasts a cold start; requests and adapter loads ride out a restart by time, not by count', async () => {
    assert.ok(parseRemoteOptions({ urls: ['http://x/v1'], model: 'm' }).retryForMs >= 180_000);
    assert.ok(EngineConfig.parse({ urls: ['http://x/v1'], model: 'm' }).retryForMs >= 180_000);
    assert.equal(EngineConfig.parse({ urls: ['http://x/v1'], model: 'm' }).retries, undefined);
    const s = await standin({ maxLoras: 4 });
    const budget = { retries: undefined, retryForMs: 10_000, backoffMs: 20, maxBackoffMs: 100 };
    const fn = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', ...budget });
    const restarting = s.restart(1_200);
    const [[c]] = await fn({ prompts: [ids(4)], n: 1, maxNewTokens: 3, seed: 0 });
    await restarting;
    assert.ok(c.ids.length > 0);
    const e = sync(s, path.join(tmp, 'run-restart', 'adapters'), fakePolicy(() => 'r'), budget);
    const again = s.restart(800);
    await e.publish(0);
    await again;
    assert.equal(s.registered().get(e.nameOf(0)), await hashOf('r'));
    const short = makeRemoteSampler({ urls: [`${s.url}/v1`], model: 'base', retryForMs: 200, backoffMs: 20, maxBackoffMs: 50 });
    const down = s.restart(1_500);
    await assert.rejects(short({ prompts: [ids(4)], n: 1, maxNewTokens: 3, seed: 0 }), /connection failed.*gave up after \d+ attempts in 0\.\d s/);
    await down;
  });
});

before(async () => {
  await tf.setBackend('cpu');
});
