// The trainer: a step API a notebook can drive one stage per cell, and `run` looping over it.
//
//   const t = await Trainer.create(config, { out: 'runs/a' });
//   const s = t.begin();                 // the step's prompts
//   await t.sampleDrafts(s);             // iGRPO stage 1: N drafts per prompt (no gradient)
//   t.scoreDrafts(s);                    // rewards of the drafts
//   t.selectDrafts(s);                   // d̂ = argmax reward
//   await t.refineRound(s);              // (igrpo.rounds > 2 only, once per middle round: q⁽ᵏ⁾, sample, score, d̂⁽ᵏ⁾)
//   t.buildPrompts(s);                   // q' = template(q, d̂)   (GRPO: q)
//   await t.sampleRefinements(s);        // G refinements under q' (GRPO: its group of N + G under q)
//   t.scoreRefinements(s);
//   await t.resample(s);                 // (dynamicSampling only: drop groups without signal, draw fresh prompts)
//   t.computeAdvantages(s);
//   await t.update(s);                   // loss, gradients, optimizer step
//   await t.finish(s);                   // metrics, logs, evaluation and checkpoint when due
//
// Each stage is a thin wrapper over one function of src/rl/igrpo.ts and fills one field of the StepState.
// `step()` runs the rollout as igrpoRollout / grpoRollout themselves (the functions the tests check), then
// dynamic sampling when configured, then the update; every round is filed in s.rounds (./step-rollout.ts).
// `run()` loops, with checkpoints and resume (bit-identical: data order, fresh prompts and all sampling seeds
// derive from (seed, step), and the optimizer state is saved exactly). What a trainer is made of and how a
// run folder is opened: ./trainer-setup.ts; logs, evaluation, checkpoints and the loop: ./run-book.ts.
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import type { Adam } from '../optim/adam.js';
import { groupAdvantages } from '../rl/advantages.js';
import * as rl from '../rl/igrpo.js';
import { rewardsOf, scoreGroups, type Completion, type Group, type PromptIn, type SampleFn } from '../rl/rollout.js';
import { NonFiniteLossError, policyUpdate, trainSequences, type TrainSequence, type UpdateResult } from '../rl/update.js';
import { makeLocalSampler } from '../engine/local.js';
import { mixSeed } from '../util/rng.js';
import type { TrainConfig } from './config.js';
import type { EngineSync } from './engine-sync.js';
import type { EvalDetail } from './evaluate.js';
import { metricsOf, type EvalRecord, type MetricsRecord } from './records.js';
import { RunBook, runToEnd } from './run-book.js';
import * as runFolder from './run-folder.js';
import { required, timed, TrainingStoppedError, type RunSummary, type StepState, type TrainerOptions } from './step-state.js';
import { learningRate } from './schedule.js';
import { stepProblems } from './task.js';
import { updateOptionsOf } from './update-options.js';
import { timedRolloutDeps } from './rollout-deps.js';
import { openContext, type TrainerContext } from './trainer-setup.js';
import * as steps from './step-rollout.js';

export { TrainingStoppedError, type RunSummary, type StepState, type TrainerOptions } from './step-state.js';

export class Trainer {
  /** Index of the next update. */
  stepIndex = 0;
  readonly config: TrainConfig;
  readonly policy: Policy;
  /** The KL reference (objective.beta > 0 only). */
  readonly reference?: Policy;
  readonly optimizer: Adam;
  readonly out?: string;
  /** Server mode (config.rollout.engine): the adapter versions on the engines and the remote sampler. */
  readonly engine?: EngineSync;
  /** Step times, evaluations, logs, checkpoints. */
  readonly book: RunBook;

  private constructor(private readonly ctx: TrainerContext, evals: readonly EvalRecord[] = []) {
    ({ config: this.config, policy: this.policy, reference: this.reference, optimizer: this.optimizer, out: this.out, engine: this.engine } = ctx);
    this.book = new RunBook(ctx, evals);
  }

