// Run logs as danfo DataFrames, flat (nested fields become dotted columns: rewards.accuracy, wallMs.total), so
// the notebook can groupby / query / describe them as in pandas.
import * as dfd from 'danfojs-node';
import type { MetricsRecord, RolloutRecord } from '../train/records.js';
import type { StageRow } from './stats.js';

type Flat = Record<string, string | number | boolean | null>;

/** Nested objects flattened to dotted keys; undefined becomes null so every row has the same columns. */
export function flatten(obj: Record<string, unknown>, prefix = '', out: Flat = {}): Flat {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out[key] = v === undefined ? null : (v as Flat[string]);
  }
  return out;
}

/** Rows with the union of all columns (danfo needs one shape), missing cells null. */
export function uniformRows(records: Record<string, unknown>[]): Flat[] {
  const flat = records.map((r) => flatten(r));
  const columns = [...new Set(flat.flatMap((r) => Object.keys(r)))];
  return flat.map((r) => Object.fromEntries(columns.map((c) => [c, c in r ? r[c] : null])));
}

function frame(records: Record<string, unknown>[]): dfd.DataFrame {
  if (records.length === 0) throw new Error('no records to make a DataFrame from');
  return new dfd.DataFrame(uniformRows(records));
}

export function rolloutsFrame(rollouts: RolloutRecord[]): dfd.DataFrame {
  // Long texts make the frame heavy to print; keep them, callers drop columns they do not want to show.
  return frame(rollouts.map((r) => ({ ...r, correct: r.correct ? 1 : 0 })));
}

export function metricsFrame(metrics: MetricsRecord[]): dfd.DataFrame {
  return frame(metrics as unknown as Record<string, unknown>[]);
}

export function stageSummaryFrame(rows: StageRow[]): dfd.DataFrame {
  return frame(rows as unknown as Record<string, unknown>[]);
}
