// The fused kernels named in src/ops FUSED, each a forward/backward pair in C++ (native/src). The
// backward kernels are registered under the forward name + 'Grad' with the inputs src/ops/gradients.ts
// hands them (the one gradient per op, registered there); they recompute what they need from the
// forward's inputs and ignore its saved output.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { FUSED, gradKernel } from '../../ops/kernels.js';
import type { NativeAddon } from './addon.js';
import { type Info, type KernelFn, f32, i32, output, size } from './host.js';
import { pool } from './pool.js';

function need(backend: MathBackendCPU, t: Info, what: string): Float32Array {
  const v = f32(backend, t);
  if (!v) throw new Error(`native ${what}: expected a float32 tensor, got ${t.dtype}`);
  return v;
}

function kernels(addon: NativeAddon): Record<string, KernelFn> {
  return {
    [FUSED.layerNorm]: ({ inputs, backend, attrs }) => {
      const { x, gamma, beta } = inputs;
      const d = x.shape[x.shape.length - 1];
      const y = pool.alloc(size(x.shape));
      addon.layerNormForward(need(backend, x, 'layerNorm'), need(backend, gamma, 'layerNorm'), need(backend, beta, 'layerNorm'), y, size(x.shape) / d, d, attrs!.eps as number);
      return output(backend, x.shape, y);
    },
    [gradKernel(FUSED.layerNorm)]: ({ inputs, backend, attrs }) => {
      const { dy, x, gamma } = inputs;
      const d = x.shape[x.shape.length - 1];
      const dx = pool.alloc(size(x.shape));
      const dg = pool.alloc(d);
      const db = pool.alloc(d);
      addon.layerNormBackward(need(backend, dy, 'layerNorm'), need(backend, x, 'layerNorm'), need(backend, gamma, 'layerNorm'), dx, dg, db, size(x.shape) / d, d, attrs!.eps as number);
      return [output(backend, x.shape, dx), output(backend, [d], dg), output(backend, [d], db)];
    },
    [FUSED.gelu]: ({ inputs, backend }) => {
      const y = pool.alloc(size(inputs.x.shape));
      addon.geluForward(need(backend, inputs.x, 'gelu'), y, y.length);
      return output(backend, inputs.x.shape, y);
    },
    [gradKernel(FUSED.gelu)]: ({ inputs, backend }) => {
      const dx = pool.alloc(size(inputs.x.shape));
      addon.geluBackward(need(backend, inputs.dy, 'gelu'), need(backend, inputs.x, 'gelu'), dx, dx.length);
      return output(backend, inputs.x.shape, dx);
    },
    [FUSED.attention]: ({ inputs, backend }) => {
      const { q, k, v } = inputs;
      const [b, h, tq, dh] = q.shape;
      const out = pool.alloc(size(q.shape));
      addon.attentionForward(need(backend, q, 'attention'), need(backend, k, 'attention'), need(backend, v, 'attention'), out, b * h, h / k.shape[1], tq, k.shape[2], dh);
      return output(backend, q.shape, out);
    },
    [gradKernel(FUSED.attention)]: ({ inputs, backend }) => {
      const { dy, q, k, v } = inputs;
      const [b, h, tq, dh] = q.shape;
      const dq = pool.alloc(size(q.shape));
      const dk = pool.alloc(size(k.shape));
      const dv = pool.alloc(size(v.shape));
      addon.attentionBackward(need(backend, dy, 'attention'), need(backend, q, 'attention'), need(backend, k, 'attention'), need(backend, v, 'attention'), dq, dk, dv, b * h, h / k.shape[1], tq, k.shape[2], dh);
      return [output(backend, q.shape, dq), output(backend, k.shape, dk), output(backend, v.shape, dv)];
    },
    [FUSED.tokenLogProbs]: ({ inputs, backend }) => {
      const { logits, targets } = inputs;
      const [n, vocab] = logits.shape;
      const out = pool.alloc(n);
      addon.tokenLogProbsForward(need(backend, logits, 'tokenLogProbs'), i32(backend, targets), out, n, vocab);
      return output(backend, [n], out);
    },
    [gradKernel(FUSED.tokenLogProbs)]: ({ inputs, backend }) => {
      const { dy, logits, targets } = inputs;
      const [n, vocab] = logits.shape;
      const dl = pool.alloc(n * vocab);
      addon.tokenLogProbsBackward(need(backend, dy, 'tokenLogProbs'), need(backend, logits, 'tokenLogProbs'), i32(backend, targets), dl, n, vocab);
      return output(backend, logits.shape, dl);
    },
    [FUSED.embedding]: ({ inputs, backend }) => {
      const { table, ids } = inputs;
      const [vocab, d] = table.shape;
      const idv = i32(backend, ids);
      const bad = idv.find((i) => i < 0 || i >= vocab);
      if (bad !== undefined) throw new Error(`embedding: id ${bad} is not in [0, ${vocab})`);
      const out = pool.alloc(idv.length * d);
      addon.embeddingForward(need(backend, table, 'embedding'), idv, out, idv.length, vocab, d);
      return output(backend, [idv.length, d], out);
    },
    [gradKernel(FUSED.embedding)]: ({ inputs, backend }) => {
      const { dy, table, ids } = inputs;
      const [vocab, d] = table.shape;
      const idv = i32(backend, ids);
      const dt = pool.alloc(vocab * d);
      addon.embeddingBackward(need(backend, dy, 'embedding'), idv, dt, idv.length, vocab, d);
      return output(backend, [vocab, d], dt);
    },
    [FUSED.rmsNorm]: ({ inputs, backend, attrs }) => {
      const { x, weight } = inputs;
      const d = x.shape[x.shape.length - 1];
      const y = pool.alloc(size(x.shape));
      addon.rmsNormForward(need(backend, x, 'rmsNorm'), need(backend, weight, 'rmsNorm'), y, size(x.shape) / d, d, attrs!.eps as number);
      return output(backend, x.shape, y);
    },
    [gradKernel(FUSED.rmsNorm)]: ({ inputs, backend, attrs }) => {
      const { dy, x, weight } = inputs;
      const d = x.shape[x.shape.length - 1];
      const dx = pool.alloc(size(x.shape));
      const dw = pool.alloc(d);
      addon.rmsNormBackward(need(backend, dy, 'rmsNorm'), need(backend, x, 'rmsNorm'), need(backend, weight, 'rmsNorm'), dx, dw, size(x.shape) / d, d, attrs!.eps as number);
      return [output(backend, x.shape, dx), output(backend, [d], dw)];
    },
    [FUSED.rope]: ({ inputs, backend }) => rope(addon, backend, inputs.x, inputs.cos, inputs.sin, false),
    [gradKernel(FUSED.rope)]: ({ inputs, backend }) => rope(addon, backend, inputs.dy, inputs.cos, inputs.sin, true),
    [FUSED.swiglu]: ({ inputs, backend }) => {
      const { gate, up } = inputs;
      const y = pool.alloc(size(gate.shape));
      addon.swigluForward(need(backend, gate, 'swiglu'), need(backend, up, 'swiglu'), y, y.length);
      return output(backend, gate.shape, y);
    },
    [gradKernel(FUSED.swiglu)]: ({ inputs, backend }) => {
      const { dy, gate, up } = inputs;
      const dg = pool.alloc(size(gate.shape));
      const du = pool.alloc(size(gate.shape));
      addon.swigluBackward(need(backend, dy, 'swiglu'), need(backend, gate, 'swiglu'), need(backend, up, 'swiglu'), dg, du, dg.length);
      return [output(backend, gate.shape, dg), output(backend, gate.shape, du)];
    },
  };
}

/** RoPE over x [B, H, T, dh] with tables [T, dh] or [B, 1, 1, dh]; inverse = the backward's rotation. */
function rope(addon: NativeAddon, backend: MathBackendCPU, x: Info, cos: Info, sin: Info, inverse: boolean): Info {
  const [b, h, t, dh] = x.shape;
  const y = pool.alloc(size(x.shape));
  addon.rope(need(backend, x, 'rope'), need(backend, cos, 'rope'), need(backend, sin, 'rope'), y, b, h, t, dh, cos.shape.length === 4, inverse);
  return output(backend, x.shape, y);
}

export function registerFusedKernels(addon: NativeAddon, backendName: string): void {
  for (const [kernelName, kernelFunc] of Object.entries(kernels(addon))) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
