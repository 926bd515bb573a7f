// The OpenAI-compatible completions protocol as vLLM returns it (vllm/entrypoints/openai/protocol.py):
// response schemas first. The client validates every answer against them, and `igrpo serve`'s tests
// check its own answers with the same schemas, so client and server cannot drift apart silently.
import { z } from 'zod';

export const CompletionLogprobsSchema = z.object({
  /** Token strings; "token_id:N" when the request asked for return_tokens_as_token_ids. */
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  top_logprobs: z.array(z.record(z.number()).nullable()).nullable().optional(),
  text_offset: z.array(z.number().int()),
});

export const CompletionChoiceSchema = z.object({
  index: z.number().int().nonnegative(),
  text: z.string(),
  logprobs: CompletionLogprobsSchema.nullable().optional(),
  /** "abort": vLLM's and SGLang's aborted request; "content_filter": SGLang (its protocol.py's Literal). */
  finish_reason: z.enum(['stop', 'length', 'abort', 'content_filter']).nullable(),
  stop_reason: z.union([z.string(), z.number(), z.null()]).optional(),
  /** SGLang's stop_reason. */
  matched_stop: z.union([z.string(), z.number(), z.null()]).optional(),
  /** The sampled ids (vLLM ≥ 0.10.2 and SGLang with return_token_ids: true). */
  token_ids: z.array(z.number().int().nonnegative()).nullable().optional(),
  prompt_token_ids: z.array(z.number().int().nonnegative()).nullable().optional(),
});

export const UsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative().nullable().optional(),
  total_tokens: z.number().int().nonnegative(),
});

export const CompletionResponseSchema = z.object({
  id: z.string(),
  object: z.literal('text_completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(CompletionChoiceSchema),
  usage: UsageSchema.nullable().optional(),
});
export type CompletionResponse = z.infer<typeof CompletionResponseSchema>;

export const ChatLogprobSchema = z.object({
  token: z.string(),
  logprob: z.number(),
  bytes: z.array(z.number().int()).nullable().optional(),
  top_logprobs: z.array(z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()).nullable().optional() })),
});

export const ChatResponseSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      message: z.object({ role: z.literal('assistant'), content: z.string().nullable() }),
      logprobs: z.object({ content: z.array(ChatLogprobSchema).nullable() }).nullable().optional(),
      finish_reason: z.enum(['stop', 'length', 'abort', 'content_filter']).nullable(),
    }),
  ),
  usage: UsageSchema.nullable().optional(),
});
export type ChatResponse = z.infer<typeof ChatResponseSchema>;

export const ModelListSchema = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() }).passthrough()),
});

/** vLLM's error body: { error: { message, type, param, code } } (SGLang and older vLLM: unwrapped; see errors.ts errorMessageOf). */
export const ErrorResponseSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable().optional(), code: z.number().int() }),
});

/** "token_id:42" → 42 (vLLM's return_tokens_as_token_ids); anything else → undefined. */
export function parseTokenId(token: string): number | undefined {
  const m = /^token_id:(\d+)$/.exec(token);
  return m ? Number(m[1]) : undefined;
}
