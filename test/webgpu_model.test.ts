// The GPT policy on webgpu (fused kernels, lavapipe in CI) against cpu: logits, token log-probs,
// gradients of the training loss, Adam steps (src/optim's and the fused in-place one), the KV cache
// with a group sharing one prompt prefix, and no tensor leaks over repeated train steps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { GPT } from '../src/model/gpt.js';
import { CharTokenizer } from '../src/tokenizer/index.js';
import { Adam } from '../src/optim/adam.js';
import { sample } from '../src/sampling/index.js';
import { webgpuErrors } from '../src/backend/webgpu/index.js';
import { jsAdamUpdate } from '../src/optim/host.js';
import { SKIP_WEBGPU, assertClose, runOn, startWebgpu, stopWebgpu } from './webgpu_helpers.js';
import { tinyGPT } from './core-fixtures.js';
import { GQA, checkCacheEqualsFullForward, checkFiniteDifferences, fdModel } from './gqa-fixtures.js';

const opts = { skip: SKIP_WEBGPU ? 'IGRPO_SKIP_WEBGPU=1' : false };
before(startWebgpu);
after(stopWebgpu);

const tokenizer = new CharTokenizer({ alphabet: 'abcdefghijklmnop' });
const CONFIG = { vocabSize: tokenizer.vocabSize, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 16, seed: 3 };
const IDS = Array.from({ length: 3 * 12 }, (_, i) => (i * 7 + 3) % tokenizer.vocabSize);
const ids = () => tf.tensor2d(IDS, [3, 12], 'int32');

/** Mean negative log-likelihood of the sequences: the training loss used throughout. */
const loss = (m: GPT, x: tf.Tensor2D) => tf.neg(tf.mean(m.tokenLogProbs(x))) as tf.Scalar;

function gradsOf(m: GPT): tf.Tensor[] {
  const x = ids();
  const { value, grads } = tf.variableGrads(() => loss(m, x), m.parameters());
  value.dispose();
  x.dispose();
  return m.parameters().map((p) => grads[p.name]);
}

test('GPT logits, token log-probs and loss gradients on webgpu match cpu', opts, async () => {
  const body = () => {
    const m = new GPT(CONFIG, tokenizer);
    const x = ids();
    const out = [m.logits(x), m.tokenLogProbs(x), ...gradsOf(m)];
    x.dispose();
    m.dispose();
    return out;
  };
  const cpu = await runOn('cpu', body);
  const gpu = await runOn('webgpu', body);
  assertClose(gpu[0], cpu[0], 'logits', 1e-4, 1e-4);
  assertClose(gpu[1], cpu[1], 'token log-probs', 1e-4, 1e-4);
  for (let i = 2; i < cpu.length; i++) assertClose(gpu[i], cpu[i], `gradient of parameter ${i - 2}`, 2e-5, 2e-3);
});

test('three Adam steps: src/optim Adam and the fused in-place Adam on webgpu match src/optim Adam on cpu', opts, async () => {
  const train = (fused: boolean) => () => {
    const m = new GPT(CONFIG, tokenizer);
    const opt = new Adam(m.parameters(), { lr: 1e-2, fused });
    for (let s = 0; s < 3; s++) {
      const g = gradsOf(m);
      opt.step(g);
      tf.dispose(g);
    }
    opt.dispose();
    const params = m.parameters().map((p) => p.clone());
    m.dispose();
    return params;
  };
  const cpu = await runOn('cpu', train(false));
  const gpu = await runOn('webgpu', train(false));
  const fused = await runOn('webgpu', train(true));
  // Adam's first steps move each weight by ≈ lr·sign(g): compare with an absolute tolerance of lr/50
  cpu.forEach((c, i) => {
    assertClose(gpu[i], c, `src/optim Adam, parameter ${i}`, 2e-4, 1e-3);
    assertClose(fused[i], c, `fused Adam, parameter ${i}`, 2e-4, 1e-3);
  });
});

test('fused AdamW (weight decay, odd parameter count, lr override) equals src/optim jsAdamUpdate step by step', opts, async () => {
  await tf.setBackend('webgpu');
  const sizes = [5, 130, 1]; // three parameters: the last dispatch updates one alone
  const p0 = sizes.map((n, i) => Float32Array.from({ length: n }, (_, j) => Math.sin(i * 7 + j)));
  const grads = [0, 1, 2].map((t) => sizes.map((n, i) => Float32Array.from({ length: n }, (_, j) => Math.cos(t * 3 + i + j * 0.7) * (j % 3))));
  const params = p0.map((p) => tf.variable(tf.tensor1d(p)));
  const opt = new Adam(params, { lr: 0.05, weightDecay: 0.1 }); // the webgpu fused step
  const ref = p0.map((p) => ({ p: p.slice(), m: new Float32Array(p.length), v: new Float32Array(p.length) }));
  for (let t = 1; t <= 3; t++) {
    const lr = t === 3 ? 0.02 : 0.05;
    const g = grads[t - 1].map((x) => tf.tensor1d(x));
    opt.step(g, lr);
    tf.dispose(g);
    ref.forEach((r, i) =>
      jsAdamUpdate(r.p, grads[t - 1][i], r.m, r.v, lr, 0.9, 0.999, 1e-8, 1 - lr * 0.1, 1 - 0.9 ** t, Math.sqrt(1 - 0.999 ** t)),
    );
  }
  for (let i = 0; i < params.length; i++) assertClose(Float32Array.from(await params[i].data()), ref[i].p, `parameter ${i}`, 1e-6, 1e-5);
  opt.dispose();
  tf.dispose(params);
});

