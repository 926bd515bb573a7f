// Hugging Face checkpoint I/O: safetensors F32/F16/BF16 read tensor by tensor, BF16 writing (round to
// nearest even), save → load round trips keeping HF names and config.json, and every kind of bad file
// an error naming the file and tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodeSafetensorsAs, floatToBF16Bits, halfToFloat, openCheckpointTensors, readSafetensorsHeader, readTensor } from '../src/model/safetensors-file.js';
import { loadPretrained } from '../src/model/hf.js';
import { assertAllClose, copyFixture, fixtureDir } from './hf-fixtures.js';

await tf.setBackend('cpu');

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-st-'));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A safetensors file from a header object and raw data bytes (no checks: tests make bad files with it). */
function writeRaw(file: string, header: unknown, data: Uint8Array, lengthOverride?: bigint): void {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
}

const u16 = (xs: number[]) => new Uint8Array(new Uint16Array(xs).buffer);

test('F32, F16 and BF16 tensors read as float32 (F16 subnormals, infinities; BF16 as the high half)', () => {
  const f = path.join(tmp(), 'x.safetensors');
  const f32 = new Float32Array([1.5, -2.25, 3e-8]);
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]; // 1, -2, 65504, 2^-24, inf, 0.33325
  const bf16 = [0x3f80, 0xc0a0, 0x3eaa]; // 1, -5, 0.33203125
  const data = new Uint8Array([...new Uint8Array(f32.buffer), ...u16(f16), ...u16(bf16)]);
  writeRaw(f, {
    a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
    b: { dtype: 'F16', shape: [2, 3], data_offsets: [12, 24] },
    c: { dtype: 'BF16', shape: [3, 1], data_offsets: [24, 30] },
    __metadata__: { format: 'pt' },
  }, data);
  const { tensors } = readSafetensorsHeader(f);
  assert.deepEqual(Array.from(readTensor(tensors.get('a')!).data), Array.from(f32));
  const b = readTensor(tensors.get('b')!);
  assert.deepEqual(b.shape, [2, 3]);
  assert.deepEqual(Array.from(b.data), [1, -2, 65504, 2 ** -24, Infinity, Math.fround(0.333251953125)]);
  assert.deepEqual(Array.from(readTensor(tensors.get('c')!).data), [1, -5, 0.33203125]);
  assert.equal(halfToFloat(0x8000), -0);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test('fp32 → BF16 rounds to nearest even, as torch does', () => {
  const x = new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -7 + 2 ** -9, -0.1, 65504]);
  const bits = Array.from(floatToBF16Bits(x));
  // 1+2^-8 is a tie → even (1.0); 1+3·2^-8 is a tie → even (1+2^-6 = 0x3f82); 1+2^-7+2^-9 rounds down to 1+2^-7
  assert.deepEqual(bits.slice(0, 4), [0x3f80, 0x3f80, 0x3f82, 0x3f81]);
  assert.equal(bits[4], 0xbdcd); // torch.tensor(-0.1).bfloat16() bits
  assert.equal(bits[5], 0x4780); // 65504 → 65536
});

test('a saved model (F32 or BF16) loads back with the same outputs, HF names, and config.json fields kept', async () => {
  const m = loadPretrained(fixtureDir('qwen3'));
  const ids = tf.tensor2d([[1, 4, 9, 16, 25]], undefined, 'int32');
  const expected = m.logits(ids).dataSync();
  for (const dtype of ['F32', 'BF16'] as const) {
    const dir = path.join(tmp(), dtype);
    await m.save(dir, { dtype });
    const names = [...readSafetensorsHeader(path.join(dir, 'model.safetensors')).tensors.keys()].sort();
    assert.deepEqual(names, m.namedParameters().map(([n]) => n).sort());
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.rope_parameters, { rope_theta: 1000000, rope_type: 'default' });
    assert.equal(cfg.head_dim, 16);
    assert.equal(cfg.dtype, dtype === 'F32' ? 'float32' : 'bfloat16');
    const back = loadPretrained(dir);
    // the fixture's weights are BF16 values, so both saves are exact
    assertAllClose(back.logits(ids).dataSync(), expected, `${dtype} round trip`, 0, 0);
    back.dispose();
  }
  m.dispose();
  ids.dispose();
});

