// A diverged policy must not pass silently (issue 14.1): non-finite numbers in a config are refused naming
// the field (JSON.parse reads 1e400 as Infinity), weights that an update turns NaN/Inf stop the run with
// exit 3 keeping the last good checkpoint, and a step whose completions are all empty carries a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseGPTConfig } from '../src/model/config.js';
import { AdamConfigSchema } from '../src/optim/adam.js';
import { firstNonFiniteParameter } from '../src/optim/finite.js';
import { groupAdvantages } from '../src/rl/advantages.js';
import { selectBestDraft } from '../src/rl/igrpo.js';
import { SampleOptionsSchema } from '../src/sampling/options.js';
import { ConfigError } from '../src/train/config.js';
import { readTrainConfig } from '../src/train/config-file.js';
import { stepWarnings } from '../src/train/health.js';
import { readMetrics } from '../src/train/records-file.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';
import { Trainer, TrainingStoppedError } from '../src/train/trainer.js';

await tf.setBackend('cpu');
const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-diverge-'));
const infLr = path.join(tmp, 'inf-lr.json');
fs.writeFileSync(infLr, '{"optimizer":{"lr":1e400}}');

test('1e400 in a config file (Infinity after JSON.parse) is refused naming the field', () => {
  assert.equal(JSON.parse(fs.readFileSync(infLr, 'utf8')).optimizer.lr, Infinity);
  assert.throws(() => readTrainConfig(infLr), (e: Error) => e instanceof ConfigError && /optimizer\.lr: .*finite/.test(e.message));
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'igrpo.js'), 'train', '--out', path.join(tmp, 'never'), '--config', infLr, '--quiet'],
    { encoding: 'utf8', env: { ...process.env, IGRPO_BACKEND: 'cpu' }, timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /optimizer\.lr/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never')), 'nothing written for a refused config');
});

test('every config schema refuses ±Infinity', () => {
  assert.equal(AdamConfigSchema.safeParse({ lr: Infinity }).success, false);
  assert.equal(AdamConfigSchema.safeParse({ lr: 1, weightDecay: Infinity }).success, false);
  assert.equal(SampleOptionsSchema.safeParse({ temperature: Infinity }).success, false);
  assert.throws(() => parseGPTConfig({ vocabSize: 8, dModel: 4, nLayers: 1, nHeads: 1, maxSeqLen: 8, initStd: Infinity }), /initStd/);
  for (const over of [{ objective: { beta: Infinity } }, { optimizer: { maxGradNorm: Infinity } }, { sampling: { temperature: Infinity } }, { eval: { temperature: -Infinity } }]) {
    assert.throws(() => tinyConfig(over as never), ConfigError, JSON.stringify(over));
  }
});

test('firstNonFiniteParameter finds NaN and ±Inf, and passes huge finite weights', async () => {
  const ok = [tf.variable(tf.tensor1d([1e38, -3e38, 0])), tf.variable(tf.tensor1d([1]))];
  assert.equal(await firstNonFiniteParameter(ok), -1);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const vs = [tf.variable(tf.tensor1d([1, 2])), tf.variable(tf.tensor1d([0, bad]))];
    assert.equal(await firstNonFiniteParameter(vs), 1, String(bad));
    tf.dispose(vs);
  }
  tf.dispose(ok);
});

