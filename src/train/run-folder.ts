// A run folder on disk: run.json (the marker: this folder is a run, and the backend it was made on),
// config.json, the three JSONL logs, checkpoints/, summary.json and, while a training holds it, .lock
// (./run-lock.ts). Everything the trainer writes or reads back goes through these functions, so the rules
// of a run folder (what counts as an earlier run, what --overwrite may replace, what resume restores and
// truncates) live in one place.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Policy } from '../model/policy.js';
import type { AdamState } from '../optim/adam.js';
import { z } from 'zod';
import { loadPolicy } from '../model/load.js';
import { writeFileAtomic } from '../util/atomic.js';
import {
  listCheckpoints, readCheckpointState, readOptimizerState, removeIncomplete, saveCheckpoint, truncateLog, type CheckpointState,
} from './checkpoint.js';
import type { TrainConfig } from './config.js';
import type { EvalRecord, MetricsRecord, RolloutRecord } from './records.js';
import { assertUnlocked, LOCK_FILE, RunFolderError } from './run-lock.js';

export { RunFolderError } from './run-lock.js';

export const LOGS = ['metrics.jsonl', 'rollouts.jsonl', 'evals.jsonl'] as const;
export type LogName = (typeof LOGS)[number];

/** Marks a folder as a run written by this trainer (what --overwrite may replace) and records the resolved backend. */
export const RUN_MARKER = 'run.json';
const RunMarker = z.object({ kind: z.literal('igrpo-run'), version: z.number().int(), backend: z.string(), createdAt: z.string() });

/**
 * Everything a run writes into its folder (and report/, igrpo report's default output, which describes the
 * run and would be stale); --overwrite removes these and nothing else.
 */
export const RUN_FILES: readonly string[] = [RUN_MARKER, 'config.json', ...LOGS, 'summary.json', 'checkpoints', 'adapters', 'report', LOCK_FILE];

// steps may be raised on resume (continue a run further), the backend may change (with a warning), the
// engines may move (other hosts, key, patience: they do not change what is sampled) and gradient
// checkpointing may be switched (same gradients, other memory), and so may the evaluation's refinement probe
// (its own seeds: training samples the same); everything else must match. The legacy hash (backend included,
// by name) is still accepted.
export const configHash = (c: TrainConfig): string => sha({ ...c, steps: 0, backend: '', rollout: hashedRollout(c.rollout), optimizer: hashedOptimizer(c.optimizer), eval: hashedEval(c.eval) });
const legacyConfigHash = (c: TrainConfig): string => sha({ ...c, steps: 0, rollout: hashedRollout(c.rollout), optimizer: hashedOptimizer(c.optimizer), eval: hashedEval(c.eval) });

/** The evaluation settings without refinementProbe (left out: runs from before it keep their hash). */
function hashedEval(e: TrainConfig['eval']): unknown {
  const { refinementProbe: _, ...rest } = e;
  return rest;
}

/** The optimizer settings without gradientCheckpointing (left out: runs from before it keep their hash). */
function hashedOptimizer(o: TrainConfig['optimizer']): unknown {
  const { gradientCheckpointing: _, ...rest } = o;
  return rest;
}
const sha = (x: unknown) => crypto.createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 16);

/** undefined (left out by JSON.stringify) for local sampling: runs from before server mode keep their hash. */
function hashedRollout(r: TrainConfig['rollout']): unknown {
  if (!r.engine) return undefined;
  const { model, adapterPrefix, promptsPerRequest, tisCap } = r.engine;
  return { ...r, engine: { model, adapterPrefix, promptsPerRequest, tisCap } };
}

/** Server mode's adapter versions (adapters/step-N in PEFT format), read by the engines. */
export const adaptersDir = (out: string): string => path.join(path.resolve(out), 'adapters');

const holdsRun = (out: string): boolean =>
  listCheckpoints(out).length > 0 || LOGS.some((f) => fs.existsSync(path.join(out, f)) && fs.statSync(path.join(out, f)).size > 0);

/** A folder this trainer wrote: run.json, or (runs from before run.json) config.json beside metrics.jsonl. */
export function isRunFolder(out: string): boolean {
  try {
    return RunMarker.safeParse(JSON.parse(fs.readFileSync(path.join(out, RUN_MARKER), 'utf8'))).success;
  } catch {
    return fs.existsSync(path.join(out, 'config.json')) && fs.existsSync(path.join(out, 'metrics.jsonl'));
  }
}

/** The backend (tfjs name) the run was started on, from run.json. */
export function runBackend(out: string): string | undefined {
  try {
    return RunMarker.parse(JSON.parse(fs.readFileSync(path.join(out, RUN_MARKER), 'utf8'))).backend;
  } catch {
    return undefined;
  }
}

