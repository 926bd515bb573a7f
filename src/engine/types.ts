// Engine-side types. The sampling contract itself (PromptIn, SampleRequest, SampleFn) lives in
// src/sampling/request.ts and Completion in src/sampling/options.ts; re-exported here for engine users.
export type { Completion } from '../sampling/options.js';
export type { PromptIn, SampleFn, SampleRequest } from '../sampling/request.js';

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
