// Options of `igrpo serve`: schema first. Every limit is configurable; the defaults keep one request
// from taking the server's memory or time (a request past a limit gets a 400 naming it).
import { z } from 'zod';
import { parseWith } from '../util/validate.js';

export const ServeOptionsSchema = z
  .object({
    /** Loopback unless told otherwise: a policy server is not something to expose by accident. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 = any free port (the bound one is printed). */
    port: z.number().int().min(0).max(65535).default(8000),
    /** The name requests use as `model` (vLLM's --served-model-name). */
    modelName: z.string().min(1),
    /** When set, every endpoint but /health needs `Authorization: Bearer <apiKey>`. */
    apiKey: z.string().min(1).optional(),
    limits: z
      .object({
        /** Request body, bytes. */
        bodyBytes: z.number().int().positive().default(1 << 20),
        /** Completions per prompt. */
        maxN: z.number().int().positive().default(64),
        /** Completion tokens per choice (also bounded by the model's context). */
        maxTokens: z.number().int().positive().default(4096),
        /** Prompt tokens per prompt (also bounded by the model's context). */
        maxPromptTokens: z.number().int().positive().default(8192),
        /** Prompts in one completions request. */
        maxPrompts: z.number().int().positive().default(64),
      })
      .strict()
      .default({}),
    batch: z
      .object({
        /** A batch closes once no request has arrived for this long, ms. */
        windowMs: z.number().nonnegative().default(5),
        /** ... or this long after its first request at the latest, ms. */
        maxWaitMs: z.number().nonnegative().default(50),
        /** Completion rows (prompts × n) per sampling call at most. */
        maxRows: z.number().int().positive().default(512),
      })
      .strict()
      .default({}),
    timeouts: z
      .object({
        /** A socket idle this long is closed (a stuck client cannot hold a connection), ms. */
        idleMs: z.number().int().positive().default(30_000),
        /** The whole request must arrive within this, ms (slow-loris bodies). */
        requestMs: z.number().int().positive().default(60_000),
      })
      .strict()
      .default({}),
    lora: z
      .object({
        /** Runtime LoRA loading (vLLM's /v1/load_lora_adapter): off unless asked for. */
        enabled: z.boolean().default(false),
        /** The only directories adapters may be loaded from (after resolving symlinks and `..`). */
        dirs: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ServeOptions = z.infer<typeof ServeOptionsSchema>;
export type ServeOptionsInput = z.input<typeof ServeOptionsSchema>;

export function parseServeOptions(raw: unknown): ServeOptions {
  const o = parseWith(ServeOptionsSchema, raw, 'serve options');
  if (o.lora.enabled && o.lora.dirs.length === 0) throw new Error('invalid serve options: lora.dirs: --enable-lora-updates needs at least one --lora-dir');
  return o;
}
