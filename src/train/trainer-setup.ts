// What a Trainer is made of, and how it is opened: the policy and KL reference, the data, the reward, the
// prompt format, the optimizer, the engines (server mode) and the run folder (fresh, overwritten or resumed).
// Kept apart from trainer.ts so that file shows only the step.
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import * as rl from '../rl/igrpo.js';
import { objectiveWarnings } from '../rl/loss.js';
import type { ScoreFn } from '../rl/rollout.js';
import { warnOnce } from '../util/warn.js';
import { makeScoreFn, type WeightedReward } from '../verify/rewards.js';
import { buildRewards } from '../verify/registry.js';
import type { TrainConfig } from './config.js';
import { ObjectiveState } from './objective-state.js';
import { taskProblems, type TaskProblems } from './data-source.js';
import { EngineSync, loraPolicy } from './engine-sync.js';
import { promptRenderer, trainPolicies } from './policy-setup.js';
import { makePromptOf } from './prompt.js';
import * as runFolder from './run-folder.js';
import { acquireRunLock, RunFolderError } from './run-lock.js';
import type { TrainerOptions } from './step-state.js';

/** Everything a Trainer works with besides its step counter. */
export interface TrainerContext {
  config: TrainConfig;
  policy: Policy;
  /** The KL reference (objective.beta > 0 only). */
  reference?: Policy;
  /** The run folder; undefined = in memory only. */
  out?: string;
  /** Training problems and held-out problems. */
  pool: Problem[];
  heldOut: Problem[];
  /** The config's reward list (training and evaluation) and the score function built from it (or given). */
  rewards: WeightedReward[];
  score: ScoreFn;
  /** q = format(problem), per the config's prompt block. */
  promptOf: (p: Problem) => string;
  /** Chat rendering of q and q' (prompt.format 'chat'); undefined = plain text. */
  render?: rl.PromptRenderer;
  optimizer: Adam;
  /** Server mode (config.rollout.engine): the adapter versions on the engines and the remote sampler. */
  engine?: EngineSync;
  /** The tfjs backend the trainer runs on (recorded in run.json and each checkpoint). */
  backend: string;
  /** Releases the run folder's lock. */
  release: () => void;
  /** The adaptive entropy coefficient and the synced reference: state across steps, checkpointed (./objective-state.ts). */
  objective: ObjectiveState;
}

/** What a resumed run continues from. */
export type Resumed = Pick<runFolder.Restored, 'optimizer' | 'step' | 'evals' | 'dir'>;

/** A context from loaded parts; throws (naming the field) on a config the policy cannot serve. */
export function buildContext(
  config: TrainConfig, policy: Policy, reference: Policy | undefined, out: string | undefined, problems: TaskProblems, score: ScoreFn | undefined, backend: string,
): TrainerContext {
  const rewards = buildRewards(config.rewards);
  const promptOf = makePromptOf(config.prompt);
  let engine: EngineSync | undefined;
  if (config.rollout.engine) {
    if (!out) throw new Error('rollout.engine (server mode) needs a run folder (out): adapter versions are written to out/adapters for the engines to load');
    engine = new EngineSync(config.rollout.engine, config.sampling, runFolder.adaptersDir(out), loraPolicy(policy), (line) => console.error(line));
  }
  const render = promptRenderer(config, policy);
  for (const w of objectiveWarnings(config.objective)) warnOnce(w);
  // a template the tokenizer cannot encode fails here, naming the template, not mid-step in the tokenizer
  // (chat prompts build q' through the chat template instead)
  if (config.algo === 'igrpo' && !render && problems.train.length) rl.checkTemplate(promptOf(problems.train[0]), config.igrpo, (t) => policy.tokenizer.encode(t));
  const o = config.optimizer;
  const optimizer = new Adam(policy.parameters(), { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.type === 'adamw' ? o.weightDecay : 0 });
  return {
    config, policy, reference, out, pool: problems.train, heldOut: problems.heldOut, rewards, score: score ?? makeScoreFn(rewards), promptOf, render, optimizer, engine, backend,
    release: () => {},
    objective: new ObjectiveState(config, policy, reference),
  };
}

/**
 * Opens a trainer's context for this config. With `out`: a fresh run loads everything it needs (policy,
 * reference, data) before it takes the folder's lock and writes anything there (with overwrite, only then
 * replacing an earlier run); a resumed run takes the lock and continues from the newest readable checkpoint.
 */
export async function openContext(config: TrainConfig, opts: TrainerOptions, backend: string): Promise<{ ctx: TrainerContext; resumed?: Resumed }> {
  const { out } = opts;
  const warn = opts.warn ?? ((m: string) => console.error(m));
  if (out && opts.resume) {
    if (opts.overwrite) throw new RunFolderError('resume and overwrite contradict each other');
    runFolder.checkResumable(out);
    const release = acquireRunLock(out, warn);
    try {
      const problems = await taskProblems({ ...config.data, evalSize: config.eval.size });
      const resumed = runFolder.resumeRun(out, config, backend, warn);
      // LoRA (the checkpoint's adapter/) or full fine-tuning, and the KL reference: ./policy-setup.ts
      const { policy, reference } = trainPolicies(config, { resumed: resumed.policy });
      const ctx = buildContext(config, policy, reference, out, problems, opts.score, backend);
      ctx.reference = ctx.objective.restore(resumed.dir);
      return { ctx: { ...ctx, release }, resumed };
    } catch (e) {
      release();
      throw e;
    }
  }
  if (out) runFolder.checkFresh(out, !!opts.overwrite);
  const problems = await taskProblems({ ...config.data, evalSize: config.eval.size });
  // LoRA or full fine-tuning, and the KL reference (adapters off, or a frozen clone): ./policy-setup.ts
  const { policy, reference } = trainPolicies(config, { given: opts.policy });
  const ctx = buildContext(config, policy, reference, out, problems, opts.score, backend);
  if (!out) return { ctx };
  try {
    ctx.release = acquireRunLock(out, warn);
    runFolder.createRun(out, config, { overwrite: opts.overwrite, backend });
  } catch (e) {
    ctx.release();
    ctx.optimizer.dispose();
    reference?.dispose();
    if (!opts.policy) policy.dispose();
    throw e;
  }
  return { ctx };
}
