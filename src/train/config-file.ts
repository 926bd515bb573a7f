// A config file read from disk (Node); the schema and its validation are ./config.ts (the browser page uses those).
import * as fs from 'node:fs';
import { deepMerge } from '../util/merge.js';
import { ConfigError, parseTrainConfig, type TrainConfig } from './config.js';

/** A config file's JSON object, unvalidated; a file that does not read or parse, or holds no object, is a ConfigError naming it. */
export function readConfigObject(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`invalid config ${file}: expected a JSON object`);
  return raw as Record<string, unknown>;
}

/** Read and validate a JSON config file; overrides merge over it field by field. */
export function readTrainConfig(file: string, overrides: Record<string, unknown> = {}): TrainConfig {
  return parseTrainConfig(deepMerge(readConfigObject(file), overrides), file);
}
