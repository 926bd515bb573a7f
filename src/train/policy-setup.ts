// The trainer's policy and KL reference, from a config: one place that knows about LoRA.
//   - config.policy: 'embedded' (data/policy), a GPT checkpoint, a HF model folder, or ORG/NAME in the HF cache;
//   - config.lora: adapters on (only they train); the reference is the same model with adapters off
//     (LlamaModel.reference(): shares the base weights, never a second copy);
//   - no LoRA: the whole policy trains; the reference is a frozen clone() of the starting policy;
//   - resume: the checkpoint's policy/ (a LoRA run's holds adapter/, loaded with it). The base of a LoRA
//     run never changes, so its reference is again the checkpointed base with adapters off.
import * as path from 'node:path';
import { LlamaModel } from '../model/llama.js';
import { loadPolicy } from '../model/load.js';
import type { LoraConfigInput } from '../model/lora.js';
import type { Policy } from '../model/policy.js';
import { dataPath } from '../paths.js';
import type { PromptRenderer } from '../rl/igrpo.js';
import { questionPrompt, refinementChatPrompt } from '../rl/prompt-format.js';
import type { LoraTrainConfig, TrainConfig } from './config.js';

/** config.policy as a loadPolicy spec: 'embedded' is the shipped data/policy. */
export const policySpec = (spec: string): string => (spec === 'embedded' ? dataPath('policy') : spec);

/** The config's lora field in LoraAdapters' terms. */
export const loraOptions = (l: LoraTrainConfig): LoraConfigInput => ({ r: l.r, alpha: l.alpha, dropout: l.dropout, targetModules: l.targets, seed: l.seed });

export interface TrainPolicies {
  policy: Policy;
  /** The KL reference (objective.beta > 0 only). */
  reference?: Policy;
}

/**
 * The policy to train and its reference. `given` (tests, notebooks) is used instead of loading
 * config.policy, and gets fresh adapters when config.lora asks and it has none; `resumed` is the policy
 * a checkpoint held (src/train/run-folder.ts resumeRun loads policy/ with its adapter/).
 */
export function trainPolicies(config: TrainConfig, opts: { given?: Policy; resumed?: Policy } = {}): TrainPolicies {
  const wantsRef = config.objective.beta > 0;
  let policy: Policy;
  if (opts.resumed) {
    policy = opts.resumed;
  } else if (opts.given) {
    policy = opts.given;
    if (config.lora && policy instanceof LlamaModel && !policy.adapters) policy.enableLora(loraOptions(config.lora));
  } else {
    policy = loadPolicy(policySpec(config.policy), config.lora ? { lora: loraOptions(config.lora) } : {});
  }
  const lora = policy instanceof LlamaModel && policy.adapters !== null;
  if (config.lora && !lora) {
    if (!opts.given) policy.dispose();
    const where = opts.resumed ? `the checkpoint's policy/ has no adapter/` : `the policy is not a Hugging Face Llama-family model`;
    throw new Error(`config lora: ${where} (LoRA needs one; policy: ${config.policy})`);
  }
  if (!config.lora && lora && !opts.given) {
    policy.dispose();
    throw new Error(`config lora is absent but ${opts.resumed ? 'the checkpoint' : config.policy} holds an adapter: set lora as the run did`);
  }
  if (policy instanceof LlamaModel) policy.gradientCheckpointing = config.optimizer.gradientCheckpointing;
  else if (config.optimizer.gradientCheckpointing) {
    if (!opts.given) policy.dispose();
    throw new Error(`config optimizer.gradientCheckpointing: only Hugging Face Llama-family policies recompute layers (policy: ${config.policy})`);
  }
  if (!wantsRef) return { policy };
  if (lora) return { policy, reference: (policy as LlamaModel).reference() };
  // full fine-tuning: the reference is the starting policy, frozen
  const reference = opts.resumed ? loadPolicy(policySpec(config.policy), { noAdapter: true }) : policy.clone();
  return { policy, reference };
}

/** The chat renderer of prompt.format 'chat' (q and q' through the policy's chat template); undefined for plain. */
export function promptRenderer(config: TrainConfig, policy: Policy): PromptRenderer | undefined {
  const p = config.prompt;
  if (!p || p.format !== 'chat') return undefined;
  const chat = { ...p.chat, system: p.system };
  const tok = policy.tokenizer;
  // fail at the start, naming what is missing, rather than at the first step
  questionPrompt(tok, 'check', 'chat', chat);
  return { question: (q) => questionPrompt(tok, q, 'chat', chat), refinement: (q, d) => refinementChatPrompt(tok, q, d, chat) };
}
