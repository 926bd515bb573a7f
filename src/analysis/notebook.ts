// What the walkthrough notebooks share, so they hold narration and calls only: the fast configuration the test
// suite runs them in (IGRPO_NOTEBOOK_FAST=1), the policy to start from, the small run configs, and one-call helpers
// that turn a trainer step's state into tables and rollout records.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GPT } from '../model/gpt.js';
import type { Policy } from '../model/policy.js';
import { loadPolicy } from '../model/load.js';
import { dataPath } from '../paths.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from '../train/config.js';
import { syntheticTokenizer } from '../train/task.js';
import type { MetricsRecord } from '../train/records.js';
import { Trainer, type StepState } from '../train/trainer.js';
import { deepMerge } from '../util/merge.js';
import { ProgressBar } from './progress.js';

/** True when the notebooks run in the test suite's small, fast configuration. */
export function notebookFast(): boolean {
  return process.env.IGRPO_NOTEBOOK_FAST === '1';
}

/** Pick the fast or the full value. */
export function fastOr<T>(fast: T, full: T): T {
  return notebookFast() ? fast : full;
}

export interface NotebookPolicy {
  policy: Policy;
  /** Where it came from, for the notebook to print. */
  source: string;
}

export function shippedPolicyDir(): string {
  return dataPath('policy');
}

/**
 * The shipped SFT policy (data/policy) when present; otherwise a small randomly initialised GPT over the
 * synthetic task's tokenizer, so every notebook still runs end to end (its accuracy is then ~0).
 */
export function notebookPolicy(): NotebookPolicy {
  const dir = shippedPolicyDir();
  if (fs.existsSync(path.join(dir, 'config.json'))) return { policy: loadPolicy(dir), source: `shipped policy (${dir})` };
  const tokenizer = syntheticTokenizer();
  const policy = new GPT({ vocabSize: tokenizer.vocabSize, dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 192, seed: 0 }, tokenizer);
  return { policy, source: `random-init GPT (${dir} is not there yet: run the SFT warm-up to create it)` };
}

/**
 * A training config for the notebooks: tiny in fast mode (2 prompts × 4 completions, short completions, a few
 * held-out problems), a few minutes on a laptop otherwise. Overrides merge field by field; the result is validated.
 */
export function notebookConfig(overrides: TrainConfigInput = {}): TrainConfig {
  const fast = notebookFast();
  const base: TrainConfigInput = {
    algo: 'igrpo',
    seed: 0,
    steps: fast ? 2 : 20,
    promptsPerStep: fast ? 2 : 4,
    completionsPerPrompt: fast ? 4 : 8,
    igrpo: { drafts: fast ? 2 : 4, refinements: fast ? 2 : 4, template: 'plain' },
    sampling: { maxNewTokens: fast ? 24 : 40 },
    data: { trainSize: fast ? 64 : 1024 },
    eval: { size: fast ? 4 : 32, k: fast ? 1 : 2, every: fast ? 0 : 5, atStart: false },
    checkpoint: { every: 0, keep: 1 },
  };
  // GRPO has no draft/refinement split; keep the igrpo block valid for either algorithm.
  return parseTrainConfig(deepMerge(base, overrides), 'notebook config');
}

/** One row per prompt of a step: the question, the drafts' rewards, the chosen d̂ and its reward. */
export function draftTable(s: StepState): Record<string, string | number>[] {
  if (!s.draftGroups || !s.chosen) throw new Error('draftTable: run sampleDrafts, scoreDrafts and selectDrafts first');
  return s.draftGroups.map((g, i) => {
    const c = g.completions[s.chosen![i]];
    return {
      prompt: i,
      question: g.problem.problem,
      gold: g.problem.answer,
      'draft rewards': g.completions.map((d) => d.score.reward.toFixed(2)).join(' '),
      'd̂': s.chosen![i],
      'd̂ reward': c.score.reward,
      'd̂ answer': c.score.answer ?? '—',
    };
  });
}

/** One row per trained completion: its group, reward, correctness and advantage (after computeAdvantages). */
export function advantageTable(s: StepState): Record<string, string | number>[] {
  if (!s.groups) throw new Error('advantageTable: run scoreRefinements first');
  return s.groups.flatMap((g, i) =>
    g.completions.map((c, j) => ({
      prompt: i,
      completion: j,
      text: c.text.replace(/\s+/g, ' ').slice(0, 40),
      reward: c.score.reward,
      correct: c.score.correct ? 'yes' : 'no',
      advantage: s.advantages ? s.advantages[i][j] : NaN,
    })),
  );
}

/** A fresh folder for a notebook's run logs (under the system temp folder, or IGRPO_NOTEBOOK_RUNS when set). */
export function scratchDir(name: string): string {
  const base = process.env.IGRPO_NOTEBOOK_RUNS ?? os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, `igrpo-${name}-`));
}

/** The metrics a reader looks at first, as one table row. */
export function metricsSummary(m: MetricsRecord): Record<string, string | number> {
  const row: Record<string, string | number> = {
    step: m.step, algo: m.algo, reward: m.reward, accuracy: m.accuracy, entropy: m.entropy, loss: m.loss, gradNorm: m.gradNorm,
    clipFraction: m.clipFraction, zeroStdFraction: m.zeroStdFraction, completions: m.sampledCompletions, tokens: m.completionTokens,
    'ms/step': m.wallMs.total,
  };
  if (m.draftAccuracy !== undefined) row.draftAccuracy = m.draftAccuracy;
  if (m.refinementAccuracy !== undefined) row.refinementAccuracy = m.refinementAccuracy;
  if (m.eval) row['eval pass@1'] = m.eval.passAt1;
  return row;
}

export interface TrainRunsOptions {
  algos: ('grpo' | 'igrpo')[];
  seeds: number[];
  steps: number;
  overrides?: TrainConfigInput;
}

/**
 * Trains one run per algorithm and seed from the notebook policy, each logging to its own folder
 * (ALGO-sSEED under one scratch folder), with a progress bar over all steps. Returns the run folders.
 */
export async function trainRuns(opts: TrainRunsOptions): Promise<{ root: string; dirs: string[] }> {
  const root = scratchDir('runs');
  const bar = new ProgressBar({ total: opts.algos.length * opts.seeds.length * opts.steps, label: 'training' });
  const dirs: string[] = [];
  for (const algo of opts.algos) {
    for (const seed of opts.seeds) {
      const dir = path.join(root, `${algo}-s${seed}`);
      const config = notebookConfig({ ...opts.overrides, algo, seed, steps: opts.steps });
      const trainer = await Trainer.create(config, { policy: notebookPolicy().policy, out: dir });
      try {
        await trainer.run({ onStep: (s) => bar.tick(1, { run: `${algo} seed ${seed}`, accuracy: s.metrics?.accuracy ?? NaN }) });
      } finally {
        trainer.dispose();
      }
      dirs.push(dir);
    }
  }
  bar.finish();
  return { root, dirs };
}
