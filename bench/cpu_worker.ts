// One project measurement in this process: train step, GRPO update step, KV-cache sampling and grouped
// shared-prefix sampling of the bench GPT on one backend (called by bench/cpu.ts in a child process).
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { GPT } from '../src/model/gpt.js';
import { Adam } from '../src/optim/adam.js';
import { ObjectiveConfig } from '../src/rl/loss.js';
import { policyUpdate, type TrainSequence } from '../src/rl/update.js';
import { sample } from '../src/sampling/index.js';
import { CharTokenizer } from '../src/tokenizer/index.js';
import { registerWasmSpeedups } from '../src/backend/wasm/index.js';

export interface WorkerArgs {
  backend: string;
  dModel: number;
  seq: number;
  sample: boolean;
  steps: number;
  warmup: number;
}

export interface WorkerResult {
  backend: string;
  threads: number;
  train_step_ms: number;
  /** process CPU time per step (user + system, all threads): steadier than wall time on shared cores */
  train_step_cpu_ms: number;
  /** One GRPO update (src/rl/update.ts policyUpdate): policy log-probs, clipped loss, backward, clipping, Adam. */
  update_step_ms: number;
  update_step_cpu_ms: number;
  sample_tokens_per_s?: number;
  group_sample_tokens_per_s?: number;
  /** tokens per second of process CPU time */
  sample_cpu_tokens_per_s?: number;
  group_sample_cpu_tokens_per_s?: number;
  peak_rss_mb: number;
  num_tensors_stable: boolean;
}

/** 29 characters + pad/bos/eos = vocab 32, the bench model's. */
const TOKENIZER = new CharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz .,' });

function randomIds(rows: number, cols: number, seed: number): number[][] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % TOKENIZER.vocabSize);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/** The GRPO update's batch, shared with bench/torch_gpt.py: each row is a 16-token prompt and its completion. */
export const UPDATE = { promptLength: 16, temperature: 0.7, epsilon: 0.2, maxGradNorm: 1, advantage: (i: number) => ((i % 4) - 1.5) / 1.1 };

/** Median wall and process-CPU ms per call of f. */
async function timeSteps(f: () => void | Promise<unknown>, steps: number, onStep: () => void): Promise<{ wall: number; cpu: number }> {
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await f();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1000);
    onStep();
  }
  return { wall: median(times), cpu: median(cpuTimes) };
}

export async function measure(a: WorkerArgs): Promise<WorkerResult> {
  // 'wasm-stock' is wasm without our BatchMatMul re-registration, for the before/after figure
  await selectBackend(a.backend === 'wasm-stock' ? 'wasm' : a.backend);
  if (a.backend === 'wasm') registerWasmSpeedups();
  const model = new GPT({ vocabSize: 32, dModel: a.dModel, nLayers: 4, nHeads: 4, maxSeqLen: Math.max(256, a.seq + 1), seed: 0 }, TOKENIZER);
  const params = model.parameters();
  const opt = new Adam(params, { lr: 1e-3 });
  const ids = tf.tensor2d(randomIds(32, a.seq + 1, 1), undefined, 'int32');
  let peak = 0;
  const notePeak = () => (peak = Math.max(peak, process.memoryUsage().rss));

  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogProbs(ids))) as tf.Scalar, params);
    value.dispose();
    const list = params.map((p) => grads[p.name]);
    opt.step(list);
    list.forEach((g) => g.dispose());
  };
  // The GRPO update users run: the same 32 rows as (prompt, completion, advantage), one micro-batch,
  // log-probs at the sampling temperature through Policy.tokenLogProbs, clipped loss, clip to norm 1, Adam.
  const rows = ids.arraySync();
  const seqs: TrainSequence[] = rows.map((r, i) => ({
    promptIds: r.slice(0, UPDATE.promptLength), completionIds: r.slice(UPDATE.promptLength), advantage: UPDATE.advantage(i), truncated: false,
  }));
  const updateOpts = {
    objective: ObjectiveConfig.parse({ epsilonLow: UPDATE.epsilon }), temperature: UPDATE.temperature, microBatchSize: rows.length, numIterations: 1,
    maxGradNorm: UPDATE.maxGradNorm, maxCompletionLength: a.seq + 1 - UPDATE.promptLength, lr: 1e-3,
  };
  const updateStep = () => policyUpdate(model, opt, seqs, updateOpts);
  for (let i = 0; i < a.warmup; i++) {
    step();
    await updateStep();
  }
  const before = tf.memory().numTensors;
  const train = await timeSteps(step, a.steps, notePeak);
  const update = await timeSteps(updateStep, a.steps, notePeak);
  const stable = tf.memory().numTensors === before;

  const result: WorkerResult = {
    backend: a.backend, threads: Number(process.env.IGRPO_THREADS ?? 2), train_step_ms: train.wall, train_step_cpu_ms: train.cpu,
    update_step_ms: update.wall, update_step_cpu_ms: update.cpu, peak_rss_mb: 0, num_tensors_stable: stable,
  };
  if (a.sample) {
    const opts = { maxNewTokens: 64, temperature: 1, stopOnEos: false, seed: 3 };
    /** Tokens/s by wall clock and by process CPU time for one sampling call (after one warm-up call). */
    const rate = async (prompts: number[][], n: number) => {
      await sample(model, prompts, { ...opts, n, seed: 4 }); // warm-up: the JIT sees every decode shape once
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await sample(model, prompts, { ...opts, n, sharePrefix: true });
      const c = process.cpuUsage(c0);
      notePeak();
      return { wall: (64 * 64) / ((performance.now() - t0) / 1000), cpu: (64 * 64) / ((c.user + c.system) / 1e6) };
    };
    const plain = await rate(randomIds(64, 16, 7), 1);
    const grouped = await rate(randomIds(8, 192, 9), 8);
    result.sample_tokens_per_s = plain.wall;
    result.sample_cpu_tokens_per_s = plain.cpu;
    result.group_sample_tokens_per_s = grouped.wall;
    result.group_sample_cpu_tokens_per_s = grouped.cpu;
  }
  result.peak_rss_mb = Math.max(peak, process.resourceUsage().maxRSS * 1024) / 2 ** 20;
  ids.dispose();
  model.dispose();
  return result;
}
