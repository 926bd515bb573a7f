// Server-mode iGRPO: both stages sampled on `igrpo serve` (a separate process on 127.0.0.1) under the
// LoRA adapter version of the current weights, reloaded after each update; the engine is killed and
// restarted mid-run. The run must end in the same weights as the local-sampling run with the same seeds
// (same backend, cpu, in both processes), with each step in metrics.jsonl once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseHFConfig } from '../src/model/hf-config.js';
import { loadPretrained } from '../src/model/hf.js';
import { LlamaModel } from '../src/model/llama.js';
import { MetricsRecord } from '../src/train/records.js';
import { readJsonl } from '../src/train/records-file.js';
import { syntheticTokenizer } from '../src/train/task.js';
import { lengthScore, tinyConfig } from '../src/train/tiny.js';
import { Trainer } from '../src/train/trainer.js';
import { startServe, stopProcess, type Served } from './serve-helpers.js';

const STEPS = 4;

/** A tiny Llama over the synthetic character tokenizer, saved as an HF folder (+ the toolkit's tokenizer.json). */
async function tinyLlamaFolder(root: string): Promise<string> {
  const tok = syntheticTokenizer();
  const config = parseHFConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 64,
    num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, rms_norm_eps: 1e-5, rope_theta: 10000,
  }, 'tiny llama');
  const m = new LlamaModel(config, tok, undefined, { seed: 3 });
  const dir = path.join(root, 'model');
  await m.save(dir);
  m.dispose();
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.toJSON()));
  return dir;
}

function loraPolicy(dir: string): LlamaModel {
  const m = loadPretrained(dir, { tokenizer: syntheticTokenizer() });
  m.enableLora({ r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], seed: 1 });
  return m;
}

const config = (over: Parameters<typeof tinyConfig>[0] = {}) =>
  tinyConfig({ algo: 'igrpo', steps: STEPS, seed: 9, optimizer: { lr: 5e-2, microBatchSize: 4 }, eval: { every: 0, size: 2, k: 1, atStart: false }, ...over });

async function adapterWeights(m: LlamaModel): Promise<Float32Array[]> {
  return Promise.all(m.adapters!.parameters().map(async (v) => (await v.data()) as Float32Array));
}