  /** A trainer for this config: fresh, overwriting or resuming the run in opts.out (./trainer-setup.ts). */
  static async create(config: TrainConfig, opts: TrainerOptions = {}): Promise<Trainer> {
    const { ctx, resumed } = await openContext(config, opts, tf.getBackend());
    const t = new Trainer(ctx, resumed?.evals);
    if (resumed) {
      t.optimizer.setState(resumed.optimizer);
      t.stepIndex = resumed.step;
    }
    return t;
  }

  get algo(): 'grpo' | 'igrpo' {
    return this.config.algo;
  }
  /** The config's reward list (training and evaluation). */
  get rewards() {
    return this.ctx.rewards;
  }
  /** q = format(problem), per the config's prompt block. */
  get promptOf(): (p: Problem) => string {
    return this.ctx.promptOf;
  }
  /** The tfjs backend the trainer runs on. */
  get backend(): string {
    return this.ctx.backend;
  }

  /** Problems of step `step`: the training pool in a fresh seeded order each epoch. */
  problemsFor(step: number): Problem[] {
    return stepProblems(this.ctx.pool, this.config.promptsPerStep, this.config.seed, step);
  }

  /**
   * Sampling here, or on the engines under the adapter version of the current weights (published before
   * the step's first request). Both draw with the same seeds (engine/local.ts's per-prompt seeds are the
   * remote sampler's), so a server-mode run and a local one sample the same tokens where numerics agree.
   */
  private readonly sampleFn: SampleFn = async (req) => {
    if (!this.engine) return makeLocalSampler(this.policy, this.config.sampling)(req);
    await this.engine.publish(this.stepIndex);
    return this.engine.sample(req);
  };

  /**
   * What the rl rollout functions need for this step. Sampling time is added to s.times under `stages`,
   * one per sampling call (igrpoRollout samples drafts, then refinements); scoring time under 'score'.
   */
  rolloutDeps(s: StepState, stages: string[] = this.algo === 'grpo' ? ['sample'] : ['draft', 'refine']): rl.RolloutDeps {
    const { score, promptOf, render } = this.ctx;
    return timedRolloutDeps(s.times, stages, { sample: this.sampleFn, score, promptOf, render, policy: this.policy, maxNewTokens: this.config.sampling.maxNewTokens, seed: s.seed });
  }


  /** Start a step: its prompts, seed and learning rate. */
  begin(): StepState {
    this.assertLive('begin');
    const step = this.stepIndex;
    const { optimizer, steps, schedule, seed } = this.config;
    return { step, seed: mixSeed(seed, step), lr: learningRate(optimizer.lr, step, steps, schedule), problems: this.problemsFor(step), times: {}, startedAt: performance.now() };
  }

  private questions(s: StepState): PromptIn[] {
    return (s.questions ??= rl.questionPrompts(s.problems, this.rolloutDeps(s)));
  }

  /** iGRPO stage 1: N drafts per prompt from the current policy (plain arrays; no gradient). */
  async sampleDrafts(s: StepState): Promise<Completion[][]> {
    if (this.algo !== 'igrpo') throw new Error('sampleDrafts is an iGRPO stage; this trainer runs GRPO');
    const deps = this.rolloutDeps(s, ['draft']);
    return (s.drafts = await deps.sample(rl.draftRequest(this.questions(s), deps, this.config.igrpo)));
  }

  scoreDrafts(s: StepState): Group[] {
    const drafts = required(s, 'drafts', 'scoreDrafts', 'sampleDrafts');
    return (s.draftGroups = scoreGroups(s.problems, this.questions(s), drafts, this.rolloutDeps(s).score));
  }

  /** d̂ = argmax reward per prompt (ties per igrpo.tieBreak). */
  selectDrafts(s: StepState): number[] {
    const groups = required(s, 'draftGroups', 'selectDrafts', 'scoreDrafts');
    s.chosen = timed(s, 'select', () => rl.selectDrafts(groups, this.config.igrpo, s.seed));
    s.rounds = [{ groups, chosen: s.chosen }];
    return s.chosen;
  }

