// What a trainer step carries between its stages (one field per stage, so a notebook can look at each),
// the trainer's options and its run summary.
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import type { Round } from '../rl/igrpo.js';
import type { Completion, Group, PromptIn, ScoreFn } from '../rl/rollout.js';
import type { UpdateResult } from '../rl/update.js';
import type { EvalDetail } from './evaluate.js';
import type { DynamicStats } from './step-rollout.js';
import type { EvalRecord, MetricsRecord } from './records.js';

export interface StepState {
  /** 0-based index of the update this step makes. */
  step: number;
  /** Seed of this step's sampling; every stage derives its own from it. */
  seed: number;
  lr: number;
  problems: Problem[];
  /** The questions q, encoded once. */
  questions?: PromptIn[];
  /** iGRPO stage 1: raw drafts per prompt, then scored. */
  drafts?: Completion[][];
  draftGroups?: Group[];
  /** d̂ index per prompt. */
  chosen?: number[];
  /**
   * Every round of the step in order, each round's groups (prompts, completions, scores) and d̂ per prompt:
   * iGRPO's drafts first, the refinements last (intermediate rounds between them with igrpo.rounds > 2);
   * GRPO's one group. With dynamic sampling, the kept prompts only.
   */
  rounds?: Round[];
  /** Prompts of the trained groups: q' for iGRPO (q where it fell back), q for GRPO. */
  prompts?: PromptIn[];
  samples?: Completion[][];
  groups?: Group[];
  /** Advantages of the trained groups (the last round's; every round's in order with igrpo.trainOn 'all'). */
  advantages?: number[][];
  /** Dynamic sampling (config.dynamicSampling): draws, groups drawn and dropped, batch filled. */
  dynamic?: DynamicStats;
  update?: UpdateResult;
  metrics?: MetricsRecord;
  eval?: EvalDetail;
  /** Wall time per stage, ms. */
  times: Record<string, number>;
  startedAt: number;
}

export class TrainingStoppedError extends Error {
  name = 'TrainingStoppedError';
}

export interface TrainerOptions {
  /** Run folder for logs and checkpoints; none = in memory only (a notebook's default). */
  out?: string;
  /** Continue from the newest readable checkpoint in `out`; a folder without one is an error (RunFolderError). */
  resume?: boolean;
  /** Replace the run in `out` (only a run folder, only the files a run writes), after everything has loaded. */
  overwrite?: boolean;
  /** Where warnings go (stale lock taken over, checkpoint fallback, backend change); default stderr. */
  warn?: (msg: string) => void;
  /** Use this policy instead of loading config.policy (tests, notebooks). Not used when resuming. */
  policy?: Policy;
  /** Swap the reward (default: the paper's accuracy + format). */
  score?: ScoreFn;
}

export interface RunSummary {
  algo: string;
  seed: number;
  steps: number;
  finalEval?: EvalRecord;
  evals: EvalRecord[];
  meanStepMs: number;
  /** Mean step wall time excluding evaluation and checkpoints. */
  stepMs: number[];
  out?: string;
}

/** Runs f, adding its wall time (sync or async) to s.times[stage]. */
export function timed<T>(s: { times: Record<string, number> }, stage: string, f: () => T): T {
  const t0 = performance.now();
  const add = () => void (s.times[stage] = (s.times[stage] ?? 0) + performance.now() - t0);
  const r = f();
  if (r instanceof Promise) return r.finally(add) as T;
  add();
  return r;
}

/** s[key], or an error saying which stage to call first. */
export function required<K extends keyof StepState>(s: StepState, key: K, stage: string, first: string): NonNullable<StepState[K]> {
  if (s[key] === undefined) throw new Error(`${stage}: call ${first} first`);
  return s[key] as NonNullable<StepState[K]>;
}
