// A real pretrained model through the whole path: llama2.c's stories260K (Llama architecture, GQA 8/4,
// trained weights) converted to HF layout with transformers' q/k permutation, loaded as a Policy, must
// produce the same greedy tokens as an independent llama2.c-style forward (interleaved RoPE, run.c
// semantics) written in PyTorch in scripts/hf_reference.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { convertLlama2c, permuteRotary } from '../src/model/llama2c.js';
import { loadPretrained } from '../src/model/hf.js';
import { sample } from '../src/sampling/index.js';
import { llama2cGreedy } from './hf-fixtures.js';

await tf.setBackend('cpu');

// ../shared beside the checkout (a worktree sits one level deeper); IGRPO_STORIES260K overrides
const BIN =
  process.env.IGRPO_STORIES260K ??
  ['..', '../..'].map((up) => path.resolve(up, 'shared/data/models/stories260K/stories260K.bin')).find((p) => fs.existsSync(p)) ??
  path.resolve('../shared/data/models/stories260K/stories260K.bin');
const skip = fs.existsSync(BIN) ? false : `${BIN} not present`;
const STEPS = 40;

test('permuteRotary reorders each head\'s rows from interleaved pairs to halves (transformers\' view/transpose)', () => {
  // 2 heads × 4 rows, one column: rows (2i + j) → (j·2 + i) within each head
  const w = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(Array.from(permuteRotary(w, 2, 8, 1)), [0, 2, 1, 3, 4, 6, 5, 7]);
  const w2 = Float32Array.from({ length: 8 }, (_, i) => i); // 1 head × 4 rows × 2 columns
  assert.deepEqual(Array.from(permuteRotary(w2, 1, 4, 2)), [0, 1, 4, 5, 2, 3, 6, 7]);
});

test(`stories260K converted to HF layout: ${STEPS} greedy tokens from BOS equal llama2.c's forward`, { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-stories-'));
  try {
    const h = convertLlama2c(BIN, dir);
    assert.deepEqual([h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLen], [64, 172, 5, 8, 4, 512, 512]);
    const m = loadPretrained(dir); // no tokenizer in the folder: ids only
    assert.equal(m.tokenizer.vocabSize, 512);
    assert.equal(m.tokenizer.eosId, 2);
    const expected = llama2cGreedy(BIN, STEPS);
    // through the sampler (temperature 0 = argmax, KV cache), as sampling and the trainer use it
    const [[c]] = await sample(m, [[1]], { n: 1, maxNewTokens: STEPS, temperature: 0, stopOnEos: false });
    assert.deepEqual(c.ids, expected);
    // and by full forwards: each next token the argmax over the whole sequence so far
    const seq = [1, ...expected.slice(0, 9)];
    const full = tf.tidy(() => (m.logits(tf.tensor2d([seq], undefined, 'int32')).argMax(-1).arraySync() as number[][])[0]);
    assert.deepEqual(full, expected.slice(0, 10));
    m.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a llama2.c file of the wrong size is an error naming it', { skip }, () => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-l2c-')), 'cut.bin');
  fs.writeFileSync(f, fs.readFileSync(BIN).subarray(0, 5000));
  assert.throws(() => convertLlama2c(f, path.join(path.dirname(f), 'out')), /cut\.bin: 4972 bytes of weights, the header implies/);
  fs.rmSync(path.dirname(f), { recursive: true, force: true });
});
