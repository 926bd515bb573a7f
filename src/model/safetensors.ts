// The safetensors format, read and written here (no dependency): an 8-byte little-endian header
// length N, N bytes of JSON { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? },
// then the raw little-endian tensor bytes, offsets relative to the end of the header.
import { z } from 'zod';
import { formatIssues } from '../util/validate.js';
import { encodeSafetensorsAs, toFloat32 } from './safetensors-codec.js';

export interface NamedTensor {
  data: Float32Array;
  shape: number[];
}

const EntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encode tensors (float32) as safetensors bytes, in the given order (the F32 case of encodeSafetensorsAs). */
export function encodeSafetensors(tensors: readonly [string, NamedTensor][], metadata: Record<string, string> = {}): Uint8Array[] {
  if (!littleEndian) throw new Error('safetensors writer: big-endian hosts are not supported');
  return encodeSafetensorsAs(tensors, 'F32', metadata);
}

/** Decode safetensors bytes; `source` (the file name) appears in every error. F32, F16 and BF16 are read as float32. */
export function decodeSafetensors(bytes: Uint8Array, source: string): Map<string, NamedTensor> {
  const fail = (why: string): never => {
    throw new Error(`${source}: not a valid safetensors file (${why})`);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, the header length alone takes 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) fail(`header says ${n} bytes but the file has ${bytes.length - 8} after the length; truncated?`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const out = new Map<string, NamedTensor>();
  let maxEnd = 0;
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const r = EntrySchema.safeParse(raw);
    if (!r.success) fail(`tensor '${name}': ${formatIssues(r.error)}`);
    const e = r.data!;
    const [begin, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    const width = e.dtype === 'F32' ? 4 : e.dtype === 'F16' || e.dtype === 'BF16' ? 2 : fail(`tensor '${name}': dtype ${e.dtype} is not supported (F32, F16, BF16)`); // so the cast below holds
    if (end < begin || end > dataLen) fail(`tensor '${name}': data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes; truncated?`);
    if (end - begin !== count * (width as number)) fail(`tensor '${name}': ${end - begin} bytes for shape [${e.shape}] of ${e.dtype}`);
    maxEnd = Math.max(maxEnd, end);
    out.set(name, { data: toFloat32(bytes.subarray(dataStart + begin), count, e.dtype as 'F32' | 'F16' | 'BF16'), shape: e.shape });
  }
  if (maxEnd !== dataLen) fail(`${dataLen - maxEnd} bytes after the last tensor`);
  return out;
}

