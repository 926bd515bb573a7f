// The two measurements of the LLM benches (bench/llm.ts on the native backend, bench/gpu_llm.ts on
// webgpu), on whatever backend is active: KV-cache group sampling and LoRA GRPO update steps. Their
// PyTorch mirrors are bench/torch_llama.py and bench/torch_llama_gpu.py.
import * as tf from '@tensorflow/tfjs';
import { valueAndGrads } from '../src/ops/autodiff.js';
import { LORA_TARGETS } from '../src/model/lora.js';
import type { LlamaModel } from '../src/model/llama.js';
import { Adam } from '../src/optim/adam.js';
import { ObjectiveConfig, policyLoss, stopGradient } from '../src/rl/loss.js';
import { sample } from '../src/sampling/index.js';

/** Seconds to sample `group` completions of `newTokens` tokens for each prompt (shared prefix, no EOS stop), after a 2-token warm-up. */
/** The measured workload: group sampling (prompts × group × newTokens after promptLen) and `steps` LoRA steps of loraBatch × loraSeq at rank. */
export interface LlmWorkload {
  prompts: number;
  group: number;
  newTokens: number;
  promptLen: number;
  loraBatch: number;
  loraSeq: number;
  rank: number;
  steps: number;
}

export async function timeGroupSampling(model: LlamaModel, prompts: number[][], group: number, newTokens: number): Promise<number> {
  const opts = { stopOnEos: false, sharePrefix: true };
  await sample(model, prompts.slice(0, 1), { ...opts, n: 2, maxNewTokens: 2, seed: 0 }); // warm-up
  const t0 = performance.now();
  await sample(model, prompts, { ...opts, n: group, maxNewTokens: newTokens, seed: 1 });
  return (performance.now() - t0) / 1000;
}

/**
 * Turns LoRA on (r on the seven projections, alpha 2r) and times `steps` GRPO updates of the batch:
 * token log-probs → clipped loss (TRL with num_iterations 1: old log-probs = the current ones, detached,
 * ratio 1, gradient live) → backward → Adam on the adapters; each step awaits its loss. Seconds per step.
 */
export async function timeLoraSteps(model: LlamaModel, ids: tf.Tensor2D, advantages: tf.Tensor1D, rank: number, steps: number): Promise<number[]> {
  model.enableLora({ r: rank, alpha: 2 * rank, targetModules: [...LORA_TARGETS] });
  const params = model.parameters();
  const adam = new Adam(params, { lr: 1e-5 });
  const [b, s] = ids.shape;
  const mask = tf.ones([b, s - 1]) as tf.Tensor2D;
  const cfg = ObjectiveConfig.parse({});
  const norm = { sequences: b, tokens: b * (s - 1), microBatches: 1, maxCompletionLength: s - 1 };
  const times: number[] = [];
  try {
    for (let k = 0; k < steps; k++) {
      const t0 = performance.now();
      const { value, grads } = valueAndGrads(() => {
        const logp = model.tokenLogProbs(ids);
        return policyLoss({ logp, oldLogp: stopGradient(logp) as tf.Tensor2D, advantages, mask }, cfg, norm).loss;
      }, params);
      adam.step(params.map((p) => grads[p.name]));
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      times.push((performance.now() - t0) / 1000);
    }
  } finally {
    mask.dispose();
    adam.dispose();
  }
  return times;
}
