// LoRA on the Llama family: a fresh adapter changes nothing and is all that trains; its gradients match
// finite differences; PEFT's adapter format round-trips; merging gives the unmerged outputs; the
// adapters-off reference is the base model without a second copy of its weights; bad adapters fail clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/model/hf.js';
import type { LlamaModel } from '../src/model/llama.js';
import { readSafetensorsHeader } from '../src/model/safetensors-file.js';
import { Adam } from '../src/optim/adam.js';
import { assertAllClose, fixtureDir, reference } from './hf-fixtures.js';

await tf.setBackend('cpu');

const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-lora-'));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Give every B a seeded non-zero value, so the adapters change the outputs. */
function perturbB(m: LlamaModel, seed: number): void {
  let s = seed;
  for (const mod of m.adapters!.modules()) {
    const b = m.adapters!.get(mod)!.b;
    const v = new Float32Array(b.size).map(() => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s / 2 ** 32 - 0.5) * 0.2;
    });
    b.assign(tf.tensor2d(v, b.shape));
  }
}

const logitsOf = (m: { logits(x: tf.Tensor2D): tf.Tensor3D }, ids: number[][]) => tf.tidy(() => m.logits(tf.tensor2d(ids, undefined, 'int32')).dataSync());

test('a fresh adapter (B = 0) leaves outputs unchanged; only the adapters are trainable', () => {
  const m = loadPretrained(fixtureDir('qwen2'));
  const ids = reference('qwen2').ids;
  const base = logitsOf(m, ids);
  const nBase = m.parameters().length;
  const lora = m.enableLora({ r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], seed: 1 });
  assert.equal(lora.scale, 2);
  assert.equal(m.parameters().length, 3 * 3 * 2); // 3 layers × 3 modules × (A, B)
  assert.ok(m.baseParameters().every((p) => !p.trainable));
  assert.ok(m.parameters().every((p) => p.trainable));
  assert.deepEqual(lora.get('model.layers.0.self_attn.q_proj')!.a.shape, [4, 32]);
  assert.deepEqual(lora.get('model.layers.0.self_attn.v_proj')!.b.shape, [16, 4]); // Hkv · dh = 2 · 8
  assertAllClose(logitsOf(m, ids), base, 'outputs with B = 0', 0, 0);
  assert.ok(nBase > m.parameters().length);
  m.dispose();
});

test('LoRA gradients match central finite differences', () => {
  const m = loadPretrained(fixtureDir('qwen3'));
  m.enableLora({ r: 2, alpha: 4, targetModules: [...ALL], seed: 2 });
  perturbB(m, 9);
  const ids = tf.tensor2d(reference('qwen3').ids, undefined, 'int32');
  const loss = () => tf.mean(m.tokenLogProbs(ids)) as tf.Scalar;
  const { value, grads } = tf.variableGrads(loss, m.parameters());
  value.dispose();
  const eps = 1e-2;
  let checked = 0;
  for (const p of m.parameters()) {
    const g = grads[p.name].dataSync();
    // the entry with the largest gradient of each variable: relative error well above fp32 noise
    let k = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[k])) k = i;
    if (Math.abs(g[k]) < 1e-3) continue;
    const orig = p.dataSync().slice();
    const at = (delta: number) => {
      const v = orig.slice();
      v[k] += delta;
      p.assign(tf.tensor(v, p.shape));
      return tf.tidy(() => loss().dataSync()[0]);
    };
    const fd = (at(eps) - at(-eps)) / (2 * eps);
    p.assign(tf.tensor(orig, p.shape));
    assert.ok(Math.abs(fd - g[k]) <= 2e-3 + 0.03 * Math.abs(g[k]), `${p.name}[${k}]: autodiff ${g[k]}, finite difference ${fd}`);
    checked++;
  }
  assert.ok(checked >= 20, `only ${checked} variables had a gradient to check`);
  tf.dispose(Object.values(grads));
  ids.dispose();
  m.dispose();
});

