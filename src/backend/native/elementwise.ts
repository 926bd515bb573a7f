// Sum over leading axes (the bias gradient), Transpose and Softmax on the addon; the cpu kernels
// transpose first or index element by element in JS for these.
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { type Info, type KernelFn, f32, output, size } from './host.js';
import { pool } from './pool.js';


export function sumKernel(addon: NativeAddon, cpu: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const xv = f32(args.backend, x);
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    // leading axes 0..r-1 only: [outer, inner] summed over outer rows
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!xv || !leading) return cpu(args);
    const inner = size(x.shape.slice(axes.length));
    const outer = size(x.shape.slice(0, axes.length));
    const out = pool.alloc(inner);
    addon.sumRows(xv, out, outer, inner);
    const shape = keepDims ? [...axes.map(() => 1), ...x.shape.slice(axes.length)] : x.shape.slice(axes.length);
    return output(args.backend, shape, out);
  };
}

export function transposeKernel(addon: NativeAddon, cpu: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const { perm } = args.attrs as { perm: number[] };
    const xv = f32(args.backend, x);
    if (!xv || x.shape.length < 2) return cpu(args);
    const out = pool.alloc(xv.length);
    addon.transpose(xv, out, Int32Array.from(x.shape), Int32Array.from(perm));
    return output(args.backend, perm.map((p) => x.shape[p]), out);
  };
}

/** Softmax over the last axis (tfjs's only form). */
export function softmaxKernel(addon: NativeAddon, cpu: KernelFn): KernelFn {
  return (args) => {
    const { logits } = args.inputs;
    const { dim } = args.attrs as { dim: number };
    const xv = f32(args.backend, logits);
    const rank = logits.shape.length;
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1) || xv.length === 0) return cpu(args);
    const n = logits.shape[rank - 1];
    const out = pool.alloc(xv.length);
    addon.softmaxRows(xv, out, xv.length / n, n);
    return output(args.backend, logits.shape.slice(), out);
  };
}
