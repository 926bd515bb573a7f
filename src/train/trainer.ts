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
// Each call fills one field of the StepState and returns it, so every stage's output can be looked at.
// `step()` runs them all; `run()` loops, with checkpoints and resume (bit-identical: data order and all
// sampling seeds derive from (seed, step), and the optimizer state is saved exactly).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Problem } from '../data/schema.js';
import { loadPolicy } from '../model/load.js';
import type { Policy } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import { dataPath } from '../paths.js';
import { groupAdvantages, zeroStdFraction } from '../rl/advantages.js';
import {
  buildRefinementPrompts, draftRequest, draftTransitions, grpoRequest, refinementRequest, selectDrafts, type IgrpoOptions,
} from '../rl/igrpo.js';
import { rewardsOf, scoreGroups, type Completion, type Group, type SampleFn, type Score, type ScoreFn } from '../rl/rollout.js';
import { NonFiniteLossError, policyUpdate, type TrainSequence, type UpdateResult } from '../rl/update.js';
import { sample } from '../sampling/index.js';
import { Rng, mixSeed } from '../util/rng.js';
import { makeScorer } from '../verify/rewards.js';
import {
  listCheckpoints, readCheckpointState, readOptimizerState, removeIncomplete, saveCheckpoint, truncateLog,
} from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { RunFolderError } from './errors.js';
import { evaluate, type EvalDetail } from './evaluate.js';
import type { EvalRecord, MetricsRecord, RolloutRecord } from './records.js';
import { stepWarnings } from './health.js';
import { learningRate } from './schedule.js';
import { evalProblems, promptOf, trainProblems } from './task.js';

export interface StepState {
  /** 0-based index of the update this step makes. */
  step: number;
  /** Seed of this step's sampling; every stage derives its own from it. */
  seed: number;
  lr: number;
  problems: Problem[];
  /** iGRPO stage 1: raw drafts per prompt, then scored. */
  drafts?: Completion[][];
  draftGroups?: Group[];
  /** d̂ index per prompt. */
  chosen?: number[];
  /** Prompts of the trained groups: q' for iGRPO, q for GRPO. */
  prompts?: string[];
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
  constructor(message: string) {
    super(message);
    this.name = 'TrainingStoppedError';
  }
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

const LOGS = ['metrics.jsonl', 'rollouts.jsonl', 'evals.jsonl'] as const;

export const configHash = (c: TrainConfig): string =>
  // steps may be raised on resume (continue a run further); everything else must match
  crypto.createHash('sha256').update(JSON.stringify({ ...c, steps: 0 })).digest('hex').slice(0, 16);

/** The paper's reward (accuracy + format) as the RL code's ScoreFn. */
export function defaultScore(): ScoreFn {
  const scorer = makeScorer();
  return (problem, completion): Score => {
    const r = scorer(completion.text, problem);
    return { reward: r.total, rewards: r.breakdown, correct: r.correct, answer: r.answer ?? null };
  };
}

export function resolvePolicyDir(spec: string): string {
  return spec === 'embedded' ? dataPath('policy') : path.resolve(spec);
}

export class Trainer {
  readonly config: TrainConfig;
  readonly policy: Policy;
  readonly optimizer: Adam;
  readonly reference?: Policy;
  readonly out?: string;
  /** Index of the next update. */
  stepIndex = 0;
  private readonly score: ScoreFn;
  private readonly pool: Problem[];
  private readonly heldOut: Problem[];
  private readonly perm = new Map<number, number[]>();
  private readonly stepTimes: number[] = [];
  private readonly evals: EvalRecord[] = [];

  private constructor(config: TrainConfig, policy: Policy, reference: Policy | undefined, opts: TrainerOptions) {
    this.config = config;
    this.policy = policy;
    this.reference = reference;
    this.out = opts.out;
    this.score = opts.score ?? defaultScore();
    const o = config.optimizer;
    this.optimizer = new Adam(policy.parameters(), {
      lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.type === 'adamw' ? o.weightDecay : 0,
    });
    this.pool = trainProblems(config.data);
    this.heldOut = evalProblems({ ...config.data, evalSize: config.eval.size });
  }

