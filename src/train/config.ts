// The training configuration: one zod schema (defaults = the embedded default run), the type inferred.
// An invalid config is an error naming the field (parseTrainConfig). Reading a config file: ./config-file.ts.
import { z } from 'zod';
import { LORA_TARGETS } from '../model/lora-targets.js';
import { ScaleRewards } from '../rl/advantages.js';
import { DynamicSamplingConfig } from '../rl/dynamic-sampling.js';
import { IgrpoOptions, roundBudget } from '../rl/igrpo.js';
import { ObjectiveConfig } from '../rl/loss.js';
import { ScheduleConfig } from './schedule.js';
import { TaskConfig } from './task.js';
import { PromptConfig } from './prompt.js';
import { refSyncConfigErrors } from './ref-sync.js';
import { DEFAULT_REWARD_SPECS, RewardSpec } from '../verify/registry.js';

/**
 * Server mode: both stages sampled on OpenAI-compatible engines (vLLM, SGLang, `igrpo serve`) while the
 * update runs here on a LoRA adapter, synced to the engines after every update through vLLM's runtime
 * LoRA API under a new name per version.
 */
export const EngineConfig = z
  .object({
    /** Base URLs, e.g. http://10.0.0.5:8000/v1 (one per data-parallel engine). */
    urls: z.array(z.string().url()).min(1),
    /** The engine's base model name (what it serves without an adapter). */
    model: z.string().min(1),
    /** Bearer key of the engines; default $IGRPO_ENGINE_API_KEY (keeps it out of the run folder's config.json). */
    apiKey: z.string().optional(),
    /** Adapter versions are loaded as `${adapterPrefix}-step-N`. */
    adapterPrefix: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/).default('igrpo-policy'),
    maxConcurrency: z.number().int().positive().default(16),
    promptsPerRequest: z.number().int().positive().default(1),
    timeoutMs: z.number().int().positive().default(600_000),
    /** Which engine's request shape and LoRA endpoints (src/engine/options.ts; environment.md lists the versions). */
    engine: z.enum(['vllm', 'sglang']).default('vllm'),
    /** How long a request or adapter load keeps being retried (connection errors, 5xx), ms: enough for an engine's cold start. */
    retryForMs: z.number().int().nonnegative().default(300_000),
    /** At most this many retries as well (unset: only retryForMs bounds them). */
    retries: z.number().int().nonnegative().optional(),
    backoffMs: z.number().nonnegative().default(500),
    maxBackoffMs: z.number().nonnegative().default(15_000),
    /** TRL's truncated importance-sampling correction: per-token weight min(exp(log p_trainer − log p_engine), cap); off unless set. */
    tisCap: z.number().positive().optional(),
  })
  .strict();
export type EngineConfig = z.infer<typeof EngineConfig>;

