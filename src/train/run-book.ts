// A run's bookkeeping beside the step: step times, held-out evaluations, when evaluation and checkpoints are
// due, the logs of each step, checkpoints, the summary, and the loop `Trainer.run` is.
import type { Policy } from '../model/policy.js';
import { makeLocalSampler } from '../engine/local.js';
import { plainPrompt } from '../rl/prompt-format.js';
import type { Adam } from '../optim/adam.js';
import { interruptPoint } from '../util/interrupt.js';
import { mixSeed } from '../util/rng.js';
import { warnOnce } from '../util/warn.js';
import type { TrainConfig } from './config.js';
import { evaluate, refinementProbe, type EvalDetail } from './evaluate.js';
import { questionTextOf } from './prompt.js';
import { rolloutRecords, type Algo, type EvalRecord, type MetricsRecord } from './records.js';
import * as runFolder from './run-folder.js';
import type { RunSummary, StepState } from './step-state.js';
import type { TrainerContext } from './trainer-setup.js';

export class RunBook {
  readonly evals: EvalRecord[] = [];
  private readonly stepTimes: number[] = [];

  constructor(private readonly ctx: TrainerContext, evals: readonly EvalRecord[] = []) {
    this.evals.push(...evals);
  }

  private get config(): TrainConfig {
    return this.ctx.config;
  }

  /** Is an evaluation ('eval') or checkpoint due once `updates` updates are done? Always after the last one. */
  due(what: 'eval' | 'checkpoint', updates: number): boolean {
    const every = this.config[what].every;
    return (every > 0 && updates % every === 0) || updates >= this.config.steps;
  }

  /** A finished step: its wall time, the one-time context-fallback warning, and its logs in the run folder. */
  record(s: StepState, m: MetricsRecord, run: { algo: Algo; seed: number }): void {
    this.stepTimes.push(s.times.total);
    if (m.contextFallbacks) {
      warnOnce(
        `step ${s.step}: q' did not fit the policy's context (${this.ctx.policy.maxSeqLen} tokens) for ${m.contextFallbacks} of ${s.groups!.length} prompts, ` +
          `which were refined under q instead; counted per step as contextFallbacks in the metrics (warned once). Cap drafts with igrpo.maxDraftTokens.`,
        'context-fallback',
      );
    }
    const out = this.ctx.out;
    if (out) runFolder.appendLogs(out, { rollouts: this.config.logRollouts ? rolloutRecords({ ...s, groups: s.groups!, trainOn: this.config.igrpo.trainOn }, run) : [], metrics: [m] });
  }

  /** Held-out pass@1 (averaged over eval.k samples) of the policy after `updates` updates; logged to evals.jsonl. */
  async evaluate(policy: Policy, updates: number, algo: Algo): Promise<EvalDetail> {
    const { eval: ev, sampling, seed, prompt } = this.config;
    const t0 = performance.now();
    const r = await evaluate(policy, this.ctx.heldOut, {
      k: ev.k, temperature: ev.temperature, topP: ev.topP, maxNewTokens: sampling.maxNewTokens, seed: mixSeed(seed, 7, updates),
      promptOf: questionTextOf(prompt, policy.tokenizer), rewards: this.ctx.rewards,
    });
    if (ev.refinementProbe) r.refinementProbe = await this.probe(policy, updates);
    const { passAt1, k, n, stderr, temperature } = r;
    const rec: EvalRecord = { algo, seed, updates, passAt1, k, n, stderr, temperature, wallMs: performance.now() - t0 };
    if (r.refinementProbe) {
      const { perProblem: _, ...probe } = r.refinementProbe;
      rec.refinementProbe = probe;
    }
    this.evals.push(rec);
    if (this.ctx.out) runFolder.appendLogs(this.ctx.out, { evals: [rec] });
    return r;
  }

  /** The refinement probe (eval.refinementProbe): drafts as in training, refinements at the evaluation's settings. */
  private probe(policy: Policy, updates: number): Promise<NonNullable<EvalDetail['refinementProbe']>> {
    const { eval: ev, sampling, seed, igrpo } = this.config;
    const deps = {
      sample: makeLocalSampler(policy, sampling), score: this.ctx.score, promptOf: this.ctx.promptOf, render: this.ctx.render,
      encode: (text: string) => plainPrompt(policy.tokenizer, text).ids, contextLength: policy.maxSeqLen, maxNewTokens: sampling.maxNewTokens,
      seed: mixSeed(seed, 8, updates),
    };
    return refinementProbe(this.ctx.heldOut, deps, igrpo, { k: ev.k, refine: makeLocalSampler(policy, { temperature: ev.temperature, topP: ev.topP }), temperature: ev.temperature });
  }

  async checkpoint(updates: number, policy: Policy, optimizer: Adam): Promise<string> {
    const out = this.ctx.out;
    if (!out) throw new Error('checkpoint: this trainer has no run folder (out)');
    return runFolder.writeCheckpoint(out, updates, policy, await optimizer.getStateAsync(), this.config, this.ctx.backend, (dir) => this.ctx.objective.save(dir));
  }

  summary(algo: Algo, steps: number): RunSummary {
    const times = this.stepTimes;
    const mean = times.length ? times.reduce((a, b) => a + b, 0) / times.length : 0;
    return { algo, seed: this.config.seed, steps, finalEval: this.evals[this.evals.length - 1], evals: [...this.evals], meanStepMs: mean, stepMs: [...times], out: this.ctx.out };
  }
}

/** What Trainer.run drives: the step, evaluation and the run's summary. */
export interface Runnable {
  readonly config: TrainConfig;
  readonly out?: string;
  readonly book: RunBook;
  stepIndex: number;
  step(): Promise<StepState>;
  evaluate(): Promise<EvalDetail>;
  summary(): RunSummary;
}

/** Train until config.steps updates are done (continuing a resumed run), evaluating at the start if asked. */
export async function runToEnd(t: Runnable, opts: { onStep?: (s: StepState) => void; onEval?: (r: EvalRecord) => void } = {}): Promise<RunSummary> {
  const { book } = t;
  if (t.stepIndex === 0 && t.config.eval.atStart && !book.evals.some((e) => e.updates === 0)) {
    await t.evaluate();
    opts.onEval?.(book.evals[book.evals.length - 1]);
  }
  const from = t.stepIndex;
  while (t.stepIndex < t.config.steps) {
    await interruptPoint(`before step ${t.stepIndex}`); // Kernel → Interrupt stops here (or mid-sampling)
    const s = await t.step(); // (not inside onStep?.(…): an absent callback would skip evaluating it)
    opts.onStep?.(s);
  }
  const summary = t.summary();
  // a resume with nothing left to do leaves the finished run's summary as it was
  if (t.out && (t.stepIndex > from || !runFolder.hasSummary(t.out))) runFolder.writeSummary(t.out, summary);
  return summary;
}
