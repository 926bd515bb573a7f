// Native CPU backend: tfjs's cpu backend (same tensor storage, every cpu kernel) with the hot kernels
// replaced by C++ over OpenBLAS (native/, built by `npm run build:native`). Registered as 'native'.
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { type NativeAddon, loadAddon } from './addon.js';
import { pool } from './pool.js';
import { concatKernel, gatherKernel, sliceKernel, splitKernel } from './copy.js';
import { binaryKernel } from './binary.js';
import { softmaxKernel, sumKernel, transposeKernel } from './elementwise.js';
import { registerFusedKernels } from './fused.js';
import { registerDecodeKernels } from './decode.js';
import { batchMatMulKernel, fusedMatMulKernel } from './matmul.js';
import { registerAdamKernel } from '../../ops/adam.js';

export const NATIVE_BACKEND = 'native';

/** Threads for OpenBLAS and the fused loops: IGRPO_THREADS, else 2. */
export function nativeThreads(): number {
  const env = process.env.IGRPO_THREADS;
  const n = env ? Number.parseInt(env, 10) : 2;
  if (!Number.isInteger(n) || n < 1) throw new Error(`IGRPO_THREADS must be a positive integer, got '${env}'`);
  return n;
}

/**
 * The cpu backend under another name (tfjs keeps its tensors apart from a plain 'cpu' backend's), with
 * our kernels' output arrays recycled through the pool (see pool.ts for when that is safe).
 */
class NativeBackend extends MathBackendCPU {
  override disposeData(dataId: object, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const deleted = super.disposeData(dataId, force);
    if (deleted && !this.data.has(dataId)) pool.release(values, dataId);
    return deleted;
  }

  override readSync(dataId: object): tf.backend_util.BackendValues {
    const values = super.readSync(dataId);
    pool.noteRead(values);
    return values;
  }

  override async read(dataId: object): Promise<tf.backend_util.BackendValues> {
    return this.readSync(dataId);
  }

  override dispose(): void {
    pool.clear();
    super.dispose();
  }
}

/** Every kernel's outputs are checked for views into pooled arrays (they make those arrays unrecyclable). */
function watchViews(f: KernelFn): KernelFn {
  return ((args: { backend: MathBackendCPU }) => {
    const out = (f as (a: unknown) => tf.TensorInfo | tf.TensorInfo[])(args);
    for (const info of Array.isArray(out) ? out : [out]) pool.noteOutput(args.backend.data.get(info.dataId)?.values, info.dataId);
    return out;
  }) as unknown as KernelFn;
}

type KernelFn = Parameters<typeof tf.registerKernel>[0]['kernelFunc'];

function cpuKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`native backend: tfjs's cpu backend has no ${name} kernel`);
  return k.kernelFunc;
}

/** Every cpu kernel again for 'native', with the hot ones replaced by the addon's. */
function registerKernels(addon: NativeAddon): void {
  const ours: Record<string, KernelFn> = {
    BatchMatMul: batchMatMulKernel(addon, cpuKernel('BatchMatMul') as never) as unknown as KernelFn,
    Add: binaryKernel('add', cpuKernel('Add') as never, addon) as unknown as KernelFn,
    Sub: binaryKernel('sub', cpuKernel('Sub') as never) as unknown as KernelFn,
    Multiply: binaryKernel('mul', cpuKernel('Multiply') as never) as unknown as KernelFn,
    RealDiv: binaryKernel('div', cpuKernel('RealDiv') as never) as unknown as KernelFn,
    Sum: sumKernel(addon, cpuKernel('Sum') as never) as unknown as KernelFn,
    Transpose: transposeKernel(addon, cpuKernel('Transpose') as never) as unknown as KernelFn,
    Softmax: softmaxKernel(addon, cpuKernel('Softmax') as never) as unknown as KernelFn,
    Slice: sliceKernel(cpuKernel('Slice') as never) as unknown as KernelFn,
    Concat: concatKernel(cpuKernel('Concat') as never) as unknown as KernelFn,
    GatherV2: gatherKernel(cpuKernel('GatherV2') as never) as unknown as KernelFn,
  };
  ours.SplitV = splitKernel(ours.Slice as never) as unknown as KernelFn;
  ours._FusedMatMul = fusedMatMulKernel(addon, cpuKernel('_FusedMatMul') as never, ours.Add as never) as unknown as KernelFn;
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(k.kernelName, NATIVE_BACKEND)) continue;
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: watchViews(ours[k.kernelName] ?? k.kernelFunc) });
  }
  registerFusedKernels(addon, NATIVE_BACKEND);
  registerDecodeKernels(addon, NATIVE_BACKEND);
}

let registered = false;

/**
 * Loads the addon and registers the 'native' backend (not made active: tf.setBackend('native') does).
 * Throws, naming `npm run build:native`, when the addon is not built.
 */
export async function registerNativeBackend(): Promise<void> {
  if (registered) return;
  const addon = loadAddon();
  addon.setThreads(nativeThreads());
  registerKernels(addon);
  // src/optim's Adam over host arrays: one fused C++ loop per parameter, in place
  registerAdamKernel(NATIVE_BACKEND, {
    kind: 'host',
    update: (p, g, m, v, s) => addon.adamUpdate(p, g, m, v, s.lr, s.beta1, s.beta2, s.eps, s.decay, s.bc1, s.bc2Sqrt),
  });
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 0);
  registered = true;
}

/** Set the thread count of the loaded addon (benchmarks compare 1 and 2 threads). */
export function setNativeThreads(n: number): void {
  loadAddon().setThreads(n);
}
