// The page's training config from its controls, built the same way in the browser and in Node (test/site.test.ts
// runs the page's step in Node with this config and compares): one place, so the two cannot drift apart.
import { parseTrainConfig, type TrainConfig } from '../src/train/config.js';

export interface PageControls {
  /** Drafts N and refinements G; GRPO's group is N + G (matched budget). */
  drafts: number;
  refinements: number;
  template: string;
  temperature: number;
  seed: number;
  /** Training steps for the GRPO-vs-iGRPO comparison. */
  steps: number;
  /** Prompts per step (the walkthrough step: 1). */
  prompts: number;
  lr: number;
  maxNewTokens: number;
}

export const DEFAULT_CONTROLS: PageControls = { drafts: 4, refinements: 4, template: 'plain', temperature: 0.7, seed: 0, steps: 24, prompts: 2, lr: 1e-4, maxNewTokens: 32 };

/** The training config of one algorithm for these controls (the shipped policy's task, pool of 256 problems). */
export function pageConfig(c: PageControls, algo: 'grpo' | 'igrpo'): TrainConfig {
  return parseTrainConfig(
    {
      algo,
      seed: c.seed,
      steps: c.steps,
      promptsPerStep: c.prompts,
      completionsPerPrompt: c.drafts + c.refinements,
      igrpo: { drafts: c.drafts, refinements: c.refinements, template: c.template },
      sampling: { temperature: c.temperature, maxNewTokens: c.maxNewTokens },
      optimizer: { lr: c.lr },
      data: { trainSize: 256 },
      eval: { every: 0, atStart: false, size: 8, k: 1 },
      checkpoint: { every: 0 },
      logRollouts: false,
    },
    'page controls',
  );
}

/** Controls from the page's URL (?seed=S&drafts=…), over the defaults; unknown or bad values are errors naming them. */
export function controlsFromQuery(q: URLSearchParams): PageControls {
  const c: PageControls = { ...DEFAULT_CONTROLS };
  for (const key of Object.keys(c) as (keyof PageControls)[]) {
    const v = q.get(key);
    if (v === null) continue;
    if (key === 'template') c.template = v;
    else {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`URL parameter ${key}=${v}: not a number`);
      (c[key] as number) = n;
    }
  }
  return c;
}
