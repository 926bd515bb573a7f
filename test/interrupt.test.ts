// Cooperative interrupt (issue 13): long loops yield to the event loop and stop at the next interrupt point once
// an interrupt is requested (the kernel requests one on Kernel → Interrupt); the trainer stays usable afterwards.
// And a disposed trainer says so instead of failing inside tfjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Trainer } from '../src/train/trainer.js';
import { lengthScore, tinyConfig, tinyPolicy } from '../src/train/tiny.js';
import { clearInterrupt, InterruptedError, interruptPoint, requestInterrupt } from '../src/util/interrupt.js';
await tf.setBackend('cpu');

test('interruptPoint yields a macrotask and throws once an interrupt is requested', async () => {
  clearInterrupt();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setTimeout(r, 1)).then(() => interruptPoint());
  clearInterval(timer);
  assert.ok(ticks > 0);
  requestInterrupt();
  await assert.rejects(interruptPoint('here'), (e: Error) => e instanceof InterruptedError && e.name === 'KeyboardInterrupt' && /interrupted.*here/.test(e.message));
  clearInterrupt();
  await interruptPoint();
});

test('a training loop sees timers between steps, stops within a step when interrupted, and the trainer stays usable', async () => {
  clearInterrupt();
  const t = await Trainer.create(tinyConfig({ algo: 'igrpo', steps: 50 }), { policy: tinyPolicy(5), score: lengthScore });
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    let stepsDone = 0;
    // interrupt from a timer (as the kernel's SIGINT handler does) once two steps are done
    const run = t.run({ onStep: () => { if (++stepsDone === 2) setTimeout(requestInterrupt, 0); } });
    await assert.rejects(run, (e: Error) => e instanceof InterruptedError);
    clearInterval(timer);
    assert.ok(ticks > 0, 'timers ran during training');
    // stopped within the step after the request: at most one more step finished
    assert.ok(t.stepIndex >= 2 && t.stepIndex <= 3, `stepIndex ${t.stepIndex}`);
    const before = t.stepIndex;
    clearInterrupt();
    const tensors = tf.memory().numTensors;
    await t.step(); // usable: the interrupted step simply did not happen
    assert.equal(t.stepIndex, before + 1);
    assert.ok(tf.memory().numTensors <= tensors + 2, 'no tensors leaked by the interrupted step');
  } finally {
    clearInterrupt();
    t.dispose();
  }
});

test('a disposed trainer says it was disposed', async () => {
  const t = await Trainer.create(tinyConfig({ algo: 'grpo', steps: 2 }), { policy: tinyPolicy(5), score: lengthScore });
  t.dispose();
  await assert.rejects(t.step(), /Trainer\.begin\(\): this trainer was disposed/);
  await assert.rejects(t.evaluate(), /Trainer\.evaluate\(\): this trainer was disposed/);
  t.dispose(); // twice is harmless
});