test('KV cache on webgpu: a prompt prefilled once and shared by a group decodes as the full forward does', opts, async () => {
  const body = () => {
    const m = new GPT(CONFIG, tokenizer);
    const prompt = tf.tensor2d([IDS.slice(0, 6)], [1, 6], 'int32');
    const { logits: first, cache } = m.prefill(prompt);
    const group = cache.select([0, 0, 0]); // G = 3 completions share the prompt's cache
    const next = [[4], [9], [13]];
    const step = m.decode(tf.tensor2d(next, [3, 1], 'int32'), group);
    // the full forward over prompt + next token, per row
    const full = m.logits(tf.tensor2d(next.map((n) => [...IDS.slice(0, 6), n[0]]), [3, 7], 'int32'));
    const fullLast = full.slice([0, 6, 0], [3, 1, -1]).reshape([3, -1]);
    const out = [first, step, fullLast];
    cache.dispose();
    group.dispose();
    m.dispose();
    return out;
  };
  const [first, step, fullLast] = await runOn('webgpu', body);
  assertClose(step, fullLast, 'decode logits vs full forward', 1e-4, 1e-4);
  const cpu = await runOn('cpu', body);
  assertClose(first, cpu[0], 'prefill logits vs cpu', 1e-4, 1e-4);
  assertClose(step, cpu[1], 'decode logits vs cpu', 1e-4, 1e-4);
});

test('grouped sampling (shared prompt prefix, Gumbel-max on the device) gives the cpu tokens on webgpu', opts, async () => {
  const run = async (backend: 'cpu' | 'webgpu') => {
    await tf.setBackend(backend);
    const m = new GPT(CONFIG, tokenizer);
    const before = tf.memory().numTensors;
    const out = await sample(m, ['abc', 'ponm'], { n: 4, seed: 7, maxNewTokens: 8, stopOnEos: false });
    assert.equal(tf.memory().numTensors, before, `${backend}: sampling leaked tensors`);
    m.dispose();
    return out.map((group) => group.map((c) => ({ ids: c.ids, logprobs: c.logprobs })));
  };
  const cpu = await run('cpu');
  const gpu = await run('webgpu');
  assert.deepEqual(gpu.map((g) => g.map((c) => c.ids)), cpu.map((g) => g.map((c) => c.ids)));
  // and the groups are real samples: the four completions of a prompt are not all the same
  assert.ok(new Set(gpu[0].map((c) => c.ids.join(','))).size > 1);
  gpu.flat().forEach((c, i) => assertClose(Float32Array.from(c.logprobs), Float32Array.from(cpu.flat()[i].logprobs), `log-probs of completion ${i}`, 1e-4, 1e-4));
});

test('a GQA GPT (kvHeads = nHeads / 2) on webgpu: KV-cache decoding equals the full forward, gradients match finite differences', opts, async () => {
  await tf.setBackend('webgpu');
  const m = tinyGPT(GQA);
  await checkCacheEqualsFullForward(m, 1e-4);
  m.dispose();
  const f = fdModel();
  assert.ok((await checkFiniteDifferences(f, 2)) >= 2 * 14);
  f.dispose();
  // and its logits and loss gradients match cpu
  const body = () => {
    const g = new GPT({ ...CONFIG, nHeads: 4, kvHeads: 2 }, tokenizer);
    const out = [g.logits(ids()), ...gradsOf(g)];
    g.dispose();
    return out;
  };
  const cpu = await runOn('cpu', body);
  const gpu = await runOn('webgpu', body);
  assertClose(gpu[0], cpu[0], 'GQA logits', 1e-4, 1e-4);
  for (let i = 1; i < cpu.length; i++) assertClose(gpu[i], cpu[i], `GQA gradient of parameter ${i - 1}`, 2e-5, 2e-3);
});

test('tf.memory().numTensors is unchanged over repeated train steps on webgpu', opts, async () => {
  await tf.setBackend('webgpu');
  const m = new GPT(CONFIG, tokenizer);
  const opt = new Adam(m.parameters(), { lr: 1e-3 });
  const step = async () => {
    const g = gradsOf(m);
    opt.step(g);
    tf.dispose(g);
    await m.parameters()[0].data();
  };
  await step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) await step();
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  m.dispose();
});

test('Dawn reported no validation errors', opts, () => {
  assert.deepEqual(webgpuErrors(), []);
});