test('an update that makes the weights non-finite stops the run and keeps the last good checkpoint', async () => {
  const out = path.join(tmp, 'run');
  const cfg = tinyConfig({ steps: 4, checkpoint: { every: 1, keep: 3 } });
  const t = await Trainer.create(cfg, { out, policy: tinyPolicy(1), score: lengthScore });
  try {
    await t.step();
    // the schema refuses an infinite lr; a diverging one can still overflow the weights: simulate that
    (t.config.optimizer as { lr: number }).lr = Infinity;
    await assert.rejects(() => t.step(), (e: Error) =>
      e instanceof TrainingStoppedError && /non-finite parameter '/.test(e.message) && /step-000001/.test(e.message));
    assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoints')), ['step-000001']);
    assert.equal(readMetrics(path.join(out, 'metrics.jsonl')).length, 1);
  } finally {
    t.dispose();
  }
});

test('lr 1e6 with a finite but overflowing weight decay: the NaN/Inf weights stop training', async () => {
  // Every number in the config is finite, yet AdamW's decay factor 1 − lr·wd overflows float32 on the first update.
  const t = await Trainer.create(tinyConfig({ steps: 3, optimizer: { lr: 1e6, weightDecay: 1e33, microBatchSize: 3 } }), { policy: tinyPolicy(1), score: lengthScore });
  try {
    await assert.rejects(() => t.step(), (e: Error) =>
      e instanceof TrainingStoppedError && /step 0: non-finite parameter '[^']+'/.test(e.message) && /no checkpoint was written yet/.test(e.message));
  } finally {
    t.dispose();
  }
});

test('lr 1e6 on a tiny run: training only ever continues on finite weights', async () => {
  // With Adam a step moves a weight by at most ~lr, so lr 1e6 alone leaves the tiny model finite (it
  // collapses to one deterministic completion); the invariant is that no step returns with NaN/Inf weights.
  const t = await Trainer.create(tinyConfig({ steps: 3, optimizer: { lr: 1e6, microBatchSize: 3 } }), { policy: tinyPolicy(1), score: lengthScore });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await t.step().catch((e: Error) => e);
      if (r instanceof Error) {
        assert.ok(r instanceof TrainingStoppedError, r.message);
        break;
      }
      assert.equal(await firstNonFiniteParameter(t.policy.parameters()), -1);
    }
  } finally {
    t.dispose();
  }
});

test('a trainer step whose completions are all empty logs a warning in its metrics', async () => {
  // a policy that always samples <eos> first: the final LayerNorm outputs its bias, only <eos>'s embedding is non-zero
  const policy = tinyPolicy(1);
  const named = new Map(policy.namedParameters());
  named.get('lnf.g')!.assign(tf.zerosLike(named.get('lnf.g')!));
  named.get('lnf.b')!.assign(tf.onesLike(named.get('lnf.b')!));
  const wte = named.get('wte')!;
  wte.assign(tf.tidy(() => tf.mul(tf.oneHot(tf.fill([wte.shape[1]!], policy.tokenizer.eosId, 'int32'), wte.shape[0]).transpose(), 100)));
  const t = await Trainer.create(tinyConfig({ steps: 1 }), { policy, score: lengthScore });
  try {
    const s = await t.step();
    assert.ok(s.groups!.every((g) => g.completions.every((c) => c.text === '')), 'every completion is empty');
    assert.match(s.metrics!.warnings?.[0] ?? '', /completions are empty/);
  } finally {
    t.dispose();
  }
});

test('a step whose completions are all empty carries a warning in its metrics', () => {
  assert.deepEqual(stepWarnings([{ text: '7' }, { text: '' }]), []);
  assert.deepEqual(stepWarnings([]), []);
  const w = stepWarnings([{ text: '' }, { text: '' }]);
  assert.equal(w.length, 1);
  assert.match(w[0], /all 2 completions are empty/);
});

test('infinite rewards stop training like NaN ones (issue 14.8), even when a whole group is infinite', async () => {
  assert.deepEqual(groupAdvantages([[Infinity, Infinity]], { scale: 'group', eps: 1e-4 }), [[NaN, NaN]]);
  assert.deepEqual(groupAdvantages([[1, -Infinity, 0]], { scale: 'none', eps: 1e-4 }), [[NaN, NaN, NaN]]);
  assert.deepEqual(groupAdvantages([[1, 1], [0, 2]], { scale: 'none', eps: 1e-4 }), [[0, 0], [-1, 1]]);
  const drafts = [Infinity, 0.5, NaN].map((reward) => ({ ids: [1], score: { reward } }));
  assert.equal(selectBestDraft(drafts as never, 'first', 0), 1, 'a non-finite draft reward never wins');
  for (const [algo, bad] of [['grpo', Infinity], ['igrpo', -Infinity], ['grpo', NaN]] as const) {
    const t = await Trainer.create(tinyConfig({ algo, steps: 2 }), { policy: tinyPolicy(1), score: (p, c) => ({ ...lengthScore(p, c), reward: bad }) });
    try {
      await assert.rejects(() => t.step(), (e: Error) => e instanceof TrainingStoppedError && /non-finite advantage \(from a NaN or infinite reward\)/.test(e.message), `${algo} ${bad}`);
    } finally {
      t.dispose();
    }
  }
});
