// Registers this folder's WGSL kernels for the webgpu backend under the src/ops kernel names: for each
// fused op a forward kernel and its backward `${name}Grad` kernel, taking the inputs src/ops/gradients.ts
// (the one gradient per op, registered there) hands every backend; and the KV-cache decoding kernels.
import * as tf from '@tensorflow/tfjs';
import { DECODE_KERNELS, FUSED, gradKernel } from '../../ops/kernels.js';
import { type TensorInfo, webgpuBackend } from './backend.js';
import { geluBackward, geluForward } from './kernels/gelu.js';
import { layerNormBackward, layerNormForward } from './kernels/layernorm.js';
import { tokenLogProbsBackward, tokenLogProbsForward } from './kernels/logprobs.js';
import { embeddingBackward, embeddingForward } from './kernels/embedding.js';
import { attentionBackward, attentionForward } from './kernels/attention.js';
import { rmsNormBackward, rmsNormForward, rope, swigluBackward, swigluForward } from './kernels/llm.js';
import { leadingSum } from './kernels/colsum.js';
import { decodeAttentionForward, kvAppendForward } from './kernels/decode_attention.js';

type Inputs = Record<string, TensorInfo>;
type KernelFunc = (args: { inputs: Inputs; attrs: Record<string, unknown> }) => TensorInfo | TensorInfo[];
const BACKEND = 'webgpu';

function requireInt32(name: string, t: TensorInfo): void {
  if (t.dtype !== 'int32') throw new Error(`${name}: expected int32 ids, got ${t.dtype}`);
}

/** A kernel's scratch output (row statistics) that nothing downstream reads. */
function drop(t: TensorInfo): void {
  webgpuBackend().disposeData(t.dataId);
}

function register(kernelName: string, kernelFunc: KernelFunc): void {
  tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

function registerGelu(): void {
  register(FUSED.gelu, ({ inputs }) => geluForward(inputs.x));
  register(gradKernel(FUSED.gelu), ({ inputs }) => geluBackward(inputs.dy, inputs.x));
}

function registerLayerNorm(): void {
  register(FUSED.layerNorm, ({ inputs, attrs }) => layerNormForward(inputs.x, inputs.gamma, inputs.beta, attrs.eps as number));
  register(gradKernel(FUSED.layerNorm), ({ inputs, attrs }) => {
    const g = layerNormBackward(inputs.dy, inputs.x, inputs.gamma, attrs.eps as number);
    drop(g.stats);
    return [g.dx, g.dgamma, g.dbeta];
  });
}

function registerTokenLogProbs(): void {
  register(FUSED.tokenLogProbs, ({ inputs }) => {
    requireInt32(FUSED.tokenLogProbs, inputs.targets);
    return tokenLogProbsForward(inputs.logits, inputs.targets);
  });
  register(gradKernel(FUSED.tokenLogProbs), ({ inputs }) => tokenLogProbsBackward(inputs.dy, inputs.logits, inputs.targets, inputs.out));
}

/** vocab × ids above which the embedding gradient scatters instead of gathering (see registerEmbedding). */
export const EMBEDDING_GATHER_LIMIT = 1 << 22;

function registerEmbedding(): void {
  register(FUSED.embedding, ({ inputs }) => {
    requireInt32(FUSED.embedding, inputs.ids);
    return embeddingForward(inputs.table, inputs.ids);
  });
  register(gradKernel(FUSED.embedding), ({ inputs }) => {
    const { dy, table, ids } = inputs;
    const vocab = table.shape[0];
    if (vocab * ids.shape[0] <= EMBEDDING_GATHER_LIMIT) return embeddingBackward(dy, ids, vocab);
    // the gather-style kernel reads all ids per table cell: fine for small vocabularies only; beyond
    // that tfjs's atomic UnsortedSegmentSum (a fill and one scatter dispatch) scales with N·D
    const scatter = tf.getKernel(tf.UnsortedSegmentSum, BACKEND)!;
    return scatter.kernelFunc({ inputs: { x: dy, segmentIds: ids }, attrs: { numSegments: vocab }, backend: webgpuBackend() } as never) as TensorInfo;
  });
}

function registerAttention(): void {
  register(FUSED.attention, ({ inputs }) => attentionForward(inputs.q, inputs.k, inputs.v));
  register(gradKernel(FUSED.attention), ({ inputs }) => {
    const g = attentionBackward(inputs.dy, inputs.q, inputs.k, inputs.v, inputs.out);
    drop(g.stats);
    return [g.dq, g.dk, g.dv];
  });
}

function registerLlm(): void {
  register(FUSED.rmsNorm, ({ inputs, attrs }) => rmsNormForward(inputs.x, inputs.weight, attrs.eps as number));
  register(gradKernel(FUSED.rmsNorm), ({ inputs, attrs }) => {
    const g = rmsNormBackward(inputs.dy, inputs.x, inputs.weight, attrs.eps as number);
    drop(g.rstd);
    return [g.dx, g.dweight];
  });
  register(FUSED.rope, ({ inputs }) => rope(inputs.x, inputs.cos, inputs.sin, false));
  register(gradKernel(FUSED.rope), ({ inputs }) => rope(inputs.dy, inputs.cos, inputs.sin, true));
  register(FUSED.swiglu, ({ inputs }) => swigluForward(inputs.gate, inputs.up));
  register(gradKernel(FUSED.swiglu), ({ inputs }) => [
    swigluBackward(inputs.dy, inputs.gate, inputs.up, 0),
    swigluBackward(inputs.dy, inputs.gate, inputs.up, 1),
  ]);
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

/** KV-cache decoding (src/ops/decode.ts): inference only, no gradients. */
function registerDecode(): void {
  register(DECODE_KERNELS.attention, ({ inputs, attrs }) => {
    const { q, kp, vp, ks, vs, prefixMask } = inputs;
    const suffixLength = (attrs.suffixLength as number | undefined) ?? ks.shape[2];
    return decodeAttentionForward(q, kp, vp, ks, vs, prefixMask ?? null, attrs.group as number, suffixLength);
  });
  register(DECODE_KERNELS.append, ({ inputs, attrs }) => kvAppendForward(inputs.buffer, inputs.x, attrs.position as number));
}

let registered = false;

/**
 * Registers every fused kernel for webgpu (idempotent). IGRPO_WEBGPU_FUSED=0 leaves the composites in
 * charge; IGRPO_WEBGPU_NO_FUSED=attention,layerNorm (src/ops FUSED keys, plus leadingSum,
 * decodeAttention and llm for rmsNorm/rope/swiglu) skips single kernels, for A/B runs of bench:gpu on a device.
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
    ['llm', registerLlm],
    ['leadingSum', registerLeadingSum],
    ['decodeAttention', registerDecode],
  ];
  for (const [name, register] of all) if (!skip.has(name)) register();
}
