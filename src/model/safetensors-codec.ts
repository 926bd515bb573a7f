// The safetensors byte codec: dtype conversions and the writer's chunks, no file access (browser bundles
// import this; reading checkpoints tensor by tensor from disk is ./safetensors-file.ts).
import type { NamedTensor } from './safetensors.js';

export const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** Little-endian raw bytes → float32: F32 copied, BF16 as the high half of the fp32 word, F16 converted. */
export function toFloat32(raw: Uint8Array, count: number, dtype: 'F32' | 'F16' | 'BF16'): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = view.getUint16(2 * i, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

/** IEEE half → float: subnormals (e = 0), inf/NaN (e = 31), normals. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** fp32 → bf16 bits, rounded to nearest even (NaN kept a quiet NaN), as torch's .to(bfloat16). */
export function floatToBF16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = u[i];
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = ((b >>> 16) | 0x40) & 0xffff;
    else out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** Encode named float32 tensors as safetensors chunks in F32 or BF16 (HF names and [out, in] layout as given). */
export function encodeSafetensorsAs(
  tensors: readonly [string, NamedTensor][],
  dtype: 'F32' | 'BF16',
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array[] {
  const width = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor '${name}': shape [${t.shape}] needs ${n} values, has ${t.data.length}`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + width * n] };
    offset += width * n;
  }
  let json = JSON.stringify(header);
  const utf8 = new TextEncoder();
  json += ' '.repeat((8 - (utf8.encode(json).length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = utf8.encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const chunks: Uint8Array[] = [len, headerBytes];
  for (const [, t] of tensors) {
    if (dtype === 'F32') chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    else {
      const b = floatToBF16Bits(t.data);
      chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    }
  }
  return chunks;
}
