// Loading streams tensor by tensor: a BF16 checkpoint's load adds about its fp32 size to peak memory,
// not the file on top of it (measured in a child process from /proc/self/status).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseHFConfig } from '../src/model/hf-config.js';
import { llamaParamSpecs } from '../src/model/llama.js';
import { encodeSafetensorsAs } from '../src/model/safetensors-file.js';

const skip = fs.existsSync('/proc/self/status') ? false : 'needs /proc (Linux)';

test('loading a 25M-parameter BF16 checkpoint adds at most 1.3× its fp32 size to peak memory', { skip }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-mem-'));
  try {
    const raw = { architectures: ['LlamaForCausalLM'], vocab_size: 8000, hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, tie_word_embeddings: false };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw));
    const specs = llamaParamSpecs(parseHFConfig(raw));
    const tensors = specs.map((s) => {
      const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 50000 - 0.01;
      return [s.name, { data, shape: s.shape }] as [string, { data: Float32Array; shape: number[] }];
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat(encodeSafetensorsAs(tensors, 'BF16')));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/hf-load-memory.mts', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { fp32, added } = JSON.parse(r.stdout.trim().split('\n').find((l) => l.startsWith('{'))!) as { fp32: number; added: number };
    assert.ok(fp32 > 90e6, `fp32 size ${fp32}`);
    t.diagnostic(`fp32 weights ${(fp32 / 2 ** 20).toFixed(0)} MiB, peak added by the load ${(added / 2 ** 20).toFixed(0)} MiB (${(added / fp32).toFixed(2)}×)`);
    assert.ok(added <= 1.3 * fp32, `the load added ${(added / 2 ** 20).toFixed(0)} MiB at peak for ${(fp32 / 2 ** 20).toFixed(0)} MiB of fp32 weights`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
