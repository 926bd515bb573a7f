// The trainer: a step API a notebook can drive one stage per cell, and `run` looping over it.
//
//   const t = await Trainer.create(config, { out: 'runs/a' });
//   const s = t.begin();                 // the step's prompts
//   await t.sampleDrafts(s);             // iGRPO stage 1: N drafts per prompt (no gradient)
//   t.scoreDrafts(s);                    // rewards of the drafts
//   t.selectDrafts(s);                   // d̂ = argmax reward
//   t.buildPrompts(s);                   // q' = template(q, d̂)   (GRPO: q)
//   await t.sampleRefinements(s);        // G refinements under q' (GRPO: its group of N + G under q)
//   t.scoreRefinements(s);
//   t.computeAdvantages(s);
//   await t.update(s);                   // loss, gradients, optimizer step
//   await t.finish(s);                   // metrics, logs, evaluation and checkpoint when due
//
// Each stage is a thin wrapper over one function of src/rl/igrpo.ts and fills one field of the StepState.
// `step()` runs the rollout as igrpoRollout / grpoRollout themselves (the functions the tests check), then
// the update; `run()` loops, with checkpoints and resume (bit-identical: data order and all sampling seeds
// derive from (seed, step), and the optimizer state is saved exactly). Run-folder work: ./run-folder.ts.
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import { groupAdvantages } from '../rl/advantages.js';
import * as rl from '../rl/igrpo.js';
import { plainPrompt } from '../rl/prompt-format.js';
import { rewardsOf, scoreGroups, type Completion, type Group, type PromptIn, type SampleFn, type ScoreFn } from '../rl/rollout.js';
import { objectiveWarnings } from '../rl/loss.js';
import { NonFiniteLossError, policyUpdate, type TrainSequence, type UpdateResult } from '../rl/update.js';
import { makeLocalSampler } from '../engine/local.js';
import { interruptPoint } from '../util/interrupt.js';
import { mixSeed } from '../util/rng.js';
import { warnOnce } from '../util/warn.js';
import { makeScoreFn, type WeightedReward } from '../verify/rewards.js';
import { buildRewards } from '../verify/registry.js';
import { taskProblems, type TaskProblems } from './data-source.js';
import { makePromptOf, questionTextOf } from './prompt.js';
import type { TrainConfig } from './config.js';
import { EngineSync, loraPolicy } from './engine-sync.js';
import { evaluate, type EvalDetail } from './evaluate.js';
import { metricsOf, rolloutRecords, type EvalRecord, type MetricsRecord } from './records.js';
import { promptRenderer, trainPolicies } from './policy-setup.js';
import * as runFolder from './run-folder.js';
import { acquireRunLock, RunFolderError } from './run-lock.js';
import { TrainingStoppedError, type RunSummary, type StepState, type TrainerOptions } from './step-state.js';
import { learningRate } from './schedule.js';
import { stepProblems } from './task.js';

export { TrainingStoppedError, type RunSummary, type StepState, type TrainerOptions } from './step-state.js';

export class Trainer {
  readonly optimizer: Adam;
  /** Index of the next update. */
  stepIndex = 0;
  private readonly score: ScoreFn;
  /** The config's reward list (training and evaluation). */
  readonly rewards: WeightedReward[];
  /** q = format(problem), per the config's prompt block. */
  readonly promptOf: (p: Problem) => string;
  private readonly pool: Problem[];
  private readonly heldOut: Problem[];
  private readonly stepTimes: number[] = [];
  /** Chat rendering of q and q' (prompt.format 'chat'); undefined = plain text. */
  private readonly render?: rl.PromptRenderer;
  private readonly evals: EvalRecord[] = [];
  /** Server mode (config.rollout.engine): the adapter versions on the engines and the remote sampler. */
  readonly engine?: EngineSync;

  private constructor(
    readonly config: TrainConfig,
    readonly policy: Policy,
    readonly reference: Policy | undefined,
    readonly out: string | undefined,
    problems: TaskProblems,
    score: ScoreFn | undefined,
    /** The tfjs backend the trainer runs on (recorded in run.json and each checkpoint). */
    readonly backend: string,
    /** Releases the run folder's lock (dispose() calls it). */
    private release: () => void = () => {},
  ) {
    this.rewards = buildRewards(config.rewards);
    this.score = score ?? makeScoreFn(this.rewards);
    this.promptOf = makePromptOf(config.prompt);
    if (config.rollout.engine) {
      if (!out) throw new Error('rollout.engine (server mode) needs a run folder (out): adapter versions are written to out/adapters for the engines to load');
      this.engine = new EngineSync(config.rollout.engine, config.sampling, runFolder.adaptersDir(out), loraPolicy(policy), (line) => console.error(line));
    }
    const o = config.optimizer;
    this.optimizer = new Adam(policy.parameters(), { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.type === 'adamw' ? o.weightDecay : 0 });
    this.render = promptRenderer(config, policy);
    this.pool = problems.train;
    this.heldOut = problems.heldOut;
    for (const w of objectiveWarnings(config.objective)) warnOnce(w);
    // a template the tokenizer cannot encode fails here, naming the template, not mid-step in the tokenizer
    // (chat prompts build q' through the chat template instead)
    if (config.algo === 'igrpo' && !this.render && this.pool.length) rl.checkTemplate(this.promptOf(this.pool[0]), config.igrpo, (t) => policy.tokenizer.encode(t));
  }

