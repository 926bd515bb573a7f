// KV-cache decoding kernels for 'native' (C++ in native/src/decode_attention.cc), dispatched to by name
// from src/model/decode-attention.ts and src/model/kvcache.ts. Inference only: no gradients.
//
//   IgrpoDecodeAttention     q [B,H,1,dh], kp, vp [U,H,Tp,dh], ks, vs [B,H,cap,dh], prefixMask [U,Tp]?;
//                            attrs group, suffixLength? (valid suffix positions, default cap) → [B,H,1,dh].
//                            The same inputs and result as the webgpu kernel of that name.
//   IgrpoDecodeAttentionQKV  qkv [B,3·H·dh] (one decoding step's fused projection), kp, vp, ks, vs,
//                            prefixMask?; attrs group, heads, suffixLength. Writes the step's k and v
//                            into ks/vs at position suffixLength IN PLACE (the cache's tensors are private
//                            to it), then attends over suffixLength + 1 positions → [B, H·dh] (heads merged).
//   IgrpoKVGrow              x [B,H,L,dh]; attrs length (≤ L), capacity → a fresh [B,H,capacity,dh] holding
//                            x's first `length` positions, zeros after.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './addon.js';
import { type Info, type KernelArgs, type KernelFn, f32, output, size } from './host.js';
import { pool } from './pool.js';

// the names src/model/decode-attention.ts dispatches to (the backend cannot import the model)
export const DECODE_KERNELS = {
  attention: 'IgrpoDecodeAttention',
  attentionQKV: 'IgrpoDecodeAttentionQKV',
  grow: 'IgrpoKVGrow',
} as const;

type F32 = Float32Array;
/** The addon's decoding functions (native/src/decode_binding.cc). */
interface DecodeAddon {
  decodeAttention(q: F32, qStride: number, kp: F32, vp: F32, mask: F32 | null, ks: F32, vs: F32, out: F32,
    b: number, h: number, dh: number, group: number, tp: number, cap: number, ts: number): void;
  kvAppend(src: F32, srcStride: number, dst: F32, b: number, h: number, dh: number, cap: number, pos: number): void;
  kvGrow(x: F32, out: F32, bh: number, xcap: number, len: number, cap: number, dh: number): void;
}

function need(args: KernelArgs, t: Info, what: string): Float32Array {
  const v = f32(args.backend, t);
  if (!v) throw new Error(`native ${what}: expected a float32 tensor, got ${t.dtype}`);
  return v;
}

function mask(args: KernelArgs, u: number, tp: number): Float32Array | null {
  const m = args.inputs.prefixMask;
  if (!m) return null;
  if (m.shape[0] !== u || m.shape[1] !== tp) throw new Error(`decode attention: prefixMask [${m.shape}] is not [${u}, ${tp}]`);
  return need(args, m, 'decode attention mask');
}

function kernels(addon: DecodeAddon): Record<string, KernelFn> {
  return {
    [DECODE_KERNELS.attention]: (args) => {
      const { q, kp, vp, ks, vs } = args.inputs;
      const [b, h, , dh] = q.shape;
      const [u, , tp] = kp.shape;
      const cap = ks.shape[2];
      const group = args.attrs!.group as number;
      const ts = (args.attrs!.suffixLength as number | undefined) ?? cap;
      if (u * group !== b || ts > cap) throw new Error(`decode attention: ${u} prefix rows × group ${group} vs ${b} rows, suffix ${ts} of ${cap}`);
      const out = pool.alloc(size(q.shape));
      addon.decodeAttention(need(args, q, 'decode attention'), h * dh, need(args, kp, 'decode attention'), need(args, vp, 'decode attention'),
        mask(args, u, tp), need(args, ks, 'decode attention'), need(args, vs, 'decode attention'), out, b, h, dh, group, tp, cap, ts);
      return output(args.backend, q.shape, out);
    },
    [DECODE_KERNELS.attentionQKV]: (args) => {
      const { qkv, kp, vp, ks, vs } = args.inputs;
      const [b, h, cap, dh] = ks.shape;
      const [u, , tp] = kp.shape;
      const { group, suffixLength: ts } = args.attrs as { group: number; suffixLength: number };
      if (qkv.shape[0] !== b || qkv.shape[1] !== 3 * h * dh || u * group !== b || ts >= cap) {
        throw new Error(`decode attention: qkv [${qkv.shape}], cache [${ks.shape}] at ${ts}, ${u} prefix rows × group ${group}`);
      }
      const x = need(args, qkv, 'decode attention');
      const kv = [need(args, ks, 'decode attention'), need(args, vs, 'decode attention')];
      // the step's k and v sit at columns d.. and 2d.. of each qkv row
      addon.kvAppend(x.subarray(h * dh), 3 * h * dh, kv[0], b, h, dh, cap, ts);
      addon.kvAppend(x.subarray(2 * h * dh), 3 * h * dh, kv[1], b, h, dh, cap, ts);
      const out = pool.alloc(b * h * dh);
      addon.decodeAttention(x, 3 * h * dh, need(args, kp, 'decode attention'), need(args, vp, 'decode attention'), mask(args, u, tp),
        kv[0], kv[1], out, b, h, dh, group, tp, cap, ts + 1);
      return output(args.backend, [b, h * dh], out);
    },
    [DECODE_KERNELS.grow]: (args) => {
      const { x } = args.inputs;
      const [b, h, l, dh] = x.shape;
      const { length, capacity } = args.attrs as { length: number; capacity: number };
      if (length > l || length > capacity) throw new Error(`KV grow: length ${length} of [${x.shape}] into capacity ${capacity}`);
      const out = pool.alloc(b * h * capacity * dh);
      addon.kvGrow(size(x.shape) === 0 ? out : need(args, x, 'KV grow'), out, b * h, l, length, capacity, dh);
      return output(args.backend, [b, h, capacity, dh], out);
    },
  };
}

export function registerDecodeKernels(addon: NativeAddon, backendName: string): void {
  const decode = addon as unknown as Partial<DecodeAddon>;
  if (typeof decode.decodeAttention !== 'function') return; // an addon built before these kernels: the composites serve
  for (const [kernelName, kernelFunc] of Object.entries(kernels(decode as DecodeAddon))) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
