// The wasm fallback: the re-registered BatchMatMul (every product on XNNPACK) against the cpu backend
// in every transpose and batch form, with gradients, and a GPT train step on wasm against cpu.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { registerWasmSpeedups } from '../src/backend/wasm/index.js';
import { GPT } from '../src/model/gpt.js';
import { CharTokenizer } from '../src/tokenizer/index.js';
import { Adam } from '../src/optim/adam.js';

await selectBackend('wasm');
registerWasmSpeedups();

function values(shape: number[], seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** Product and (for equal batches) gradients of sum(matMul(a, b) · w) on one backend. */
function matMulOn(backend: string, sa: number[], sb: number[], ta: boolean, tb: boolean, grads: boolean): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const a = tf.tensor(values(sa, 1), sa);
    const b = tf.tensor(values(sb, 2), sb);
    const y = tf.matMul(a, b, ta, tb);
    const out = [y];
    if (grads) {
      const w = tf.tensor(values(y.shape, 3), y.shape);
      out.push(...tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, ta, tb), w)))([a, b]));
    }
    return out.map((t) => Float32Array.from(t.dataSync()));
  });
}

const CASES: [string, number[], number[]][] = [
  ['2D', [5, 7], [7, 4]],
  ['batched', [3, 5, 7], [3, 7, 4]],
  ['4D batched', [2, 2, 5, 7], [2, 2, 7, 4]],
  ['shared right operand', [3, 5, 7], [7, 4]],
  ['shared left operand', [5, 7], [3, 7, 4]],
];

for (const [name, sa, sb] of CASES) {
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const grads = sa.slice(0, -2).join() === sb.slice(0, -2).join(); // tfjs's gradient needs equal batches
      test(`wasm matMul ${name} transposeA=${ta} transposeB=${tb} matches cpu${grads ? ' (with gradients)' : ''}`, () => {
        const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        const want = matMulOn('cpu', swap(sa, ta), swap(sb, tb), ta, tb, grads);
        const before = (tf.setBackend('wasm'), tf.memory().numTensors);
        const got = matMulOn('wasm', swap(sa, ta), swap(sb, tb), ta, tb, grads);
        assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
        want.forEach((w, i) => w.forEach((x, j) => assert.ok(Math.abs(x - got[i][j]) < 1e-5, `output ${i}[${j}]: ${got[i][j]} vs ${x}`)));
      });
    }
  }
}

test('a GPT train step on wasm matches cpu (loss and every gradient)', () => {
  const tok = new CharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz .,' });
  const ids = [[1, 5, 9, 13, 17, 21, 25, 29, 2], [3, 4, 5, 6, 7, 8, 9, 10, 11]];
  const run = (backend: string) => {
    tf.setBackend(backend);
    const model = new GPT({ vocabSize: 32, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 12, seed: 2 }, tok);
    const params = model.parameters();
    const x = tf.tensor2d(ids, undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogProbs(x))) as tf.Scalar, params);
    const out = { loss: value.dataSync()[0], grads: params.map((p) => Float32Array.from(grads[p.name].dataSync())) };
    const opt = new Adam(params, { lr: 1e-3 });
    opt.step(params.map((p) => grads[p.name])); // the portable tensor path runs without error on wasm
    tf.dispose([value, x, ...Object.values(grads)]);
    opt.dispose();
    model.dispose();
    return out;
  };
  const want = run('cpu');
  const got = run('wasm');
  assert.ok(Math.abs(got.loss - want.loss) < 1e-5, `loss ${got.loss} vs ${want.loss}`);
  want.grads.forEach((g, i) => {
    const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
    g.forEach((x, j) => assert.ok(Math.abs(x - got.grads[i][j]) <= 1e-4 * scale, `gradient ${i}[${j}]: ${got.grads[i][j]} vs ${x}`));
  });
});