  /** igrpo.rounds > 2: the next middle round in one call (q⁽ᵏ⁾ = template(q, d̂⁽ᵏ⁻¹⁾), sample, score, d̂⁽ᵏ⁾), into s.rounds. */
  refineRound(s: StepState): Promise<rl.Round> {
    return steps.intermediateRound(s, this.rolloutDeps(s, ['refine']), this.config.igrpo);
  }

  /** The prompts the trained completions are sampled under: q' = template(q, d̂) for iGRPO, q for GRPO. */
  buildPrompts(s: StepState): PromptIn[] {
    if (this.algo === 'grpo') return (s.prompts = this.questions(s));
    required(s, 'chosen', 'buildPrompts', 'selectDrafts');
    const prev = steps.conditioningRound(s, this.config.igrpo);
    return (s.prompts = timed(s, 'select', () => rl.refinementPrompts(prev.groups, prev.chosen!, this.config.igrpo, this.rolloutDeps(s), this.questions(s))));
  }

  /** Stage 2: G refinements per prompt under q' (GRPO: the N + G group under q). */
  async sampleRefinements(s: StepState): Promise<Completion[][]> {
    const prompts = s.prompts ?? this.buildPrompts(s);
    const deps = this.rolloutDeps(s, [this.algo === 'igrpo' ? 'refine' : 'sample']);
    const req = this.algo === 'igrpo' ? rl.refinementRequest(prompts, deps, this.config.igrpo) : rl.grpoRequest(prompts, deps, this.config.completionsPerPrompt);
    return (s.samples = await deps.sample(req));
  }

  /** Rewards of the trained completions, against the original problem. */
  scoreRefinements(s: StepState): Group[] {
    const samples = required(s, 'samples', 'scoreRefinements', 'sampleRefinements');
    s.groups = scoreGroups(s.problems, s.prompts!, samples, this.rolloutDeps(s).score);
    s.rounds = [...(this.algo === 'igrpo' ? s.rounds!.slice(0, rl.roundCount(this.config.igrpo) - 1) : []), { groups: s.groups }];
    return s.groups;
  }

  /** Dynamic sampling (config.dynamicSampling): drop groups without signal, draw fresh prompts (./step-rollout.ts). */
  async resample(s: StepState): Promise<steps.DynamicStats | undefined> {
    if (!this.config.dynamicSampling) return undefined;
    return steps.dynamicSample(s, this.config, this.ctx.pool, (seed) => ({ ...this.rolloutDeps(s), seed }));
  }

  /** step()'s rollout in one call: igrpoRollout or grpoRollout themselves, filed in the StepState; then dynamic sampling. */
  async rollout(s: StepState): Promise<Group[]> {
    steps.fileRounds(s, await steps.drawRounds(this.config, s.problems, this.rolloutDeps(s)), this.algo);
    await this.resample(s);
    return s.groups!;
  }

  /** Advantages of the trained groups (./step-rollout.ts trainedGroups: the last round's, or every round's). */
  computeAdvantages(s: StepState): number[][] {
    required(s, 'groups', 'computeAdvantages', 'scoreRefinements');
    if (this.config.dynamicSampling && !s.dynamic) throw new Error('computeAdvantages: dynamicSampling is on: call resample first');
    const groups = steps.trainedGroups(s, this.config);
    const o = this.config.objective;
    return (s.advantages = timed(s, 'advantage', () => groupAdvantages(rewardsOf(groups), { scale: o.scaleRewards, eps: o.advantageEps })));
  }

  /** The sequences the loss sees: (prompt ids the completion was sampled under, completion, advantage). */
  trainSequences(s: StepState): TrainSequence[] {
    const adv = required(s, 'advantages', 'trainSequences', 'computeAdvantages');
    // in server mode the engine's log-probs go along: mismatch metric and the optional importance weights
    return trainSequences(steps.trainedGroups(s, this.config), adv, this.engine !== undefined);
  }


