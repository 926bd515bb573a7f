// On-device gradients for Sum and Mean, replacing tfjs-core's, which multiply dy by a `ones` tensor
// built on the CPU in a JS loop and uploaded through a fresh staging buffer (19 times a step, 577 MB
// a step at d_model 1024 in the measurement). Here dy is reshaped and broadcast on the device
// (one Tile dispatch); Mean scales the small dy by a cached device scalar first. Gradients are
// registered globally in tfjs: the math is the same on every backend (Mean's 1/n multiply instead of
// a divide by n differs by at most one rounding).
import * as tf from '@tensorflow/tfjs';

const scalars = new Map<string, tf.Scalar>();

/** A device-resident scalar, made once per (backend, value) and kept: no upload inside a step. */
export function deviceScalar(value: number): tf.Scalar {
  const key = `${tf.getBackend()}:${value}`;
  let s = scalars.get(key);
  if (!s || s.isDisposed) {
    s = tf.keep(tf.scalar(value, 'float32'));
    scalars.set(key, s);
  }
  return s;
}

/** Frees one backend's cached scalars (before removing it). */
export function disposeDeviceScalars(backend: string): void {
  for (const [key, s] of scalars) {
    if (!key.startsWith(`${backend}:`)) continue;
    s.dispose();
    scalars.delete(key);
  }
}

function expandedShape(x: tf.Tensor, axis: number | number[]): { shape: number[]; reduced: number } {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const shape = x.shape.slice();
  let reduced = 1;
  for (const a of axes) {
    reduced *= shape[a];
    shape[a] = 1;
  }
  return { shape, reduced };
}

let registered = false;

export function registerReductionGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { shape } = expandedShape(x, (attrs as unknown as { axis: number | number[] }).axis);
      return { x: () => tf.broadcastTo(tf.reshape(dy as tf.Tensor, shape), x.shape) };
    },
  });
  tf.registerGradient({
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { shape, reduced } = expandedShape(x, (attrs as unknown as { axis: number | number[] }).axis);
      return {
        x: () => tf.broadcastTo(tf.reshape(tf.mul(dy as tf.Tensor, deviceScalar(1 / reduced)), shape), x.shape),
      };
    },
  });
}
