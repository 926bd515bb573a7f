// The prompt format q = format(problem): a template over the problem's fields, an optional system
// prompt, and for tokenizers that have one, the chat template. The default, '{problem}\n', is the shipped
// policy's own format (SFT trained it on exactly that), so any file whose problems read like the synthetic
// ones ("Q:3+4*2") is sampled the way the policy expects without configuring anything.
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { ChatPromptOptions } from '../rl/chat-prompts.js';
import { questionPrompt } from '../rl/prompt-format.js';
import type { Tokenizer } from '../tokenizer/types.js';

export const PromptConfig = z
  .object({
    /** Text of q with `{field}` replaced by the problem's field (any field of the record: problem, id, subject, …). */
    template: z.string().min(1).default('{problem}\n'),
    /** Text before q (plain prompts), or the system turn (chat prompts). */
    system: z.string().optional(),
    /**
     * plain: q as text (tokenized as transformers' tokenizer(text)); chat: the model's chat template, q as a
     * user turn and q' as the paper's template in a user turn (src/rl/chat-prompts.ts).
     */
    format: z.enum(['plain', 'chat']).default('plain'),
    /** The stage-2 chat turn: template (default 'paper-chat'), draftPlacement, followUp, draftThinking, chatKwargs. */
    chat: ChatPromptOptions.omit({ system: true }).default({}),
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

/**
 * problem → the question q as text. Plain: the system text (if any) and the filled template. Chat: the
 * filled template alone, the user turn's content; the chat template around it is the trainer's renderer's
 * (src/train/policy-setup.ts promptRenderer), so q is never wrapped twice.
 */
export function makePromptOf(cfg: PromptConfig): (p: Problem) => string {
  if (cfg.format === 'chat') return (p) => fillTemplate(cfg.template, p).trimEnd();
  return (p) => (cfg.system === undefined ? '' : `${cfg.system}\n`) + fillTemplate(cfg.template, p);
}

/**
 * problem → the whole prompt as text, chat template included for prompt.format 'chat': what evaluation
 * and `igrpo eval` encode (training sends the renderer's ids instead, src/rl/igrpo.ts RolloutDeps.render).
 */
export function questionTextOf(cfg: PromptConfig, tokenizer: Tokenizer): (p: Problem) => string {
  const content = makePromptOf(cfg);
  if (cfg.format !== 'chat') return content;
  const chat = { ...cfg.chat, system: cfg.system };
  questionPrompt(tokenizer, 'check', 'chat', chat); // fails now, naming what is missing, not at the first problem
  return (p) => questionPrompt(tokenizer, content(p), 'chat', chat).text;
}
