// Registers the fused kernels under src/ops FUSED names for the webgpu backend, with gradients.
//
// Gradients are global in tfjs (one per kernel name, whichever backend runs it), so each gradFunc
// runs this folder's backward kernels only on webgpu and otherwise calls `${name}Grad` on the active
// backend: a backend that registers a forward under these names registers its backward under that
// name too (same inputs: dy first, then the forward's inputs, then its output where noted).
import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../../ops/index.js';
import type { TensorInfo } from './backend.js';
import { geluBackward, geluForward } from './kernels/gelu.js';
import { layerNormBackward, layerNormForward } from './kernels/layernorm.js';
import { tokenLogProbsBackward, tokenLogProbsForward } from './kernels/logprobs.js';
import { embeddingBackward, embeddingForward } from './kernels/embedding.js';
import { attentionBackward, attentionForward } from './kernels/attention.js';
import { leadingSum } from './kernels/colsum.js';
import { DECODE_ATTENTION, decodeAttentionForward } from './kernels/decode_attention.js';

type Inputs = Record<string, TensorInfo>;
const BACKEND = 'webgpu';

const asTensor = (info: TensorInfo): tf.Tensor => tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
const onWebgpu = () => tf.getBackend() === BACKEND;

function requireInt32(name: string, t: TensorInfo): void {
  if (t.dtype !== 'int32') throw new Error(`${name}: expected int32 ids, got ${t.dtype}`);
}

/** Another backend's backward kernel, by the naming rule above. */
function otherBackward(name: string, inputs: Record<string, tf.Tensor>, attrs: object = {}): tf.Tensor[] {
  const grad = `${name}Grad`;
  if (!tf.getKernel(grad, tf.getBackend())) {
    throw new Error(`${name}: backend ${tf.getBackend()} registers the forward kernel but no ${grad} kernel for its gradient`);
  }
  const out = tf.engine().runKernel(grad, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap);
  return Array.isArray(out) ? out : [out];
}

function registerGelu(): void {
  tf.registerKernel({ kernelName: FUSED.gelu, backendName: BACKEND, kernelFunc: ({ inputs }) => geluForward((inputs as Inputs).x) });
  tf.registerGradient({
    kernelName: FUSED.gelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const dx = onWebgpu() ? asTensor(geluBackward(dy as tf.Tensor, x)) : otherBackward(FUSED.gelu, { dy: dy as tf.Tensor, x })[0];
      return { x: () => dx };
    },
  });
}

function registerLayerNorm(): void {
  tf.registerKernel({
    kernelName: FUSED.layerNorm,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs }) => {
      const { x, gamma, beta } = inputs as Inputs;
      return layerNormForward(x, gamma, beta, (attrs as { eps: number }).eps);
    },
  });
  tf.registerGradient({
    kernelName: FUSED.layerNorm,
    inputsToSave: ['x', 'gamma', 'beta'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma, beta] = saved;
      const eps = (attrs as { eps: number }).eps;
      let dx: tf.Tensor, dgamma: tf.Tensor, dbeta: tf.Tensor;
      if (onWebgpu()) {
        const g = layerNormBackward(dy as tf.Tensor, x, gamma, eps);
        [dx, dgamma, dbeta] = [asTensor(g.dx), asTensor(g.dgamma), asTensor(g.dbeta)];
        asTensor(g.stats); // handed to the engine so the backward scope disposes it
      } else {
        [dx, dgamma, dbeta] = otherBackward(FUSED.layerNorm, { dy: dy as tf.Tensor, x, gamma, beta }, { eps });
      }
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  });
}

function registerTokenLogProbs(): void {
  tf.registerKernel({
    kernelName: FUSED.tokenLogProbs,
    backendName: BACKEND,
    kernelFunc: ({ inputs }) => {
      const { logits, targets } = inputs as Inputs;
      requireInt32(FUSED.tokenLogProbs, targets);
      return tokenLogProbsForward(logits, targets);
    },
  });
  tf.registerGradient({
    kernelName: FUSED.tokenLogProbs,
    inputsToSave: ['logits', 'targets'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [logits, targets, out] = saved;
      const dl = onWebgpu()
        ? asTensor(tokenLogProbsBackward(dy as tf.Tensor, logits, targets, out))
        : otherBackward(FUSED.tokenLogProbs, { dy: dy as tf.Tensor, logits, targets, out })[0];
      return { logits: () => dl, targets: () => tf.zerosLike(targets) };
    },
  });
}

/** vocab × ids above which the embedding gradient scatters instead of gathering (see registerEmbedding). */
export const EMBEDDING_GATHER_LIMIT = 1 << 22;

