// Issue 13, research workflow: a config trains and evaluates on any problem file with a split or a held-out
// file, a prompt format (template over fields, system prompt, chat template), and named weighted rewards
// from a registry, the same list for training and evaluation, each logged per completion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { benchmarksDir } from '../src/data/loaders.js';
import { arithmeticGsm8kJsonl, SHIPPED_GSM8K_ARITHMETIC } from '../src/data/synthetic/gsm8k-format.js';
import { parseTrainConfig } from '../src/train/config.js';
import { taskProblems } from '../src/train/data-source.js';
import { fillTemplate, makePromptOf, PromptConfig, questionTextOf } from '../src/train/prompt.js';
import { Trainer } from '../src/train/trainer.js';
import { tinyConfig, tinyPolicy } from '../src/train/tiny.js';
import { readRollouts } from '../src/train/records-file.js';
import { buildRewards, registerReward } from '../src/verify/registry.js';
import { scoreCompletion } from '../src/verify/rewards.js';

await tf.setBackend('cpu');
const FILE = 'data/arithmetic-gsm8k.jsonl';

test('data.file: a GSM8K-format file, split into disjoint train and held-out parts by a seed; or a held-out file', async () => {
  const cfg = parseTrainConfig({ data: { file: FILE, adapter: 'gsm8k', heldOutFraction: 0.2, evalSize: 50 } }).data;
  const a = await taskProblems(cfg);
  const b = await taskProblems(cfg);
  assert.deepEqual(a.heldOut.map((p) => p.id), b.heldOut.map((p) => p.id), 'seeded');
  assert.equal(a.heldOut.length, 50);
  assert.ok(a.train.length >= 470 && a.train.length <= 480);
  const train = new Set(a.train.map((p) => p.problem));
  assert.ok(a.heldOut.every((p) => !train.has(p.problem)), 'no held-out problem text is in training');
  assert.match(a.train[0].problem, /^Q:/);
  assert.match(a.train[0].answer, /^-?\d+$/);
  const other = await taskProblems({ ...cfg, splitSeed: 1 });
  assert.notDeepEqual(other.heldOut.map((p) => p.id), a.heldOut.map((p) => p.id));
  // a held-out file: the whole of `file` trains; held-out problems whose text is in training are dropped
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-data-'));
  const held = path.join(dir, 'held.jsonl');
  fs.writeFileSync(held, arithmeticGsm8kJsonl({ count: 40, seed: 77, difficulty: 2, idPrefix: 'held' }));
  const both = await taskProblems({ ...cfg, heldOutFile: held });
  assert.equal(both.train.length, 600);
  assert.ok(both.heldOut.length > 30 && both.heldOut.every((p) => p.id.startsWith('held') && !train.has(p.problem) && !new Set(both.train.map((q) => q.problem)).has(p.problem)));
  await assert.rejects(taskProblems({ ...cfg, heldOutFile: FILE }), /no held-out problems/);
  fs.rmSync(dir, { recursive: true, force: true });
  await assert.rejects(taskProblems({ ...cfg, file: 'nope.jsonl' }), /nope\.jsonl/);
});

test('data/arithmetic-gsm8k.jsonl is the generator\'s output (GSM8K records: id, question, "… #### N")', () => {
  assert.equal(fs.readFileSync(FILE, 'utf8'), arithmeticGsm8kJsonl(SHIPPED_GSM8K_ARITHMETIC));
});

test('data.file benchmark:gsm8k_train goes through the GSM8K adapter', { skip: !fs.existsSync(benchmarksDir()) && 'no shared benchmarks' }, async () => {
  const r = await taskProblems(parseTrainConfig({ data: { file: 'benchmark:gsm8k_train', trainSize: 100, evalSize: 20 } }).data);
  assert.equal(r.train.length, 100);
  assert.equal(r.heldOut.length, 20);
  assert.ok(r.train.every((p) => /^-?[\d.]+$/.test(p.answer)));
});