  /**
   * A trainer for this config. With `out`: a fresh run loads everything it needs (policy, reference, data)
   * before it takes the folder's lock and writes anything there (with overwrite, only then replacing an
   * earlier run); a resumed run takes the lock and continues from the newest readable checkpoint.
   */
  static async create(config: TrainConfig, opts: TrainerOptions = {}): Promise<Trainer> {
    const { out } = opts;
    const warn = opts.warn ?? ((m: string) => console.error(m));
    const backend = tf.getBackend();
    if (out && opts.resume) {
      if (opts.overwrite) throw new RunFolderError('resume and overwrite contradict each other');
      runFolder.checkResumable(out);
      const release = acquireRunLock(out, warn);
      try {
        const problems = await taskProblems({ ...config.data, evalSize: config.eval.size });
        const r = runFolder.resumeRun(out, config, backend, warn);
        // LoRA (the checkpoint's adapter/) or full fine-tuning, and the KL reference: ./policy-setup.ts
        const { policy, reference } = trainPolicies(config, { resumed: r.policy });
        const t = new Trainer(config, policy, reference, out, problems, opts.score, backend, release);
        t.optimizer.setState(r.optimizer);
        t.stepIndex = r.step;
        t.evals.push(...r.evals);
        return t;
      } catch (e) {
        release();
        throw e;
      }
    }
    if (out) runFolder.checkFresh(out, !!opts.overwrite);
    const problems = await taskProblems({ ...config.data, evalSize: config.eval.size });
    // LoRA or full fine-tuning, and the KL reference (adapters off, or a frozen clone): ./policy-setup.ts
    const { policy, reference } = trainPolicies(config, { given: opts.policy });
    const t = new Trainer(config, policy, reference, out, problems, opts.score, backend);
    if (!out) return t;
    try {
      t.release = acquireRunLock(out, warn);
      runFolder.createRun(out, config, { overwrite: opts.overwrite, backend });
    } catch (e) {
      t.release();
      t.optimizer.dispose();
      reference?.dispose();
      if (!opts.policy) policy.dispose();
      throw e;
    }
    return t;
  }

  get algo(): 'grpo' | 'igrpo' {
    return this.config.algo;
  }

  /** Problems of step `step`: the training pool in a fresh seeded order each epoch. */
  problemsFor(step: number): Problem[] {
    return stepProblems(this.pool, this.config.promptsPerStep, this.config.seed, step);
  }

  /**
   * Sampling here, or on the engines under the adapter version of the current weights (published before
   * the step's first request). Both draw with the same seeds (engine/local.ts's per-prompt seeds are the
   * remote sampler's), so a server-mode run and a local one sample the same tokens where numerics agree.
   */
  private readonly sampleFn: SampleFn = async (req) => {
    if (!this.engine) return this.localSample(req);
    await this.engine.publish(this.stepIndex);
    return this.engine.sample(req);
  };
  private readonly localSample: SampleFn = (req) => makeLocalSampler(this.policy, this.config.sampling)(req);

  /**
   * What the rl rollout functions need for this step. Sampling time is added to s.times under `stages`,
   * one per sampling call (igrpoRollout samples drafts, then refinements); scoring time under 'score'.
   */
  rolloutDeps(s: StepState, stages: string[] = this.algo === 'grpo' ? ['sample'] : ['draft', 'refine']): rl.RolloutDeps {
    let calls = 0;
    const timedSample: SampleFn = (req) => this.timed(s, stages[Math.min(calls++, stages.length - 1)], () => this.sampleFn(req));
    const score: ScoreFn = (p, c) => this.timed(s, 'score', () => this.score(p, c));
    const tok = this.policy.tokenizer;
    return {
      sample: timedSample, score, promptOf: this.promptOf, encode: (text) => plainPrompt(tok, text).ids, render: this.render,
      contextLength: this.policy.maxSeqLen, maxNewTokens: this.config.sampling.maxNewTokens, seed: s.seed,
    };
  }