test('a sharded checkpoint (index.json weight_map) loads; a missing shard or a tensor not where the index says is an error', () => {
  const dir = copyFixture('qwen2');
  assert.ok(openCheckpointTensors(dir).size > 10);
  const idx = path.join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(fs.readFileSync(idx, 'utf8'));
  fs.renameSync(path.join(dir, 'model-00002-of-00002.safetensors'), path.join(dir, 'gone'));
  assert.throws(() => loadPretrained(dir), /model\.safetensors\.index\.json: shard .*model-00002-of-00002\.safetensors is missing \(it holds '/);
  fs.renameSync(path.join(dir, 'gone'), path.join(dir, 'model-00002-of-00002.safetensors'));
  const [first] = Object.keys(index.weight_map);
  fs.writeFileSync(idx, JSON.stringify({ ...index, weight_map: { ...index.weight_map, [first]: 'model-00002-of-00002.safetensors' } }));
  assert.throws(() => loadPretrained(dir), new RegExp(`model-00002-of-00002\\.safetensors: tensor '${first.replace(/\./g, '\\.')}' is missing`));
  fs.writeFileSync(idx, JSON.stringify({ ...index, weight_map: { ...index.weight_map, [first]: '../model.safetensors' } }));
  assert.throws(() => loadPretrained(dir), /'\.\.\/model\.safetensors' is not a file name in the model folder/);
});

test('bad safetensors files are errors naming the file and tensor, never a read past the end', () => {
  const d = tmp();
  const f = path.join(d, 'bad.safetensors');
  const eight = new Uint8Array(8);
  const check = (header: unknown, data: Uint8Array, re: RegExp, len?: bigint) => {
    writeRaw(f, header, data, len);
    assert.throws(() => readSafetensorsHeader(f), (e: Error) => re.test(e.message) && e.message.startsWith(f));
  };
  fs.writeFileSync(f, Buffer.from([1, 2, 3]));
  assert.throws(() => readSafetensorsHeader(f), /only 3 bytes/);
  check({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, eight, /header says 1000000000 bytes but the file has/, 1000000000n);
  check({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight, /tensor 'a': data_offsets \[0, 16\] run past the 8 data bytes; truncated\?/);
  check({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight, /tensor 'a': 8 bytes for shape \[3\] of F32 \(needs 12\)/);
  check({ a: { dtype: 'I8', shape: [8], data_offsets: [0, 8] } }, eight, /tensor 'a': dtype I8 is not supported/);
  check({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] } }, eight, /tensors 'a' and 'b' overlap/);
  check({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, eight, /tensor 'a': data_offsets \[8, 0\] end before they begin/);
  check({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight, /tensor 'a': shape/);
  check([1, 2], eight, /header is not a JSON object/);
  // a real checkpoint cut short
  const cut = copyFixture('llama');
  const w = path.join(cut, 'model.safetensors');
  fs.truncateSync(w, fs.statSync(w).size - 100);
  assert.throws(() => loadPretrained(cut), /model\.safetensors: not a valid safetensors file \(tensor '.*': data_offsets .* run past the .* data bytes; truncated\?\)/);
});

test('checkpoint tensors must match config.json: missing, unexpected, wrong shape; no safetensors at all', () => {
  const dir = copyFixture('llama_tied');
  const w = path.join(dir, 'model.safetensors');
  const good = fs.readFileSync(w);
  const { tensors } = readSafetensorsHeader(w);
  const all = [...tensors.values()].map((e) => [e.name, readTensor(e)] as const);
  const write = (list: (readonly [string, { data: Float32Array; shape: number[] }])[]) => {
    const chunks = encodeSafetensorsAs(list as [string, { data: Float32Array; shape: number[] }][], 'BF16');
    fs.writeFileSync(w, Buffer.concat(chunks));
  };
  write(all.filter(([n]) => n !== 'model.layers.1.mlp.up_proj.weight'));
  assert.throws(() => loadPretrained(dir), /tensor 'model\.layers\.1\.mlp\.up_proj\.weight' is missing from the checkpoint \(.*config\.json needs it\)/);
  write([...all, ['model.layers.0.self_attn.q_proj.bias', { data: new Float32Array(32), shape: [32] }]]);
  assert.throws(() => loadPretrained(dir), /model\.safetensors: unexpected tensor 'model\.layers\.0\.self_attn\.q_proj\.bias'/);
  write(all.map(([n, t]) => (n === 'model.norm.weight' ? [n, { data: new Float32Array(31), shape: [31] }] : [n, t])));
  assert.throws(() => loadPretrained(dir), /model\.safetensors: tensor 'model\.norm\.weight' has shape \[31\] but .*config\.json needs \[32\]/);
  // a tied model may carry a copy of lm_head.weight: ignored
  write([...all, ['lm_head.weight', all[0][1]]]);
  loadPretrained(dir).dispose();
  fs.writeFileSync(w, good);
  const cfgFile = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, intermediate_size: 64 }));
  assert.throws(() => loadPretrained(dir), /tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[48,32\] but .*config\.json needs \[64,32\]/);
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  fs.renameSync(w, path.join(dir, 'pytorch_model.bin'));
  assert.throws(() => loadPretrained(dir), /no model\.safetensors or model\.safetensors\.index\.json \(only safetensors checkpoints are loaded/);
  assert.throws(() => loadPretrained(path.join(dir, 'nope')), /model folder .*nope does not exist/);
});
