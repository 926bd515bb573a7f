// A run folder on disk: config.json, the three JSONL logs, checkpoints/ and summary.json. Everything the
// trainer writes or reads back goes through these functions, so the rules of a run folder (what counts as
// an earlier run, what resume restores and truncates) live in one place.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Policy } from '../model/policy.js';
import type { AdamState } from '../optim/adam.js';
import {
  listCheckpoints, readCheckpointState, readOptimizerState, removeIncomplete, saveCheckpoint, truncateLog,
} from './checkpoint.js';
import type { TrainConfig } from './config.js';
import type { EvalRecord, MetricsRecord, RolloutRecord } from './records.js';

export const LOGS = ['metrics.jsonl', 'rollouts.jsonl', 'evals.jsonl'] as const;
export type LogName = (typeof LOGS)[number];

export const configHash = (c: TrainConfig): string =>
  // steps may be raised on resume (continue a run further); everything else must match
  crypto.createHash('sha256').update(JSON.stringify({ ...c, steps: 0 })).digest('hex').slice(0, 16);

const holdsRun = (out: string): boolean =>
  listCheckpoints(out).length > 0 || LOGS.some((f) => fs.existsSync(path.join(out, f)) && fs.statSync(path.join(out, f)).size > 0);

/** Start a fresh run in `out`: refuses a folder that already holds a run; writes empty logs and config.json. */
export function createRun(out: string, config: TrainConfig): void {
  fs.mkdirSync(out, { recursive: true });
  removeIncomplete(out);
  if (holdsRun(out)) throw new Error(`${out} already holds a run; resume it (--resume) or choose another folder`);
  startLogs(out, config);
}

/**
 * The checkpoint a resumed run continues from (the last complete one), after removing what a run killed
 * mid-checkpoint left. None: the folder is started afresh (empty logs, config.json).
 */
export function openForResume(out: string, config: TrainConfig): { step: number; dir: string } | undefined {
  fs.mkdirSync(out, { recursive: true });
  removeIncomplete(out);
  const last = listCheckpoints(out).pop();
  if (!last) startLogs(out, config);
  return last;
}

function startLogs(out: string, config: TrainConfig): void {
  for (const f of LOGS) fs.writeFileSync(path.join(out, f), '');
  writeConfig(out, config);
}

function writeConfig(out: string, config: TrainConfig): void {
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

export interface Restored {
  /** Updates done: the run continues with this step index. */
  step: number;
  optimizer: AdamState;
  /** evals.jsonl as it stood at the checkpoint. */
  evals: EvalRecord[];
}

/** Read a checkpoint back: checks the config matches, cuts the logs back to their length at the checkpoint, rewrites config.json (steps may have changed). */
export function restoreCheckpoint(out: string, dir: string, config: TrainConfig, numParams: number): Restored {
  const state = readCheckpointState(dir);
  if (state.configHash !== configHash(config)) {
    throw new Error(`${dir}: the checkpoint was made with a different config (only 'steps' may change on resume)`);
  }
  const optimizer = readOptimizerState(dir, numParams);
  for (const f of LOGS) truncateLog(path.join(out, f), state.logBytes[f] ?? 0);
  const evals = fs.readFileSync(path.join(out, 'evals.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EvalRecord);
  writeConfig(out, config);
  return { step: state.step, optimizer, evals };
}

/** Append records to the run's logs (each a JSONL line). */
export function appendLogs(out: string, logs: { rollouts?: readonly RolloutRecord[]; metrics?: readonly MetricsRecord[]; evals?: readonly EvalRecord[] }): void {
  const files: [LogName, readonly unknown[] | undefined][] = [['rollouts.jsonl', logs.rollouts], ['metrics.jsonl', logs.metrics], ['evals.jsonl', logs.evals]];
  for (const [f, records] of files) {
    if (records?.length) fs.appendFileSync(path.join(out, f), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
}

/** Checkpoint after `step` updates (policy, exact optimizer state, log lengths, config hash); keeps the last `keep`. */
export function writeCheckpoint(out: string, step: number, policy: Policy, optimizer: AdamState, config: TrainConfig): Promise<string> {
  const logBytes: Record<string, number> = {};
  for (const f of LOGS) logBytes[f] = fs.statSync(path.join(out, f)).size;
  return saveCheckpoint(out, step, { policy, optimizer, logBytes, configHash: configHash(config) }, config.checkpoint.keep);
}

/** The last complete checkpoint, if any (named when training stops). */
export const lastCheckpoint = (out: string): { step: number; dir: string } | undefined => listCheckpoints(out).pop();

export function writeSummary(out: string, summary: unknown): void {
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}
