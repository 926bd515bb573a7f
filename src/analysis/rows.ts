// Raw rows from a log file, each with where it came from, so a bad record can be named by file and line/row.
// JSONL and Parquet are both accepted; the format follows the extension (.parquet / .pq, else JSONL).
import * as fs from 'node:fs';
import { parquetReadObjects } from 'hyparquet';

export interface RawRow {
  /** "file:line" for JSONL, "file: row N" for Parquet (1-based), used in error messages. */
  where: string;
  value: Record<string, unknown>;
}

export function isParquet(file: string): boolean {
  return /\.(parquet|pq)$/i.test(file);
}

/** Every non-empty JSONL line parsed as an object; a line that is not JSON or not an object names itself. */
export function readJsonlRows(file: string): RawRow[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const rows: RawRow[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: not a JSON object`);
    rows.push({ where, value: value as Record<string, unknown> });
  });
  return rows;
}

/** Parquet INT64 columns arrive as BigInt; logs hold counts and steps that fit a double. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** Every Parquet row as an object (nested/JSON columns decoded by hyparquet). */
export async function readParquetRows(file: string): Promise<RawRow[]> {
  const buf = fs.readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let objects: Record<string, unknown>[];
  try {
    objects = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
  } catch (e) {
    // hyparquet's own errors (a RangeError for an empty or truncated file) do not say which file
    throw new Error(`${file}: cannot read Parquet (${buf.length} bytes: ${(e as Error).message})`);
  }
  return objects.map((o, i) => ({ where: `${file}: row ${i + 1}`, value: plain(o) as Record<string, unknown> }));
}

export async function readRows(file: string): Promise<RawRow[]> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  return isParquet(file) ? readParquetRows(file) : readJsonlRows(file);
}