export const LoraTrainConfig = z
  .object({
    r: z.number().int().positive().default(16),
    alpha: z.number().positive().default(32),
    /** Only 0: dropout would make the two forward passes of the ratio differ. */
    dropout: z.literal(0).default(0),
    /** HF module names (PEFT's target_modules). */
    targets: z.array(z.enum(LORA_TARGETS)).nonempty().default(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
    /** Seed of A's init. */
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();
export type LoraTrainConfig = z.infer<typeof LoraTrainConfig>;


export const TrainConfig = z
  .object({
    algo: z.enum(['grpo', 'igrpo']).default('igrpo'),
    seed: z.number().int().nonnegative().default(0),
    /** Optimizer updates (steps) in the run. */
    steps: z.number().int().positive().default(30),
    /** 'auto' picks the fastest backend that starts (src/backend/select.ts). */
    backend: z.string().default('auto'),
    /**
     * The starting policy: 'embedded' (the shipped SFT policy in data/policy), a GPT checkpoint folder, a
     * Hugging Face model folder (Llama, Qwen2/2.5, Qwen3, SmolLM2), or ORG/NAME[@rev] in the HF cache.
     */
    policy: z.string().default('embedded'),
    /** LoRA on the policy (HF models): only the adapters train; the KL reference is the base (adapters off). */
    lora: LoraTrainConfig.optional(),
    data: TaskConfig.default({}),
    /** q = format(problem): template over the problem's fields, system prompt, chat template (src/train/prompt.ts). */
    prompt: PromptConfig.default({}),
    /** Named, weighted rewards (src/verify/registry.ts), the same for training and evaluation; each logged per completion. */
    rewards: z.array(RewardSpec).min(1).default(DEFAULT_REWARD_SPECS),
    sampling: z
      .object({
        /** Training temperature (the paper: 0.7). */
        temperature: z.number().finite().positive().default(0.7),
        topK: z.number().int().nonnegative().default(0),
        topP: z.number().finite().gt(0).lte(1).default(1),
        maxNewTokens: z.number().int().positive().default(32),
      })
      .strict()
      .default({}),
    /**
     * Matched rollout budget: completions sampled per prompt by either method. GRPO uses them all as its
     * group; iGRPO splits them into igrpo.drafts + igrpo.refinements, or over its rounds as igrpo.budget
     * (which must add up to this).
     */
    completionsPerPrompt: z.number().int().min(2).default(8),
    promptsPerStep: z.number().int().positive().default(8),
    igrpo: IgrpoOptions.default({}), // one default for the template: IgrpoOptions' own
    objective: ObjectiveConfig.extend({
      scaleRewards: ScaleRewards.default('group'),
      advantageEps: z.number().finite().nonnegative().default(1e-4),
      /**
       * TR-DPO reference sync (TRL's sync_ref_model): every refModelSyncSteps steps the KL reference becomes
       * α·θ + (1 − α)·reference (α = refModelMixupAlpha). Needs beta > 0 and full fine-tuning (./ref-sync.ts).
       */
      syncRefModel: z.boolean().default(false),
      refModelMixupAlpha: z.number().finite().min(0).max(1).default(0.6),
      refModelSyncSteps: z.number().int().positive().default(512),
    })
      .strict()
      .default({}),
    optimizer: z
      .object({
        type: z.enum(['adam', 'adamw']).default('adamw'),
        lr: z.number().finite().positive().default(5e-5),
        beta1: z.number().finite().min(0).lt(1).default(0.9),
        beta2: z.number().finite().min(0).lt(1).default(0.99),
        eps: z.number().finite().positive().default(1e-8),
        /** AdamW only (Adam ignores it). */
        weightDecay: z.number().finite().min(0).default(0),
        /** Global-norm gradient clip; 0 = off. */
        maxGradNorm: z.number().finite().min(0).default(1),
        /** Sequences per forward/backward; gradients accumulate over micro-batches. */
        microBatchSize: z.number().int().positive().default(32),
        /** Optimizer updates per sampled batch (TRL's num_iterations). */
        numIterations: z.number().int().positive().default(1),
        /**
         * A step whose advantages are all 0: 'step' runs the optimizer on zero gradients as TRL does (AdamW
         * moves by momentum), 'skip' leaves the weights and optimizer state as they were (this repo before v3).
         */
        zeroAdvantage: z.enum(['step', 'skip']).default('step'),
        /**
         * Recompute each decoder layer in the backward instead of keeping its activations (TRL's
         * gradient_checkpointing; Llama-family policies): far less memory for about one more forward.
         * The gradients are the same, so a run may switch it on resume.
         */
        gradientCheckpointing: z.boolean().default(false),
      })
      .strict()
      .default({}),
    schedule: ScheduleConfig.default({ warmupSteps: 0, minLrRatio: 0.1 }),
    eval: z
      .object({
        /** Evaluate every this many steps (and at the end); 0 = only at the end. */
        every: z.number().int().nonnegative().default(10),
        /** Held-out problems (taken from data's held-out split). */
        size: z.number().int().positive().default(64),
        /** Samples per problem for pass@1 (the paper: 8, 64 for AIME). */
        k: z.number().int().positive().default(4),
        temperature: z.number().finite().min(0).default(0.6),
        topP: z.number().finite().gt(0).lte(1).default(0.95),
        /** Evaluate the starting policy before step 0 too. */
        atStart: z.boolean().default(true),
        /**
         * Also the refinement probe at each evaluation: pass@1 under q′ built from the policy's own best of
         * igrpo.drafts drafts (sampled at the training temperature), scored as in training, eval.k refinements per
         * problem at the evaluation's temperature; logged in evals.jsonl as refinementProbe. Costs about
         * (igrpo.drafts + eval.k) / eval.k times the evaluation's sampling. GRPO runs probe with the igrpo block's
         * settings (the control: a policy never trained under q′).
         */
        refinementProbe: z.boolean().default(false),
      })
      .strict()
      .default({}),
    checkpoint: z
      .object({
        /** Write a checkpoint every this many steps (and at the end); 0 = only at the end. */
        every: z.number().int().nonnegative().default(10),
        /** Complete checkpoints kept (oldest removed first). */
        keep: z.number().int().positive().default(2),
      })
      .strict()
      .default({}),
    /**
     * Dynamic sampling (DAPO; verl's filter_groups): prompts whose trained group's rewards do not vary are
     * dropped and the rollout is drawn again for fresh prompts until promptsPerStep groups carry signal or
     * maxRounds draws were made (iGRPO: the last round's groups decide). Off when absent.
     */
    dynamicSampling: DynamicSamplingConfig.optional(),
    /** Write every completion to rollouts.jsonl. */
    logRollouts: z.boolean().default(true),
    /** Where rollouts are sampled: here (default), or on an inference engine (server mode, ./engine-sync.ts). */
    rollout: z
      .object({
        engine: EngineConfig.optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (typeof c.igrpo.drafts !== 'number') return; // igrpo itself is invalid (named by its own issues)
    const budget = roundBudget(c.igrpo);
    if (c.algo === 'igrpo' && c.igrpo.budget && budget.reduce((a, b) => a + b, 0) !== c.completionsPerPrompt) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['igrpo', 'budget'],
        message: `igrpo.budget [${budget.join(', ')}] adds up to ${budget.reduce((a, b) => a + b, 0)}, not completionsPerPrompt (${c.completionsPerPrompt}): the budget is matched`,
      });
    } else if (c.algo === 'igrpo' && !c.igrpo.budget && c.igrpo.drafts + c.igrpo.refinements !== c.completionsPerPrompt) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['igrpo', 'refinements'],
        message: `igrpo.drafts (${c.igrpo.drafts}) + igrpo.refinements (${c.igrpo.refinements}) must equal completionsPerPrompt (${c.completionsPerPrompt}): the budget is matched`,
      });
    }
    // TRL's GRPOTrainer.__init__ refuses both (grpo_trainer.py, "if args.sync_ref_model:"): ./ref-sync.ts
    for (const message of refSyncConfigErrors(c)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['objective', 'syncRefModel'], message });
  });
export type TrainConfig = z.infer<typeof TrainConfig>;
export type TrainConfigInput = z.input<typeof TrainConfig>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validate a config object; the error names the source and every bad field (dotted path). */
export function parseTrainConfig(raw: unknown, source = 'config'): TrainConfig {
  const r = TrainConfig.safeParse(raw ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid ${source}: ${issues}`);
  }
  return r.data;
}
