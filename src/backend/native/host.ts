// Reading and writing tensor values of the native backend, which keeps them (like tfjs's cpu backend)
// in typed arrays in host memory: kernels hand those arrays straight to the addon.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { pool } from './pool.js';

export type Info = tf.TensorInfo;
/** A kernel as tfjs calls it; inputs a kernel reads are always present (optional ones are checked). */
export type KernelArgs = { inputs: Record<string, Info>; backend: MathBackendCPU; attrs?: tf.NamedAttrMap };
export type KernelFn = (args: KernelArgs) => Info | Info[];

/** The Float32Array behind a float32 tensor (no copy), or null for any other storage. */
export function f32(backend: MathBackendCPU, t: Info): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)!.values;
  return v instanceof Float32Array ? v : null;
}

/** Int32 ids as an Int32Array (a view when stored that way, else a converted copy). */
export function i32(backend: MathBackendCPU, t: Info): Int32Array {
  const v = backend.data.get(t.dataId)!.values;
  return v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>);
}

/** A kernel's output tensor over values from pool.alloc (recycled once the tensor is disposed unseen). */
export function output(backend: MathBackendCPU, shape: number[], values: Float32Array): Info {
  const info = backend.makeTensorInfo(shape, 'float32', values);
  pool.adopt(values, info.dataId);
  return info;
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
