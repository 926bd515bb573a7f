import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadGPT, loadPolicy } from '../src/model/load.js';
import { decodeSafetensors, encodeSafetensors } from '../src/model/safetensors.js';
import { tinyGPT } from './core-fixtures.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-ckpt-'));

test('checkpoint round-trip is exact: weights, config, tokenizer, outputs', async () => {
  const dir = path.join(tmp(), 'policy');
  const m = tinyGPT({ tiedEmbeddings: false, seed: 4 });
  await m.save(dir);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
  const back = loadGPT(dir);
  assert.deepEqual(back.config, m.config);
  assert.deepEqual(back.tokenizer.toJSON(), m.tokenizer.toJSON());
  const a = m.namedParameters();
  const b = back.namedParameters();
  assert.deepEqual(a.map(([n]) => n), b.map(([n]) => n));
  a.forEach(([name, v], i) => assert.deepEqual(b[i][1].dataSync(), v.dataSync(), name));
  const ids = tf.tensor2d([m.tokenizer.encode('12+34=<answer>46</answer>')], undefined, 'int32');
  assert.deepEqual(back.tokenLogProbs(ids).dataSync(), m.tokenLogProbs(ids).dataSync());
  // saving again over an existing checkpoint replaces it whole, leaving no temporary folders
  await back.save(dir);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['policy']);
  [m, back].forEach((x) => x.dispose());
});

test('safetensors layout: 8-byte LE header length, JSON header, raw LE float32 (hand-built bytes)', () => {
  const header = JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(8);
  data.writeFloatLE(1.5, 0);
  data.writeFloatLE(-2, 4);
  const t = decodeSafetensors(Buffer.concat([len, Buffer.from(header), data]), 'hand.safetensors');
  assert.deepEqual([...t.get('w')!.data], [1.5, -2]);
  assert.deepEqual(t.get('w')!.shape, [2]);
  // our writer: the header is padded to 8 bytes and the data follows it
  const bytes = Buffer.concat(encodeSafetensors([['w', { data: new Float32Array([1.5, -2]), shape: [2] }]]));
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  assert.equal(JSON.parse(bytes.subarray(8, 8 + n).toString()).w.data_offsets[1], 8);
  assert.equal(bytes.readFloatLE(8 + n + 4), -2);
  // half precision reads as float32: 0x3C00 = 1 (F16), 0x3FC0 = 1.5 (BF16)
  const h = JSON.stringify({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, b: { dtype: 'BF16', shape: [1], data_offsets: [2, 4] } });
  const hl = Buffer.alloc(8);
  hl.writeBigUInt64LE(BigInt(h.length));
  const hd = Buffer.from([0x00, 0x3c, 0xc0, 0x3f]);
  const half = decodeSafetensors(Buffer.concat([hl, Buffer.from(h), hd]), 'half.safetensors');
  assert.equal(half.get('a')!.data[0], 1);
  assert.equal(half.get('b')!.data[0], 1.5);
});

test('a truncated or corrupted checkpoint is a clear error naming the file', async () => {
  const dir = path.join(tmp(), 'p');
  const m = tinyGPT();
  await m.save(dir);
  m.dispose();
  const weights = path.join(dir, 'model.safetensors');
  const good = fs.readFileSync(weights);
  const escaped = weights.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  fs.writeFileSync(weights, good.subarray(0, good.length - 100));
  assert.throws(() => loadPolicy(dir), new RegExp(`${escaped}: not a valid safetensors file \\(tensor '[^']*': .*truncated\\?\\)`));
  fs.writeFileSync(weights, good.subarray(0, 5));
  assert.throws(() => loadPolicy(dir), new RegExp(`${escaped}: not a valid safetensors file \\(only 5 bytes`));
  const corrupt = Buffer.from(good);
  corrupt.write('}}}}', 8);
  fs.writeFileSync(weights, corrupt);
  assert.throws(() => loadPolicy(dir), new RegExp(`${escaped}: not a valid safetensors file \\(header is not JSON`));
  fs.writeFileSync(weights, good);

  const config = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(config, 'utf8'));
  fs.writeFileSync(config, JSON.stringify({ ...cfg, nHeads: 3 }));
  assert.throws(() => loadPolicy(dir), new RegExp(`invalid ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: dModel: dModel must be divisible by nHeads`));
  fs.writeFileSync(config, JSON.stringify({ ...cfg, nLayers: 1 }));
  assert.throws(() => loadPolicy(dir), new RegExp(`${escaped}: unexpected weights for this config: h\\.1\\.`));
  fs.writeFileSync(config, '{"vocabSize": ');
  assert.throws(() => loadPolicy(dir), /config\.json: not valid JSON/);
  fs.rmSync(config);
  assert.throws(() => loadPolicy(dir), /checkpoint file .*config\.json is missing/);
  assert.throws(() => loadPolicy(path.join(dir, 'nope')), /checkpoint folder .*nope does not exist/);
});
