// The Adam/AdamW update as ONE in-place WebGPU dispatch per two parameters, replacing the portable
// tensor path's ~12 dispatches and ~8 scalar uploads per parameter (56–64% of a step's host time in
// the measurement). Same formula as src/optim (host.ts jsAdamUpdate):
//   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p·decay − (lr/bc1) m / (√v / bc2Sqrt + ε)
// p, m and v are tf.Variables whose GPU buffers are rewritten in place; the step's scalars travel in
// a uniform buffer from tfjs's pool (queue.writeBuffer, no staging buffer), released at submit.
import * as tf from '@tensorflow/tfjs';
import { webgpuBackend, type GPUBufferLike, type WebGPUBackendLike } from './backend.js';
import { countRawDispatch } from './instrument.js';
import type { AdamSlot, AdamStepScalars } from '../../ops/adam.js';

/** The step's scalars, as src/optim computes them. */
export type AdamScalars = AdamStepScalars;

const WG = 64;

/**
 * WGSL for `count` parameters per dispatch (1 or 2: four storage buffers each, and WebGPU's default
 * limit is 8 storage buffers per stage). Invocation i updates element i of every parameter it covers.
 */
function shader(count: 1 | 2): string {
  const binds = Array.from({ length: count }, (_, k) => `
@group(0) @binding(${4 * k}) var<storage, read_write> p${k} : array<f32>;
@group(0) @binding(${4 * k + 1}) var<storage, read_write> m${k} : array<f32>;
@group(0) @binding(${4 * k + 2}) var<storage, read_write> v${k} : array<f32>;
@group(0) @binding(${4 * k + 3}) var<storage, read> g${k} : array<f32>;`).join('');
  const updates = Array.from({ length: count }, (_, k) => `
  if (i < u.n${k}) {
    let gi = g${k}[i];
    let mi = u.beta1 * m${k}[i] + (1.0 - u.beta1) * gi;
    let vi = u.beta2 * v${k}[i] + (1.0 - u.beta2) * gi * gi;
    m${k}[i] = mi;
    v${k}[i] = vi;
    p${k}[i] = p${k}[i] * u.decay - u.stepSize * mi / (sqrt(vi) / u.bc2Sqrt + u.eps);
  }`).join('');
  return `
struct U { stepSize : f32, beta1 : f32, beta2 : f32, eps : f32, decay : f32, bc2Sqrt : f32, n0 : u32, n1 : u32 };
${binds}
@group(0) @binding(${4 * count}) var<uniform> u : U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) id : vec3<u32>, @builtin(num_workgroups) nw : vec3<u32>) {
  let i = id.x + id.y * nw.x * ${WG}u;
  ${updates}
}`;
}

type Pipeline = { getBindGroupLayout(i: number): unknown };
const pipelines = new WeakMap<object, Map<number, Pipeline>>();

function pipeline(b: WebGPUBackendLike, count: 1 | 2): Pipeline {
  let byCount = pipelines.get(b.device);
  if (!byCount) pipelines.set(b.device, (byCount = new Map()));
  let pl = byCount.get(count);
  if (!pl) {
    const module = b.device.createShaderModule({ code: shader(count), label: `igrpo_adam${count}` });
    pl = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: `igrpo_adam${count}` });
    byCount.set(count, pl);
  }
  return pl;
}

interface BackendInternals extends WebGPUBackendLike {
  makeUniforms(u: { type: string; data: number[] }[]): { offset: number; size: number; buffer: GPUBufferLike };
  commandQueueOwnedIds: WeakSet<object>;
}

/** The variable's own GPU buffer; a variable sharing storage with another tensor first gets a private copy. */
function ownBuffer(b: BackendInternals, x: tf.Variable): GPUBufferLike {
  if (b.tensorMap.get(x.dataId).refCount > 1) {
    const copy = tf.tidy(() => tf.add(x, tf.zerosLike(x)));
    x.assign(copy);
    copy.dispose(); // the variable now holds the only reference
  }
  b.uploadToGPU(x.dataId);
  return b.tensorMap.get(x.dataId).resource!;
}

function gpuBuffer(b: BackendInternals, t: tf.Tensor): GPUBufferLike {
  b.uploadToGPU(t.dataId);
  return b.tensorMap.get(t.dataId).resource!;
}

/** One parameter's update: the variable, its gradient and its two moment variables (all of p's size). */
export type { AdamSlot };

/** One dispatch updating one or two parameters in place. */
function dispatchAdam(slots: AdamSlot[], s: AdamScalars): void {
  const b = webgpuBackend() as BackendInternals;
  const count = slots.length as 1 | 2;
  const pl = pipeline(b, count);
  const ns = slots.map((x) => x.p.size);
  // buffers first: making a private copy runs tfjs kernels, whose submit would hand a uniform buffer
  // acquired before it back to the pool (and to the next kernel) before this dispatch runs
  const buffers = slots.flatMap((x) => [ownBuffer(b, x.p), ownBuffer(b, x.m), ownBuffer(b, x.v), gpuBuffer(b, x.g)]);
  // one scalar per entry: tfjs aligns multi-value entries to 16 bytes, which would not match struct U
  const f32 = (x: number) => ({ type: 'float32', data: [x] });
  const uniforms = b.makeUniforms([
    ...[s.lr / s.bc1, s.beta1, s.beta2, s.eps, s.decay, s.bc2Sqrt].map(f32),
    { type: 'uint32', data: [ns[0]] },
    { type: 'uint32', data: [ns[1] ?? 0] },
  ]);
  const bindGroup = b.device.createBindGroup({
    layout: pl.getBindGroupLayout(0),
    entries: [...buffers.map((buffer, i) => ({ binding: i, resource: { buffer } })), { binding: buffers.length, resource: uniforms }],
  });
  for (const x of slots) for (const t of [x.p, x.m, x.v, x.g]) b.commandQueueOwnedIds.add(t.dataId);
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  const groups = Math.ceil(Math.max(...ns) / WG);
  const gx = Math.min(groups, b.device.limits.maxComputeWorkgroupsPerDimension);
  b.computePassEncoder.setPipeline(pl);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(gx, Math.ceil(groups / gx), 1);
  b.dispatchCountInPass++;
  countRawDispatch();
}

/**
 * One Adam/AdamW step for parameter p (gradient g, moments m and v, all float32 of p's size), in place.
 * Call flushWebgpu() after a step's last update (webgpuAdamStep does both).
 */
export function webgpuAdamUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, s: AdamScalars): void {
  dispatchAdam([{ p, g, m, v }], s);
}

/** A whole step over many parameters, two per dispatch, submitted at the end. */
export function webgpuAdamStep(slots: AdamSlot[], s: AdamScalars): void {
  for (let i = 0; i < slots.length; i += 2) dispatchAdam(slots.slice(i, i + 2), s);
  flushWebgpu();
}

/** Submits the encoded work, as tfjs does every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches. */
export function flushWebgpu(): void {
  const b = webgpuBackend();
  if (!b.commandEncoder) return;
  b.endComputePassEncoder();
  b.submitQueue();
}