test('prompt: a template over the fields, a system prompt; the default is the policy\'s own format; chat needs a chat template', () => {
  const p = { id: 'x', problem: 'Q:1+2', answer: '3', subject: 'sums' };
  assert.equal(makePromptOf(PromptConfig.parse({}))(p), 'Q:1+2\n');
  assert.equal(makePromptOf(PromptConfig.parse({ template: '[{subject}] {problem}\n', system: 'Solve.' }))(p), 'Solve.\n[sums] Q:1+2\n');
  assert.throws(() => fillTemplate('{nope}', p), /problem x has no field 'nope'/);
  assert.throws(() => questionTextOf(PromptConfig.parse({ format: 'chat' }), tinyPolicy().tokenizer), /prompt format chat.*no chat template/);
  const fakeChat = { chatTemplate: () => 'fake', applyChatTemplate: (m: { role: string; content: string }[]) => ({ text: m.map((x) => `<${x.role}>${x.content}`).join('') + '<assistant>', ids: [] }) };
  assert.equal(questionTextOf(PromptConfig.parse({ format: 'chat', system: 'S' }), fakeChat as never)(p), '<system>S<user>Q:1+2<assistant>');
  assert.equal(makePromptOf(PromptConfig.parse({ format: 'chat', system: 'S' }))(p), 'Q:1+2', 'chat: the user turn\'s content (the renderer wraps it)');
});

test('rewards: named and weighted in the config, user rewards by registry, unknown names listed', () => {
  registerReward('short', { name: 'short', score: (c) => (c.length < 5 ? 1 : 0) });
  registerReward('contains', (o) => ({ name: 'contains', score: (c) => (c.includes(String(o.text)) ? 1 : 0) }));
  const rewards = buildRewards(parseTrainConfig({ rewards: [{ name: 'accuracy' }, { name: 'short', weight: 0.5 }, { name: 'contains', weight: 2, options: { text: '7' } }, { name: 'length', weight: 1, options: { maxChars: 2, perChar: 0.1 } }] }).rewards);
  const s = scoreCompletion('<answer>7</answer>', { id: 'a', problem: 'Q:3+4', answer: '7' }, rewards);
  assert.deepEqual(s.rewards, { accuracy: 1, short: 0, contains: 1, length: -1 });
  assert.equal(s.reward, 1 + 0 + 2 - 1);
  assert.throws(() => buildRewards([{ name: 'nope' }]), /unknown reward 'nope'.*accuracy, format, length, formatting/);
  assert.deepEqual(parseTrainConfig({}).rewards.map((r) => [r.name, r.weight]), [['accuracy', 1], ['format', 1]]);
});

test('a trainer on a GSM8K-format file with a custom reward: problems from the file, every reward logged per completion, the same list in evaluation', async () => {
  registerReward('has-digit', { name: 'has-digit', score: (c) => (/\d/.test(c) ? 1 : 0) });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-wf-'));
  try {
    const cfg = tinyConfig({
      algo: 'igrpo', steps: 1, data: { file: FILE, adapter: 'gsm8k', evalSize: 4 },
      rewards: [{ name: 'accuracy' }, { name: 'has-digit', weight: 0.5 }],
      eval: { every: 0, size: 4, k: 1, atStart: false },
    });
    const t = await Trainer.create(cfg, { policy: tinyPolicy(3), out: path.join(out, 'run') });
    const s = await t.step();
    assert.ok(s.problems.every((p) => p.id.startsWith('arith-gsm8k')));
    assert.equal(s.questions![0].text, `${s.problems[0].problem}\n`);
    const recs = readRollouts(path.join(out, 'run', 'rollouts.jsonl'));
    assert.ok(recs.length > 0 && recs.every((r) => Object.keys(r.rewards).join() === 'accuracy,has-digit'));
    assert.ok(recs.every((r) => Math.abs(r.reward - (r.rewards.accuracy + 0.5 * r.rewards['has-digit'])) < 1e-12));
    assert.deepEqual(t.rewards.map((r) => r.fn.name), ['accuracy', 'has-digit']);
    t.dispose();
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('igrpo eval --data: the shipped policy on a GSM8K-format arithmetic file, in its own prompt format by default', () => {
  const out = execFileSync(process.execPath, ['bin/igrpo.js', 'eval', '--data', FILE, '--adapter', 'gsm8k', '--n', '24', '--k', '2', '--backend', 'cpu', '--json'], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(r.n, 24);
  assert.ok(r.data.endsWith('arithmetic-gsm8k.jsonl'));
  assert.ok(r.passAt1 > 0.15, `the policy solves its own format (${r.passAt1})`);
});

test('igrpo train --data FILE sets data.file', async () => {
  const { configFromArgs } = await import('../src/cli/train.js');
  const c = configFromArgs({ data: FILE, 'held-out': FILE });
  assert.equal(c.data.file, FILE);
  assert.equal(c.data.heldOutFile, FILE);
});

test('the SFT warm-up refuses a problem file instead of ignoring it', async () => {
  const { SftConfig } = await import('../src/train/sft.js');
  const r = SftConfig.safeParse({ task: { file: FILE } });
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /synthetic task only/);
  assert.equal(SftConfig.safeParse({}).success, true);
});
