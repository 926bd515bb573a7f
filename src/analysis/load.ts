// Rollout and metrics logs (JSONL or Parquet, ours or TRL's) → validated records.
// Every record is checked against the trainer's schemas (src/train/records.ts); a bad one is named by file,
// line (JSONL) or row (Parquet), and field.
import type { z } from 'zod';
import { MetricsRecord, RolloutRecord } from '../train/records.js';
import { isParquet, readRows, type RawRow } from './rows.js';
import * as fs from 'node:fs';
import { looksLikeTrl, mapTrlRows } from './trl.js';
import { looksLikeVerl, mapVerlRows, readVerlDumpRows } from './verl.js';

export type { MetricsRecord, RolloutRecord };

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

export async function loadRollouts(file: string, opts: LoadOptions = {}): Promise<RolloutRecord[]> {
  const dir = fs.existsSync(file) && fs.statSync(file).isDirectory();
  let rows = dir ? readVerlDumpRows(file) : await readRows(file);
  if (isParquet(file)) rows = absentNulls(rows, ['advantage', 'answer']);
  const format = opts.format ?? 'auto';
  const first = rows[0]?.value;
  if (format === 'verl' || dir || (format === 'auto' && first && looksLikeVerl(first))) rows = mapVerlRows(rows, opts.seed);
  else if (format === 'trl' || (format === 'auto' && first && looksLikeTrl(first))) rows = mapTrlRows(rows, opts.seed);
  return validate(rows, RolloutRecord);
}

export async function loadMetrics(file: string): Promise<MetricsRecord[]> {
  const rows = await readRows(file);
  return validate(isParquet(file) ? absentNulls(rows, ['wrongToRight', 'rightToWrong']) : rows, MetricsRecord);
}

/** Several runs (e.g. one per seed and algorithm) as one list. */
export async function loadAllMetrics(files: string[]): Promise<MetricsRecord[]> {
  return (await Promise.all(files.map((f) => loadMetrics(f)))).flat();
}
