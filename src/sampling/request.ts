// The sampling contract (CONTRACTS.md): what the rollout asks of any sampler — the local grouped sampler,
// a remote engine — as one request type and one function type. It lives at the sampling level so the
// engine layer and rl/ both import it from here (imports point one way: sampling → rl).
import type { Completion } from './options.js';

/** One prompt of a request: its token ids (what is sampled under, encoded once) and its text (logs, templates). */
export interface PromptIn {
  ids: number[];
  text: string;
  /** iGRPO: q' did not fit the context, so this is q (counted in the step metrics). */
  contextFallback?: boolean;
}

export interface SampleRequest {
  /** One prompt per group. */
  prompts: PromptIn[];
  /** Completions per prompt. */
  n: number;
  maxNewTokens: number;
  seed: number;
}

/**
 * Returns completions[prompt][j], j < n. Temperature, top-p/top-k and stops belong to the sampler
 * (bound when the function is made), not to the request.
 */
export type SampleFn = (req: SampleRequest) => Promise<Completion[][]>;
