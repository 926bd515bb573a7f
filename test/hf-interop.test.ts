// What we write, others read: a model saved by us (F32 and BF16, after its weights changed) run by the
// PyTorch reference with its own safetensors reader gives our logits; a PEFT adapter saved by us and
// merged by the reference as W + alpha/r·B·A (PEFT's rule, keys as PEFT names them) gives our
// unmerged LoRA logits.
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/model/hf.js';
import { assertAllClose, fixtureDir, reference, referenceForward } from './hf-fixtures.js';

await tf.setBackend('cpu');

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-interop-'));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const logitsOf = (m: { logits(x: tf.Tensor2D): tf.Tensor3D }, ids: number[][]) => tf.tidy(() => m.logits(tf.tensor2d(ids, undefined, 'int32')).dataSync());

test('a trained model we save (F32 and BF16) runs in the PyTorch reference with our logits', async () => {
  const ids = reference('qwen2').ids;
  const m = loadPretrained(fixtureDir('qwen2'));
  // change every weight (as training would), so nothing matches the original file
  for (const p of m.baseParameters()) tf.tidy(() => p.assign(tf.add(p, tf.mul(tf.sin(tf.range(0, p.size).reshape(p.shape)), 0.01))));
  for (const dtype of ['F32', 'BF16'] as const) {
    const dir = path.join(tmp(), dtype);
    await m.save(dir, { dtype });
    const back = loadPretrained(dir);
    assertAllClose(logitsOf(back, ids), referenceForward(dir, ids).flat(2), `${dtype} save read by PyTorch`, 2e-4, 1e-4);
    back.dispose();
  }
  m.dispose();
});

test('a PEFT adapter we save, merged by the reference with PEFT\'s rule, gives our unmerged LoRA logits', async () => {
  const ids = reference('llama').ids;
  const m = loadPretrained(fixtureDir('llama'));
  m.enableLora({ r: 4, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 11 });
  for (const mod of m.adapters!.modules()) {
    const b = m.adapters!.get(mod)!.b;
    tf.tidy(() => b.assign(tf.mul(tf.cos(tf.range(0, b.size).reshape(b.shape)), 0.05)));
  }
  const dir = tmp();
  await m.saveAdapter(dir, 'llama');
  assertAllClose(logitsOf(m, ids), referenceForward(fixtureDir('llama'), ids, dir).flat(2), 'LoRA logits vs PEFT merge in PyTorch', 2e-4, 1e-4);
  m.dispose();
});