/**
 * Checks for a fresh run that change nothing on disk, so a run that cannot start fails before it loads
 * anything: a live lock, an earlier run (unless overwrite), and for overwrite a folder that is not a run
 * or holds files a run does not write (named).
 */
export function checkFresh(out: string, overwrite: boolean, lockedByUs = false): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new RunFolderError(`${out} exists and is not a folder`);
  if (!lockedByUs) assertUnlocked(out);
  if (!overwrite) {
    if (holdsRun(out)) throw new RunFolderError(`${out} already holds a run; resume it (--resume), replace it (--overwrite) or choose another folder`);
    return;
  }
  const entries = fs.readdirSync(out).filter((n) => !n.startsWith(`${LOCK_FILE}.stale-`));
  if (entries.length === 0) return;
  if (!isRunFolder(out)) {
    throw new RunFolderError(`--overwrite: ${out} holds no run (no ${RUN_MARKER}, nor config.json with metrics.jsonl); only a run folder is replaced. Choose another folder or empty it yourself`);
  }
  const foreign = entries.filter((n) => !RUN_FILES.includes(n));
  if (foreign.length) {
    throw new RunFolderError(`--overwrite: ${out} holds files a run does not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? `, … ${foreign.length} in all` : ''}); move them away or choose another folder`);
  }
}

/**
 * Start a fresh run in `out` (the caller holds its lock and has passed checkFresh): with overwrite, first
 * removes what an earlier run wrote (RUN_FILES, never anything else); writes empty logs, config.json, run.json.
 */
export function createRun(out: string, config: TrainConfig, opts: { overwrite?: boolean; backend: string }): void {
  checkFresh(out, !!opts.overwrite, true); // again, now under the lock
  if (opts.overwrite) for (const f of RUN_FILES) if (f !== LOCK_FILE) fs.rmSync(path.join(out, f), { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  removeIncomplete(out);
  startLogs(out, config);
  const marker: z.infer<typeof RunMarker> = { kind: 'igrpo-run', version: 1, backend: opts.backend, createdAt: new Date().toISOString() };
  writeFileAtomic(path.join(out, RUN_MARKER), JSON.stringify(marker, null, 2) + '\n');
}

/** Read-only checks before taking the lock to resume: the folder exists and no live process holds it. */
export function checkResumable(out: string): void {
  if (!fs.existsSync(out)) throw new RunFolderError(`--resume: ${out} does not exist; there is no run to resume (start one without --resume)`);
  if (!fs.statSync(out).isDirectory()) throw new RunFolderError(`--resume: ${out} is not a folder`);
  assertUnlocked(out);
}

function startLogs(out: string, config: TrainConfig): void {
  for (const f of LOGS) fs.writeFileSync(path.join(out, f), '');
  writeConfig(out, config);
}

function writeConfig(out: string, config: TrainConfig): void {
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

/** Config fields a resumed run may change: how long it runs, where, and how memory is spent (same gradients). */
const MAY_CHANGE_ON_RESUME = new Set(['steps', 'backend', 'optimizer.gradientCheckpointing', 'eval.refinementProbe']);

/** Dotted paths where two configs differ (MAY_CHANGE_ON_RESUME excluded). */
export function configDiff(before: unknown, now: unknown, prefix = ''): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(before) && isObj(now)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
    return keys.flatMap((k) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return MAY_CHANGE_ON_RESUME.has(p) ? [] : configDiff(before[k], now[k], p);
    });
  }
  return JSON.stringify(before) === JSON.stringify(now) ? [] : [prefix || '(root)'];
}

function describeDiff(before: unknown, now: unknown): string {
  const at = (x: unknown, p: string) => p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], x);
  return configDiff(before, now)
    .map((p) => `'${p}' (${JSON.stringify(at(before, p)) ?? 'absent'} in the run, ${JSON.stringify(at(now, p)) ?? 'absent'} now)`)
    .join(', ');
}

/** Refuse a config that differs from the checkpoint's in anything but steps and backend, naming the fields. */
function checkConfig(out: string, dir: string, state: CheckpointState, config: TrainConfig): void {
  let before: unknown = state.config;
  if (before === undefined) {
    // checkpoints from before state.json held the config: the hash decides, config.json names the fields
    if (state.configHash === configHash(config) || state.configHash === legacyConfigHash(config)) return;
    try {
      before = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    } catch {
      before = undefined;
    }
  }
  const diff = before === undefined ? '' : describeDiff(before, config);
  if (before !== undefined && !diff) return;
  throw new RunFolderError(`${dir}: the checkpoint was made with a different config${diff ? `: ${diff}` : ''} (only 'steps', 'backend', 'optimizer.gradientCheckpointing' and 'eval.refinementProbe' may change on resume)`);
}

