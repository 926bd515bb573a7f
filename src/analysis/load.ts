// Rollout and metrics logs (JSONL or Parquet, ours, TRL's or verl's) → validated records.
// Every record is checked against the trainer's schemas (src/train/records.ts); a bad one is named by file,
// line (JSONL) or row (Parquet), and field. The parsing itself is ./log-text.ts (contents, not paths).
import type { MetricsRecord, RolloutRecord } from '../train/records.js';
import { isParquet, metricsFromRows, rolloutsFromRows, type LoadOptions } from './log-text.js';
import * as fs from 'node:fs';
import { readRows } from './rows.js';
import { readVerlDumpRows } from './verl-file.js';

export type { MetricsRecord, RolloutRecord };
export type { LoadOptions, LogFormat } from './log-text.js';

/** A log file, or a folder: verl's trainer.rollout_data_dir ({step}.jsonl dumps). */
export async function loadRollouts(file: string, opts: LoadOptions = {}): Promise<RolloutRecord[]> {
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return rolloutsFromRows(readVerlDumpRows(file), false, { ...opts, format: 'verl' });
  return rolloutsFromRows(await readRows(file), isParquet(file), opts);
}

export async function loadMetrics(file: string): Promise<MetricsRecord[]> {
  return metricsFromRows(await readRows(file), isParquet(file));
}

/** Several runs (e.g. one per seed and algorithm) as one list. */
export async function loadAllMetrics(files: string[]): Promise<MetricsRecord[]> {
  return (await Promise.all(files.map((f) => loadMetrics(f)))).flat();
}
