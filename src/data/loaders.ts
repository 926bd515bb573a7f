// Loading problems from JSONL, JSON, CSV and Parquet. Every record goes through an adapter and then
// the zod schema; a bad record is an error naming file, line (or record/row) and field, or, when the
// caller asks, is skipped and counted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../paths.js';
import { getAdapter, type Adapter, type AdapterName, type Raw } from './adapters.js';
import { parseCsv } from './csv.js';
import { ProblemSchema, type Problem } from './schema.js';
import { EncodingError, readText, type TextEncoding } from './text.js';

export type DataFormat = 'jsonl' | 'json' | 'csv' | 'parquet';

export interface LoadOptions {
  /** How raw records map to problems (default 'auto'), or your own function. */
  adapter?: AdapterName | Adapter;
  /** 'throw' (default): the first bad record is an error. 'skip': bad records are counted and left out. */
  onError?: 'throw' | 'skip';
  /** Default: from the file extension. */
  format?: DataFormat;
  /** Stop after this many good problems. */
  limit?: number;
  /**
   * Text formats: 'utf8' (default) is strict, a byte that is not UTF-8 is an error naming file and line;
   * 'latin1' reads every byte as ISO-8859-1. A UTF-8 byte-order mark is dropped either way.
   */
  encoding?: TextEncoding;
  /**
   * Where warnings go besides LoadResult.warnings (an empty file, for instance). Default: stderr
   * (console.warn); pass () => {} to keep them only in the result.
   */
  warn?: (message: string) => void;
}

export interface Skipped {
  /** Where: "line 12" (JSONL, CSV), "record 3" (JSON), "row 7" (Parquet). */
  at: string;
  message: string;
}

export interface LoadResult {
  file: string;
  problems: Problem[];
  skipped: Skipped[];
  /** Things worth knowing that are not errors, e.g. "no records (the file is empty)". */
  warnings: string[];
}

export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly at: string,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(`${file}: ${at}${field ? `: field '${field}'` : ''}: ${detail}`);
    this.name = 'DatasetError';
  }
}

interface Located {
  at: string;
  record?: Raw;
  /** Set when the record itself could not be read (bad JSON). */
  error?: string;
}

export function formatOf(file: string): DataFormat {
  const ext = path.extname(file).toLowerCase().replace('.', '');
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'json' || ext === 'csv' || ext === 'parquet') return ext;
  throw new Error(`${file}: unknown data format '.${ext}' (expected .jsonl, .json, .csv or .parquet)`);
}

const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function readJsonl(file: string, encoding?: TextEncoding): Located[] {
  const out: Located[] = [];
  readTextOrFail(file, encoding)
    .split('\n')
    .forEach((text, i) => {
      if (text.trim().length === 0) return;
      const at = `line ${i + 1}`;
      try {
        const v: unknown = JSON.parse(text);
        out.push(isRecord(v) ? { at, record: v } : { at, error: 'not a JSON object' });
      } catch (e) {
        out.push({ at, error: `invalid JSON (${(e as Error).message})` });
      }
    });
  return out;
}

function readJson(file: string, encoding?: TextEncoding): Located[] {
  let v: unknown;
  const text = readTextOrFail(file, encoding);
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(file, 'whole file', undefined, `invalid JSON (${(e as Error).message})`);
  }
  // Accept a top-level array, or {data|rows|problems: [...]}.
  const list = Array.isArray(v) ? v : isRecord(v) ? (v.data ?? v.rows ?? v.problems) : undefined;
  if (!Array.isArray(list)) throw new DatasetError(file, 'whole file', undefined, 'expected an array of records (or {data: [...]})');
  return list.map((r, i) => (isRecord(r) ? { at: `record ${i + 1}`, record: r } : { at: `record ${i + 1}`, error: 'not an object' }));
}

function readCsv(file: string, encoding?: TextEncoding): Located[] {
  const rows = parseCsv(readTextOrFail(file, encoding));
  if (rows.length === 0) return [];
  const header = rows[0].cells.map((h) => h.trim());
  return rows.slice(1).map(({ line, cells }) => {
    if (cells.length !== header.length) {
      return { at: `line ${line}`, error: `${cells.length} cells, header has ${header.length}` };
    }
    const record: Raw = {};
    header.forEach((h, i) => (record[h] = cells[i]));
    return { at: `line ${line}`, record };
  });
}

/** Text of a data file; a non-UTF-8 byte is a DatasetError naming the line. */
function readTextOrFail(file: string, encoding?: TextEncoding): string {
  try {
    return readText(file, encoding);
  } catch (e) {
    if (e instanceof EncodingError) throw new DatasetError(file, `line ${e.line}`, undefined, e.message.slice(`${file}: line ${e.line}: `.length));
    throw e;
  }
}

/** The smallest Parquet file: magic "PAR1", a 4-byte footer length, magic "PAR1" (plus a footer). */
const PARQUET_MIN_BYTES = 12;

async function readParquet(file: string): Promise<Located[]> {
  // Loaded on demand (text formats never pay for it); the whole file as an ArrayBuffer is what
  // hyparquet's AsyncBuffer needs, and avoids its Node-only entry point (tslab resolves the browser one).
  const { parquetReadObjects } = await import('hyparquet');
  const bytes = fs.readFileSync(file);
  if (bytes.length < PARQUET_MIN_BYTES) {
    throw new DatasetError(file, 'whole file', undefined, `not a Parquet file: ${bytes.length} bytes, a Parquet file has at least ${PARQUET_MIN_BYTES}`);
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    const rows = await parquetReadObjects({ file: buffer });
    return rows.map((r, i) => ({ at: `row ${i + 1}`, record: r as Raw }));
  } catch (e) {
    throw new DatasetError(file, 'whole file', undefined, `cannot read Parquet (${(e as Error).message})`);
  }
}

