// igrpo serve with runtime LoRA on a Llama-family policy: an adapter loaded through vLLM's
// /v1/load_lora_adapter is sampled under when a request names it, with the log-probs of the local model
// carrying the same adapter; unloading frees the name. The server is a separate process on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeLocalSampler, makeRemoteSampler } from '../src/engine/index.js';
import { loadPretrained } from '../src/model/hf.js';
import { fixtureDir } from './hf-fixtures.js';
import { rawPost, startServe } from './serve-helpers.js';

/** Per completion, the local model's log-probs of its tokens after prompt (temperature 1). */
function localLogProbs(model: { tokenLogProbs(ids: tf.Tensor2D): tf.Tensor2D }, prompt: number[], ids: number[]): number[] {
  return tf.tidy(() => {
    const all = [...prompt, ...ids];
    const lp = model.tokenLogProbs(tf.tensor2d([all], [1, all.length], 'int32'));
    return Array.from(lp.dataSync()).slice(prompt.length - 1);
  });
}

test('igrpo serve: a PEFT adapter loaded at run time samples with the local LlamaModel-with-adapter log-probs; unload frees it', { timeout: 240_000 }, async () => {
  const fixture = fixtureDir('llama');
  const loraRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-serve-lora-'));
  const adapterDir = path.join(loraRoot, 'v1');
  const local = loadPretrained(fixture);
  const base = loadPretrained(fixture);
  try {
    const lora = local.enableLora({ r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], seed: 3 });
    // B = 0 would leave the model unchanged: give every B visible values
    lora.parameters().forEach((v, i) => {
      if (i % 2 === 1) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 7 + i)));
    });
    await local.saveAdapter(adapterDir, fixture);
    const served = await startServe(['--served-model-name', 'base', '--enable-lora-updates', '--lora-dir', loraRoot], 0, {}, fixture);
    try {
      const load = await rawPost(`${served.url}/v1/load_lora_adapter`, { lora_name: 'pol-v1', lora_path: adapterDir });
      assert.equal(load.status, 200, load.text);
      const prompts = [{ ids: [1, 5, 9, 13], text: '' }, { ids: [1, 7, 3], text: '' }];
      const onAdapter = makeRemoteSampler({ urls: [`${served.url}/v1`], model: 'pol-v1', retries: 0 });
      const out = await onAdapter({ prompts, n: 2, maxNewTokens: 5, seed: 11 });
      // the local grouped sampler with the same seeds (promptSeed per prompt, as the remote sampler sends them)
      const want = await makeLocalSampler(local)({ prompts, n: 2, maxNewTokens: 5, seed: 11 });
      const onBase = await makeLocalSampler(base)({ prompts, n: 2, maxNewTokens: 5, seed: 11 });
      let maxDiff = 0;
      let baseDiff = 0;
      out.forEach((group, g) =>
        group.forEach((c, j) => {
          assert.deepEqual(c.ids, want[g][j].ids, `prompt ${g} completion ${j}: the same tokens as the local model with the adapter`);
          c.logprobs.forEach((lp, k) => (maxDiff = Math.max(maxDiff, Math.abs(lp - want[g][j].logprobs[k]))));
          // the same tokens scored by the base: the adapter must change them
          const lpBase = localLogProbs(base, prompts[g].ids, c.ids);
          const lpAdapter = localLogProbs(local, prompts[g].ids, c.ids);
          lpBase.forEach((x, k) => (baseDiff = Math.max(baseDiff, Math.abs(x - lpAdapter[k]))));
        }),
      );
      assert.ok(maxDiff < 1e-4, `served under the adapter vs local with the adapter: max |Δ log p| = ${maxDiff}`);
      assert.ok(baseDiff > 1e-2, `the adapter must change the log-probs (vs the base: ${baseDiff})`);
      // the base model is still served as itself, beside the adapter
      const served0 = await makeRemoteSampler({ urls: [`${served.url}/v1`], model: 'base', retries: 0 })({ prompts, n: 2, maxNewTokens: 5, seed: 11 });
      served0.forEach((group, g) =>
        group.forEach((c, j) => {
          assert.deepEqual(c.ids, onBase[g][j].ids);
          c.logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - onBase[g][j].logprobs[k]) < 1e-4));
        }),
      );
      const unload = await rawPost(`${served.url}/v1/unload_lora_adapter`, { lora_name: 'pol-v1' });
      assert.equal(unload.status, 200, unload.text);
      const gone = await rawPost(`${served.url}/v1/completions`, { model: 'pol-v1', prompt: [1, 5], max_tokens: 2 });
      assert.equal(gone.status, 404);
      // an adapter whose shapes do not fit the served model is a 400 naming the file
      const bad = path.join(loraRoot, 'bad');
      fs.mkdirSync(bad);
      const cfg = JSON.parse(fs.readFileSync(path.join(adapterDir, 'adapter_config.json'), 'utf8'));
      fs.writeFileSync(path.join(bad, 'adapter_config.json'), JSON.stringify({ ...cfg, r: 3 }));
      fs.copyFileSync(path.join(adapterDir, 'adapter_model.safetensors'), path.join(bad, 'adapter_model.safetensors'));
      const badLoad = await rawPost(`${served.url}/v1/load_lora_adapter`, { lora_name: 'bad', lora_path: bad });
      assert.equal(badLoad.status, 400, badLoad.text);
      assert.match(badLoad.text, /adapter_model\.safetensors/);
    } finally {
      await served.stop();
    }
  } finally {
    local.dispose();
    base.dispose();
    fs.rmSync(loraRoot, { recursive: true, force: true });
  }
});
