// The webgpu backend: tfjs-backend-webgpu over Dawn (the `webgpu` npm package) over Vulkan, plus this
// folder's fused kernels (src/ops FUSED names), on-device Sum/Mean gradients and counters.
//
// registerWebgpuBackend() is what src/backend/select.ts calls for 'webgpu'. Scripts and tests call
// shutdownWebgpu() when done: it waits for queued work and destroys Dawn's device (some Dawn builds keep
// the process alive until then; the `webgpu` 0.6.2 in use exits without it).
import * as tf from '@tensorflow/tfjs';
import { currentAdapter, installWebgpu, VULKAN_HELP, type AdapterDescription } from './init.js';
import { instrumentBackend } from './instrument.js';
import { registerFusedKernels } from './fused.js';
import { disposeDeviceScalars, registerReductionGradients } from './gradients.js';
import { webgpuBackend } from './backend.js';
import { webgpuAdamStep } from './adam.js';
import { registerAdamKernel } from '../../ops/adam.js';

export { webgpuCounters, type WebgpuCounters } from './instrument.js';
export { webgpuAdamUpdate, webgpuAdamStep, flushWebgpu, type AdamScalars } from './adam.js';
export { deviceScalar } from './gradients.js';
export { VULKAN_HELP, type AdapterDescription } from './init.js';

/**
 * Brings up Dawn, registers the tfjs webgpu backend and makes it active, registers the fused kernels
 * and gradients. Throws a clear error naming what to install when no Vulkan adapter opens.
 */
export async function registerWebgpuBackend(): Promise<void> {
  await installWebgpu();
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    throw new Error(`webgpu backend: the tfjs webgpu backend failed to start (${(e as Error).message}); ${VULKAN_HELP}`);
  }
  if (!ok) throw new Error(`webgpu backend: the tfjs webgpu backend failed to start; ${VULKAN_HELP}`);
  await tf.ready();
  // tfjs submits every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches (15): larger batches help small models
  const batch = Number(process.env.IGRPO_WEBGPU_SUBMIT_BATCH);
  if (batch > 0) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', batch);
  instrumentBackend(webgpuBackend());
  captureDeviceErrors(webgpuBackend().device as unknown as ErrorTarget);
  // IGRPO_WEBGPU_BASELINE=1: stock tfjs only (no fused kernels, tfjs-core's Sum/Mean gradients), for bench:gpu's "before"
  if (process.env.IGRPO_WEBGPU_BASELINE === '1') return;
  registerReductionGradients();
  registerFusedKernels();
  registerAdamKernel('webgpu', { kind: 'device', step: webgpuAdamStep }); // src/optim's Adam: one in-place dispatch per two parameters
}

type ErrorTarget = { onuncapturederror: ((ev: { error: { message: string } }) => void) | null };
const deviceErrors: string[] = [];

/** Dawn reports invalid shaders and bind groups as uncaptured errors (the work is then dropped): keep them. */
function captureDeviceErrors(device: ErrorTarget): void {
  device.onuncapturederror = (ev) => {
    deviceErrors.push(ev.error.message);
    if (deviceErrors.length > 100) deviceErrors.shift();
  };
}

/** Validation errors Dawn reported since start (an invalid kernel silently yields zeros otherwise). */
export function webgpuErrors(): string[] {
  return deviceErrors.slice();
}

/** The adapter in use (vendor, device, driver; `software` for lavapipe), once registered. */
export function webgpuAdapter(): AdapterDescription | undefined {
  return currentAdapter();
}

/** One line for logs: what the webgpu backend runs on. */
export function describeWebgpu(): string {
  const a = currentAdapter();
  if (!a) return 'webgpu: not started';
  const kind = a.software ? 'software Vulkan (lavapipe): timings say nothing of a GPU' : 'hardware';
  return `webgpu on ${a.vendor} ${a.device || a.architecture} (${a.description}; ${kind})`;
}

/**
 * Releases the GPU so the process can exit: waits for queued work, removes the backend, destroys
 * Dawn's device. Safe to call when webgpu never started. Switch to another backend afterwards if needed.
 */
export async function shutdownWebgpu(): Promise<void> {
  if (!tf.findBackend('webgpu')) return;
  const b = tf.findBackend('webgpu') as unknown as {
    device: { destroy(): void; queue: { onSubmittedWorkDone(): Promise<void> } };
  };
  disposeDeviceScalars('webgpu');
  await b.device.queue.onSubmittedWorkDone();
  const device = b.device;
  tf.removeBackend('webgpu');
  device.destroy();
}
