// The Adam update over host memory: tensors on the cpu backend, and on backends that register a host
// Adam kernel (src/ops/adam.ts; native: C++), keep their values in Float32Arrays that the update can
// rewrite in place (as torch.optim does), avoiding new tensors per step.
import * as tf from '@tensorflow/tfjs';
import { type AdamStepScalars, adamKernel } from '../ops/adam.js';

export type HostUpdate = (p: tf.Variable, g: tf.Tensor, m: Float32Array, v: Float32Array, s: AdamStepScalars) => void;

interface HostData {
  values: Float32Array;
  refCount: number;
}
interface HostBackend {
  data: { get(id: object): HostData };
}

/** The in-place update for the active backend, or null when its tensors do not live in host arrays. */
export function hostUpdateKernel(): HostUpdate | null {
  const name = tf.getBackend();
  const registered = adamKernel(name);
  const update =
    registered?.kind === 'host'
      ? registered.update
      : name === 'cpu'
        ? (p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamStepScalars) =>
            jsAdamUpdate(p, g, m, v, s.lr, s.beta1, s.beta2, s.eps, s.decay, s.bc1, s.bc2Sqrt)
        : null;
  if (!update) return null;
  const backend = tf.backend() as unknown as HostBackend;
  return (p, g, m, v, s) => update(writableValues(backend, p), backend.data.get(g.dataId).values, m, v, s);
}

/** The variable's own values; when its storage is shared with another tensor, it first gets a private copy. */
function writableValues(backend: HostBackend, p: tf.Variable): Float32Array {
  const d = backend.data.get(p.dataId);
  if (d.refCount <= 1) return d.values;
  const copy = tf.tensor(d.values.slice(), p.shape, 'float32');
  p.assign(copy);
  copy.dispose(); // the variable now holds the only reference, so later steps write in place
  return backend.data.get(p.dataId).values;
}

/** Adam/AdamW over flat arrays, in place: the reference for the native kernel. */
export function jsAdamUpdate(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  lr: number, beta1: number, beta2: number, eps: number, decay: number, bc1: number, bc2Sqrt: number,
): void {
  const stepSize = lr / bc1;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const mi = beta1 * m[i] + (1 - beta1) * gi;
    const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}
