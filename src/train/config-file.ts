// A config file read from disk (Node); the schema and its validation are ./config.ts (the browser page uses those).
import * as fs from 'node:fs';
import { deepMerge } from '../util/merge.js';
import { ConfigError, parseTrainConfig, type TrainConfig } from './config.js';

/** Read and validate a JSON config file; overrides merge over it field by field. */
export function readTrainConfig(file: string, overrides: Record<string, unknown> = {}): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`invalid config ${file}: expected a JSON object`);
  return parseTrainConfig(deepMerge(raw, overrides), file);
}