  private timed<T>(s: StepState, stage: string, f: () => T): T {
    const t0 = performance.now();
    const add = () => void (s.times[stage] = (s.times[stage] ?? 0) + performance.now() - t0);
    const r = f();
    if (r instanceof Promise) return r.finally(add) as T;
    add();
    return r;
  }

  private required<K extends keyof StepState>(s: StepState, key: K, stage: string, first: string): NonNullable<StepState[K]> {
    if (s[key] === undefined) throw new Error(`${stage}: call ${first} first`);
    return s[key] as NonNullable<StepState[K]>;
  }

  /** Set by dispose(): later use says so instead of failing deep inside tfjs ("reading 'backend'"). */
  private disposed = false;

  private assertLive(what: string): void {
    if (this.disposed) throw new Error(`Trainer.${what}(): this trainer was disposed (trainer.dispose() freed its policy and optimizer); create a new one with Trainer.create(…)`);
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
    const drafts = this.required(s, 'drafts', 'scoreDrafts', 'sampleDrafts');
    return (s.draftGroups = scoreGroups(s.problems, this.questions(s), drafts, this.rolloutDeps(s).score));
  }

  /** d̂ = argmax reward per prompt (ties per igrpo.tieBreak). */
  selectDrafts(s: StepState): number[] {
    const groups = this.required(s, 'draftGroups', 'selectDrafts', 'scoreDrafts');
    return (s.chosen = this.timed(s, 'select', () => rl.selectDrafts(groups, this.config.igrpo, s.seed)));
  }

  /** The prompts the trained completions are sampled under: q' = template(q, d̂) for iGRPO, q for GRPO. */
  buildPrompts(s: StepState): PromptIn[] {
    if (this.algo === 'grpo') return (s.prompts = this.questions(s));
    const chosen = this.required(s, 'chosen', 'buildPrompts', 'selectDrafts');
    return (s.prompts = this.timed(s, 'select', () => rl.refinementPrompts(s.draftGroups!, chosen, this.config.igrpo, this.rolloutDeps(s))));
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
    const samples = this.required(s, 'samples', 'scoreRefinements', 'sampleRefinements');
    return (s.groups = scoreGroups(s.problems, s.prompts!, samples, this.rolloutDeps(s).score));
  }

  /** step()'s rollout in one call: igrpoRollout or grpoRollout themselves, their results filed in the StepState. */
  async rollout(s: StepState): Promise<Group[]> {
    const deps = this.rolloutDeps(s);
    if (this.algo === 'grpo') s.groups = await rl.grpoRollout(s.problems, deps, this.config.completionsPerPrompt);
    else {
      const r = await rl.igrpoRollout(s.problems, deps, this.config.igrpo);
      [s.draftGroups, s.chosen, s.groups] = [r.drafts, r.chosen, r.refinements];
      s.drafts = r.drafts.map((g) => g.completions);
    }
    s.questions = (s.draftGroups ?? s.groups).map((g) => g.prompt);
    s.prompts = s.groups.map((g) => g.prompt);
    s.samples = s.groups.map((g) => g.completions);
    return s.groups;
  }

  computeAdvantages(s: StepState): number[][] {
    const groups = this.required(s, 'groups', 'computeAdvantages', 'scoreRefinements');
    const o = this.config.objective;
    return (s.advantages = this.timed(s, 'advantage', () => groupAdvantages(rewardsOf(groups), { scale: o.scaleRewards, eps: o.advantageEps })));
  }

  /** The sequences the loss sees: (prompt ids the completion was sampled under, completion, advantage). */
  trainSequences(s: StepState): TrainSequence[] {
    const adv = this.required(s, 'advantages', 'trainSequences', 'computeAdvantages');
    // in server mode the engine's log-probs go along: mismatch metric and the optional importance weights
    const withEngine = this.engine !== undefined;
    return s.groups!.flatMap((g, i) =>
      g.completions.map((c, j) => ({
        promptIds: g.prompt.ids, completionIds: c.ids, advantage: adv[i][j], truncated: c.finishReason === 'length', ...(withEngine ? { sampleLogprobs: c.logprobs } : {}),
      })),
    );
  }

  /** Loss, gradients (accumulated over micro-batches), clipping and the optimizer step(s). */
  async update(s: StepState): Promise<UpdateResult> {
    this.assertLive('update');
    const o = this.config.optimizer;
    const opts = {
      objective: this.config.objective, temperature: this.config.sampling.temperature, microBatchSize: o.microBatchSize, numIterations: o.numIterations,
      maxGradNorm: o.maxGradNorm, maxCompletionLength: this.config.sampling.maxNewTokens, lr: s.lr, reference: this.reference, zeroAdvantage: o.zeroAdvantage,
      tisCap: this.config.rollout.engine?.tisCap,
    };
    return (s.update = await this.timed(s, 'update', () => policyUpdate(this.policy, this.optimizer, this.trainSequences(s), opts)));
  }

