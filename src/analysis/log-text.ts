// Run logs from their contents (JSONL text or Parquet bytes) → validated records, with no file access: what
// ./load.ts does for paths, and what the browser viewer does for files dropped on the page. Every record is
// checked against the trainer's schemas (src/train/records.ts); a bad one is named by file, line (JSONL) or
// row (Parquet), and field.
import { parquetReadObjects } from 'hyparquet';
import type { z } from 'zod';
import { EvalRecord, MetricsRecord, RolloutRecord } from '../train/records.js';
import { looksLikeTrl, mapTrlRows } from './trl.js';
import { looksLikeVerl, mapVerlRows } from './verl.js';

export interface RawRow {
  /** "file:line" for JSONL, "file: row N" for Parquet (1-based), used in error messages. */
  where: string;
  value: Record<string, unknown>;
}

export type LogFormat = 'auto' | 'igrpo' | 'trl' | 'verl';

export interface LoadOptions {
  /**
   * 'auto' (default) recognises TRL completion tables by their prompt/completion columns and verl rollout dumps by
   * their input/output/score/step fields (./verl.ts); a directory is read as verl's trainer.rollout_data_dir.
   */
  format?: LogFormat;
  /** Seed recorded for TRL rows that carry none. */
  seed?: number;
}

export function isParquet(file: string): boolean {
  return /\.(parquet|pq)$/i.test(file);
}

/** Every non-empty JSONL line of `text` (the contents of `file`) parsed as an object; a bad line names itself. */
export function jsonlRows(text: string, file: string): RawRow[] {
  const rows: RawRow[] = [];
  text.split('\n').forEach((line, i) => {
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

/** Every Parquet row of `bytes` (the contents of `file`) as an object (nested/JSON columns decoded by hyparquet). */
export async function parquetRows(bytes: ArrayBuffer, file: string): Promise<RawRow[]> {
  let objects: Record<string, unknown>[];
  try {
    objects = (await parquetReadObjects({ file: bytes })) as Record<string, unknown>[];
  } catch (e) {
    // hyparquet's own errors (a RangeError for an empty or truncated file) do not say which file
    throw new Error(`${file}: cannot read Parquet (${bytes.byteLength} bytes: ${(e as Error).message})`);
  }
  return objects.map((o, i) => ({ where: `${file}: row ${i + 1}`, value: plain(o) as Record<string, unknown> }));
}

function validate<T>(rows: RawRow[], schema: z.ZodType<T>): T[] {
  return rows.map(({ where, value }) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${where}: field '${issue.path.join('.') || '(record)'}': ${issue.message}`);
    }
    return parsed.data;
  });
}

/**
 * Parquet is columnar: a field a record lacks is stored as null. Drop those nulls (except where null is a value
 * of its own, e.g. a draft's advantage) so optional fields read back as absent.
 */
function absentNulls(rows: RawRow[], keep: string[]): RawRow[] {
  return rows.map(({ where, value }) => ({
    where,
    value: Object.fromEntries(Object.entries(value).filter(([k, v]) => v !== null || keep.includes(k))),
  }));
}

/** Rollout records from raw rows (ours, or a TRL completions table or verl dump, mapped); `parquet`: the rows came from Parquet. */
export function rolloutsFromRows(rows: RawRow[], parquet: boolean, opts: LoadOptions = {}): RolloutRecord[] {
  if (parquet) rows = absentNulls(rows, ['advantage', 'answer']);
  const format = opts.format ?? 'auto';
  const first = rows[0]?.value;
  if (format === 'verl' || (format === 'auto' && first && looksLikeVerl(first))) rows = mapVerlRows(rows, opts.seed);
  else if (format === 'trl' || (format === 'auto' && first && looksLikeTrl(first))) rows = mapTrlRows(rows, opts.seed);
  return validate(rows, RolloutRecord);
}

export const metricsFromRows = (rows: RawRow[], parquet: boolean): MetricsRecord[] =>
  validate(parquet ? absentNulls(rows, ['wrongToRight', 'rightToWrong']) : rows, MetricsRecord);

export const evalsFromRows = (rows: RawRow[]): EvalRecord[] => validate(rows, EvalRecord);
