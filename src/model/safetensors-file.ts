// Reading Hugging Face checkpoints tensor by tensor, straight from disk.
//
// A safetensors file is read as: its 8-byte header length, its JSON header, then each tensor's bytes
// with one positioned read (fs.readSync at an offset) converted into a fresh Float32Array. Nothing
// reads the whole file, so loading a BF16 model costs its fp32 size plus one tensor's raw bytes.
// Every offset, size and dtype is checked against the file's real size before any allocation, so a
// truncated or lying file is an error naming the file and tensor, never a read past the end or an
// allocation the file cannot justify. Sharded checkpoints (model.safetensors.index.json's weight_map)
// open one file at a time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { formatIssues } from '../util/validate.js';
import type { NamedTensor } from './safetensors.js';
import { DTYPE_BYTES, toFloat32 } from './safetensors-codec.js';

// the byte-level codec (no file access) lives in ./safetensors-codec.ts, which browser bundles import
export { DTYPE_BYTES, encodeSafetensorsAs, floatToBF16Bits, halfToFloat, toFloat32 } from './safetensors-codec.js';


export interface TensorEntry {
  name: string;
  file: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Absolute byte offset of the tensor's data in `file`. */
  offset: number;
  byteLength: number;
}

const EntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** The largest JSON header we accept (real headers are kilobytes to a few MB). */
const MAX_HEADER = 100 * 1024 * 1024;

/** Parse and validate one file's header: its tensors with absolute offsets. Reads only the header. */
export function readSafetensorsHeader(file: string): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new Error(`${file}: not a valid safetensors file (${why})`);
  };
  if (!fs.existsSync(file)) throw new Error(`${file}: file is missing`);
  const size = fs.statSync(file).size;
  if (size < 8) fail(`only ${size} bytes, the header length alone takes 8`);
  const fd = fs.openSync(file, 'r');
  let header: unknown;
  let n = 0;
  try {
    const lenBuf = Buffer.alloc(8);
    readFully(fd, lenBuf, 0, file);
    const big = lenBuf.readBigUInt64LE(0);
    if (big > BigInt(size - 8)) fail(`header says ${big} bytes but the file has ${size - 8} after the length; truncated?`);
    n = Number(big);
    if (n > MAX_HEADER) fail(`header of ${n} bytes is larger than the ${MAX_HEADER} accepted`);
    const hbuf = Buffer.alloc(n);
    readFully(fd, hbuf, 8, file);
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch (e) {
      fail(`header is not JSON: ${(e as Error).message}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = size - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const r = EntrySchema.safeParse(raw);
    if (!r.success) fail(`tensor '${name}': ${formatIssues(r.error)}`);
    const e = r.data!;
    const width = DTYPE_BYTES[e.dtype] ?? fail(`tensor '${name}': dtype ${e.dtype} is not supported (F32, F16, BF16)`);
    const [begin, end] = e.data_offsets;
    if (end < begin) fail(`tensor '${name}': data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) fail(`tensor '${name}': data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes; truncated?`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * width) fail(`tensor '${name}': ${end - begin} bytes for shape [${e.shape}] of ${e.dtype} (needs ${count * width})`);
    tensors.set(name, { name, file, dtype: e.dtype as TensorEntry['dtype'], shape: e.shape, offset: dataStart + begin, byteLength: end - begin });
  }
  // tensors may not share bytes (a writer bug or a crafted file)
  const sorted = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + prev.byteLength) fail(`tensors '${prev.name}' and '${sorted[i].name}' overlap`);
  }
  return { tensors, metadata };
}

/** One tensor's data as float32, read with a positioned read (no other part of the file is touched). */
export function readTensor(entry: TensorEntry): NamedTensor {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const raw = Buffer.alloc(entry.byteLength);
  const fd = fs.openSync(entry.file, 'r');
  try {
    readFully(fd, raw, entry.offset, `${entry.file} (tensor '${entry.name}')`);
  } finally {
    fs.closeSync(fd);
  }
  return { data: toFloat32(raw, count, entry.dtype), shape: [...entry.shape] };
}

function readFully(fd: number, buf: Buffer, position: number, what: string): void {
  let off = 0;
  while (off < buf.length) {
    const got = fs.readSync(fd, buf, off, buf.length - off, position + off);
    if (got === 0) throw new Error(`${what}: file ended after ${position + off} bytes while reading; truncated?`);
    off += got;
  }
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const WEIGHTS_FILE = 'model.safetensors';

const IndexSchema = z.object({ metadata: z.record(z.unknown()).optional(), weight_map: z.record(z.string()) }).passthrough();

/**
 * Every tensor of a model folder: model.safetensors, or the shards model.safetensors.index.json names.
 * Headers only; read each tensor with readTensor when needed.
 */
export function openCheckpointTensors(dir: string): Map<string, TensorEntry> {
  const index = path.join(dir, INDEX_FILE);
  const single = path.join(dir, WEIGHTS_FILE);
  if (fs.existsSync(index)) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(index, 'utf8'));
    } catch (e) {
      throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
    }
    const r = IndexSchema.safeParse(raw);
    if (!r.success) throw new Error(`${index}: ${formatIssues(r.error)}`);
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(r.data.weight_map)) {
      // a shard name is a file in this folder, never a path out of it
      if (shard !== path.basename(shard) || shard === '.' || shard === '..') throw new Error(`${index}: weight_map['${name}']: '${shard}' is not a file name in the model folder`);
      if (!byShard.has(shard)) byShard.set(shard, []);
      byShard.get(shard)!.push(name);
    }
    const out = new Map<string, TensorEntry>();
    for (const [shard, names] of byShard) {
      const file = path.join(dir, shard);
      if (!fs.existsSync(file)) throw new Error(`${index}: shard ${file} is missing (it holds '${names[0]}'${names.length > 1 ? ` and ${names.length - 1} more` : ''})`);
      const { tensors } = readSafetensorsHeader(file);
      for (const name of names) {
        const e = tensors.get(name);
        if (!e) throw new Error(`${file}: tensor '${name}' is missing (${INDEX_FILE} puts it in this shard)`);
        out.set(name, e);
      }
      for (const name of tensors.keys()) {
        if (!out.has(name)) throw new Error(`${file}: tensor '${name}' is not listed in ${INDEX_FILE}'s weight_map`);
      }
    }
    return out;
  }
  if (fs.existsSync(single)) return readSafetensorsHeader(single).tensors;
  throw new Error(`${dir}: no ${WEIGHTS_FILE} or ${INDEX_FILE} (only safetensors checkpoints are loaded; .bin/.pth would execute pickled code)`);
}
