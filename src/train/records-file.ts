// The run folder's logs read from disk (Node): each file's text validated by ./records.ts's parseJsonl, which
// the browser page and viewer call on text they already hold.
import * as fs from 'node:fs';
import type { z } from 'zod';
import { EvalRecord, MetricsRecord, parseJsonl, RolloutRecord } from './records.js';

/** Read a JSONL file, validating each non-empty line; errors name file, line and field. */
export const readJsonl = <T>(file: string, schema: z.ZodType<T>): T[] => parseJsonl(fs.readFileSync(file, 'utf8'), file, schema);

export const readEvals = (file: string): EvalRecord[] => readJsonl(file, EvalRecord);
export const readRollouts = (file: string): RolloutRecord[] => readJsonl(file, RolloutRecord);
export const readMetrics = (file: string): MetricsRecord[] => readJsonl(file, MetricsRecord);
