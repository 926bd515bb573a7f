// A tiny, fast set-up for tests and quick notebook demos: a seeded random GPT over the synthetic alphabet
// and a config with a few prompts and short completions. A random policy never earns the paper's reward,
// so `lengthScore` gives a dense stand-in reward that makes advantages (and updates) non-zero.
import type { Problem } from '../data/schema.js';
import { GPT } from '../model/gpt.js';
import type { Score, ScoreFn } from '../rl/rollout.js';
import { deepMerge } from '../util/merge.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { syntheticTokenizer } from './task.js';

export function tinyPolicy(seed = 1, dModel = 16): GPT {
  const tok = syntheticTokenizer();
  return new GPT({ vocabSize: tok.vocabSize, dModel, nLayers: 1, nHeads: 2, maxSeqLen: 80, seed }, tok);
}

/** A config of a few prompts, 2 + 2 completions, short completions; deep-merged over by `over`. */
export function tinyConfig(over: TrainConfigInput = {}): TrainConfig {
  const base: TrainConfigInput = {
    steps: 3,
    backend: 'cpu',
    promptsPerStep: 2,
    completionsPerPrompt: 4,
    igrpo: { drafts: 2, refinements: 2, template: 'plain', maxDraftTokens: 12 },
    data: { trainSize: 32, evalSize: 4 },
    sampling: { maxNewTokens: 12 },
    eval: { every: 0, size: 4, k: 1, atStart: false },
    checkpoint: { every: 0, keep: 2 },
    optimizer: { lr: 1e-2, microBatchSize: 3 },
  };
  return parseTrainConfig(deepMerge(base, over), 'tiny config');
}

/** Dense stand-in reward: the share of digits in the completion (correct when it equals the gold answer). */
export const lengthScore: ScoreFn = (problem: Problem, c): Score => {
  const digits = (c.text.match(/[0-9]/g) ?? []).length;
  const reward = c.text.length ? digits / c.text.length : 0;
  return { reward, rewards: { digits: reward }, correct: c.text.includes(`<answer>${problem.answer}</answer>`), answer: null };
};