  /** Loss, gradients (accumulated over micro-batches), clipping and the optimizer step(s). */
  async update(s: StepState): Promise<UpdateResult> {
    this.assertLive('update');
    const opts = updateOptionsOf(this.config, s.lr, { reference: this.reference, entropyControl: this.ctx.objective.entropy });
    return (s.update = await timed(s, 'update', () => policyUpdate(this.policy, this.optimizer, this.trainSequences(s), opts)));
  }


  /** Metrics and rollout records, logs, then evaluation and checkpoint when due; advances the step. */
  async finish(s: StepState): Promise<MetricsRecord> {
    const update = required(s, 'update', 'finish', 'update');
    s.times.total = performance.now() - s.startedAt;
    const run = { algo: this.algo, seed: this.config.seed };
    const m = (s.metrics = metricsOf({ ...s, groups: s.groups!, update, trainOn: this.config.igrpo.trainOn }, run));
    if (update.mismatch) m.engineMismatch = { ...update.mismatch, reloads: this.engine?.reloads ?? 0 };
    this.stepIndex = s.step + 1;
    this.ctx.objective.afterStep(this.stepIndex); // TR-DPO reference sync when due (./ref-sync.ts)
    if (this.book.due('eval', this.stepIndex)) {
      const r = (s.eval = await timed(s, 'eval', () => this.evaluate()));
      m.eval = { passAt1: r.passAt1, k: r.k, n: r.n, stderr: r.stderr, temperature: r.temperature };
      m.wallMs.eval = s.times.eval;
    }
    this.book.record(s, m, run);
    if (this.out && this.book.due('checkpoint', this.stepIndex)) await this.checkpoint();
    return m;
  }

  /** All stages of one step: the rollout (igrpoRollout / grpoRollout), advantages, update, finish. */
  async step(): Promise<StepState> {
    const s = this.begin();
    await this.rollout(s);
    this.computeAdvantages(s);
    try {
      await this.update(s);
    } catch (e) {
      if (!(e instanceof NonFiniteLossError)) throw e;
      const last = this.out ? runFolder.lastCheckpoint(this.out) : undefined;
      throw new TrainingStoppedError(
        `step ${s.step}: ${e.message}. Training stopped; ` +
          (last ? `the last good checkpoint is ${last.dir} (step ${last.step})` : 'no checkpoint was written yet') +
          '. Lower optimizer.lr or set optimizer.maxGradNorm.',
      );
    }
    await this.finish(s);
    return s;
  }

  /** Held-out pass@1 (averaged over eval.k samples) of the current policy; logged to evals.jsonl. */
  async evaluate(): Promise<EvalDetail> {
    this.assertLive('evaluate');
    return this.book.evaluate(this.policy, this.stepIndex, this.algo);
  }

  async checkpoint(): Promise<string> {
    this.assertLive('checkpoint');
    return this.book.checkpoint(this.stepIndex, this.policy, this.optimizer);
  }

  /** Train until config.steps updates are done (continuing a resumed run), evaluating at the start if asked. */
  run(opts: { onStep?: (s: StepState) => void; onEval?: (r: EvalRecord) => void } = {}): Promise<RunSummary> {
    return runToEnd(this, opts);
  }

  summary(): RunSummary {
    return this.book.summary(this.algo, this.stepIndex);
  }

  /** Set by dispose(): later use says so instead of failing deep inside tfjs ("reading 'backend'"). */
  private disposed = false;

  private assertLive(what: string): void {
    if (this.disposed) throw new Error(`Trainer.${what}(): this trainer was disposed (trainer.dispose() freed its policy and optimizer); create a new one with Trainer.create(…)`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.release();
    this.optimizer.dispose();
    this.policy.dispose();
    this.reference?.dispose();
  }
}
