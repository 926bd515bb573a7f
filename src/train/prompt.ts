// The prompt format q = format(problem): a template over the problem's fields, an optional system
// prompt, and for tokenizers that have one, the chat template. The default, '{problem}\n', is the shipped
// policy's own format (SFT trained it on exactly that), so any file whose problems read like the synthetic
// ones ("Q:3+4*2") is sampled the way the policy expects without configuring anything.
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { chatQuestionPrompt, type ChatRenderer } from '../rl/chat-prompts.js';

export const PromptConfig = z
  .object({
    /** Text of q with `{field}` replaced by the problem's field (any field of the record: problem, id, subject, …). */
    template: z.string().min(1).default('{problem}\n'),
    /** Text before q (plain prompts), or the system turn (chat prompts). */
    system: z.string().optional(),
    /** Render q through the tokenizer's chat template as one user turn (models that have one). */
    chat: z.boolean().default(false),
  })
  .strict();
export type PromptConfig = z.infer<typeof PromptConfig>;

/** `{field}` → problem[field]; a field the problem lacks is an error naming it, the problem and the template. */
export function fillTemplate(template: string, problem: Problem): string {
  return template.replace(/\{(\w+)\}/g, (_, field: string) => {
    const v = (problem as Record<string, unknown>)[field];
    if (v === undefined || v === null || typeof v === 'object') {
      throw new Error(`prompt.template ${JSON.stringify(template)}: problem ${problem.id} has no field '${field}' (fields: ${Object.keys(problem).join(', ')})`);
    }
    return String(v);
  });
}

const hasChat = (t: unknown): t is ChatRenderer => {
  const tok = t as Partial<ChatRenderer> & { chatTemplate?: () => unknown };
  return typeof tok?.applyChatTemplate === 'function' && (typeof tok.chatTemplate !== 'function' || tok.chatTemplate() !== null);
};

/** problem → q text for this config and tokenizer. */
export function makePromptOf(cfg: PromptConfig, tokenizer?: unknown): (p: Problem) => string {
  if (!cfg.chat) return (p) => (cfg.system === undefined ? '' : `${cfg.system}\n`) + fillTemplate(cfg.template, p);
  if (!hasChat(tokenizer)) throw new Error("prompt.chat: the policy's tokenizer has no chat template (set prompt.chat to false for this policy)");
  return (p) => chatQuestionPrompt(tokenizer, fillTemplate(cfg.template, p).trimEnd(), { system: cfg.system }).text;
}
