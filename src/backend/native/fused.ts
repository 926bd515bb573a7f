// The fused kernels named in src/ops FUSED, each a forward/backward pair in C++ (native/src), and the
// gradients tfjs runs for them. The backward kernels are registered for 'native' only, under the
// forward name + 'Grad', and recompute what they need from the forward's inputs.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { FUSED } from '../../ops/index.js';
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
    [`${FUSED.layerNorm}Grad`]: ({ inputs, backend, attrs }) => {
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
    [`${FUSED.gelu}Grad`]: ({ inputs, backend }) => {
      const dx = pool.alloc(size(inputs.x.shape));
      addon.geluBackward(need(backend, inputs.dy, 'gelu'), need(backend, inputs.x, 'gelu'), dx, dx.length);
      return output(backend, inputs.x.shape, dx);
    },
    [FUSED.attention]: ({ inputs, backend }) => {
      const { q, k, v } = inputs;
      const [b, h, tq, dh] = q.shape;
      const out = pool.alloc(size(q.shape));
      addon.attentionForward(need(backend, q, 'attention'), need(backend, k, 'attention'), need(backend, v, 'attention'), out, b * h, tq, k.shape[2], dh);
      return output(backend, q.shape, out);
    },
    [`${FUSED.attention}Grad`]: ({ inputs, backend }) => {
      const { dy, q, k, v } = inputs;
      const [b, h, tq, dh] = q.shape;
      const dq = pool.alloc(size(q.shape));
      const dk = pool.alloc(size(k.shape));
      const dv = pool.alloc(size(v.shape));
      addon.attentionBackward(need(backend, dy, 'attention'), need(backend, q, 'attention'), need(backend, k, 'attention'), need(backend, v, 'attention'), dq, dk, dv, b * h, tq, k.shape[2], dh);
      return [output(backend, q.shape, dq), output(backend, k.shape, dk), output(backend, v.shape, dv)];
    },
    [FUSED.tokenLogProbs]: ({ inputs, backend }) => {
      const { logits, targets } = inputs;
      const [n, vocab] = logits.shape;
      const out = pool.alloc(n);
      addon.tokenLogProbsForward(need(backend, logits, 'tokenLogProbs'), i32(backend, targets), out, n, vocab);
      return output(backend, [n], out);
    },
    [`${FUSED.tokenLogProbs}Grad`]: ({ inputs, backend }) => {
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
    [`${FUSED.embedding}Grad`]: ({ inputs, backend }) => {
      const { dy, table, ids } = inputs;
      const [vocab, d] = table.shape;
      const idv = i32(backend, ids);
      const dt = pool.alloc(vocab * d);
      addon.embeddingBackward(need(backend, dy, 'embedding'), idv, dt, idv.length, vocab, d);
      return output(backend, [vocab, d], dt);
    },
  };
}

export function registerFusedKernels(addon: NativeAddon, backendName: string): void {
  for (const [kernelName, kernelFunc] of Object.entries(kernels(addon))) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  registerFusedGradients();
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

/**
 * Gradients are global in tfjs (not per backend). Each one runs `${name}Grad` on the active backend
 * with the forward's inputs, the convention the webgpu backend's gradients also follow for other
 * backends, so whichever registers first serves both and we never replace one already registered.
 */
function registerFusedGradients(): void {
  const grads: tf.GradConfig[] = [
    {
      kernelName: FUSED.layerNorm,
      inputsToSave: ['x', 'gamma'],
      gradFunc: (dy, saved, attrs) => {
        const [x, gamma] = saved;
        const [dx, dg, db] = run(`${FUSED.layerNorm}Grad`, { dy: dy as tf.Tensor, x, gamma }, { eps: attrs.eps as number }) as tf.Tensor[];
        return { x: () => dx, gamma: () => dg, beta: () => db };
      },
    },
    {
      kernelName: FUSED.gelu,
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => run(`${FUSED.gelu}Grad`, { dy: dy as tf.Tensor, x: saved[0] }) as tf.Tensor }),
    },
    {
      kernelName: FUSED.attention,
      inputsToSave: ['q', 'k', 'v'],
      gradFunc: (dy, saved) => {
        const [q, k, v] = saved;
        const [dq, dk, dv] = run(`${FUSED.attention}Grad`, { dy: dy as tf.Tensor, q, k, v }) as tf.Tensor[];
        return { q: () => dq, k: () => dk, v: () => dv };
      },
    },
    {
      kernelName: FUSED.tokenLogProbs,
      inputsToSave: ['logits', 'targets'],
      gradFunc: (dy, saved) => {
        const [logits, targets] = saved;
        return {
          logits: () => run(`${FUSED.tokenLogProbs}Grad`, { dy: dy as tf.Tensor, logits, targets }) as tf.Tensor,
          targets: () => tf.zeros(targets.shape),
        };
      },
    },
    {
      kernelName: FUSED.embedding,
      inputsToSave: ['table', 'ids'],
      gradFunc: (dy, saved) => {
        const [table, ids] = saved;
        return {
          table: () => run(`${FUSED.embedding}Grad`, { dy: dy as tf.Tensor, table, ids }) as tf.Tensor,
          ids: () => tf.zeros(ids.shape),
        };
      },
    },
  ];
  for (const g of grads) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
}