function registerEmbedding(): void {
  tf.registerKernel({
    kernelName: FUSED.embedding,
    backendName: BACKEND,
    kernelFunc: ({ inputs }) => {
      const { table, ids } = inputs as Inputs;
      requireInt32(FUSED.embedding, ids);
      return embeddingForward(table, ids);
    },
  });
  tf.registerGradient({
    kernelName: FUSED.embedding,
    inputsToSave: ['table', 'ids'],
    gradFunc: (dy, saved) => {
      const [table, ids] = saved;
      const vocab = table.shape[0];
      let dt: tf.Tensor;
      if (!onWebgpu()) dt = otherBackward(FUSED.embedding, { dy: dy as tf.Tensor, table, ids })[0];
      // the gather-style kernel reads all ids per table cell: fine for small vocabularies only;
      // beyond that tfjs's atomic UnsortedSegmentSum (a fill and one scatter dispatch) scales with N·D
      else if (vocab * ids.shape[0] > EMBEDDING_GATHER_LIMIT) dt = tf.unsortedSegmentSum(dy as tf.Tensor, ids as tf.Tensor1D, vocab);
      else dt = asTensor(embeddingBackward(dy as tf.Tensor, ids, vocab));
      return { table: () => dt, ids: () => tf.zerosLike(ids) };
    },
  });
}

function registerAttention(): void {
  tf.registerKernel({
    kernelName: FUSED.attention,
    backendName: BACKEND,
    kernelFunc: ({ inputs }) => {
      const { q, k, v } = inputs as Inputs;
      return attentionForward(q, k, v);
    },
  });
  tf.registerGradient({
    kernelName: FUSED.attention,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [q, k, v, o] = saved;
      let dq: tf.Tensor, dk: tf.Tensor, dv: tf.Tensor;
      if (onWebgpu()) {
        const g = attentionBackward(dy as tf.Tensor, q, k, v, o);
        [dq, dk, dv] = [asTensor(g.dq), asTensor(g.dk), asTensor(g.dv)];
        asTensor(g.stats);
      } else {
        [dq, dk, dv] = otherBackward(FUSED.attention, { dy: dy as tf.Tensor, q, k, v, out: o });
      }
      return { q: () => dq, k: () => dk, v: () => dv };
    },
  });
}

/**
 * Replaces webgpu's Sum kernel with one that handles sums over leading axes (bias and position-embedding
 * gradients) in a single dispatch, deferring every other case to the stock kernel.
 */
function registerLeadingSum(): void {
  const stock = tf.getKernel(tf.Sum, BACKEND);
  if (!stock) return;
  tf.unregisterKernel(tf.Sum, BACKEND);
  tf.registerKernel({
    kernelName: tf.Sum,
    backendName: BACKEND,
    kernelFunc: (args) => {
      const x = (args.inputs as Inputs).x;
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const leading = axes.every((a, i) => a === i) && axes.length < x.shape.length;
      if (!leading || x.dtype !== 'float32' || axes.length === 0) return stock.kernelFunc(args);
      const rows = axes.reduce((n, a) => n * x.shape[a], 1);
      const rest = x.shape.slice(axes.length);
      return leadingSum(x, rows, keepDims ? [...axes.map(() => 1), ...rest] : rest);
    },
  });
}

/** Inference only (sampling): no gradient is registered. Inputs q, kp, vp, ks, vs and optionally prefixMask; attr group. */
function registerDecodeAttention(): void {
  tf.registerKernel({
    kernelName: DECODE_ATTENTION,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs }) => {
      const { q, kp, vp, ks, vs, prefixMask } = inputs as Inputs;
      return decodeAttentionForward(q, kp, vp, ks, vs, prefixMask ?? null, (attrs as { group: number }).group);
    },
  });
}

let registered = false;

/**
 * Registers every fused kernel for webgpu (idempotent). IGRPO_WEBGPU_FUSED=0 leaves the composites in
 * charge; IGRPO_WEBGPU_NO_FUSED=attention,layerNorm (src/ops FUSED keys, plus leadingSum and
 * decodeAttention) skips single kernels, for A/B runs of bench:gpu on a device.
 */
export function registerFusedKernels(): void {
  if (registered || process.env.IGRPO_WEBGPU_FUSED === '0') return;
  registered = true;
  const skip = new Set((process.env.IGRPO_WEBGPU_NO_FUSED ?? '').split(',').map((x) => x.trim()));
  const all: [string, () => void][] = [
    ['gelu', registerGelu],
    ['layerNorm', registerLayerNorm],
    ['tokenLogProbs', registerTokenLogProbs],
    ['embedding', registerEmbedding],
    ['attention', registerAttention],
    ['leadingSum', registerLeadingSum],
    ['decodeAttention', registerDecodeAttention],
  ];
  for (const [name, register] of all) if (!skip.has(name)) register();
}