/** The raw records of a file, each with where it came from. */
export async function readRecords(file: string, format: DataFormat = formatOf(file), encoding?: TextEncoding): Promise<Located[]> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  switch (format) {
    case 'jsonl':
      return readJsonl(file, encoding);
    case 'json':
      return readJson(file, encoding);
    case 'csv':
      return readCsv(file, encoding);
    case 'parquet':
      return readParquet(file);
  }
}

/**
 * Most published files carry no id (GSM8K as OpenAI publishes it: question and answer only; MATH as Hugging
 * Face serves it: problem, solution, level, type). A record without one gets `NAME#N`: the file's name and
 * the record's number in it (from 1, blank lines not counted; a bad record keeps its number, so skipping it
 * moves no other id). Stable as long as the file is; a numeric id (e.g. 17) is read as its text ("17").
 */
export function withId(record: Raw, file: string, n: number): Raw {
  const id = record.id;
  if (typeof id === 'number' && Number.isFinite(id)) return { ...record, id: String(id) };
  if (id === undefined || id === null || id === '') return { ...record, id: `${path.basename(file)}#${n}` };
  return record;
}

/** Adapts and validates located records (shared by every format). */
export function toProblems(file: string, located: readonly Located[], opts: LoadOptions = {}): LoadResult {
  const adapter = typeof opts.adapter === 'function' ? opts.adapter : getAdapter(opts.adapter ?? 'auto');
  const skip = opts.onError === 'skip';
  const problems: Problem[] = [];
  const skipped: Skipped[] = [];
  const warnings: string[] = [];
  if (located.length === 0) warnings.push(`${file}: no records (the file is empty): 0 problems`);
  const seen = new Map<string, string>();
  const fail = (at: string, field: string | undefined, detail: string) => {
    const err = new DatasetError(file, at, field, detail);
    if (!skip) throw err;
    skipped.push({ at, message: err.message });
  };
  for (const [i, loc] of located.entries()) {
    if (opts.limit !== undefined && problems.length >= opts.limit) break;
    if (!loc.record) {
      fail(loc.at, undefined, loc.error ?? 'unreadable record');
      continue;
    }
    const parsed = ProblemSchema.safeParse(withId(adapter(loc.record), file, i + 1));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      fail(loc.at, issue.path.join('.') || undefined, issue.message);
      continue;
    }
    const first = seen.get(parsed.data.id);
    if (first) {
      fail(loc.at, 'id', `duplicate id '${parsed.data.id}': ${first} and ${loc.at} both have it (ids must be unique within a file)`);
      continue;
    }
    seen.set(parsed.data.id, loc.at);
    problems.push(parsed.data);
  }
  for (const w of warnings) (opts.warn ?? console.warn)(`warning: ${w}`);
  return { file, problems, skipped, warnings };
}

/**
 * A file that cannot be read at all (an empty or truncated Parquet file, a JSON file that does not parse)
 * fails like a bad record: thrown, or with onError 'skip', one skipped entry and 0 problems.
 */
function unreadable(file: string, e: unknown, opts: LoadOptions): LoadResult {
  if (opts.onError !== 'skip' || !(e instanceof DatasetError) || e.at !== 'whole file') throw e;
  return { file, problems: [], skipped: [{ at: e.at, message: e.message }], warnings: [] };
}

/** Problems from a JSONL, JSON, CSV or Parquet file. */
export async function loadProblems(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let located: Located[];
  try {
    located = await readRecords(file, opts.format, opts.encoding);
  } catch (e) {
    return unreadable(file, e, opts);
  }
  return toProblems(file, located, opts);
}

/** Synchronous loading for the text formats (JSONL, JSON, CSV). */
export function loadProblemsSync(file: string, opts: LoadOptions = {}): LoadResult {
  const format = opts.format ?? formatOf(file);
  if (format === 'parquet') throw new Error(`${file}: Parquet needs the async loadProblems()`);
  const read = format === 'jsonl' ? readJsonl : format === 'json' ? readJson : readCsv;
  let located: Located[];
  try {
    located = read(file, opts.encoding);
  } catch (e) {
    return unreadable(file, e, opts);
  }
  return toProblems(file, located, opts);
}

/** The public benchmarks folder: $IGRPO_BENCHMARKS, else ../shared/data/benchmarks beside the package. */
export function benchmarksDir(): string {
  return process.env.IGRPO_BENCHMARKS ?? path.resolve(packageRoot(), '..', 'shared', 'data', 'benchmarks');
}

/** Which adapter suits each shipped benchmark file. */
export const BENCHMARKS: Record<string, AdapterName> = {
  gsm8k_test: 'gsm8k',
  gsm8k_train: 'gsm8k',
  math500_test: 'math',
  math_train: 'math',
  minerva_math: 'minerva',
  aime24: 'aime',
  aime25: 'aime',
  amc23: 'amc',
};

/** A public benchmark by name (e.g. 'math500_test'), through its adapter. */
export function loadBenchmark(name: string, opts: Omit<LoadOptions, 'format'> = {}): LoadResult {
  const file = path.join(benchmarksDir(), `${name}.jsonl`);
  return loadProblemsSync(file, { adapter: BENCHMARKS[name] ?? 'auto', ...opts });
}