export interface Restored {
  /** The checkpoint's policy (loaded here; the caller owns it). */
  policy: Policy;
  /** Updates done: the run continues with this step index. */
  step: number;
  optimizer: AdamState;
  /** evals.jsonl as it stood at the checkpoint. */
  evals: EvalRecord[];
  /** The checkpoint folder it came from (what else it holds: ./objective-state.ts). */
  dir: string;
}

/**
 * Resume the run in `out` (the caller holds its lock): removes what a run killed mid-checkpoint left, loads
 * the newest checkpoint that reads back whole (an unreadable one is set aside as step-N.corrupt, saying
 * so, and the previous one is used), checks the config, cuts the logs back to their length at that
 * checkpoint and rewrites config.json. No checkpoint at all: an error (resume means resume).
 */
export function resumeRun(out: string, config: TrainConfig, backend: string, warn: (msg: string) => void): Restored {
  removeIncomplete(out);
  const all = listCheckpoints(out);
  if (all.length === 0) throw new RunFolderError(`--resume: ${out} holds no complete checkpoint (checkpoints/step-N); nothing to resume. Start it afresh with --overwrite, or choose another folder`);
  const bad: string[] = [];
  for (const c of all.reverse()) {
    let state: CheckpointState;
    let policy: Policy | undefined;
    let optimizer: AdamState;
    try {
      state = readCheckpointState(c.dir);
      checkConfig(out, c.dir, state, config);
      policy = loadPolicy(path.join(c.dir, 'policy'));
      optimizer = readOptimizerState(c.dir, policy.parameters().length);
    } catch (e) {
      policy?.dispose();
      if (e instanceof RunFolderError) throw e; // a config mismatch is the user's to fix, not a damaged checkpoint
      const aside = `${c.dir}.corrupt`;
      fs.rmSync(aside, { recursive: true, force: true });
      fs.renameSync(c.dir, aside);
      bad.push(`${path.basename(c.dir)} (${(e as Error).message}; kept as ${path.basename(aside)})`);
      continue;
    }
    if (bad.length) warn(`igrpo: ${out}: unreadable checkpoint ${bad.join('; ')}: resuming from ${path.basename(c.dir)} instead, the logs cut back to step ${state.step}`);
    const was = state.backend ?? runBackend(out);
    if (was && was !== backend) {
      warn(`igrpo: ${out}: the run was made on the ${was} backend and resumes on ${backend}: results stay within float32 tolerance of an uninterrupted run but are no longer bit-identical`);
    }
    for (const f of LOGS) truncateLog(path.join(out, f), state.logBytes[f] ?? 0);
    const evals = fs.readFileSync(path.join(out, 'evals.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EvalRecord);
    writeConfig(out, config);
    return { policy, step: state.step, optimizer, evals, dir: c.dir };
  }
  throw new RunFolderError(`--resume: ${out}: no checkpoint reads back whole: ${bad.join('; ')}`);
}

/** Append records to the run's logs (each a JSONL line). */
export function appendLogs(out: string, logs: { rollouts?: readonly RolloutRecord[]; metrics?: readonly MetricsRecord[]; evals?: readonly EvalRecord[] }): void {
  const files: [LogName, readonly unknown[] | undefined][] = [['rollouts.jsonl', logs.rollouts], ['metrics.jsonl', logs.metrics], ['evals.jsonl', logs.evals]];
  for (const [f, records] of files) {
    if (records?.length) fs.appendFileSync(path.join(out, f), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
}

/** Checkpoint after `step` updates (policy, exact optimizer state, log lengths, config and its hash, backend); keeps the last `keep`. */
export function writeCheckpoint(
  out: string, step: number, policy: Policy, optimizer: AdamState, config: TrainConfig, backend: string, extra?: (dir: string) => Promise<void>,
): Promise<string> {
  const logBytes: Record<string, number> = {};
  for (const f of LOGS) logBytes[f] = fs.statSync(path.join(out, f)).size;
  return saveCheckpoint(out, step, { policy, optimizer, logBytes, configHash: configHash(config), config, backend, extra }, config.checkpoint.keep);
}

/** The last complete checkpoint, if any (named when training stops). */
export const lastCheckpoint = (out: string): { step: number; dir: string } | undefined => listCheckpoints(out).pop();

export const hasSummary = (out: string): boolean => fs.existsSync(path.join(out, 'summary.json'));

export function writeSummary(out: string, summary: unknown): void {
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}
