// The Adam/AdamW update for one parameter as ONE in-place WebGPU dispatch, replacing the portable
// tensor path's ~12 dispatches and ~8 scalar uploads per parameter (56–64% of a step's host time in
// the measurement). Same formula as src/optim (host.ts jsAdamUpdate):
//   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p·decay − (lr/bc1) m / (√v / bc2Sqrt + ε)
// p, m and v are tf.Variables whose GPU buffers are rewritten in place; the step's scalars travel in
// a uniform buffer from tfjs's pool (queue.writeBuffer, no staging buffer), released at submit.
import * as tf from '@tensorflow/tfjs';
import { webgpuBackend, type GPUBufferLike, type WebGPUBackendLike } from './backend.js';
import { countRawDispatch } from './instrument.js';

/** The step's scalars (src/optim AdamStepScalars has these fields). */
export interface AdamScalars {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  decay: number;
  bc1: number;
  bc2Sqrt: number;
}

const WG = 64;
const SHADER = `
struct U { stepSize : f32, beta1 : f32, beta2 : f32, eps : f32, decay : f32, bc2Sqrt : f32, n : u32, pad : u32 };
@group(0) @binding(0) var<storage, read_write> p : array<f32>;
@group(0) @binding(1) var<storage, read_write> m : array<f32>;
@group(0) @binding(2) var<storage, read_write> v : array<f32>;
@group(0) @binding(3) var<storage, read> g : array<f32>;
@group(0) @binding(4) var<uniform> u : U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) id : vec3<u32>, @builtin(num_workgroups) nw : vec3<u32>) {
  let i = id.x + id.y * nw.x * ${WG}u;
  if (i >= u.n) { return; }
  let gi = g[i];
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * gi;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] * u.decay - u.stepSize * mi / (sqrt(vi) / u.bc2Sqrt + u.eps);
}`;

type Pipeline = { getBindGroupLayout(i: number): unknown };
const pipelines = new WeakMap<object, Pipeline>();

function pipeline(b: WebGPUBackendLike): Pipeline {
  let pl = pipelines.get(b.device);
  if (!pl) {
    const module = b.device.createShaderModule({ code: SHADER, label: 'igrpo_adam' });
    pl = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'igrpo_adam' });
    pipelines.set(b.device, pl);
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

/**
 * One Adam/AdamW step for parameter p (gradient g, moments m and v, all float32 of p's size), in place.
 * Call flushWebgpu() once before a step's first update and once after its last: without the first,
 * updates encoded into the same command buffer as the tail of the backward pass gave wrong second
 * steps on lavapipe (found by test/webgpu_model.test.ts; one extra submit per step avoids it).
 */
export function webgpuAdamUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, s: AdamScalars): void {
  const b = webgpuBackend() as BackendInternals;
  const n = p.size;
  const pl = pipeline(b);
  // one scalar per entry: tfjs aligns multi-value entries to 16 bytes, which would not match struct U
  const f32 = (x: number) => ({ type: 'float32', data: [x] });
  const uniforms = b.makeUniforms([
    ...[s.lr / s.bc1, s.beta1, s.beta2, s.eps, s.decay, s.bc2Sqrt].map(f32),
    { type: 'uint32', data: [n] },
    { type: 'uint32', data: [0] },
  ]);
  const buffers = [ownBuffer(b, p), ownBuffer(b, m), ownBuffer(b, v), gpuBuffer(b, g)];
  const bindGroup = b.device.createBindGroup({
    layout: pl.getBindGroupLayout(0),
    entries: [...buffers.map((buffer, i) => ({ binding: i, resource: { buffer } })), { binding: 4, resource: uniforms }],
  });
  for (const t of [p, m, v, g]) b.commandQueueOwnedIds.add(t.dataId);
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  const groups = Math.ceil(n / WG);
  const maxX = b.device.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.min(groups, maxX);
  b.computePassEncoder.setPipeline(pl);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(gx, Math.ceil(groups / gx), 1);
  b.dispatchCountInPass++;
  countRawDispatch();
}

/** Ends the step: submits the encoded work, as tfjs does every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches. */
export function flushWebgpu(): void {
  const b = webgpuBackend();
  if (!b.commandEncoder) return;
  b.endComputePassEncoder();
  b.submitQueue();
}

export interface FusedAdamConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * Adam/AdamW over a fixed list of variables with webgpuAdamUpdate: one dispatch per parameter and
 * one submit per step. src/optim's Adam is the toolkit's optimizer (state, checkpoints); this class is
 * the webgpu fast path on its own, used by bench:gpu and until src/optim calls webgpuAdamUpdate.
 */
export class FusedAdam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;
  private readonly cfg: Required<FusedAdamConfig>;

  constructor(private readonly params: tf.Variable[], cfg: FusedAdamConfig) {
    this.cfg = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, ...cfg };
    // made in a tidy so the zero tensors are released and each variable owns its buffer alone
    this.m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
    this.v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
  }

  step(grads: tf.Tensor[], lr = this.cfg.lr): void {
    if (grads.length !== this.params.length) throw new Error(`FusedAdam.step: ${grads.length} gradients for ${this.params.length} parameters`);
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const s: AdamScalars = {
      lr, beta1, beta2, eps,
      decay: 1 - lr * weightDecay,
      bc1: 1 - Math.pow(beta1, this.t),
      bc2Sqrt: Math.sqrt(1 - Math.pow(beta2, this.t)),
    };
    flushWebgpu(); // see webgpuAdamUpdate: the step's pending work goes first
    this.params.forEach((p, i) => webgpuAdamUpdate(p, grads[i], this.m[i], this.v[i], s));
    flushWebgpu();
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
