// Supervised warm-up: teach the tiny GPT the synthetic task's worked solutions until it is right some of
// the time — RL needs groups that are neither all right nor all wrong. A share of the examples is shown in
// the refinement format q' = template(q, draft) with a draft that is either the reference solution or a
// corrupted one (wrong step results and answer), the target always being the reference: the policy then
// knows the stage-2 prompt shape without having learnt that drafts are always right (or always wrong).
// Later phases can also show the policy's own sampled drafts (mostly wrong, with realistic slips) and
// drafts corrupted mid-solution with the slip carried through the later steps, so that "check the attempt
// and redo it" is learnt rather than "copy the attempt". GRPO and iGRPO both start from this same policy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { valueAndGrads } from '../ops/autodiff.js';
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { GPT } from '../model/gpt.js';
import { loadGPT } from '../model/load.js';
import { packageRoot } from '../paths.js';
import type { Policy } from '../model/policy.js';
import { Adam } from '../optim/adam.js';
import { clipByGlobalNormAsync } from '../optim/clip.js';
import { buildSequenceBatch } from '../rl/batch.js';
import { sample } from '../sampling/index.js';
import { getTemplate } from '../rl/templates.js';
import { Rng, mixSeed } from '../util/rng.js';
import { interruptPoint } from '../util/interrupt.js';
import { evaluate } from './evaluate.js';
import { learningRate, ScheduleConfig } from './schedule.js';
import { evalProblems, promptOf, syntheticTokenizer, TaskConfig, trainProblems } from './task.js';

export const SftConfig = z
  .object({
    // the SFT warm-up writes worked synthetic solutions: a problem file (data.file of a train config) has no place here
    task: TaskConfig.refine((t) => t.file === undefined && t.heldOutFile === undefined, { message: 'SFT trains on the synthetic task only (no file / heldOutFile)' }).default({}),
    model: z
      .object({
        dModel: z.number().int().positive().default(64),
        nLayers: z.number().int().positive().default(2),
        nHeads: z.number().int().positive().default(4),
        maxSeqLen: z.number().int().positive().default(96),
        mlpRatio: z.number().int().positive().default(4),
      })
      .strict()
      .default({}),
    /** Continue from this policy folder instead of a fresh init (its model settings then win over `model`). */
    init: z.string().optional(),
    steps: z.number().int().positive().default(800),
    batchSize: z.number().int().positive().default(32),
    lr: z.number().finite().positive().default(3e-3),
    weightDecay: z.number().finite().min(0).default(0.01),
    maxGradNorm: z.number().finite().min(0).default(1),
    schedule: ScheduleConfig.default({ warmupSteps: 50, minLrRatio: 0.1 }),
    /** Share of examples in the refinement format (q' with a draft). */
    refineFraction: z.number().finite().min(0).max(1).default(0.3),
    /** Of those, the share whose draft is the reference solution (the rest are corrupted). */
    correctDraftFraction: z.number().finite().min(0).max(1).default(0.5),
    /** How corrupted drafts are made: 'last' moves the last step and the answer; 'mixed' also (half the time)
     *  slips one step at random and carries the wrong value through the later steps, as the policy's own errors do. */
    corruption: z.enum(['last', 'mixed']).default('last'),
    /** Of the refinement examples, the share whose draft is the policy's own sample (0 = none). */
    ownDraftFraction: z.number().finite().min(0).max(1).default(0),
    /** Own drafts: problems sampled per refresh (one draft each), refresh period in steps, temperature. */
    ownDraftPool: z.number().int().positive().default(512),
    ownDraftRefreshEvery: z.number().int().positive().default(500),
    ownDraftTemperature: z.number().finite().min(0).default(0.7),
    /** Draw the SFT pool from this many training draws instead of task.trainSize (the held-out problems of
     *  `task`, which the experiment evaluates on, are removed from it); unset = the task's own pool. */
    poolSize: z.number().int().positive().optional(),
    template: z.string().default('plain'),
    seed: z.number().int().nonnegative().default(0),
    evalEvery: z.number().int().nonnegative().default(200),
    evalTemperature: z.number().finite().min(0).default(0.7),
    evalTopP: z.number().finite().gt(0).max(1).default(1),
    /** Samples per held-out problem in the evaluations (pass@1 averaged over k). */
    evalK: z.number().int().positive().default(1),
    /** Held-out problems for the progress evaluations (and the final one); 0 = none. */
    evalSize: z.number().int().nonnegative().default(64),
  })
  .strict();
export type SftConfig = z.infer<typeof SftConfig>;

/** A wrong version of a worked solution: the last step's result and the answer moved by a small non-zero amount. */
export function corruptSolution(p: Problem, rng: Rng): string {
  const solution = p.solution ?? `<answer>${p.answer}</answer>`;
  const gold = Number(p.answer);
  let wrong = gold;
  while (wrong === gold || wrong < 0) wrong = gold + (rng.int(2) ? 1 : -1) * (1 + rng.int(10));
  const lastEq = solution.lastIndexOf(`=${p.answer}`);
  let text = solution.replace(`<answer>${p.answer}</answer>`, `<answer>${wrong}</answer>`);
  if (lastEq >= 0 && rng.int(2)) text = text.slice(0, lastEq) + `=${wrong}` + text.slice(lastEq + 1 + p.answer.length);
  return text;
}

