// Raw rows from a log file, each with where it came from, so a bad record can be named by file and line/row.
// JSONL and Parquet are both accepted; the format follows the extension (.parquet / .pq, else JSONL).
// Parsing the contents is ./log-text.ts (no file access; the browser viewer uses it on dropped files).
import * as fs from 'node:fs';
import { isParquet, jsonlRows, parquetRows, type RawRow } from './log-text.js';

export { isParquet, type RawRow } from './log-text.js';

/** Every non-empty JSONL line parsed as an object; a line that is not JSON or not an object names itself. */
export function readJsonlRows(file: string): RawRow[] {
  return jsonlRows(fs.readFileSync(file, 'utf8'), file);
}

/** Every Parquet row as an object (nested/JSON columns decoded by hyparquet). */
export async function readParquetRows(file: string): Promise<RawRow[]> {
  const buf = fs.readFileSync(file);
  return parquetRows(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, file);
}

export async function readRows(file: string): Promise<RawRow[]> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  return isParquet(file) ? readParquetRows(file) : readJsonlRows(file);
}