test('PEFT adapter round trip: keys, shapes and adapter_config.json as PEFT writes them; same outputs after load', async () => {
  const m = loadPretrained(fixtureDir('llama'));
  const ids = reference('llama').ids;
  m.enableLora({ r: 3, alpha: 6, targetModules: ['q_proj', 'k_proj', 'o_proj', 'gate_proj'], seed: 3 });
  perturbB(m, 4);
  const expected = logitsOf(m, ids);
  const dir = tmp();
  await m.saveAdapter(dir, 'tiny-llama');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.task_type, 'CAUSAL_LM');
  assert.equal(cfg.r, 3);
  assert.equal(cfg.lora_alpha, 6);
  assert.equal(cfg.lora_dropout, 0);
  assert.equal(cfg.bias, 'none');
  assert.equal(cfg.base_model_name_or_path, 'tiny-llama');
  assert.deepEqual(cfg.target_modules, ['q_proj', 'k_proj', 'o_proj', 'gate_proj']);
  const { tensors } = readSafetensorsHeader(path.join(dir, 'adapter_model.safetensors'));
  assert.equal(tensors.size, 2 * 4 * 2);
  assert.deepEqual(tensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight')!.shape, [3, 32]);
  assert.deepEqual(tensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight')!.shape, [16, 3]); // 2 kv heads × 8
  assert.deepEqual(tensors.get('base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight')!.shape, [64, 3]);
  // the whole model saved with LoRA on: base unmerged in HF layout, the adapter beside it in adapter/
  const whole = tmp();
  await m.save(whole);
  assert.ok(fs.existsSync(path.join(whole, 'config.json')) && fs.existsSync(path.join(whole, 'adapter', 'adapter_config.json')));
  const again = loadPretrained(whole, { adapter: path.join(whole, 'adapter') });
  assertAllClose(logitsOf(again, ids), expected, 'model + adapter saved together', 0, 0);
  again.dispose();
  const back = loadPretrained(fixtureDir('llama'), { adapter: dir });
  assertAllClose(logitsOf(back, ids), expected, 'outputs after save → load', 0, 0);
  assert.equal(back.parameters().length, 16);
  // merged = unmerged
  back.mergeAdapters();
  assert.equal(back.adapters, null);
  assertAllClose(logitsOf(back, ids), expected, 'merged outputs', 2e-5, 1e-5);
  assert.equal(back.parameters().length, back.baseParameters().length);
  assert.ok(back.parameters().every((p) => p.trainable));
  back.dispose();
  m.dispose();
});

test('the KL reference is the base model with adapters off, sharing its weights', async () => {
  const m = loadPretrained(fixtureDir('llama_tied'));
  const ids = reference('llama_tied').ids;
  const base = logitsOf(m, ids);
  m.enableLora({ r: 2, alpha: 2, targetModules: ['v_proj', 'up_proj'] });
  perturbB(m, 5);
  const tuned = logitsOf(m, ids);
  assert.ok(tuned.some((v, i) => Math.abs(v - base[i]) > 1e-3), 'the adapters change the outputs');
  const before = tf.memory().numTensors;
  const ref = m.reference();
  assert.equal(tf.memory().numTensors, before, 'the reference holds no tensors of its own');
  assert.deepEqual(ref.parameters(), []);
  assertAllClose(logitsOf(ref, ids), base, 'reference = base', 0, 0);
  assertAllClose(m.withAdaptersDisabled(() => logitsOf(m, ids)), base, 'withAdaptersDisabled = base', 0, 0);
  assertAllClose(logitsOf(m, ids), tuned, 'adapters on again afterwards', 0, 0);
  // log-probs and cached decoding under the reference are the base model's too
  const x = tf.tensor2d(ids, undefined, 'int32');
  const lpRef = ref.tokenLogProbs(x);
  m.disableLora();
  const lpBase = m.tokenLogProbs(x);
  assertAllClose(lpRef.dataSync(), lpBase.dataSync(), 'reference log-probs', 0, 0);
  tf.dispose([x, lpRef, lpBase]);
  m.dispose();
});

test('bad LoRA settings and adapters are clear errors', async () => {
  const m = loadPretrained(fixtureDir('llama'));
  assert.throws(() => m.enableLora({ r: 4, alpha: 8, dropout: 0.05 as 0, targetModules: ['q_proj'] }), /invalid LoRA config: dropout/);
  assert.throws(() => m.enableLora({ r: 4, alpha: 8, targetModules: ['qkv_proj' as 'q_proj'] }), /invalid LoRA config: targetModules\.0/);
  const dir = tmp();
  m.enableLora({ r: 2, alpha: 4, targetModules: ['q_proj'] });
  await m.saveAdapter(dir);
  m.dispose();
  const cfgFile = path.join(dir, 'adapter_config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  const withCfg = (patch: Record<string, unknown>, re: RegExp) => {
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, ...patch }));
    assert.throws(() => loadPretrained(fixtureDir('llama'), { adapter: dir }), re);
  };
  withCfg({ r: 3 }, /adapter_model\.safetensors: adapter tensor 'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight' has shape \[2,32\], the model and r=3 need \[3,32\]/);
  withCfg({ target_modules: ['q_proj', 'v_proj'] }, /adapter tensor '.*v_proj\.lora_A\.weight' is missing/);
  withCfg({ target_modules: ['k_proj'] }, /tensor '.*q_proj\.lora_A\.weight' matches no targeted module/);
  withCfg({ target_modules: '.*q_proj' }, /adapter_config\.json: target_modules: a regular expression/);
  withCfg({ use_dora: true }, /adapter_config\.json: use_dora/);
  withCfg({ peft_type: 'IA3' }, /adapter_config\.json: peft_type/);
  fs.rmSync(path.join(dir, 'adapter_model.safetensors'));
  withCfg({}, /adapter_model\.safetensors is missing/);
});

test('LoRA training steps with the toolkit\'s Adam lower the NLL and leave every base weight untouched', () => {
  const m = loadPretrained(fixtureDir('qwen2'));
  const baseBefore = m.baseParameters().map((p) => p.dataSync().slice());
  m.enableLora({ r: 4, alpha: 8, targetModules: [...ALL], seed: 7 });
  const ids = tf.tensor2d(reference('qwen2').ids, undefined, 'int32');
  const opt = new Adam(m.parameters(), { lr: 1e-2 });
  const nll = () => tf.neg(tf.mean(m.tokenLogProbs(ids))) as tf.Scalar;
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { value, grads } = tf.variableGrads(nll, m.parameters());
    losses.push(value.dataSync()[0]);
    opt.step(m.parameters().map((p) => grads[p.name]), 1e-2);
    tf.dispose([value, ...Object.values(grads)]);
  }
  assert.ok(losses[4] < losses[0] - 0.05, `NLL ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
  m.baseParameters().forEach((p, i) => assertAllClose(p.dataSync(), baseBefore[i], `base weight ${i}`, 0, 0));
  ids.dispose();
  m.dispose();
});
