// Rollout logs written as Parquet (one column per record field; the reward breakdown as a JSON column), so
// they open in pandas/polars/DuckDB and round-trip through loadRollouts.
import * as fs from 'node:fs';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { RolloutRecord } from '../train/records.js';

export function rolloutsToParquet(records: RolloutRecord[]): ArrayBuffer {
  const col = <K extends keyof RolloutRecord>(k: K) => records.map((r) => r[k]);
  return parquetWriteBuffer({
    columnData: [
      { name: 'step', data: col('step'), type: 'INT32' },
      { name: 'algo', data: col('algo'), type: 'STRING' },
      { name: 'seed', data: col('seed'), type: 'INT32' },
      { name: 'promptId', data: col('promptId'), type: 'STRING' },
      { name: 'stage', data: col('stage'), type: 'STRING' },
      { name: 'group', data: col('group'), type: 'INT32' },
      { name: 'index', data: col('index'), type: 'INT32' },
      { name: 'prompt', data: col('prompt'), type: 'STRING' },
      { name: 'text', data: col('text'), type: 'STRING' },
      { name: 'tokens', data: col('tokens'), type: 'INT32' },
      { name: 'finishReason', data: col('finishReason'), type: 'STRING' },
      { name: 'reward', data: col('reward'), type: 'DOUBLE' },
      { name: 'rewards', data: col('rewards'), type: 'JSON' },
      { name: 'correct', data: col('correct'), type: 'BOOLEAN' },
      { name: 'advantage', data: col('advantage'), type: 'DOUBLE' },
      { name: 'chosen', data: records.map((r) => r.chosen ?? null), type: 'BOOLEAN' },
      { name: 'answer', data: records.map((r) => r.answer ?? null), type: 'STRING' },
      { name: 'gold', data: records.map((r) => r.gold ?? null), type: 'STRING' },
      // null and absent mean the same here (not a refinement, or not counted): both read back as absent
      { name: 'copy', data: records.map((r) => r.copy ?? null), type: 'BOOLEAN' },
      { name: 'overlapWithDraft', data: records.map((r) => r.overlapWithDraft ?? null), type: 'DOUBLE' },
    ],
  });
}

export function writeRolloutsParquet(records: RolloutRecord[], file: string): void {
  fs.writeFileSync(file, Buffer.from(rolloutsToParquet(records)));
}
