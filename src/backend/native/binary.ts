// Float32 Add/Sub/Mul/Div with broadcasting as tight JS loops over the last axis. The cpu kernels'
// broadcasting path maps every element through index arrays (about 1 ms for a [64,32]−[64,1] in the
// sampler's log-softmax, every decoding step); same-shape and bias-shaped adds go to the addon.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './addon.js';
import { type KernelFn, f32, output, size } from './host.js';
import { pool } from './pool.js';

type Op = 'add' | 'sub' | 'mul' | 'div';

/** out[o..o+n) = a[ia + i·sa] op b[ib + i·sb] — one loop per op so V8 keeps each monomorphic. */
function row(op: Op, a: Float32Array, ia: number, sa: number, b: Float32Array, ib: number, sb: number, out: Float32Array, o: number, n: number): void {
  if (op === 'add') for (let i = 0; i < n; i++) out[o + i] = a[ia + i * sa] + b[ib + i * sb];
  else if (op === 'sub') for (let i = 0; i < n; i++) out[o + i] = a[ia + i * sa] - b[ib + i * sb];
  else if (op === 'mul') for (let i = 0; i < n; i++) out[o + i] = a[ia + i * sa] * b[ib + i * sb];
  else for (let i = 0; i < n; i++) out[o + i] = a[ia + i * sa] / b[ib + i * sb];
}

/** Strides of `shape` right-aligned to an output of rank r, with 0 on broadcast axes. */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const r = outShape.length;
  const s = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = r - shape.length + i;
    s[j] = shape[i] === 1 && outShape[j] !== 1 ? 0 : acc;
    acc *= shape[i];
  }
  return s;
}

export function broadcastBinary(op: Op, av: Float32Array, aShape: number[], bv: Float32Array, bShape: number[], outShape: number[]): Float32Array {
  const out = pool.alloc(size(outShape));
  if (out.length === 0) return out;
  const r = outShape.length;
  if (r === 0) {
    row(op, av, 0, 0, bv, 0, 0, out, 0, 1);
    return out;
  }
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const inner = outShape[r - 1];
  const idx = new Array<number>(r - 1).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < out.length; o += inner) {
    row(op, av, ia, sa[r - 1], bv, ib, sb[r - 1], out, o, inner);
    let d = r - 2;
    for (; d >= 0; d--) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < outShape[d]) break;
      ia -= sa[d] * outShape[d];
      ib -= sb[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return out;
}

export function binaryKernel(op: Op, cpu: KernelFn, addon?: NativeAddon): KernelFn {
  return (args) => {
    const { a, b } = args.inputs;
    const av = f32(args.backend, a);
    const bv = f32(args.backend, b);
    if (!av || !bv) return cpu(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (addon && op === 'add' && av.length > 0 && bv.length > 0) {
      const n = size(outShape);
      if ((av.length === n && bv.length === n) || (av.length === n && trailing(outShape, b.shape)) || (bv.length === n && trailing(outShape, a.shape))) {
        const c = pool.alloc(n);
        addon.addBroadcast(av, bv, c);
        return output(args.backend, outShape, c);
      }
    }
    return output(args.backend, outShape, broadcastBinary(op, av, a.shape, bv, b.shape, outShape));
  };
}

/** True when small's shape (leading 1s dropped) is the trailing part of big's (a bias). */
function trailing(big: number[], small: number[]): boolean {
  let i = 0;
  while (i < small.length && small[i] === 1) i++;
  const s = small.slice(i);
  return s.length <= big.length && big.slice(big.length - s.length).every((x, j) => x === s[j]);
}
