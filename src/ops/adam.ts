// The Adam update a backend may register in place of src/optim's portable tensor path. The registry
// lives here, below both src/optim and src/backend, so neither imports the other: a backend registers
// its update when it starts (as it registers kernels), and src/optim's Adam looks it up by backend name.
import type * as tf from '@tensorflow/tfjs';

/** Scalars of one step, shared by every path. */
export interface AdamStepScalars {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − lr·wd, the decoupled weight-decay factor. */
  decay: number;
  /** 1 − beta1^t and √(1 − beta2^t). */
  bc1: number;
  bc2Sqrt: number;
}

/** One parameter's slot in a device update: the parameter, its gradient and its moments, updated in place. */
export interface AdamSlot {
  p: tf.Variable;
  g: tf.Tensor;
  m: tf.Variable;
  v: tf.Variable;
}

/**
 * A backend's Adam: `host` for backends whose tensors live in host Float32Arrays (the update rewrites
 * p, m and v in place: the formula of src/optim/host.ts jsAdamUpdate), `device` for backends that
 * update variables in their own memory, many parameters per call.
 */
export type AdamKernel =
  | { kind: 'host'; update: (p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, s: AdamStepScalars) => void }
  | { kind: 'device'; step: (slots: AdamSlot[], s: AdamStepScalars) => void };

const kernels = new Map<string, AdamKernel>();

/** Called by a backend's registration; src/optim's Adam then uses it whenever that backend is active. */
export function registerAdamKernel(backendName: string, kernel: AdamKernel): void {
  kernels.set(backendName, kernel);
}

/** The Adam kernel registered for a backend, if any. */
export function adamKernel(backendName: string): AdamKernel | undefined {
  return kernels.get(backendName);
}