const STEP = /^(\d+)([+\-*])(\d+)=(-?\d+)$/;
const apply = (a: number, op: string, b: number): number => (op === '+' ? a + b : op === '-' ? a - b : a * b);

/** A wrong worked solution as the policy gets one wrong: one step's result slips by a small amount and the
 *  later steps compute on with the wrong value (so the draft is consistent after the slip and its answer is
 *  wrong). Falls back to corruptSolution when the steps do not parse or the slip cancels out. */
export function corruptStep(p: Problem, rng: Rng): string {
  const m = /^<think>(.*)<\/think><answer>(.*)<\/answer>$/.exec(p.solution ?? '');
  const steps = m ? m[1].split(' ').map((s) => STEP.exec(s)) : [];
  if (!m || steps.length === 0 || steps.some((s) => !s)) return corruptSolution(p, rng);
  const parsed = steps.map((s) => ({ a: s![1], op: s![2], b: s![3], r: s![4] }));
  const i = rng.int(parsed.length);
  const old = Number(parsed[i].r);
  let wrong = old;
  while (wrong === old || wrong < 0) wrong = old + (rng.int(2) ? 1 : -1) * (1 + rng.int(10));
  const changed = new Map<string, string>([[parsed[i].r, String(wrong)]]);
  const out = parsed.map((s, j) => {
    if (j < i) return s;
    if (j === i) return { ...s, r: String(wrong) };
    // a later step that used an earlier (now changed) result uses the wrong value instead
    const a = changed.get(s.a), b = a === undefined ? changed.get(s.b) : undefined;
    if (a === undefined && b === undefined) return s;
    const next = { ...s, a: a ?? s.a, b: b ?? s.b };
    const r = String(apply(Number(next.a), next.op, Number(next.b)));
    changed.set(s.r, r);
    return { ...next, r };
  });
  const answer = out[out.length - 1].r;
  if (answer === p.answer) return corruptSolution(p, rng);
  return `<think>${out.map((s) => `${s.a}${s.op}${s.b}=${s.r}`).join(' ')}</think><answer>${answer}</answer>`;
}

/** A draft the policy sampled itself for a problem (right or wrong, as it came). */
export interface OwnDraft {
  problem: Problem;
  draft: string;
}

/** One SFT example: prompt text and target completion (the reference solution). With `own` drafts, a
 *  share ownDraftFraction of the refinement examples shows one of them (for its own problem) instead. */
export function sftExample(p: Problem, cfg: SftConfig, rng: Rng, own: readonly OwnDraft[] = []): { prompt: string; target: string } {
  const reference = (q: Problem) => q.solution ?? `<answer>${q.answer}</answer>`;
  if (rng.uniform() >= cfg.refineFraction) return { prompt: promptOf(p), target: reference(p) };
  if (own.length > 0 && rng.uniform() < cfg.ownDraftFraction) {
    const o = own[rng.int(own.length)];
    return { prompt: getTemplate(cfg.template)({ question: promptOf(o.problem), draft: o.draft }), target: reference(o.problem) };
  }
  const target = reference(p);
  const corrupt = cfg.corruption === 'mixed' && rng.int(2) ? corruptStep : corruptSolution;
  const draft = rng.uniform() < cfg.correctDraftFraction ? target : corrupt(p, rng);
  return { prompt: getTemplate(cfg.template)({ question: promptOf(p), draft }), target };
}

/** The SFT pool: the task's training problems, or poolSize draws minus the task's held-out problems. */
export function sftPool(cfg: SftConfig): Problem[] {
  if (cfg.poolSize === undefined) return trainProblems(cfg.task);
  const heldOut = new Set(evalProblems(cfg.task).map((p) => p.problem));
  return trainProblems({ ...cfg.task, trainSize: cfg.poolSize }).filter((p) => !heldOut.has(p.problem));
}

/** One draft per problem for ownDraftPool random pool problems, sampled from the current policy as stage 1 would. */
async function sampleOwnDrafts(policy: Policy, pool: readonly Problem[], cfg: SftConfig, rng: Rng, seed: number): Promise<OwnDraft[]> {
  const problems = Array.from({ length: cfg.ownDraftPool }, () => pool[rng.int(pool.length)]);
  const groups = await sample(policy, problems.map(promptOf), { n: 1, temperature: cfg.ownDraftTemperature, topP: 1, maxNewTokens: 32, seed });
  return groups.map((g, i) => ({ problem: problems[i], draft: g[0].text }));
}

function freshPolicy(cfg: SftConfig): GPT {
  const tokenizer = syntheticTokenizer();
  return new GPT({ ...cfg.model, vocabSize: tokenizer.vocabSize, seed: cfg.seed }, tokenizer);
}

