// Counters for the host-side costs the GPU issue is about: GPU dispatches and CPU→GPU uploads of
// tensor data (each upload of a CPU-built tensor makes a staging buffer, ~145 µs of host time).
// Installed once on the backend instance by wrapping two of its methods; reading them costs nothing.
import type { WebGPUBackendLike } from './backend.js';

export interface WebgpuCounters {
  dispatches: number;
  uploads: number;
  uploadBytes: number;
}

const counters: WebgpuCounters = { dispatches: 0, uploads: 0, uploadBytes: 0 };
const INSTRUMENTED = Symbol.for('igrpo.webgpu.instrumented');

export function instrumentBackend(backend: WebGPUBackendLike): void {
  const b = backend as WebGPUBackendLike & { [INSTRUMENTED]?: boolean };
  if (b[INSTRUMENTED]) return;
  b[INSTRUMENTED] = true;
  const record = b.recordAndSubmit.bind(b);
  b.recordAndSubmit = (...args: unknown[]) => {
    counters.dispatches++;
    record(...args);
  };
  const upload = b.uploadToGPU.bind(b);
  b.uploadToGPU = (dataId: object) => {
    const data = b.tensorMap.get(dataId);
    if (data && data.resource == null && data.values != null) {
      counters.uploads++;
      counters.uploadBytes += data.values.length * 4;
    }
    upload(dataId);
  };
}

/** Counts a dispatch issued outside tfjs's program path (this folder's raw pipelines). */
export function countRawDispatch(n = 1): void {
  counters.dispatches += n;
}

/** A copy of the counters since the process started; subtract two snapshots for one step's figures. */
export function webgpuCounters(): WebgpuCounters {
  return { ...counters };
}
