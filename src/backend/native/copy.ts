// Slice, Concat and GatherV2 as runs of TypedArray.set (memcpy) instead of the cpu kernels'
// per-element index arithmetic in JS, which dominated KV-cache decoding (the caches are large).
import * as tf from '@tensorflow/tfjs';
import { type KernelFn, f32, output, size } from './host.js';
import { pool } from './pool.js';

/** Row-major strides of a shape. */
function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export function sliceKernel(cpu: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const xv = f32(args.backend, x);
    const rank = x.shape.length;
    if (!xv || rank === 0) return cpu(args);
    const { begin, size: sz } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, sz);
    if (tf.slice_util.isSliceContinous(x.shape, b, s) || size(s) === 0) return cpu(args); // a view, no copy
    // the innermost axis not taken whole, with every full axis after it, is one contiguous run
    let k = rank - 1;
    while (k > 0 && s[k] === x.shape[k] && b[k] === 0) k--;
    const st = strides(x.shape);
    const run = s[k] * st[k];
    const out = pool.alloc(size(s));
    const idx = new Array<number>(k).fill(0);
    let o = 0;
    for (;;) {
      let src = b[k] * st[k];
      for (let a = 0; a < k; a++) src += (b[a] + idx[a]) * st[a];
      out.set(xv.subarray(src, src + run), o);
      o += run;
      let a = k - 1;
      while (a >= 0 && ++idx[a] === s[a]) idx[a--] = 0;
      if (a < 0) break;
    }
    return output(args.backend, s, out);
  };
}

/** SplitV as one Slice per part (the cpu kernel slices element by element in JS where a part is strided). */
export function splitKernel(slice: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((n) => {
      const size = x.shape.slice();
      size[ax] = n;
      const part = slice({ ...args, attrs: { begin: begin.slice(), size } }) as tf.TensorInfo;
      begin[ax] += n;
      return part;
    });
  };
}

export function concatKernel(cpu: KernelFn): KernelFn {
  return (args) => {
    const inputs = Object.values(args.inputs);
    const { axis } = args.attrs as { axis: number | number[] };
    if (inputs.length === 0) return cpu(args);
    const rank = inputs[0].shape.length;
    const ax = tf.util.parseAxisParam(axis, inputs[0].shape)[0];
    const values = inputs.map((t) => f32(args.backend, t));
    const sameOuter = inputs.every((t) => t.shape.length === rank && t.shape.every((d, i) => i === ax || d === inputs[0].shape[i]));
    if (values.some((v) => !v) || !sameOuter || rank === 0) return cpu(args);
    const outer = size(inputs[0].shape.slice(0, ax));
    const inner = inputs.map((t) => size(t.shape.slice(ax)));
    const row = inner.reduce((a, c) => a + c, 0);
    const out = pool.alloc(outer * row);
    let o = 0;
    for (let r = 0; r < outer; r++) {
      values.forEach((v, i) => {
        out.set(v!.subarray(r * inner[i], (r + 1) * inner[i]), o);
        o += inner[i];
      });
    }
    const shape = inputs[0].shape.slice();
    shape[ax] = inputs.reduce((a, t) => a + t.shape[ax], 0);
    return output(args.backend, shape, out);
  };
}

export function gatherKernel(cpu: KernelFn): KernelFn {
  return (args) => {
    const { x, indices } = args.inputs;
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    const xv = f32(args.backend, x);
    if (!xv || batchDims || x.shape.length === 0) return cpu(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const ids = args.backend.data.get(indices.dataId)!.values as ArrayLike<number>;
    const n = x.shape[ax];
    for (let j = 0; j < ids.length; j++) if (!(ids[j] >= 0 && ids[j] < n)) return cpu(args); // its error message
    const outer = size(x.shape.slice(0, ax));
    const inner = size(x.shape.slice(ax + 1));
    const out = pool.alloc(outer * ids.length * inner);
    let o = 0;
    for (let r = 0; r < outer; r++) {
      for (let j = 0; j < ids.length; j++) {
        const src = (r * n + ids[j]) * inner;
        out.set(xv.subarray(src, src + inner), o);
        o += inner;
      }
    }
    return output(args.backend, [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], out);
  };
}
