// Speed-ups for tfjs's wasm backend, the portable fallback when the native addon is not built.
//
// The wasm BatchMatMul sends a product to XNNPACK only when neither input is transposed and the batch
// is 1; everything else (every weight gradient, every batched attention product) falls to a scalar
// loop at about 1 GFLOP/s. We re-register BatchMatMul for 'wasm': transposed operands are transposed
// explicitly (wasm's Transpose is a fast copy) and a batch sharing one right operand becomes one tall
// product, so every weight product and weight gradient reaches XNNPACK (measured 1280 ms → 55 ms for a
// [2048,128]ᵀ·[2048,512] gradient). Truly batched products (attention) keep the original loop.
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
interface WasmBackend {
  disposeData(dataId: object): boolean;
}
type KernelArgs = { inputs: Record<string, Info>; backend: WasmBackend; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => Info | Info[];

const BACKEND = 'wasm';
const ORIGINAL = 'IgrpoWasmBatchMatMulOriginal';
let patched = false;

function wasmKernel(name: string): KernelFn {
  const k = tf.getKernel(name, BACKEND);
  if (!k) throw new Error(`wasm backend has no ${name} kernel`);
  return k.kernelFunc as unknown as KernelFn;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Calls the given kernels with the backend, disposing every intermediate it made when done. */
function scope(backend: WasmBackend) {
  const made: Info[] = [];
  const run = (name: string, inputs: Record<string, Info>, attrs: tf.NamedAttrMap = {}): Info => {
    const out = wasmKernel(name)({ inputs, backend, attrs }) as Info;
    made.push(out);
    return out;
  };
  const release = (keep: Info) => made.filter((t) => t !== keep).forEach((t) => backend.disposeData(t.dataId));
  return { run, release };
}

function swapLast(shape: number[]): number[] {
  const perm = shape.map((_, i) => i);
  perm[perm.length - 1] = perm.length - 2;
  perm[perm.length - 2] = perm.length - 1;
  return perm;
}

function xnnBatchMatMul(args: KernelArgs, original: KernelFn): Info {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return original(args) as Info;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = size(batchShapeA);
  const batchB = size(batchShapeB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return original(args) as Info;
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const { run, release } = scope(args.backend);
  const at = transposeA ? run('Transpose', { x: a }, { perm: swapLast(a.shape) }) : a;
  const bt = transposeB ? run('Transpose', { x: b }, { perm: swapLast(b.shape) }) : b;
  const m = at.shape[at.shape.length - 2];
  const k = at.shape[at.shape.length - 1];
  const n = bt.shape[bt.shape.length - 1];
  if (k !== bt.shape[bt.shape.length - 2]) {
    release(a);
    return original(args) as Info; // tfjs's own error
  }
  const mm = (x: Info, y: Info) => run(ORIGINAL, { a: x, b: y }, { transposeA: false, transposeB: false });
  let out: Info;
  if (batchB === 1) {
    // [batch·M, K] · [K, N]: one product, whatever the batch of a
    out = mm(run('Reshape', { x: at }, { shape: [1, batchA * m, k] }), run('Reshape', { x: bt }, { shape: [1, k, n] }));
  } else {
    // Batched products stay on the original kernel: splitting them into batch-1 XNNPACK calls was 20x
    // slower (an XNNPACK operator is created and its weights packed per call). Untransposed operands
    // still help its loop (contiguous rows).
    out = mm(at, bt);
  }
  const result = run('Reshape', { x: out }, { shape: [...outBatch, m, n] });
  release(result);
  return result;
}

/**
 * Re-registers wasm's BatchMatMul so every product reaches XNNPACK. Call after the wasm backend is
 * registered (e.g. after selectBackend('wasm')); idempotent.
 */
export function registerWasmSpeedups(): void {
  if (patched) return;
  const config = tf.getKernel('BatchMatMul', BACKEND);
  if (!config) throw new Error('registerWasmSpeedups: the wasm backend is not registered (import @tensorflow/tfjs-backend-wasm first)');
  const original = config.kernelFunc as unknown as KernelFn;
  // the scope above runs the untouched kernel under this private name
  tf.registerKernel({ kernelName: ORIGINAL, backendName: BACKEND, kernelFunc: original as unknown as tf.KernelFunc });
  tf.unregisterKernel('BatchMatMul', BACKEND);
  tf.registerKernel({
    ...config,
    kernelFunc: ((args: KernelArgs) => xnnBatchMatMul(args, original)) as unknown as tf.KernelFunc,
  });
  patched = true;
}
