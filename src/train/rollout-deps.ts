// What the rl rollout functions need for one step (src/rl/igrpo.ts RolloutDeps), with sampling and scoring time
// added to `times`: one stage name per sampling call (igrpoRollout samples drafts, then refinements; the last name
// serves any further call), scoring under 'score'. The Trainer and the browser walkthrough both build them here.
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import type * as rl from '../rl/igrpo.js';
import { plainPrompt } from '../rl/prompt-format.js';
import type { SampleFn, ScoreFn } from '../rl/rollout.js';
import { timed } from './step-state.js';

export interface RolloutParts {
  sample: SampleFn;
  score: ScoreFn;
  /** q = format(problem). */
  promptOf: (p: Problem) => string;
  /** Chat rendering of q and q'; undefined = plain text. */
  render?: rl.PromptRenderer;
  /** Its tokenizer encodes plain prompts; its context bounds q'. */
  policy: Policy;
  maxNewTokens: number;
  seed: number;
}

export function timedRolloutDeps(times: Record<string, number>, stages: readonly string[], p: RolloutParts): rl.RolloutDeps {
  const s = { times };
  let calls = 0;
  const tok = p.policy.tokenizer;
  return {
    sample: (req) => timed(s, stages[Math.min(calls++, stages.length - 1)], () => p.sample(req)),
    score: (problem, c) => timed(s, 'score', () => p.score(problem, c)),
    promptOf: p.promptOf, encode: (text) => plainPrompt(tok, text).ids, render: p.render,
    contextLength: p.policy.maxSeqLen, maxNewTokens: p.maxNewTokens, seed: p.seed,
  };
}
