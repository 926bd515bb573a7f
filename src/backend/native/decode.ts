// KV-cache decoding kernels for 'native' (C++ in native/src/decode_attention.cc) under the src/ops
// DECODE_KERNELS names, dispatched to by src/ops/decode.ts. Inference only: no gradients.
//
//   IgrpoDecodeAttention  q [B,H,1,dh], kp, vp [U,Hkv,Tp,dh], ks, vs [B,Hkv,cap,dh], prefixMask [U,Tp]?;
//                         attrs group, kvHeads, suffixLength (valid suffix positions, default cap) → [B,H,1,dh].
//   IgrpoKVAppend         buffer [B,Hkv,cap,dh], x [B,Hkv,1,dh]; attr position → buffer with x written at
//                         position: IN PLACE (the result shares the buffer's storage) when no other tensor
//                         shares that storage, else into a copy.
//   IgrpoKVGrow           x [B,Hkv,L,dh]; attrs length (≤ L), capacity → a fresh [B,Hkv,capacity,dh] holding
//                         x's first `length` positions, zeros after.
import * as tf from '@tensorflow/tfjs';
import { DECODE_KERNELS } from '../../ops/kernels.js';
import type { NativeAddon } from './addon.js';
import { type Info, type KernelArgs, type KernelFn, f32, output, size } from './host.js';
import { pool } from './pool.js';

type F32 = Float32Array;
/** The addon's decoding functions (native/src/decode_binding.cc). */
interface DecodeAddon {
  decodeAttention(q: F32, kp: F32, vp: F32, mask: F32 | null, ks: F32, vs: F32, out: F32,
    b: number, h: number, hkv: number, dh: number, group: number, tp: number, cap: number, ts: number): void;
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
      const [u, hkv, tp] = kp.shape;
      const cap = ks.shape[2];
      const group = args.attrs!.group as number;
      const ts = (args.attrs!.suffixLength as number | undefined) ?? cap;
      const kvHeads = (args.attrs!.kvHeads as number | undefined) ?? hkv;
      if (u * group !== b || ts > cap || kvHeads !== hkv || ks.shape[1] !== hkv || h % hkv !== 0) {
        throw new Error(`decode attention: q [${q.shape}], prefix [${kp.shape}], suffix [${ks.shape}] at ${ts}, group ${group}, kvHeads ${kvHeads}`);
      }
      const out = pool.alloc(size(q.shape));
      addon.decodeAttention(need(args, q, 'decode attention'), need(args, kp, 'decode attention'), need(args, vp, 'decode attention'),
        mask(args, u, tp), need(args, ks, 'decode attention'), need(args, vs, 'decode attention'), out, b, h, hkv, dh, group, tp, cap, ts);
      return output(args.backend, q.shape, out);
    },
    [DECODE_KERNELS.append]: (args) => {
      const { buffer, x } = args.inputs;
      const [b, hkv, cap, dh] = buffer.shape;
      const pos = args.attrs!.position as number;
      if (x.shape[0] !== b || x.shape[1] !== hkv || x.shape[2] !== 1 || x.shape[3] !== dh || pos < 0 || pos >= cap) {
        throw new Error(`KV append: x [${x.shape}] at ${pos} into [${buffer.shape}]`);
      }
      const data = args.backend.data.get(buffer.dataId)!;
      const src = need(args, buffer, 'KV append');
      // a buffer whose storage another tensor shares (refCount > 1) is copied first: never write under a
      // reader. (Subarray views made by slicing the buffer are not counted: the KV cache, which owns its
      // buffers, only ever reads positions below the one written.)
      const inPlace = data.refCount <= 1;
      const dst = inPlace ? src : pool.alloc(src.length);
      if (!inPlace) dst.set(src);
      addon.kvAppend(need(args, x, 'KV append'), hkv * dh, dst, b, hkv, dh, cap, pos);
      if (!inPlace) return output(args.backend, buffer.shape, dst);
      args.backend.incRef(buffer.dataId);
      return { dataId: buffer.dataId, shape: buffer.shape, dtype: buffer.dtype };
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