  /** Metrics and rollout records, logs, then evaluation and checkpoint when due; advances the step. */
  async finish(s: StepState): Promise<MetricsRecord> {
    const update = this.required(s, 'update', 'finish', 'update');
    s.times.total = performance.now() - s.startedAt;
    const run = { algo: this.algo, seed: this.config.seed };
    const m = (s.metrics = metricsOf({ ...s, groups: s.groups!, update }, run));
    if (update.mismatch) m.engineMismatch = { ...update.mismatch, reloads: this.engine?.reloads ?? 0 };
    if (m.contextFallbacks) {
      warnOnce(
        `step ${s.step}: q' did not fit the policy's context (${this.policy.maxSeqLen} tokens) for ${m.contextFallbacks} of ${s.groups!.length} prompts, ` +
          `which were refined under q instead; counted per step as contextFallbacks in the metrics (warned once). Cap drafts with igrpo.maxDraftTokens.`,
        'context-fallback',
      );
    }
    this.stepTimes.push(s.times.total);
    this.stepIndex = s.step + 1;
    const last = this.stepIndex >= this.config.steps;
    const due = (every: number) => (every > 0 && this.stepIndex % every === 0) || last;
    if (due(this.config.eval.every)) {
      const r = (s.eval = await this.timed(s, 'eval', () => this.evaluate()));
      m.eval = { passAt1: r.passAt1, k: r.k, n: r.n, stderr: r.stderr, temperature: r.temperature };
      m.wallMs.eval = s.times.eval;
    }
    if (this.out) {
      runFolder.appendLogs(this.out, { rollouts: this.config.logRollouts ? rolloutRecords({ ...s, groups: s.groups! }, run) : [], metrics: [m] });
      if (due(this.config.checkpoint.every)) await this.checkpoint();
    }
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
    const ev = this.config.eval;
    const t0 = performance.now();
    const r = await evaluate(this.policy, this.heldOut, {
      k: ev.k, temperature: ev.temperature, topP: ev.topP, maxNewTokens: this.config.sampling.maxNewTokens, seed: mixSeed(this.config.seed, 7, this.stepIndex),
      promptOf: questionTextOf(this.config.prompt, this.policy.tokenizer), rewards: this.rewards,
    });
    const { passAt1, k, n, stderr, temperature } = r;
    const rec: EvalRecord = { algo: this.algo, seed: this.config.seed, updates: this.stepIndex, passAt1, k, n, stderr, temperature, wallMs: performance.now() - t0 };
    this.evals.push(rec);
    if (this.out) runFolder.appendLogs(this.out, { evals: [rec] });
    return r;
  }

  async checkpoint(): Promise<string> {
    this.assertLive('checkpoint');
    if (!this.out) throw new Error('checkpoint: this trainer has no run folder (out)');
    return runFolder.writeCheckpoint(this.out, this.stepIndex, this.policy, await this.optimizer.getStateAsync(), this.config, this.backend);
  }

  /** Train until config.steps updates are done (continuing a resumed run), evaluating at the start if asked. */
  async run(opts: { onStep?: (s: StepState) => void; onEval?: (r: EvalRecord) => void } = {}): Promise<RunSummary> {
    if (this.stepIndex === 0 && this.config.eval.atStart && !this.evals.some((e) => e.updates === 0)) {
      await this.evaluate();
      opts.onEval?.(this.evals[this.evals.length - 1]);
    }
    const from = this.stepIndex;
    while (this.stepIndex < this.config.steps) {
      await interruptPoint(`before step ${this.stepIndex}`); // Kernel → Interrupt stops here (or mid-sampling)
      const s = await this.step(); // (not inside onStep?.(…): an absent callback would skip evaluating it)
      opts.onStep?.(s);
    }
    const summary = this.summary();
    // a resume with nothing left to do leaves the finished run's summary as it was
    if (this.out && (this.stepIndex > from || !runFolder.hasSummary(this.out))) runFolder.writeSummary(this.out, summary);
    return summary;
  }

  summary(): RunSummary {
    const mean = this.stepTimes.length ? this.stepTimes.reduce((a, b) => a + b, 0) / this.stepTimes.length : 0;
    const { algo, stepIndex: steps, out } = this;
    return { algo, seed: this.config.seed, steps, finalEval: this.evals[this.evals.length - 1], evals: [...this.evals], meanStepMs: mean, stepMs: [...this.stepTimes], out };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
    this.optimizer.dispose();
    this.policy.dispose();
    this.reference?.dispose();
  }
}
