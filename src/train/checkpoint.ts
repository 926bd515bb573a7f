// Training checkpoints: DIR/checkpoints/step-00000N/ holding the policy (policy/), the optimizer state
// (optimizer.safetensors) and state.json (step, log lengths). A checkpoint is built in a temporary
// sibling folder and renamed into place, so a folder named step-N is always complete; a run killed
// mid-checkpoint leaves only a temporary folder, which resume ignores (and removes).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../model/safetensors.js';
import type { Policy } from '../model/policy.js';
import type { AdamState } from '../optim/adam.js';
import { writeFileAtomic } from '../util/atomic.js';

export const CheckpointState = z.object({
  /** Optimizer updates done: the run continues with step index `step`. */
  step: z.number().int().nonnegative(),
  /** Byte lengths of the run logs when the checkpoint was taken (resume truncates to them). */
  logBytes: z.record(z.number().int().nonnegative()),
  /** Fingerprint of the training config (resume refuses a different one). */
  configHash: z.string(),
  /** The training config itself (resume names the fields that differ); absent in older checkpoints. */
  config: z.record(z.unknown()).optional(),
  /** The tfjs backend that wrote it (resume on another one warns: no longer bit-identical); absent in older checkpoints. */
  backend: z.string().optional(),
  savedAt: z.string(),
});
export type CheckpointState = z.infer<typeof CheckpointState>;

const DIR_RE = /^step-(\d+)$/;
export const checkpointsDir = (runDir: string) => path.join(runDir, 'checkpoints');
export const checkpointDir = (runDir: string, step: number) => path.join(checkpointsDir(runDir), `step-${String(step).padStart(6, '0')}`);

function optimizerTensors(state: AdamState): [string, NamedTensor][] {
  const out: [string, NamedTensor][] = [];
  state.m.forEach((m, i) => out.push([`m.${i}`, { data: m, shape: [m.length] }]));
  state.v.forEach((v, i) => out.push([`v.${i}`, { data: v, shape: [v.length] }]));
  return out;
}

export async function saveCheckpoint(
  runDir: string,
  step: number,
  parts: {
    policy: Policy; optimizer: AdamState; logBytes: Record<string, number>; configHash: string; config?: object; backend?: string;
    /** Writes more of the run's state into the folder being built (./objective-state.ts), before it is renamed into place. */
    extra?: (dir: string) => Promise<void>;
  },
  keep: number,
): Promise<string> {
  const final = checkpointDir(runDir, step);
  const tmp = path.join(checkpointsDir(runDir), `.tmp-step-${step}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await parts.policy.save(path.join(tmp, 'policy'));
  writeFileAtomic(path.join(tmp, 'optimizer.safetensors'), encodeSafetensors(optimizerTensors(parts.optimizer), { step: String(parts.optimizer.step) }));
  await parts.extra?.(tmp);
  const state: CheckpointState = {
    step, logBytes: parts.logBytes, configHash: parts.configHash, config: parts.config as Record<string, unknown> | undefined, backend: parts.backend, savedAt: new Date().toISOString(),
  };
  writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  pruneCheckpoints(runDir, keep);
  return final;
}

/** Complete checkpoints, oldest first. */
export function listCheckpoints(runDir: string): { step: number; dir: string }[] {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((name) => ({ m: DIR_RE.exec(name), name }))
    .filter((x) => x.m && fs.existsSync(path.join(root, x.name, 'state.json')))
    .map((x) => ({ step: Number(x.m![1]), dir: path.join(root, x.name) }))
    .sort((a, b) => a.step - b.step);
}

function pruneCheckpoints(runDir: string, keep: number): void {
  const all = listCheckpoints(runDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(c.dir, { recursive: true, force: true });
}

/** Remove temporary folders left by a run killed mid-checkpoint. */
export function removeIncomplete(runDir: string): void {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root)) if (name.startsWith('.tmp-')) fs.rmSync(path.join(root, name), { recursive: true, force: true });
}

export function readCheckpointState(dir: string): CheckpointState {
  const file = path.join(dir, 'state.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const r = CheckpointState.safeParse(raw);
  if (!r.success) throw new Error(`${file}: field '${r.error.issues[0].path.join('.')}': ${r.error.issues[0].message}`);
  return r.data;
}

export function readOptimizerState(dir: string, numParams: number): AdamState {
  const file = path.join(dir, 'optimizer.safetensors');
  const tensors = decodeSafetensors(fs.readFileSync(file), file);
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: missing tensor '${name}'`);
    return t.data;
  };
  const stepText = readSafetensorsMetadata(fs.readFileSync(file)).step;
  const step = Number(stepText);
  if (!Number.isInteger(step)) throw new Error(`${file}: metadata 'step' is missing or not an integer`);
  return {
    step,
    m: Array.from({ length: numParams }, (_, i) => get(`m.${i}`)),
    v: Array.from({ length: numParams }, (_, i) => get(`v.${i}`)),
  };
}

function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as { __metadata__?: Record<string, string> };
  return header.__metadata__ ?? {};
}

/** Cut a log file back to `bytes` (the length it had at the checkpoint); a missing file is created empty. */
export function truncateLog(file: string, bytes: number): void {
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, '');
    return;
  }
  if (fs.statSync(file).size < bytes) throw new Error(`${file} is shorter than at its checkpoint (${bytes} bytes): the log was damaged`);
  fs.truncateSync(file, bytes);
}
