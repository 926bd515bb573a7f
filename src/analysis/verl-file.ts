// verl's trainer.rollout_data_dir on disk: its {step}.jsonl dumps, in step order (the mapping is ./verl.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RawRow } from './log-text.js';
import { readJsonlRows } from './rows.js';

/** The dump files of a rollout_data_dir ({step}.jsonl), in step order. */
export function verlDumpFiles(dir: string): string[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^\d+\.jsonl$/.test(f))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  if (files.length === 0) throw new Error(`${dir}: no verl rollout dumps ({step}.jsonl, from trainer.rollout_data_dir)`);
  return files.map((f) => path.join(dir, f));
}

/** Every line of every dump in a rollout_data_dir, in step order, each named by file and line. */
export const readVerlDumpRows = (dir: string): RawRow[] => verlDumpFiles(dir).flatMap((f) => readJsonlRows(f));
