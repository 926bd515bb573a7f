// The GPT policy's configuration: schema first, the type inferred from it.
import { z } from 'zod';
import { parseWith } from '../util/validate.js';

export const GPTConfigSchema = z
  .object({
    /** Marks config.json so a loader can tell model families apart. */
    modelType: z.literal('gpt').default('gpt'),
    vocabSize: z.number().int().positive(),
    dModel: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    /**
     * Key/value heads (grouped-query attention, as Llama and Qwen): query head h reads kv head
     * floor(h / (nHeads / kvHeads)). Default nHeads (multi-head attention); must divide nHeads.
     */
    kvHeads: z.number().int().positive().optional(),
    /** Longest prompt + completion (learned position embeddings have this many rows). */
    maxSeqLen: z.number().int().positive(),
    /** MLP hidden width = mlpRatio × dModel. */
    mlpRatio: z.number().int().positive().default(4),
    /** Output head shares the token embedding (GPT-2 style) instead of its own [d, V] matrix. */
    tiedEmbeddings: z.boolean().default(true),
    layerNormEps: z.number().finite().positive().default(1e-5),
    /** Std of the normal weight init (GPT-2: 0.02); residual output projections get /√(2·nLayers). */
    initStd: z.number().finite().positive().default(0.02),
    /** Seed of the deterministic init. */
    seed: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((c) => c.dModel % c.nHeads === 0, {
    message: 'dModel must be divisible by nHeads',
    path: ['dModel'],
  })
  .refine((c) => c.kvHeads === undefined || c.nHeads % c.kvHeads === 0, {
    message: 'nHeads must be a multiple of kvHeads',
    path: ['kvHeads'],
  })
  .transform((c) => ({ ...c, kvHeads: c.kvHeads ?? c.nHeads }));

export type GPTConfig = z.infer<typeof GPTConfigSchema>;
export type GPTConfigInput = z.input<typeof GPTConfigSchema>;

/** Parse and validate a config, with an error naming the source and every bad field. */
export function parseGPTConfig(raw: unknown, source = 'model config'): GPTConfig {
  return parseWith(GPTConfigSchema, raw, source);
}
