// BatchMatMul and _FusedMatMul on OpenBLAS sgemm, in every transpose form and for batched operands
// where one side's batch is 1 (broadcast) or both match; anything else goes to the cpu kernel.
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { type Info, type KernelArgs, type KernelFn, f32, output, size } from './host.js';
import { pool } from './pool.js';


/** The sgemm product of a and b, or null when the shapes need the cpu kernel's general broadcasting. */
export function nativeMatMul(addon: NativeAddon, backend: MathBackendCPU, a: Info, b: Info, transA: boolean, transB: boolean): Info | null {
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null; // let the cpu kernel throw tfjs's own error
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = size(batchShapeA);
  const batchB = size(batchShapeB);
  let outBatch: number[];
  if (batchA === batchB && sameShape(trimOnes(batchShapeA), trimOnes(batchShapeB))) {
    outBatch = batchShapeA.length >= batchShapeB.length ? batchShapeA : batchShapeB;
  } else if (batchB === 1) {
    outBatch = batchShapeA.length >= batchShapeB.length ? batchShapeA : [...new Array(batchShapeB.length - batchShapeA.length).fill(1), ...batchShapeA];
  } else if (batchA === 1) {
    outBatch = batchShapeB.length >= batchShapeA.length ? batchShapeB : [...new Array(batchShapeA.length - batchShapeB.length).fill(1), ...batchShapeB];
  } else {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  const c = pool.alloc(batch * m * n);
  if (k === 0) c.fill(0); // an empty sum (pooled arrays hold old values)
  else if (c.length > 0) {
    addon.batchMatMul(av, bv, c, batch, m, n, k, transA, transB, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
  }
  return output(backend, [...outBatch, m, n], c);
}

function trimOnes(s: number[]): number[] {
  let i = 0;
  while (i < s.length && s[i] === 1) i++;
  return s.slice(i);
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function batchMatMulKernel(addon: NativeAddon, cpu: KernelFn): KernelFn {
  return (args) => {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    return nativeMatMul(addon, args.backend, a, b, transposeA, transposeB) ?? cpu(args);
  };
}

/** Matmul then the bias through the backend's Add kernel; activations other than linear use the cpu kernel. */
export function fusedMatMulKernel(addon: NativeAddon, cpu: KernelFn, add: KernelFn): KernelFn {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    if ((activation && activation !== 'linear') || preluActivationWeights) return cpu(args);
    const direct = bias ? matMulBias(addon, args.backend, a, b, bias, transposeA, transposeB) : null;
    if (direct) return direct;
    const prod = nativeMatMul(addon, args.backend, a, b, transposeA, transposeB);
    if (!prod) return cpu(args);
    if (!bias) return prod;
    const out = add({ inputs: { a: prod, b: bias }, backend: args.backend }) as Info;
    args.backend.disposeIntermediateTensorInfo(prod);
    return out;
  };
}

/** One product with a [N] bias when neither operand is batched (how tf.fused.matMul calls a dense layer). */
function matMulBias(addon: NativeAddon, backend: KernelArgs['backend'], a: Info, b: Info, bias: Info, transA: boolean, transB: boolean): Info | null {
  const av = f32(backend, a);
  const bv = f32(backend, b);
  const biasv = f32(backend, bias);
  if (!av || !bv || !biasv || a.shape.length < 2 || b.shape.length < 2) return null;
  if (size(a.shape.slice(0, -2)) !== 1 || size(b.shape.slice(0, -2)) !== 1) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== (transB ? b.shape[rb - 1] : b.shape[rb - 2]) || k === 0 || biasv.length !== n || size(bias.shape) !== n || m === 0 || n === 0) return null;
  const c = pool.alloc(m * n);
  addon.matMulBias(av, bv, biasv, c, m, n, k, transA, transB);
  const outBatch = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  return output(backend, [...outBatch, m, n], c);
}
