// The sampling contract the rollout codes against (CONTRACTS.md): refactor-core defines the same shapes in
// src/rl/rollout.ts. They are restated here, structurally identical, so the engine layer never imports
// rl/ (imports point one way) and a SampleFn made here is an rl SampleFn once that branch lands.
import type { Completion } from '../sampling/options.js';

export type { Completion };

/** One prompt of a request: its token ids (what is sampled under, encoded once) and its text (logs, templates). */
export interface PromptIn {
  ids: number[];
  text: string;
}

export interface SampleRequest {
  prompts: PromptIn[];
  n: number;
  maxNewTokens: number;
  seed: number;
}

/** completions[prompt][j], j < n */
export type SampleFn = (req: SampleRequest) => Promise<Completion[][]>;

/** What a long batch reports as it goes (done/total count prompts); a ProgressBar's update fits it. */
export interface EngineProgress {
  done: number;
  total: number;
  /** Completions received so far. */
  completions: number;
  /** Requests that had to be retried so far. */
  retries: number;
}
export type ProgressFn = (p: EngineProgress) => void;
