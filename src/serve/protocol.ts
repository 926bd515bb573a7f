// Request schemas of the endpoints (vLLM's CompletionRequest / ChatCompletionRequest, the fields a
// sampler can honour). Fields a client may send that we cannot honour are rejected when set to anything
// but their neutral value, never silently ignored; other unknown fields pass (as vLLM, which only warns).
import { z } from 'zod';

const tokenIds = z.array(z.number().int().nonnegative()).min(1);

const sampling = {
  model: z.string().min(1),
  n: z.number().int().positive().default(1),
  temperature: z.number().nonnegative().nullish().transform((v) => v ?? 1),
  top_p: z.number().gt(0).lte(1).nullish().transform((v) => v ?? 1),
  /** -1 or 0 = off (vLLM accepts both). */
  top_k: z.number().int().min(-1).nullish().transform((v) => (v ?? 0) < 0 ? 0 : (v ?? 0)),
  seed: z.number().int().nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).nullish().transform((v) => (v == null ? [] : typeof v === 'string' ? [v] : v)),
  stop_token_ids: z.array(z.number().int().nonnegative()).max(64).nullish().transform((v) => v ?? []),
  include_stop_str_in_output: z.boolean().default(false),
  ignore_eos: z.boolean().default(false),
  stream: z.literal(false, { errorMap: () => ({ message: 'streaming is not supported by igrpo serve' }) }).nullish(),
  presence_penalty: z.literal(0, { errorMap: () => ({ message: 'penalties are not supported (only 0)' }) }).nullish(),
  frequency_penalty: z.literal(0, { errorMap: () => ({ message: 'penalties are not supported (only 0)' }) }).nullish(),
  repetition_penalty: z.literal(1, { errorMap: () => ({ message: 'penalties are not supported (only 1)' }) }).nullish(),
  logit_bias: z.record(z.number()).refine((o) => Object.keys(o).length === 0, 'logit_bias is not supported').nullish(),
};

export const CompletionRequestSchema = z
  .object({
    ...sampling,
    prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
    max_tokens: z.number().int().positive().nullish().transform((v) => v ?? 16),
    /** k ≥ 0: return the sampled tokens' log-probs (top_logprobs carries the sampled token only). */
    logprobs: z.number().int().min(0).max(20).nullish(),
    echo: z.literal(false, { errorMap: () => ({ message: 'echo is not supported by igrpo serve' }) }).nullish(),
    best_of: z.number().int().positive().nullish(),
    suffix: z.null({ errorMap: () => ({ message: 'suffix is not supported' }) }).optional(),
    return_tokens_as_token_ids: z.boolean().default(false),
    /** vLLM ≥ 0.10.2 / SGLang: token_ids (and prompt_token_ids) per choice. */
    return_token_ids: z.boolean().default(false),
  })
  .passthrough()
  .refine((r) => r.best_of == null || r.best_of === r.n, { message: 'best_of other than n is not supported', path: ['best_of'] });
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const content = z.union([
  z.string(),
  z.array(z.object({ type: z.literal('text'), text: z.string() }).passthrough()).min(1),
]);

export const ChatRequestSchema = z
  .object({
    ...sampling,
    messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant', 'developer']), content }).passthrough()).min(1),
    max_tokens: z.number().int().positive().nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    add_generation_prompt: z.boolean().default(true),
    return_tokens_as_token_ids: z.boolean().default(false),
  })
  .passthrough();
export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type ChatMessage = ChatRequest['messages'][number];

/** load_inplace (vLLM ≥ 0.11): replace the weights of a name already loaded instead of answering 400. */
export const LoadLoraSchema = z.object({ lora_name: z.string(), lora_path: z.string().min(1), load_inplace: z.boolean().default(false) }).strict();
export const UnloadLoraSchema = z.object({ lora_name: z.string(), lora_int_id: z.number().int().nullish() }).strict();

/** A message's text (the parts of a content list joined). */
export const messageText = (m: ChatMessage): string => (typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''));
