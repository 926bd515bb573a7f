// Run logs as danfo DataFrames, flat (nested fields become dotted columns: rewards.accuracy, wallMs.total), so
// the notebook can groupby / query / describe them as in pandas.
import * as dfd from 'danfojs-node';
import type { MetricsRecord, RolloutRecord } from '../train/records.js';
import { uniformRows } from './flat.js';
import type { StageRow } from './stats.js';



function frame(records: Record<string, unknown>[]): dfd.DataFrame {
  if (records.length === 0) throw new Error('no records to make a DataFrame from');
  return new dfd.DataFrame(uniformRows(records));
}

/**
 * One row per completion. The record's `index` (completion index in its group) becomes the column `completion`:
 * danfo treats a column named "index" as its row index and then breaks on loc/drop. `correct` is 0/1 so it
 * averages to an accuracy.
 */
export function rolloutsFrame(rollouts: RolloutRecord[]): dfd.DataFrame {
  return frame(rollouts.map(({ index, ...r }) => ({ ...r, completion: index, correct: r.correct ? 1 : 0 })));
}

export function metricsFrame(metrics: MetricsRecord[]): dfd.DataFrame {
  return frame(metrics as unknown as Record<string, unknown>[]);
}

export function stageSummaryFrame(rows: StageRow[]): dfd.DataFrame {
  return frame(rows as unknown as Record<string, unknown>[]);
}
