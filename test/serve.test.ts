// `igrpo serve` as a separate process on 127.0.0.1, driven by the official openai client and by raw HTTP:
// vLLM-shaped responses, log-probs equal to the local policy's, 400s, 401s, limits, runtime-LoRA path
// security, and a slow client that cannot hold the server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import OpenAI from 'openai';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { sample } from '../src/sampling/index.js';
import { ChatResponseSchema, CompletionResponseSchema, ErrorResponseSchema, ModelListSchema, parseTokenId } from '../src/engine/protocol.js';
import { rawGet, rawPost, startServe, type Served } from './serve-helpers.js';

const PROMPT = 'Q:12+7*3\n';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-serve-'));
const allowed = path.join(tmp, 'allowed');
const outside = path.join(tmp, 'outside');

function writeAdapter(dir: string, config: object = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] }): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), '');
}

let server: Served;
let keyed: Served;
let client: OpenAI;
const policy = loadPolicy(dataPath('policy'));

before(async () => {
  await tf.setBackend('cpu');
  writeAdapter(path.join(allowed, 'good'));
  writeAdapter(path.join(allowed, 'second'));
  writeAdapter(path.join(outside, 'evil'));
  fs.symlinkSync(path.join(outside, 'evil'), path.join(allowed, 'link-out'));
  fs.mkdirSync(path.join(allowed, 'file-link'));
  fs.writeFileSync(path.join(allowed, 'file-link', 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: 'all-linear' }));
  fs.symlinkSync(path.join(outside, 'evil', 'adapter_model.safetensors'), path.join(allowed, 'file-link', 'adapter_model.safetensors'));
  writeAdapter(path.join(allowed, 'bad-config'), { peft_type: 'PREFIX_TUNING', r: 4 });
  [server, keyed] = await Promise.all([
    startServe([
      '--served-model-name', 'tiny', '--max-n', '8', '--max-tokens', '40', '--max-prompts', '4', '--max-body-bytes', '4096',
      '--idle-timeout-ms', '1500', '--request-timeout-ms', '3000', '--enable-lora-updates', '--lora-dir', allowed,
    ]),
    startServe(['--served-model-name', 'tiny'], 0, { IGRPO_API_KEY: 'sekrit' }),
  ]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  await Promise.all([server?.stop(), keyed?.stop()]);
  policy.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('igrpo serve', () => {
  test('prints the bound port and binds loopback', () => {
    assert.ok(server.port > 0 && server.port !== 8000);
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:/);
  });

  test('/v1/completions with token ids: vLLM shapes, token ids as "token_id:N", and the local sampler\'s tokens and log-probs', async () => {
    const ids = policy.tokenizer.encode(PROMPT);
    const body = { model: 'tiny', prompt: ids, n: 3, max_tokens: 24, temperature: 1, seed: 7, logprobs: 1, return_tokens_as_token_ids: true };
    const res = await client.completions.create(body as never);
    const r = CompletionResponseSchema.parse(res);
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.model, 'tiny');
    assert.equal(r.choices.length, 3);
    const [local] = await sample(policy, [ids], { n: 3, maxNewTokens: 24, temperature: 1, seed: 7 });
    let completionTokens = 0;
    r.choices.forEach((c, j) => {
      assert.equal(c.index, j);
      const got = c.logprobs!.tokens.map((t) => parseTokenId(t)!);
      assert.deepEqual(got, local[j].ids, `choice ${j} tokens`);
      assert.equal(c.text, local[j].text);
      assert.equal(c.finish_reason, local[j].finishReason);
      c.logprobs!.token_logprobs.forEach((lp, k) => assert.ok(Math.abs(lp! - local[j].logprobs[k]) < 1e-4, `choice ${j} token ${k}: ${lp} vs ${local[j].logprobs[k]}`));
      assert.equal(c.logprobs!.text_offset.length, got.length);
      assert.equal(c.logprobs!.text_offset[0], 0);
      completionTokens += got.length;
      // and the policy's own forward pass gives the same log-probs (temperature 1, no top-k/top-p)
      const seq = tf.tensor2d([[...ids, ...got]], [1, ids.length + got.length], 'int32');
      const lps = tf.tidy(() => policy.tokenLogProbs(seq).arraySync()[0]);
      seq.dispose();
      got.forEach((_, k) => assert.ok(Math.abs(lps[ids.length - 1 + k] - c.logprobs!.token_logprobs[k]!) < 1e-4, `forward pass, token ${k}`));
    });
    assert.deepEqual(r.usage, { prompt_tokens: ids.length, completion_tokens: completionTokens, total_tokens: ids.length + completionTokens });
    // vLLM's newer return_token_ids: the same ids as a list, the prompt's too
    const withIds = CompletionResponseSchema.parse((await rawPost(`${server.url}/v1/completions`, { ...body, return_token_ids: true, return_tokens_as_token_ids: false })).json());
    withIds.choices.forEach((c, j) => {
      assert.deepEqual(c.token_ids, local[j].ids);
      assert.deepEqual(c.prompt_token_ids, ids);
      assert.equal(c.logprobs!.tokens.join(''), policy.tokenizer.decode(local[j].ids.filter((id) => id !== policy.tokenizer.eosId)) + (local[j].ids.at(-1) === policy.tokenizer.eosId ? policy.tokenizer.decode([policy.tokenizer.eosId]) : ''));
    });
  });

  test('/v1/completions: text prompts, lists of prompts (choices numbered prompt·n + j), stop strings stripped unless kept', async () => {
    const r = CompletionResponseSchema.parse(await client.completions.create({ model: 'tiny', prompt: [PROMPT, 'Q:3*4\n'], n: 2, max_tokens: 30, seed: 1, stop: ['</think>'] }));
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3]);
    assert.equal(r.choices[0].logprobs ?? null, null);
    const local = await sample(policy, [PROMPT, 'Q:3*4\n'], { n: 2, maxNewTokens: 30, seed: 1, stop: ['</think>'] });
    r.choices.forEach((c) => {
      const l = local[Math.floor(c.index / 2)][c.index % 2];
      assert.equal(c.text, l.finishReason === 'stop' && l.text.endsWith('</think>') ? l.text.slice(0, -'</think>'.length) : l.text);
      if (l.text.endsWith('</think>')) assert.equal(c.stop_reason, '</think>');
    });
    assert.ok(local.flat().some((c) => c.text.endsWith('</think>')), 'the stop string was hit at least once');
    const kept = CompletionResponseSchema.parse((await rawPost(`${server.url}/v1/completions`, { model: 'tiny', prompt: [PROMPT, 'Q:3*4\n'], n: 2, max_tokens: 30, seed: 1, stop: ['</think>'], include_stop_str_in_output: true })).json());
    kept.choices.forEach((c) => assert.equal(c.text, local[Math.floor(c.index / 2)][c.index % 2].text));
  });

  test('/v1/chat/completions: the char GPT joins messages with newlines; logprobs.content per token', async () => {
    const r = ChatResponseSchema.parse(await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Q:12+7*3' }], max_tokens: 12, seed: 3, logprobs: true, top_logprobs: 1 }));
    assert.match(r.id, /^chatcmpl-/);
    const [[local]] = await sample(policy, [PROMPT], { n: 1, maxNewTokens: 12, seed: 3 });
    assert.equal(r.choices[0].message.content, local.text);
    const content = r.choices[0].logprobs!.content!;
    assert.equal(content.length, local.ids.length);
    content.forEach((e, k) => {
      assert.equal(e.token, policy.tokenizer.decode([local.ids[k]]));
      assert.ok(Math.abs(e.logprob - local.logprobs[k]) < 1e-4);
      assert.deepEqual(e.top_logprobs.map((t) => t.token), [e.token]);
    });
  });

  test('/v1/models lists the model (and says it has no chat template)', async () => {
    const list = ModelListSchema.parse(await rawGet(`${server.url}/v1/models`).then((r) => JSON.parse(r.text)));
    assert.equal(list.data[0].id, 'tiny');
    assert.equal(list.data[0].chat_template, 'plain-join');
    assert.equal(list.data[0].max_model_len, policy.maxSeqLen);
    const viaClient = await client.models.list();
    assert.ok(viaClient.data.some((m) => m.id === 'tiny'));
  });

  test('bad requests get 400 with OpenAI-style error JSON naming the field; limits are enforced', async () => {
    const ids = policy.tokenizer.encode(PROMPT);
    const cases: [object | string, number, RegExp, string | null][] = [
      [{ model: 'tiny', prompt: ids, n: 0 }, 400, /n: Number must be greater than 0/, 'n'],
      [{ model: 'tiny', prompt: ids, n: 9 }, 400, /n = 9 is more than the limit of 8/, 'n'],
      [{ model: 'tiny', prompt: ids, max_tokens: 41 }, 400, /max_tokens = 41 is more than the limit of 40/, 'max_tokens'],
      [{ model: 'tiny', prompt: [ids, ids, ids, ids, ids] }, 400, /5 prompts in one request, more than the limit of 4/, 'prompt'],
      [{ model: 'tiny', prompt: Array(90).fill(5), max_tokens: 10 }, 400, /maximum context length is 96 tokens/, 'max_tokens'],
      [{ model: 'tiny', prompt: [5, 999] }, 400, /token id 999 is outside the vocabulary/, 'prompt'],
      [{ model: 'tiny', prompt: 'é' }, 400, /not in the alphabet/, 'prompt'],
      [{ model: 'tiny', prompt: '' }, 400, /prompt 0 is empty/, 'prompt'],
      [{ model: 'tiny', prompt: ids, stream: true }, 400, /streaming is not supported/, 'stream'],
      [{ model: 'tiny', prompt: ids, temperature: -1 }, 400, /temperature/, 'temperature'],
      [{ model: 'tiny', prompt: ids, presence_penalty: 0.5 }, 400, /penalties are not supported/, 'presence_penalty'],
      [{ prompt: ids }, 400, /model: Required/, 'model'],
      ['{"model": "tiny", "prompt": [1,', 400, /JSON/, null],
      [{ model: 'nope', prompt: ids }, 404, /The model `nope` does not exist/, 'model'],
      [{ model: 'tiny', prompt: 'x'.repeat(5000) }, 400, /request body exceeds the limit of 4096 bytes/, null],
    ];
    for (const [body, status, message, param] of cases) {
      const r = await rawPost(`${server.url}/v1/completions`, body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} → ${r.text}`);
      const e = ErrorResponseSchema.parse(r.json());
      assert.match(e.error.message, message);
      assert.equal(e.error.code, status);
      assert.equal(e.error.param ?? null, param);
    }
    const chat = await rawPost(`${server.url}/v1/chat/completions`, { model: 'tiny', messages: [] });
    assert.equal(chat.status, 400);
    assert.equal(ErrorResponseSchema.parse(chat.json()).error.param, 'messages');
    // the official client surfaces the same as a BadRequestError
    await assert.rejects(client.completions.create({ model: 'tiny', prompt: ids, n: 9 }), (e: Error & { status?: number }) => e.status === 400 && /limit of 8/.test(e.message));
  });

  test('--api-key: every endpoint but /health needs the bearer key (401 otherwise)', async () => {
    const body = { model: 'tiny', prompt: PROMPT, max_tokens: 4 };
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: 'sekrit' }, { authorization: 'Bearer sekrit2' }]) {
      const r = await rawPost(`${keyed.url}/v1/completions`, body, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal(ErrorResponseSchema.parse(r.json()).error.message, 'Unauthorized');
    }
    assert.equal((await rawGet(`${keyed.url}/v1/models`)).status, 401);
    assert.equal((await rawPost(`${keyed.url}/v1/load_lora_adapter`, { lora_name: 'a', lora_path: '/' })).status, 401);
    assert.equal((await rawGet(`${keyed.url}/health`)).status, 200);
    assert.equal((await rawPost(`${keyed.url}/v1/completions`, body, { authorization: 'Bearer sekrit' })).status, 200);
    await assert.rejects(new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'nope', maxRetries: 0 }).completions.create(body), (e: Error & { status?: number }) => e.status === 401);
    const ok = await new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'sekrit', maxRetries: 0 }).completions.create(body);
    assert.equal(ok.choices.length, 1);
    // runtime LoRA is off without --enable-lora-updates, even with the key
    const off = await rawPost(`${keyed.url}/v1/load_lora_adapter`, { lora_name: 'a', lora_path: allowed }, { authorization: 'Bearer sekrit' });
    assert.equal(off.status, 404);
    assert.match(off.text, /--enable-lora-updates/);
  });

  test('runtime LoRA: loads only from --lora-dir (symlinks and .. resolved), validates adapter_config.json, registers names', async () => {
    const load = (lora_name: string, lora_path: string) => rawPost(`${server.url}/v1/load_lora_adapter`, { lora_name, lora_path });
    const refused: [string, string, RegExp][] = [
      ['a1', path.join(outside, 'evil'), /outside the directories/],
      ['a2', path.join(allowed, '..', 'outside', 'evil'), /outside the directories/],
      ['a3', path.join(allowed, 'link-out'), /outside the directories/],
      ['a4', path.join(allowed, 'file-link'), /adapter_model\.safetensors in lora_path is outside/],
      ['a5', path.join(allowed, 'missing'), /does not exist/],
      ['a6', path.join(allowed, 'bad-config'), /peft_type/],
      ['a7', '/etc', /outside the directories/],
      ['../x', path.join(allowed, 'good'), /lora_name/],
      ['tiny', path.join(allowed, 'good'), /base model's name/],
    ];
    for (const [name, p, message] of refused) {
      const r = await load(name, p);
      assert.equal(r.status, 400, `${name} ${p}: ${r.text}`);
      assert.match(ErrorResponseSchema.parse(r.json()).error.message, message);
    }
    const ok = await load('good-v1', path.join(allowed, 'x', '..', 'good'));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.text, "Success: LoRA adapter 'good-v1' added successfully.");
    assert.equal((await load('good-v1', path.join(allowed, 'second'))).status, 400);
    const models = ModelListSchema.parse(JSON.parse((await rawGet(`${server.url}/v1/models`)).text));
    const entry = models.data.find((m) => m.id === 'good-v1');
    assert.equal(entry?.parent, 'tiny');
    assert.equal(entry?.root, fs.realpathSync(path.join(allowed, 'good')));
    // applying adapters to the GPT is the LoRA branch's hook: until then sampling under one says so
    const use = await rawPost(`${server.url}/v1/completions`, { model: 'good-v1', prompt: PROMPT, max_tokens: 2 });
    assert.equal(use.status, 501);
    const un = await rawPost(`${server.url}/v1/unload_lora_adapter`, { lora_name: 'good-v1' });
    assert.equal(un.status, 200, un.text);
    assert.equal((await rawPost(`${server.url}/v1/unload_lora_adapter`, { lora_name: 'good-v1' })).status, 404);
    assert.equal((await rawPost(`${server.url}/v1/completions`, { model: 'good-v1', prompt: PROMPT, max_tokens: 2 })).status, 404);
  });

  test('runtime LoRA: every path outside --lora-dir gets one identical answer, whether or not it exists (no probing)', async () => {
    const probe = async (lora_path: string) => {
      const r = await rawPost(`${server.url}/v1/load_lora_adapter`, { lora_name: 'probe', lora_path });
      return { status: r.status, body: r.text };
    };
    const existing = [path.join(outside, 'evil'), path.join(outside, 'evil', 'adapter_config.json'), '/etc', path.join(allowed, '..', 'outside'), path.join(allowed, 'link-out')];
    const missing = [path.join(outside, 'no-such-adapter'), '/no/such/path', path.join(allowed, '..', 'no-such'), path.join(allowed, 'link-out', 'no-such')];
    const answers = await Promise.all([...existing, ...missing].map(probe));
    answers.forEach((a, i) => assert.deepEqual(a, answers[0], [...existing, ...missing][i]));
    assert.equal(answers[0].status, 400);
    assert.match(answers[0].body, /lora_path is outside the directories adapters may be loaded from/);
    // inside the jail a missing path may say so (it reveals nothing outside), and a folder named '..x' is inside
    assert.match((await probe(path.join(allowed, 'missing'))).body, /does not exist/);
    fs.mkdirSync(path.join(allowed, '..x'), { recursive: true });
    assert.match((await probe(path.join(allowed, '..x'))).body, /adapter_config\.json in lora_path .*does not exist/);
  });

  test('a slow client cannot hold a connection: an idle socket is closed, others are served meanwhile', async () => {
    const sock = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    sock.on('error', () => {});
    const other = await rawPost(`${server.url}/v1/completions`, { model: 'tiny', prompt: PROMPT, max_tokens: 4 });
    assert.equal(other.status, 200);
    const waited = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    sock.destroy();
    assert.ok(waited > 0 && waited < 8_000, `stalled socket closed after ${waited} ms (idle timeout 1.5 s, request timeout 3 s)`);
  });

  test('concurrent requests are answered as each would be alone (batched, per-row seeds)', async () => {
    const ids = policy.tokenizer.encode(PROMPT);
    const one = (seed: number) => client.completions.create({ model: 'tiny', prompt: ids, n: 2, max_tokens: 16, seed, logprobs: 1, return_tokens_as_token_ids: true } as never);
    const together = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(one));
    const alone = [await one(3), await one(8)];
    assert.deepEqual(together[2].choices.map((c) => c.text), alone[0].choices.map((c) => c.text));
    assert.deepEqual(together[7].choices.map((c) => c.logprobs!.tokens), alone[1].choices.map((c) => c.logprobs!.tokens));
  });
});
