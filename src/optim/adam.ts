// Adam / AdamW with bias correction, over a fixed list of tf.Variables.
//
// State is kept as plain Float32Arrays (first and second moments) plus the step count, so the trainer can
// checkpoint and resume bit-identically. Where the active backend keeps tensor data in host memory
// (cpu, and the native backend which extends it) the update runs in place over those arrays; the native
// backend registers a fused C++ loop for it (src/ops/adam.ts). A backend that registers a device Adam
// kernel (webgpu) updates in place on the device. Elsewhere (wasm) a portable tfjs path computes the
// same formula with tensors.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { type AdamSlot, type AdamStepScalars, adamKernel } from '../ops/adam.js';
import { hostUpdateKernel } from './host.js';

export type { AdamSlot, AdamStepScalars };

export const AdamConfigSchema = z.object({
  lr: z.number().finite().positive(),
  beta1: z.number().finite().min(0).lt(1).default(0.9),
  beta2: z.number().finite().min(0).lt(1).default(0.999),
  eps: z.number().finite().positive().default(1e-8),
  /** Decoupled (AdamW) weight decay: p ← p·(1 − lr·wd) before the Adam step, as torch.optim.AdamW. */
  weightDecay: z.number().finite().min(0).default(0),
  /** Use the active backend's fused in-place update when it registered one (webgpu); false keeps the tensor path. */
  fused: z.boolean().default(true),
});
export type AdamConfigInput = z.input<typeof AdamConfigSchema>;
export type AdamConfig = z.infer<typeof AdamConfigSchema>;

/** Serialisable optimizer state: moments in parameter order and the number of steps taken. */
export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function stepScalars(cfg: AdamConfig, step: number, lr: number): AdamStepScalars {
  return {
    lr,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    eps: cfg.eps,
    decay: 1 - lr * cfg.weightDecay,
    bc1: 1 - Math.pow(cfg.beta1, step),
    bc2Sqrt: Math.sqrt(1 - Math.pow(cfg.beta2, step)),
  };
}

/** Moments of one parameter: host arrays on host-memory backends, tensors elsewhere. */
type Moments = { kind: 'host'; m: Float32Array; v: Float32Array } | { kind: 'tensor'; m: tf.Variable; v: tf.Variable };

export class Adam {
  readonly config: AdamConfig;
  private readonly params: tf.Variable[];
  private moments: Moments[];
  private t = 0;

  constructor(params: tf.Variable[], config: AdamConfigInput) {
    this.config = AdamConfigSchema.parse(config);
    this.params = params;
    this.moments = params.map((p) => this.makeMoments(p, new Float32Array(p.size), new Float32Array(p.size)));
  }

  get stepCount(): number {
    return this.t;
  }

  private makeMoments(p: tf.Variable, m: Float32Array, v: Float32Array): Moments {
    if (hostUpdateKernel()) return { kind: 'host', m, v };
    return { kind: 'tensor', m: variableOf(m, p.shape), v: variableOf(v, p.shape) };
  }

  /** One Adam step. grads[i] is the gradient of params[i] (same shape); lr overrides the configured rate. */
  step(grads: tf.Tensor[], lr = this.config.lr): void {
    if (grads.length !== this.params.length) {
      throw new Error(`Adam.step: got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    grads.forEach((g, i) => {
      if (g.size !== this.params[i].size) {
        throw new Error(`Adam.step: gradient ${i} has shape [${g.shape}], parameter has [${this.params[i].shape}]`);
      }
    });
    this.t += 1;
    const s = stepScalars(this.config, this.t, lr);
    const kernel = this.config.fused ? adamKernel(tf.getBackend()) : undefined;
    if (kernel?.kind === 'device' && this.moments.every((mo) => mo.kind === 'tensor')) {
      kernel.step(this.params.map((p, i) => {
        const mo = this.moments[i] as Extract<Moments, { kind: 'tensor' }>;
        return { p, g: grads[i], m: mo.m, v: mo.v };
      }), s);
      return;
    }
    const host = hostUpdateKernel();
    this.params.forEach((p, i) => {
      const mo = this.moments[i];
      if (mo.kind === 'host' && host) host(p, grads[i], mo.m, mo.v, s);
      else if (mo.kind === 'tensor') tensorStep(p, grads[i], mo.m, mo.v, s);
      else throw new Error('Adam.step: the backend changed since the optimizer was made; make a new one');
    });
  }

  /** A copy of the state (safe to keep while training goes on). Synchronous: not for webgpu (use getStateAsync). */
  getState(): AdamState {
    const host = (x: Float32Array | tf.Variable) => (x instanceof Float32Array ? x.slice() : Float32Array.from(x.dataSync() as Float32Array));
    return { step: this.t, m: this.moments.map((mo) => host(mo.m)), v: this.moments.map((mo) => host(mo.v)) };
  }

  async getStateAsync(): Promise<AdamState> {
    const host = async (x: Float32Array | tf.Variable) => (x instanceof Float32Array ? x.slice() : Float32Array.from((await x.data()) as Float32Array));
    return {
      step: this.t,
      m: await Promise.all(this.moments.map((mo) => host(mo.m))),
      v: await Promise.all(this.moments.map((mo) => host(mo.v))),
    };
  }

  /** Restore a state taken by getState() from an optimizer over parameters of the same shapes. */
  setState(state: AdamState): void {
    if (state.m.length !== this.params.length || state.v.length !== this.params.length) {
      throw new Error(`Adam.setState: state has ${state.m.length} moments for ${this.params.length} parameters`);
    }
    state.m.forEach((a, i) => {
      if (a.length !== this.params[i].size || state.v[i].length !== this.params[i].size) {
        throw new Error(`Adam.setState: moment ${i} has ${a.length} values, parameter has ${this.params[i].size}`);
      }
    });
    this.disposeMoments();
    this.t = state.step;
    this.moments = this.params.map((p, i) => this.makeMoments(p, Float32Array.from(state.m[i]), Float32Array.from(state.v[i])));
  }

  dispose(): void {
    this.disposeMoments();
  }

  private disposeMoments(): void {
    for (const mo of this.moments) {
      if (mo.kind === 'tensor') {
        mo.m.dispose();
        mo.v.dispose();
      }
    }
  }
}

/** A non-trainable variable holding a copy of `values`; the staging tensor is freed (a variable keeps its own reference). */
function variableOf(values: Float32Array, shape: number[]): tf.Variable {
  const initial = tf.tensor(values, shape);
  const v = tf.variable(initial, false);
  initial.dispose();
  return v;
}

/** Portable path: the same formula as the host kernels, with tensor ops. */
function tensorStep(p: tf.Variable, g: tf.Tensor, mVar: tf.Variable, vVar: tf.Variable, s: AdamStepScalars): void {
  tf.tidy(() => {
    const gr = g.reshape(p.shape);
    const m = tf.add(tf.mul(mVar, s.beta1), tf.mul(gr, 1 - s.beta1));
    const v = tf.add(tf.mul(vVar, s.beta2), tf.mul(tf.square(gr), 1 - s.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v), s.bc2Sqrt), s.eps);
    const update = tf.div(tf.mul(m, s.lr / s.bc1), denom);
    p.assign(tf.sub(tf.mul(p, s.decay), update));
    mVar.assign(m);
    vVar.assign(v);
  });
}
