// Our side of bench/llm.ts, one process per measurement (clean peak RSS): loads the HF folder on the
// native backend, times KV-cache group sampling (shared prompt prefix) and LoRA GRPO update steps,
// prints one JSON line. Mirrors bench/torch_llama.py `run` step for step.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend, setNativeThreads } from '../src/backend/native/index.js';
import { loadPretrained } from '../src/model/hf.js';
import { Rng } from '../src/util/rng.js';
import { timeGroupSampling, timeLoraSteps, type LlmWorkload } from './llm_measure.js';

export interface LlmWorkerArgs extends LlmWorkload {
  dir: string;
  threads: number;
  /** Recompute layers in the backward (LlamaModel.gradientCheckpointing; off by default, as in the model). */
  checkpointing?: boolean;
}

export interface LlmResult {
  side: string;
  threads: number;
  sample_s: number;
  tokens_per_s: number;
  lora_step_s: number;
  lora_steps_s: number[];
  peak_rss_mb: number;
}

export function vmHwmMb(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export async function runWorker(a: LlmWorkerArgs): Promise<LlmResult> {
  await registerNativeBackend();
  await tf.setBackend('native');
  setNativeThreads(a.threads);
  const model = loadPretrained(a.dir);
  model.gradientCheckpointing = a.checkpointing ?? false;
  const vocab = model.config.vocabSize;
  const rng = new Rng(1);
  const prefix = Array.from({ length: a.promptLen }, () => rng.int(vocab));
  const prompts = Array.from({ length: a.prompts }, () => [...prefix.slice(0, a.promptLen - 4), ...Array.from({ length: 4 }, () => rng.int(vocab))]);
  const sampleS = await timeGroupSampling(model, prompts, a.group, a.newTokens);
  const ids = tf.tensor2d(Array.from({ length: a.loraBatch }, () => Array.from({ length: a.loraSeq }, () => rng.int(vocab))), undefined, 'int32');
  const advantages = tf.tensor1d(Array.from({ length: a.loraBatch }, () => rng.normal()));
  const times = await timeLoraSteps(model, ids, advantages, a.rank, a.steps);
  return {
    side: 'ours',
    threads: a.threads,
    sample_s: sampleS,
    tokens_per_s: (a.prompts * a.group * a.newTokens) / sampleS,
    lora_step_s: times[times.length - 1],
    lora_steps_s: times,
    peak_rss_mb: vmHwmMb(),
  };
}