  /** A trainer for this config: loads the policy (or takes opts.policy), resumes from `out` when asked. */
  static async create(config: TrainConfig, opts: TrainerOptions = {}): Promise<Trainer> {
    const start = resolvePolicyDir(config.policy);
    let resumeFrom: { step: number; dir: string } | undefined;
    if (opts.out) {
      fs.mkdirSync(opts.out, { recursive: true });
      removeIncomplete(opts.out);
      const ckpts = listCheckpoints(opts.out);
      if (opts.resume) resumeFrom = ckpts[ckpts.length - 1];
      else if (ckpts.length || LOGS.some((f) => fs.existsSync(path.join(opts.out!, f)) && fs.statSync(path.join(opts.out!, f)).size > 0)) {
        throw new RunFolderError(`${opts.out} already holds a run; resume it (--resume) or choose another folder`);
      }
    }
    const policy = resumeFrom ? loadPolicy(path.join(resumeFrom.dir, 'policy')) : (opts.policy ?? loadPolicy(start));
    const reference = config.objective.beta > 0 ? (opts.policy && !resumeFrom ? await frozenCopy(opts.policy) : loadPolicy(start)) : undefined;
    const t = new Trainer(config, policy, reference, opts);
    if (resumeFrom) t.restore(resumeFrom.dir);
    else if (opts.out) for (const f of LOGS) fs.writeFileSync(path.join(opts.out, f), '');
    if (opts.out) fs.writeFileSync(path.join(opts.out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    return t;
  }

  private restore(dir: string): void {
    const state = readCheckpointState(dir);
    if (state.configHash !== configHash(this.config)) {
      throw new Error(`${dir}: the checkpoint was made with a different config (only 'steps' may change on resume)`);
    }
    this.optimizer.setState(readOptimizerState(dir, this.policy.parameters().length));
    for (const f of LOGS) truncateLog(path.join(this.out!, f), state.logBytes[f] ?? 0);
    this.stepIndex = state.step;
    for (const line of fs.readFileSync(path.join(this.out!, 'evals.jsonl'), 'utf8').split('\n')) if (line.trim()) this.evals.push(JSON.parse(line));
  }

  get algo(): 'grpo' | 'igrpo' {
    return this.config.algo;
  }

  private get igrpoOptions(): IgrpoOptions {
    return this.config.igrpo;
  }

  /** Problems of step `step`: the training pool in a fresh seeded order each epoch. */
  problemsFor(step: number): Problem[] {
    const b = this.config.promptsPerStep;
    const out: Problem[] = [];
    for (let k = step * b; k < (step + 1) * b; k++) {
      const epoch = Math.floor(k / this.pool.length);
      out.push(this.pool[this.permutation(epoch)[k % this.pool.length]]);
    }
    return out;
  }

  private permutation(epoch: number): number[] {
    let p = this.perm.get(epoch);
    if (!p) {
      const rng = new Rng(mixSeed(this.config.seed, 99, epoch));
      p = this.pool.map((_, i) => i);
      for (let i = p.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [p[i], p[j]] = [p[j], p[i]];
      }
      this.perm.clear();
      this.perm.set(epoch, p);
    }
    return p;
  }

  private readonly sampleFn: SampleFn = (req) =>
    sample(this.policy, req.prompts, {
      n: req.n,
      maxNewTokens: req.maxNewTokens,
      temperature: this.config.sampling.temperature,
      topK: this.config.sampling.topK,
      topP: this.config.sampling.topP,
      seed: req.seed,
    });

  private deps(s: StepState) {
    return { sample: this.sampleFn, score: this.score, promptOf, maxNewTokens: this.config.sampling.maxNewTokens, seed: s.seed };
  }

  private timed<T>(s: StepState, stage: string, f: () => T): T {
    const t0 = performance.now();
    const r = f();
    s.times[stage] = (s.times[stage] ?? 0) + performance.now() - t0;
    return r;
  }

  private async timedAsync<T>(s: StepState, stage: string, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const r = await f();
    s.times[stage] = (s.times[stage] ?? 0) + performance.now() - t0;
    return r;
  }

  /** Start a step: its prompts, seed and learning rate. */
  begin(): StepState {
    const step = this.stepIndex;
    return {
      step,
      seed: mixSeed(this.config.seed, step),
      lr: learningRate(this.config.optimizer.lr, step, this.config.steps, this.config.schedule),
      problems: this.problemsFor(step),
      times: {},
      startedAt: performance.now(),
    };
  }

  private requireIgrpo(stage: string): void {
    if (this.algo !== 'igrpo') throw new Error(`${stage} is an iGRPO stage; this trainer runs GRPO`);
  }

  /** iGRPO stage 1: N drafts per prompt from the current policy (plain arrays; no gradient). */
  async sampleDrafts(s: StepState): Promise<Completion[][]> {
    this.requireIgrpo('sampleDrafts');
    const req = draftRequest(s.problems, this.deps(s), this.igrpoOptions);
    return (s.drafts = await this.timedAsync(s, 'draft', () => this.sampleFn(req)));
  }

  scoreDrafts(s: StepState): Group[] {
    if (!s.drafts) throw new Error('scoreDrafts: call sampleDrafts first');
    const prompts = s.problems.map(promptOf);
    return (s.draftGroups = this.timed(s, 'score', () => scoreGroups(s.problems, prompts, s.drafts!, this.score)));
  }

  /** d̂ = argmax reward per prompt (ties per igrpo.tieBreak). */
  selectDrafts(s: StepState): number[] {
    if (!s.draftGroups) throw new Error('selectDrafts: call scoreDrafts first');
    return (s.chosen = this.timed(s, 'select', () => selectDrafts(s.draftGroups!, this.igrpoOptions, s.seed)));
  }

  /** The prompts the trained completions are sampled under: q' = template(q, d̂) for iGRPO, q for GRPO. */
  buildPrompts(s: StepState): string[] {
    if (this.algo === 'grpo') return (s.prompts = s.problems.map(promptOf));
    if (!s.chosen || !s.draftGroups) throw new Error('buildPrompts: call selectDrafts first');
    return (s.prompts = this.timed(s, 'select', () =>
      buildRefinementPrompts(s.draftGroups!, s.chosen!, this.igrpoOptions).map((q2, i) => this.fitContext(q2, s.draftGroups![i].prompt)),
    ));
  }

  /** q' must leave room to generate; a q' too long for the model falls back to q (rare: drafts are capped). */
  private fitContext(q2: string, q: string): string {
    const room = this.policy.maxSeqLen - this.policy.tokenizer.encode(q2).length;
    return room >= Math.min(8, this.config.sampling.maxNewTokens) ? q2 : q;
  }

  /** Stage 2: G refinements per prompt under q' (GRPO: the N + G group under q). */
  async sampleRefinements(s: StepState): Promise<Completion[][]> {
    if (!s.prompts) this.buildPrompts(s);
    const deps = this.deps(s);
    const req = this.algo === 'igrpo' ? refinementRequest(s.prompts!, deps, this.igrpoOptions) : grpoRequest(s.problems, deps, this.config.completionsPerPrompt);
    return (s.samples = await this.timedAsync(s, this.algo === 'igrpo' ? 'refine' : 'sample', () => this.sampleFn(req)));
  }

  /** Rewards of the trained completions, against the original problem. */
  scoreRefinements(s: StepState): Group[] {
    if (!s.samples || !s.prompts) throw new Error('scoreRefinements: call sampleRefinements first');
    return (s.groups = this.timed(s, 'score', () => scoreGroups(s.problems, s.prompts!, s.samples!, this.score)));
  }

  computeAdvantages(s: StepState): number[][] {
    if (!s.groups) throw new Error('computeAdvantages: call scoreRefinements first');
    const o = this.config.objective;
    return (s.advantages = this.timed(s, 'advantage', () => groupAdvantages(rewardsOf(s.groups!), { scale: o.scaleRewards, eps: o.advantageEps })));
  }

  /** The sequences the loss sees: (prompt the completion was sampled under, completion, advantage). */
  trainSequences(s: StepState): TrainSequence[] {
    if (!s.groups || !s.advantages) throw new Error('trainSequences: call computeAdvantages first');
    const tok = this.policy.tokenizer;
    return s.groups.flatMap((g, i) => {
      const promptIds = tok.encode(g.prompt);
      return g.completions.map((c, j) => ({ promptIds, completionIds: c.ids, advantage: s.advantages![i][j], truncated: c.finishReason === 'length' }));
    });
  }

  /** Loss, gradients (accumulated over micro-batches), clipping and the optimizer step(s). */
  async update(s: StepState): Promise<UpdateResult> {
    const seqs = this.trainSequences(s);
    const o = this.config.optimizer;
    return (s.update = await this.timedAsync(s, 'update', () =>
      policyUpdate(this.policy, this.optimizer, seqs, {
        objective: this.config.objective,
        temperature: this.config.sampling.temperature,
        microBatchSize: o.microBatchSize,
        numIterations: o.numIterations,
        maxGradNorm: o.maxGradNorm,
        maxCompletionLength: this.config.sampling.maxNewTokens,
        lr: s.lr,
        reference: this.reference,
      }),
    ));
  }

  /** Metrics and rollout records, logs, then evaluation and checkpoint when due; advances the step. */
  async finish(s: StepState): Promise<MetricsRecord> {
    if (!s.update || !s.groups) throw new Error('finish: call update first');
    s.times.total = performance.now() - s.startedAt;
    s.metrics = this.metricsOf(s);
    this.stepTimes.push(s.times.total);
    this.stepIndex = s.step + 1;
    const last = this.stepIndex >= this.config.steps;
    const ev = this.config.eval;
    if ((ev.every > 0 && this.stepIndex % ev.every === 0) || last) {
      const t0 = performance.now();
      const r = await this.evaluate();
      s.times.eval = performance.now() - t0;
      s.eval = r;
      s.metrics.eval = { passAt1: r.passAt1, k: r.k, n: r.n, stderr: r.stderr, temperature: r.temperature };
      s.metrics.wallMs.eval = s.times.eval;
    }
    if (this.out) {
      if (this.config.logRollouts) appendJsonl(path.join(this.out, 'rollouts.jsonl'), this.rolloutRecords(s));
      appendJsonl(path.join(this.out, 'metrics.jsonl'), [s.metrics]);
      const ck = this.config.checkpoint;
      if ((ck.every > 0 && this.stepIndex % ck.every === 0) || last) await this.checkpoint();
    }
    return s.metrics;
  }

  /** All stages of one step. */
  async step(): Promise<StepState> {
    const s = this.begin();
    if (this.algo === 'igrpo') {
      await this.sampleDrafts(s);
      this.scoreDrafts(s);
      this.selectDrafts(s);
    }
    this.buildPrompts(s);
    await this.sampleRefinements(s);
    this.scoreRefinements(s);
    this.computeAdvantages(s);
    try {
      await this.update(s);
    } catch (e) {
      if (e instanceof NonFiniteLossError) {
        const last = this.out ? listCheckpoints(this.out).pop() : undefined;
        throw new TrainingStoppedError(
          `step ${s.step}: ${e.message}. Training stopped; ` +
            (last ? `the last good checkpoint is ${last.dir} (step ${last.step})` : 'no checkpoint was written yet') +
            '. Lower optimizer.lr or set optimizer.maxGradNorm.',
        );
      }
      throw e;
    }
    await this.finish(s);
    return s;
  }

  /** Held-out pass@1 (averaged over eval.k samples) of the current policy; logged to evals.jsonl. */
  async evaluate(): Promise<EvalDetail> {
    const ev = this.config.eval;
    const t0 = performance.now();
    const r = await evaluate(this.policy, this.heldOut, {
      k: ev.k, temperature: ev.temperature, topP: ev.topP, maxNewTokens: this.config.sampling.maxNewTokens,
      seed: mixSeed(this.config.seed, 7, this.stepIndex),
    });
    const rec: EvalRecord = {
      algo: this.algo, seed: this.config.seed, updates: this.stepIndex, passAt1: r.passAt1, k: r.k, n: r.n, stderr: r.stderr,
      temperature: r.temperature, wallMs: performance.now() - t0,
    };
    this.evals.push(rec);
    if (this.out) appendJsonl(path.join(this.out, 'evals.jsonl'), [rec]);
    return r;
  }

  async checkpoint(): Promise<string> {
    if (!this.out) throw new Error('checkpoint: this trainer has no run folder (out)');
    const logBytes: Record<string, number> = {};
    for (const f of LOGS) logBytes[f] = fs.statSync(path.join(this.out, f)).size;
    return saveCheckpoint(
      this.out,
      this.stepIndex,
      { policy: this.policy, optimizer: await this.optimizer.getStateAsync(), logBytes, configHash: configHash(this.config) },
      this.config.checkpoint.keep,
    );
  }

  /** Train until config.steps updates are done (continuing a resumed run), evaluating at the start if asked. */
  async run(opts: { onStep?: (s: StepState) => void; onEval?: (r: EvalRecord) => void } = {}): Promise<RunSummary> {
    if (this.stepIndex === 0 && this.config.eval.atStart && !this.evals.some((e) => e.updates === 0)) {
      await this.evaluate();
      opts.onEval?.(this.evals[this.evals.length - 1]);
    }
    const from = this.stepIndex;
    while (this.stepIndex < this.config.steps) {
      const s = await this.step();
      opts.onStep?.(s);
    }
    const summary = this.summary();
    // a resume with nothing left to do leaves the finished run's summary as it was
    const summaryFile = this.out && path.join(this.out, 'summary.json');
    if (summaryFile && (this.stepIndex > from || !fs.existsSync(summaryFile))) fs.writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + '\n');
    return summary;
  }

  summary(): RunSummary {
    const mean = this.stepTimes.length ? this.stepTimes.reduce((a, b) => a + b, 0) / this.stepTimes.length : 0;
    return {
      algo: this.algo, seed: this.config.seed, steps: this.stepIndex, finalEval: this.evals[this.evals.length - 1], evals: [...this.evals],
      meanStepMs: mean, stepMs: [...this.stepTimes], out: this.out,
    };
  }

  private metricsOf(s: StepState): MetricsRecord {
    const groups = s.groups!;
    const all = groups.flatMap((g) => g.completions);
    const drafts = s.draftGroups?.flatMap((g) => g.completions) ?? [];
    const sampled = [...all, ...drafts];
    const tokens = sampled.reduce((a, c) => a + c.ids.length, 0);
    const frac = (xs: { score: Score }[]) => (xs.length ? xs.filter((c) => c.score.correct).length / xs.length : 0);
    const lpTokens = all.reduce((a, c) => a + c.logprobs.length, 0);
    const u = s.update!;
    const m: MetricsRecord = {
      step: s.step,
      algo: this.algo,
      seed: this.config.seed,
      reward: all.reduce((a, c) => a + c.score.reward, 0) / Math.max(1, all.length),
      accuracy: frac(all),
      // Monte Carlo estimate of the sampling distribution's entropy: mean −log p of the sampled tokens
      entropy: lpTokens ? -all.reduce((a, c) => a + c.logprobs.reduce((x, y) => x + y, 0), 0) / lpTokens : 0,
      kl: u.kl,
      clipFraction: u.clipFraction,
      loss: u.loss,
      gradNorm: u.gradNorm,
      lr: s.lr,
      zeroStdFraction: zeroStdFraction(rewardsOf(groups)),
      completionTokens: tokens,
      sampledCompletions: sampled.length,
      meanLength: all.reduce((a, c) => a + c.ids.length, 0) / Math.max(1, all.length),
      tokensPerSecond: tokens / Math.max(1e-9, s.times.total / 1000),
      wallMs: { ...s.times, total: s.times.total } as MetricsRecord['wallMs'],
    };
    const warnings = stepWarnings(sampled);
    if (warnings.length) m.warnings = warnings;
    if (this.algo === 'igrpo' && s.draftGroups && s.chosen) {
      m.draftAccuracy = frac(drafts);
      m.bestDraftAccuracy = s.draftGroups.filter((g, i) => g.completions[s.chosen![i]].score.correct).length / s.draftGroups.length;
      m.refinementAccuracy = m.accuracy;
      Object.assign(m, draftTransitions({ drafts: s.draftGroups, chosen: s.chosen, refinements: groups }));
    }
    return m;
  }

  private rolloutRecords(s: StepState): RolloutRecord[] {
    const base = { step: s.step, algo: this.algo, seed: this.config.seed };
    const rec = (g: Group, gi: number, c: Group['completions'][number], j: number, stage: RolloutRecord['stage'], advantage: number | null): RolloutRecord => ({
      ...base, promptId: g.problem.id, stage, group: gi, index: j, prompt: g.prompt, text: c.text, tokens: c.ids.length,
      finishReason: c.finishReason, reward: c.score.reward, rewards: c.score.rewards, correct: c.score.correct, advantage,
      answer: c.score.answer, gold: g.problem.answer,
    });
    const out: RolloutRecord[] = [];
    s.draftGroups?.forEach((g, gi) => g.completions.forEach((c, j) => out.push({ ...rec(g, gi, c, j, 'draft', null), chosen: s.chosen?.[gi] === j })));
    const stage = this.algo === 'igrpo' ? 'refinement' : 'grpo';
    s.groups!.forEach((g, gi) => g.completions.forEach((c, j) => out.push(rec(g, gi, c, j, stage, s.advantages?.[gi][j] ?? null))));
    return out;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.policy.dispose();
    this.reference?.dispose();
  }
}

function appendJsonl(file: string, records: readonly unknown[]): void {
  if (records.length === 0) return;
  fs.appendFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** A frozen copy of a policy (the KL reference), through a checkpoint round trip in a temporary folder. */
async function frozenCopy(policy: Policy): Promise<Policy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-ref-'));
  try {
    await policy.save(dir);
    return loadPolicy(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
