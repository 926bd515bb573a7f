// A divergence check on the weights themselves: after an update, is every parameter finite?
// The loss and the gradient norm can both be finite while the step (an overflowing learning rate, say)
// leaves NaN or ±Inf in the weights; the next step's sampling then runs on garbage and, with every reward
// equal, no later loss check would ever fire.
import * as tf from '@tensorflow/tfjs';
import { sumMany } from './clip.js';

/**
 * The index of the first parameter holding a NaN or ±Inf, or -1 when all are finite.
 * One reduction and one host read for the common (all finite) case: x·0 is 0 for every finite x and NaN
 * for NaN/±Inf, so the sum of all products is 0 exactly when every entry is finite (mul and sum exist on
 * every backend, unlike isNaN/isInf).
 */
export async function firstNonFiniteParameter(params: readonly tf.Variable[]): Promise<number> {
  if (params.length === 0) return -1;
  const probe = (ps: readonly tf.Tensor[]) => tf.tidy(() => sumMany(ps.map((p) => tf.sum(tf.mul(p, 0)))));
  const total = probe(params);
  const ok = (await total.data())[0] === 0;
  total.dispose();
  if (ok) return -1;
  for (let i = 0; i < params.length; i++) {
    const t = probe([params[i]]);
    const bad = (await t.data())[0] !== 0;
    t.dispose();
    if (bad) return i;
  }
  return 0; // only if the sum of zeros itself went wrong: still report a problem
}
