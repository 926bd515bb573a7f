// One gradient per fused op, registered once (tfjs's own layout: gradients live with the ops, backends
// register kernels only). Each gradient saves the forward's inputs (and, where noted, its output) and
// runs the `${name}Grad` kernel of the active backend with the inputs named below, so every backend that
// registers a forward kernel under a FUSED name registers its backward under that name with these inputs:
//
//   IgrpoLayerNormGrad      dy, x, gamma; attr eps                → [dx, dgamma, dbeta]
//   IgrpoGeluGrad           dy, x                                 → dx
//   IgrpoCausalAttentionGrad dy, q, k, v, out (the forward's)     → [dq, dk, dv] (dk, dv with k's Hkv heads)
//   IgrpoTokenLogProbsGrad  dy, logits, targets, out              → dlogits
//   IgrpoEmbeddingGrad      dy, table, ids                        → dtable
//   IgrpoRMSNormGrad        dy, x, weight; attr eps               → [dx, dweight]
//   IgrpoRopeGrad           dy, cos, sin                          → dx (the inverse rotation of dy)
//   IgrpoSwiGLUGrad         dy, gate, up                          → [dgate, dup]
//
// RoPE's cos/sin tables are constants (no gradient flows to them).
//
// A backend may ignore an input it does not need (native recomputes instead of reading `out`).
import * as tf from '@tensorflow/tfjs';
import { FUSED, gradKernel } from './kernels.js';

function runGrad(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor[] {
  const grad = gradKernel(name);
  if (!tf.getKernel(grad, tf.getBackend())) {
    throw new Error(`${name}: backend ${tf.getBackend()} registers the forward kernel but no ${grad} kernel for its gradient`);
  }
  const out = tf.engine().runKernel(grad, inputs, attrs);
  return Array.isArray(out) ? out : [out];
}

const GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: FUSED.layerNorm,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma] = saved;
      const [dx, dgamma, dbeta] = runGrad(FUSED.layerNorm, { dy: dy as tf.Tensor, x, gamma }, { eps: attrs.eps as number });
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  },
  {
    kernelName: FUSED.gelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [dx] = runGrad(FUSED.gelu, { dy: dy as tf.Tensor, x: saved[0] });
      return { x: () => dx };
    },
  },
  {
    kernelName: FUSED.attention,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [q, k, v, out] = saved;
      const [dq, dk, dv] = runGrad(FUSED.attention, { dy: dy as tf.Tensor, q, k, v, out });
      return { q: () => dq, k: () => dk, v: () => dv };
    },
  },
  {
    kernelName: FUSED.tokenLogProbs,
    inputsToSave: ['logits', 'targets'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [logits, targets, out] = saved;
      const [dl] = runGrad(FUSED.tokenLogProbs, { dy: dy as tf.Tensor, logits, targets, out });
      return { logits: () => dl, targets: () => tf.zerosLike(targets) };
    },
  },
  {
    kernelName: FUSED.embedding,
    inputsToSave: ['table', 'ids'],
    gradFunc: (dy, saved) => {
      const [table, ids] = saved;
      const [dt] = runGrad(FUSED.embedding, { dy: dy as tf.Tensor, table, ids });
      return { table: () => dt, ids: () => tf.zerosLike(ids) };
    },
  },
  {
    kernelName: FUSED.rmsNorm,
    inputsToSave: ['x', 'weight'],
    gradFunc: (dy, saved, attrs) => {
      const [x, weight] = saved;
      const [dx, dw] = runGrad(FUSED.rmsNorm, { dy: dy as tf.Tensor, x, weight }, { eps: attrs.eps as number });
      return { x: () => dx, weight: () => dw };
    },
  },
  {
    kernelName: FUSED.rope,
    inputsToSave: ['cos', 'sin'],
    gradFunc: (dy, saved) => {
      const [cos, sin] = saved;
      const [dx] = runGrad(FUSED.rope, { dy: dy as tf.Tensor, cos, sin });
      return { x: () => dx };
    },
  },
  {
    kernelName: FUSED.swiglu,
    inputsToSave: ['gate', 'up'],
    gradFunc: (dy, saved) => {
      const [gate, up] = saved;
      const [dgate, dup] = runGrad(FUSED.swiglu, { dy: dy as tf.Tensor, gate, up });
      return { gate: () => dgate, up: () => dup };
    },
  },
];

let registered = false;

/** Registers the fused ops' gradients (idempotent; src/ops/index.ts calls it when loaded). */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  for (const g of GRADIENTS) tf.registerGradient(g);
}
