// The problems a run trains and evaluates on: the synthetic task (generated from seeds), or a problem
// file the loaders read (JSONL/JSON/CSV/Parquet through an adapter) with a held-out file or a seeded split.
// Held-out problems never share text with training ones (checked, as for the synthetic task).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { benchmarksDir, BENCHMARKS, loadProblems, type AdapterName } from '../data/index.js';
import type { Problem } from '../data/schema.js';
import { splitBySeed } from '../data/split.js';
import { evalProblems, trainProblems, type TaskConfig } from './task.js';

export interface TaskProblems {
  train: Problem[];
  heldOut: Problem[];
  /** Where they came from, for logs: 'synthetic arithmetic' or the file(s). */
  source: string;
}

/** A `file` value: a path, or 'benchmark:NAME' in the shared benchmarks folder (with that benchmark's adapter). */
export function resolveDataFile(spec: string, adapter: AdapterName): { file: string; adapter: AdapterName } {
  if (!spec.startsWith('benchmark:')) return { file: path.resolve(spec), adapter };
  const name = spec.slice('benchmark:'.length);
  const file = path.join(benchmarksDir(), `${name}.jsonl`);
  if (!fs.existsSync(file)) {
    const where = fs.existsSync(benchmarksDir()) ? `${benchmarksDir()} has no ${name}.jsonl` : `the benchmarks folder ${benchmarksDir()} does not exist`;
    throw new Error(`${spec}: ${where} (benchmark:NAME reads NAME.jsonl from $IGRPO_BENCHMARKS, else ../shared/data/benchmarks beside the package; names: ${Object.keys(BENCHMARKS).join(', ')})`);
  }
  return { file, adapter: adapter === 'auto' ? (BENCHMARKS[name] ?? 'auto') : adapter };
}

async function load(spec: string, cfg: TaskConfig): Promise<Problem[]> {
  const { file, adapter } = resolveDataFile(spec, cfg.adapter);
  const { problems } = await loadProblems(file, { adapter });
  if (problems.length === 0) throw new Error(`data.file ${spec}: no problems in ${file}`);
  return problems;
}

/** Train and held-out problems for `cfg` (heldOut capped at evalSize, train at trainSize). */
export async function taskProblems(cfg: TaskConfig): Promise<TaskProblems> {
  if (!cfg.file) return { train: trainProblems(cfg), heldOut: evalProblems(cfg), source: `synthetic ${cfg.task}` };
  const all = await load(cfg.file, cfg);
  let train: Problem[];
  let heldOut: Problem[];
  if (cfg.heldOutFile) {
    train = all;
    const seen = new Set(train.map((p) => p.problem));
    heldOut = (await load(cfg.heldOutFile, cfg)).filter((p) => !seen.has(p.problem));
  } else {
    const split = splitBySeed(all, { heldOut: cfg.heldOutFraction, train: 1 - cfg.heldOutFraction }, cfg.splitSeed);
    const seen = new Set(split.train.map((p) => p.problem));
    [train, heldOut] = [split.train, split.heldOut.filter((p) => !seen.has(p.problem))];
  }
  if (train.length === 0) throw new Error(`data.file ${cfg.file}: the split leaves no training problems`);
  if (heldOut.length === 0) throw new Error(`data: no held-out problems (${cfg.heldOutFile ?? `heldOutFraction ${cfg.heldOutFraction} of ${cfg.file}`})`);
  return { train: train.slice(0, cfg.trainSize), heldOut: heldOut.slice(0, cfg.evalSize), source: cfg.heldOutFile ? `${cfg.file} (held out: ${cfg.heldOutFile})` : cfg.file };
}
