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
import type { Problem } from '../data/schema.js';
import type { Policy } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import { groupAdvantages } from '../rl/advantages.js';
import * as rl from '../rl/igrpo.js';
import { plainPrompt } from '../rl/prompt-format.js';
import { rewardsOf, scoreGroups, type Completion, type Group, type PromptIn, type SampleFn, type ScoreFn } from '../rl/rollout.js';
import { NonFiniteLossError, policyUpdate, type TrainSequence, type UpdateResult } from '../rl/update.js';
import { sample } from '../sampling/index.js';
import { interruptPoint } from '../util/interrupt.js';
import { mixSeed } from '../util/rng.js';
import { makeScoreFn } from '../verify/rewards.js';
import type { TrainConfig } from './config.js';
import { evaluate, type EvalDetail } from './evaluate.js';
import { metricsOf, rolloutRecords, type EvalRecord, type MetricsRecord } from './records.js';
import { promptRenderer, trainPolicies } from './policy-setup.js';
import * as runFolder from './run-folder.js';
import { learningRate } from './schedule.js';
import { evalProblems, promptOf, stepProblems, trainProblems } from './task.js';

export interface StepState {
  /** 0-based index of the update this step makes. */
  step: number;
  /** Seed of this step's sampling; every stage derives its own from it. */
  seed: number;
  lr: number;
  problems: Problem[];
  /** The questions q, encoded once. */
  questions?: PromptIn[];
  /** iGRPO stage 1: raw drafts per prompt, then scored. */
  drafts?: Completion[][];
  draftGroups?: Group[];
  /** d̂ index per prompt. */
  chosen?: number[];
  /** Prompts of the trained groups: q' for iGRPO (q where it fell back), q for GRPO. */
  prompts?: PromptIn[];
  samples?: Completion[][];
  groups?: Group[];
  advantages?: number[][];
  update?: UpdateResult;
  metrics?: MetricsRecord;
  eval?: EvalDetail;
  /** Wall time per stage, ms. */
  times: Record<string, number>;
  startedAt: number;
}

export class TrainingStoppedError extends Error {
  name = 'TrainingStoppedError';
}

export interface TrainerOptions {
  /** Run folder for logs and checkpoints; none = in memory only (a notebook's default). */
  out?: string;
  /** Continue from the last complete checkpoint in `out` (if any). */
  resume?: boolean;
  /** Use this policy instead of loading config.policy (tests, notebooks). Not used when resuming. */
  policy?: Policy;
  /** Swap the reward (default: the paper's accuracy + format). */
  score?: ScoreFn;
}

export interface RunSummary {
  algo: string;
  seed: number;
  steps: number;
  finalEval?: EvalRecord;
  evals: EvalRecord[];
  meanStepMs: number;
  /** Mean step wall time excluding evaluation and checkpoints. */
  stepMs: number[];
  out?: string;
}

export class Trainer {
  readonly optimizer: Adam;
  /** Index of the next update. */
  stepIndex = 0;
  private readonly score: ScoreFn;
  private readonly pool: Problem[];
  private readonly heldOut: Problem[];
  private readonly stepTimes: number[] = [];
  /** Chat rendering of q and q' (prompt.format 'chat'); undefined = plain text. */
  private readonly render?: rl.PromptRenderer;
  private readonly evals: EvalRecord[] = [];

  private constructor(readonly config: TrainConfig, readonly policy: Policy, readonly reference: Policy | undefined, readonly out: string | undefined, score?: ScoreFn) {
    this.score = score ?? makeScoreFn();
    const o = config.optimizer;
    this.optimizer = new Adam(policy.parameters(), { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.type === 'adamw' ? o.weightDecay : 0 });
    this.render = promptRenderer(config, policy);
    this.pool = trainProblems(config.data);
    this.heldOut = evalProblems({ ...config.data, evalSize: config.eval.size });
  }

  /** A trainer for this config: loads the policy (or takes opts.policy), resumes from `out` when asked. */
  static async create(config: TrainConfig, opts: TrainerOptions = {}): Promise<Trainer> {
    const { out } = opts;
    const from = out && opts.resume ? runFolder.openForResume(out, config) : undefined;
    if (out && !opts.resume) runFolder.createRun(out, config);
    // LoRA or full fine-tuning, and the KL reference (adapters off, or a frozen clone): ./policy-setup.ts
    const { policy, reference } = trainPolicies(config, { given: from ? undefined : opts.policy, resumeDir: from?.dir });
    const t = new Trainer(config, policy, reference, out, opts.score);
    if (from) {
      const r = runFolder.restoreCheckpoint(out!, from.dir, config, policy.parameters().length);
      t.optimizer.setState(r.optimizer);
      t.stepIndex = r.step;
      t.evals.push(...r.evals);
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

  private readonly sampleFn: SampleFn = (req) => {
    const { temperature, topK, topP } = this.config.sampling;
    return sample(this.policy, req.prompts.map((p) => p.ids), { n: req.n, maxNewTokens: req.maxNewTokens, temperature, topK, topP, seed: req.seed });
  };

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
      sample: timedSample, score, promptOf, encode: (text) => plainPrompt(tok, text).ids, render: this.render,
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
    return s.groups!.flatMap((g, i) => g.completions.map((c, j) => ({ promptIds: g.prompt.ids, completionIds: c.ids, advantage: adv[i][j], truncated: c.finishReason === 'length' })));
  }

  /** Loss, gradients (accumulated over micro-batches), clipping and the optimizer step(s). */
  async update(s: StepState): Promise<UpdateResult> {
    this.assertLive('update');
    const o = this.config.optimizer;
    const opts = {
      objective: this.config.objective, temperature: this.config.sampling.temperature, microBatchSize: o.microBatchSize, numIterations: o.numIterations,
      maxGradNorm: o.maxGradNorm, maxCompletionLength: this.config.sampling.maxNewTokens, lr: s.lr, reference: this.reference,
    };
    return (s.update = await this.timed(s, 'update', () => policyUpdate(this.policy, this.optimizer, this.trainSequences(s), opts)));
  }

  /** Metrics and rollout records, logs, then evaluation and checkpoint when due; advances the step. */
  async finish(s: StepState): Promise<MetricsRecord> {
    const update = this.required(s, 'update', 'finish', 'update');
    s.times.total = performance.now() - s.startedAt;
    const run = { algo: this.algo, seed: this.config.seed };
    const m = (s.metrics = metricsOf({ ...s, groups: s.groups!, update }, run));
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
    return runFolder.writeCheckpoint(this.out, this.stepIndex, this.policy, await this.optimizer.getStateAsync(), this.config);
  }

  /** Train until config.steps updates are done (continuing a resumed run), evaluating at the start if asked. */
  async run(opts: { onStep?: (s: StepState) => void; onEval?: (r: EvalRecord) => void } = {}): Promise<RunSummary> {
    if (this.stepIndex === 0 && this.config.eval.atStart && !this.evals.some((e) => e.updates === 0)) {
      await this.evaluate();
      opts.onEval?.(this.evals[this.evals.length - 1]);
    }
    while (this.stepIndex < this.config.steps) {
      await interruptPoint(`before step ${this.stepIndex}`); // Kernel → Interrupt stops here (or mid-sampling)
      const s = await this.step(); // (not inside onStep?.(…): an absent callback would skip evaluating it)
      opts.onStep?.(s);
    }
    const summary = this.summary();
    if (this.out) runFolder.writeSummary(this.out, summary);
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
    this.optimizer.dispose();
    this.policy.dispose();
    this.reference?.dispose();
  }
}
