// The options of one policyUpdate from a run's config: the one place that maps config fields onto the update,
// so the Trainer and the browser walkthrough (./walkthrough.ts) update alike.
import type { Policy } from '../model/policy.js';
import type { EntropyControl, UpdateOptions } from '../rl/update.js';
import type { TrainConfig } from './config.js';

export function updateOptionsOf(config: TrainConfig, lr: number, state: { reference?: Policy; entropyControl?: EntropyControl } = {}): UpdateOptions {
  const o = config.optimizer;
  return {
    objective: config.objective, temperature: config.sampling.temperature, microBatchSize: o.microBatchSize, numIterations: o.numIterations,
    maxGradNorm: o.maxGradNorm, maxCompletionLength: config.sampling.maxNewTokens, lr, reference: state.reference, zeroAdvantage: o.zeroAdvantage,
    tisCap: config.rollout.engine?.tisCap, entropyControl: state.entropyControl,
  };
}
