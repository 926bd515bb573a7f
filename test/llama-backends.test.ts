// The Llama-family policy on the native backend (OpenBLAS addon) and on webgpu (lavapipe in CI)
// against the PyTorch reference and the cpu backend: logits, token log-probs, gradients of a log-prob
// loss, and KV-cache decoding with a group sharing one prompt. Native needs `npm run build:native`;
// webgpu is skipped with IGRPO_SKIP_WEBGPU=1 like the other webgpu tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend } from '../src/backend/native/index.js';
import { loadPretrained } from '../src/model/hf.js';
import { FIXTURE_NAMES, assertAllClose, fixtureDir, reference } from './hf-fixtures.js';
import { SKIP_WEBGPU, startWebgpu, stopWebgpu } from './webgpu_helpers.js';

await registerNativeBackend();
before(startWebgpu);
after(stopWebgpu);

const BACKENDS = [
  { name: 'native', atol: 2e-4, rtol: 1e-4, skip: false as const },
  // fp32 on a GPU path: different summation orders and fused exp/log
  { name: 'webgpu', atol: 1e-3, rtol: 1e-3, skip: SKIP_WEBGPU ? 'IGRPO_SKIP_WEBGPU=1' : (false as const) },
];

/** Logits, log-probs, and the gradient of sum(log-probs · w) of every parameter, read back. */
async function run(backend: string, name: (typeof FIXTURE_NAMES)[number]): Promise<{ logits: Float32Array; lp: Float32Array; grads: Float32Array[] }> {
  await tf.setBackend(backend);
  const ref = reference(name);
  const m = loadPretrained(fixtureDir(name), { logProbChunkRows: 7 });
  try {
    const ids = tf.tensor2d(ref.ids, undefined, 'int32');
    const logits = m.logits(ids);
    const lp = m.tokenLogProbs(ids);
    const w = tf.tensor2d(ref.ids.map((r) => r.slice(1).map((_, i) => ((i * 5) % 7) / 7 - 0.3)));
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.tokenLogProbs(ids), w)) as tf.Scalar, m.parameters());
    const out = {
      logits: Float32Array.from(await logits.data()),
      lp: Float32Array.from(await lp.data()),
      grads: await Promise.all(m.parameters().map(async (p) => Float32Array.from(await grads[p.name].data()))),
    };
    tf.dispose([ids, logits, lp, w, value, ...Object.values(grads)]);
    return out;
  } finally {
    m.dispose();
    await tf.setBackend('cpu');
  }
}

for (const b of BACKENDS) {
  for (const name of FIXTURE_NAMES) {
    test(`${name} on ${b.name}: logits and log-probs match PyTorch, gradients match cpu (atol ${b.atol}, rtol ${b.rtol})`, { skip: b.skip }, async () => {
      const ref = reference(name);
      const got = await run(b.name, name);
      const cpu = await run('cpu', name);
      assertAllClose(got.logits, ref.logits.flat(2), `${name} logits on ${b.name}`, b.atol, b.rtol);
      assertAllClose(got.lp, ref.logprobs.flat(), `${name} log-probs on ${b.name}`, b.atol, b.rtol);
      got.grads.forEach((g, i) => assertAllClose(g, cpu.grads[i], `${name} gradient ${i} on ${b.name}`, 10 * b.atol, 10 * b.rtol));
    });
  }

  test(`KV-cache decoding on ${b.name} (a group of 3 sharing the prompt) equals the full forward`, { skip: b.skip }, async () => {
    await tf.setBackend(b.name);
    const ref = reference('llama');
    const m = loadPretrained(fixtureDir('llama'));
    try {
      const seq = ref.ids[1];
      const full = (await m.logits(tf.tensor2d([seq], undefined, 'int32')).array())[0];
      const { logits, cache: c0 } = m.prefill(tf.tensor2d([seq.slice(0, 5)], undefined, 'int32'));
      assertAllClose(await logits.data(), full[4], 'prefill', b.atol, b.rtol);
      const cache = c0.select([0, 0, 0]);
      c0.dispose();
      for (let t = 5; t < seq.length; t++) {
        const step = m.decode(tf.tensor2d([[seq[t]], [seq[t]], [seq[t]]], undefined, 'int32'), cache);
        for (const row of (await step.array()) as number[][]) assertAllClose(row, full[t], `decode at ${t}`, b.atol, b.rtol);
        step.dispose();
      }
      cache.dispose();
      assert.ok(true);
    } finally {
      m.dispose();
      await tf.setBackend('cpu');
    }
  });
}