/** Mean next-token NLL over target tokens (the EOS included) of a batch. */
function nllLoss(policy: Policy, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logp = policy.tokenLogProbs(ids);
    return tf.div(tf.neg(tf.sum(tf.mul(logp, mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

export interface SftProgress {
  step: number;
  loss: number;
  lr: number;
  eval?: { passAt1: number; n: number };
}

export async function runSft(cfg: SftConfig, opts: { out?: string; onProgress?: (p: SftProgress) => void } = {}): Promise<{ policy: GPT; finalEval: number }> {
  const policy = cfg.init ? loadGPT(path.resolve(packageRoot(), cfg.init)) : freshPolicy(cfg);
  const tokenizer = policy.tokenizer;
  const optimizer = new Adam(policy.parameters(), { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const pool = sftPool(cfg);
  const heldOut = evalProblems(cfg.task).slice(0, cfg.evalSize);
  const rng = new Rng(mixSeed(cfg.seed, 17));
  let finalEval = NaN;
  const ownRng = new Rng(mixSeed(cfg.seed, 29)); // its own stream: configs without own drafts keep their examples
  let own: OwnDraft[] = [];
  for (let step = 0; step < cfg.steps; step++) {
    await interruptPoint(`before SFT step ${step}`);
    if (cfg.ownDraftFraction > 0 && step % cfg.ownDraftRefreshEvery === 0) own = await sampleOwnDrafts(policy, pool, cfg, ownRng, mixSeed(cfg.seed, 31, step));
    const examples = Array.from({ length: cfg.batchSize }, () => sftExample(pool[rng.int(pool.length)], cfg, rng, own));
    const pairs = examples.map((e) => ({ prompt: tokenizer.encode(e.prompt), completion: [...tokenizer.encode(e.target), tokenizer.eosId] }));
    const b = buildSequenceBatch(pairs, tokenizer.padId);
    if (b.length > policy.maxSeqLen) throw new Error(`an SFT example has ${b.length} tokens, more than model.maxSeqLen ${policy.maxSeqLen}`);
    const ids = tf.tensor2d(b.ids, [b.batch, b.length], 'int32');
    const mask = tf.tensor2d(b.mask, [b.batch, b.length - 1]);
    const { value, grads } = valueAndGrads(() => nllLoss(policy, ids, mask), policy.parameters());
    const list = policy.parameters().map((p) => grads[p.name]);
    const clipped = await clipByGlobalNormAsync(list, cfg.maxGradNorm || Infinity); // async read: works on webgpu too
    const lr = learningRate(cfg.lr, step, cfg.steps, cfg.schedule);
    optimizer.step(clipped.grads, lr);
    const loss = (await value.data())[0];
    tf.dispose([ids, mask, value, ...list, ...clipped.grads]);
    if (!Number.isFinite(loss)) throw new Error(`SFT loss became ${loss} at step ${step}`);
    const last = step === cfg.steps - 1;
    const progress: SftProgress = { step, loss, lr };
    if (heldOut.length > 0 && ((cfg.evalEvery > 0 && (step + 1) % cfg.evalEvery === 0) || last)) {
      const r = await evaluate(policy, heldOut, { k: cfg.evalK, temperature: cfg.evalTemperature, topP: cfg.evalTopP, maxNewTokens: 48, seed: mixSeed(cfg.seed, step) });
      progress.eval = { passAt1: r.passAt1, n: r.n };
      finalEval = r.passAt1;
    }
    opts.onProgress?.(progress);
  }
  if (opts.out) {
    const out = opts.out;
    await keepingOthers(out, () => policy.save(out));
    fs.writeFileSync(path.join(out, 'sft.json'), JSON.stringify({ config: cfg, heldOutPassAt1: finalEval }, null, 2) + '\n');
  }
  return { policy, finalEval };
}

/** What SFT writes into --out; anything else there (data/policy/README.md, notes) it did not make, and keeps. */
const SFT_FILES = new Set(['model.safetensors', 'config.json', 'tokenizer.json', 'sft.json']);

/**
 * Run `save` (which replaces the whole folder atomically) and put back what the folder held besides the
 * policy's own files. They are copied aside first, so a failed save leaves the folder as it was, and a crash
 * or a failed copy back leaves the copy (a hidden sibling `.NAME.kept-*`) rather than nothing.
 */
async function keepingOthers(out: string, save: () => Promise<void>): Promise<void> {
  const others = fs.existsSync(out) ? fs.readdirSync(out).filter((n) => !SFT_FILES.has(n)) : [];
  if (others.length === 0) return save();
  const target = path.resolve(out);
  const kept = fs.mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.kept-`));
  for (const n of others) fs.cpSync(path.join(target, n), path.join(kept, n), { recursive: true });
  try {
    await save();
  } catch (e) {
    fs.rmSync(kept, { recursive: true, force: true }); // the folder is as it was
    throw e;
  }
  for (const n of others) fs.cpSync(path.join(kept, n), path.join(target, n), { recursive: true });
  fs.rmSync(kept, { recursive: true, force: true }); // only once everything is back
}