test('server-mode iGRPO on igrpo serve: adapter versions reloaded each step, an engine restart mid-run, the same weights as local sampling', { timeout: 600_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-server-mode-'));
  let served: Served | undefined;
  try {
    const modelDir = await tinyLlamaFolder(root);

    // the local-sampling run
    const local = await Trainer.create(config(), { out: path.join(root, 'local'), policy: loraPolicy(modelDir), score: lengthScore });
    await local.run();
    const want = await adapterWeights(local.policy as LlamaModel);
    local.dispose();

    // the server-mode run: adapters written to run/adapters, which the server may load from
    const out = path.join(root, 'server');
    const adapters = path.join(out, 'adapters');
    fs.mkdirSync(adapters, { recursive: true });
    const serveArgs = ['--served-model-name', 'tiny', '--enable-lora-updates', '--lora-dir', adapters];
    served = await startServe(serveArgs, 0, {}, modelDir);
    const port = served.port;
    const engine = { urls: [`${served.url}/v1`], model: 'tiny', retries: 40, backoffMs: 100, maxBackoffMs: 1_000, timeoutMs: 60_000 };
    const t = await Trainer.create(config({ rollout: { engine } }), { out, policy: loraPolicy(modelDir), score: lengthScore });
    const numTensors = tf.memory().numTensors;

    await t.step(); // step 0 under igrpo-policy-step-0
    assert.equal(t.engine!.current, t.engine!.nameOf(0));
    assert.match(t.engine!.current!, /^igrpo-policy-[0-9a-f]{8}-step-0$/);

    // step 1, stage by stage: the engine restarts between the drafts and the refinements, forgetting
    // step-1's adapter; the refinement request gets 404, the adapter is loaded again and the request re-sent
    const s = t.begin();
    await t.sampleDrafts(s);
    assert.equal(t.engine!.current, t.engine!.nameOf(1));
    assert.deepEqual(fs.readdirSync(adapters).filter((d) => d.startsWith('step-')), ['step-1'], 'the previous version is unloaded and its folder removed');
    await stopProcess(served.proc, 'SIGKILL');
    served = await startServe(serveArgs, port, {}, modelDir);
    t.scoreDrafts(s);
    t.selectDrafts(s);
    t.buildPrompts(s);
    await t.sampleRefinements(s);
    t.scoreRefinements(s);
    t.computeAdvantages(s);
    await t.update(s);
    await t.finish(s);
    assert.equal(t.engine!.reloads, 1);

    // step 2: the engine dies as the step starts and comes back a little later: loading step-2's adapter
    // and the requests retry (connection refused) until it is up
    await stopProcess(served.proc, 'SIGKILL');
    const restarting = new Promise((r) => setTimeout(r, 300)).then(() => startServe(serveArgs, port, {}, modelDir));
    await t.step();
    served = await restarting;
    await t.step();
    assert.equal(t.stepIndex, STEPS);

    const got = await adapterWeights(t.policy as LlamaModel);
    let maxDiff = 0;
    got.forEach((g, i) => g.forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - want[i][k])))));
    assert.equal(maxDiff, 0, `server-mode and local-sampling adapters differ by up to ${maxDiff}`);

    const metrics = readJsonl(path.join(out, 'metrics.jsonl'), MetricsRecord);
    assert.deepEqual(metrics.map((m) => m.step), [0, 1, 2, 3], 'each step logged once');
    for (const m of metrics) {
      assert.ok(m.engineMismatch, `step ${m.step}: engine mismatch logged`);
      // the same model on both sides; what remains is the toolkit sampler's renormalisation over pad/bos
      // (never generated, see sampling/generate.ts bannedIds): −log(1 − p(pad) − p(bos)) per token, a few
      // hundredths for this random model, and > 0
      assert.ok(m.engineMismatch.tokens > 0 && m.engineMismatch.mean > 0 && m.engineMismatch.max < 0.2, `step ${m.step}: |Δ log p| mean ${m.engineMismatch.mean}, max ${m.engineMismatch.max}`);
    }
    const localMetrics = readJsonl(path.join(root, 'local', 'metrics.jsonl'), MetricsRecord);
    assert.deepEqual(metrics.map((m) => m.reward), localMetrics.map((m) => m.reward));
    assert.equal(fs.readFileSync(path.join(out, 'rollouts.jsonl'), 'utf8').split('\n').filter(Boolean).length, fs.readFileSync(path.join(root, 'local', 'rollouts.jsonl'), 'utf8').split('\n').filter(Boolean).length);
    assert.ok(fs.existsSync(path.join(adapters, `step-${STEPS - 1}`, 'adapter_model.safetensors')));
    assert.equal(tf.memory().numTensors, numTensors, 'no tensors leak across server-mode steps');
    t.dispose();
  } finally {
    if (served) await served.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('run config hash: local runs hash as before server mode; engine hosts, key and retries may change on resume, the model may not', async () => {
  const { configHash } = await import('../src/train/run-folder.js');
  const crypto = await import('node:crypto');
  const c = config();
  // a config from before rollout (and optimizer.gradientCheckpointing, eval.refinementProbe) existed, keys in their order
  const { gradientCheckpointing: __, ...optimizer } = c.optimizer;
  const { refinementProbe: ___, ...evalBlock } = c.eval;
  const { rollout: _, ...before } = { ...c, optimizer, eval: evalBlock };
  // (the backend is left out too since runs record the resolved one: see test/run-folder.test.ts)
  assert.equal(configHash(c), crypto.createHash('sha256').update(JSON.stringify({ ...before, steps: 0, backend: '' })).digest('hex').slice(0, 16));
  const a = config({ rollout: { engine: { urls: ['http://a:8000/v1'], model: 'm' } } });
  const b = config({ rollout: { engine: { urls: ['http://b:9000/v1', 'http://c:9000/v1'], model: 'm', apiKey: 'k', retries: 3 } } });
  const other = config({ rollout: { engine: { urls: ['http://a:8000/v1'], model: 'other' } } });
  assert.equal(configHash(a), configHash(b));
  assert.notEqual(configHash(a), configHash(other));
  assert.notEqual(configHash(a), configHash(c));
});
