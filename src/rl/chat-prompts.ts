// iGRPO prompts for chat models: q as a user turn (after an optional system prompt), and q' = the
// paper's stage-2 template as a chat turn, both rendered through the model's chat template (with the
// generation prompt, so sampling writes the assistant's answer) into token ids. Pure: the renderer is
// anything with transformers' apply_chat_template (HFTokenizer).
//
// Where d̂ goes (draftPlacement):
//   'user'      (default; the paper places d̂ right after q in the prompt) one user turn with
//               template(q, d̂), 'paper-chat' by default;
//   'assistant' q as the user turn, d̂ as the model's own previous answer, then a user turn asking to
//               check and improve it (the multi-turn self-refinement form). The chat template decides
//               what of d̂ the model sees: Qwen3's drops the <think> part of earlier assistant turns.
import { z } from 'zod';
import type { ChatMessage, ChatTemplateOptions } from '../tokenizer/chat.js';
import { getTemplate } from './templates.js';

export const DEFAULT_FOLLOW_UP =
  'Your answer above may contain mistakes. Check it carefully, then write an improved, complete solution to the problem.';

export const ChatPromptOptions = z
  .object({
    /** A system turn before q (none by default: the model's template may add its own default). */
    system: z.string().optional(),
    draftPlacement: z.enum(['user', 'assistant']).default('user'),
    /** Refinement template (src/rl/templates.ts) for draftPlacement 'user'. */
    template: z.string().default('paper-chat'),
    /** The user turn after d̂ for draftPlacement 'assistant'. */
    followUp: z.string().default(DEFAULT_FOLLOW_UP),
    /** Remove <think>…</think> from d̂ before it is shown (keep: the paper shows the full draft). */
    draftThinking: z.enum(['keep', 'strip']).default('keep'),
    /** Extra chat-template variables, e.g. { enable_thinking: false } for Qwen3. */
    chatKwargs: z.record(z.unknown()).default({}),
  })
  .strict();
export type ChatPromptOptions = z.infer<typeof ChatPromptOptions>;

/** What renders messages to text and ids: HFTokenizer.applyChatTemplate. */
export interface ChatRenderer {
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): { text: string; ids: number[] };
}

/** A rendered prompt: `ids` and `text` are a PromptIn (src/rl/rollout.ts); `messages` for logs. */
export interface ChatPrompt {
  ids: number[];
  text: string;
  messages: ChatMessage[];
}

/** d̂ without its reasoning block: what follows the last </think> (as Qwen3's template keeps of history). */
export function stripThinking(draft: string): string {
  const end = draft.lastIndexOf('</think>');
  return end < 0 ? draft : draft.slice(end + '</think>'.length).replace(/^\n+/, '');
}

const systemTurn = (opts: ChatPromptOptions): ChatMessage[] => (opts.system === undefined ? [] : [{ role: 'system', content: opts.system }]);

/** Stage 1 (and evaluation): [system], user q. */
export function questionMessages(question: string, options: Partial<ChatPromptOptions> = {}): ChatMessage[] {
  const opts = ChatPromptOptions.parse(options);
  return [...systemTurn(opts), { role: 'user', content: question }];
}

/** Stage 2: q' with d̂, per draftPlacement. `question` is the problem text q, not a rendered prompt. */
export function refinementMessages(question: string, draft: string, options: Partial<ChatPromptOptions> = {}): ChatMessage[] {
  const opts = ChatPromptOptions.parse(options);
  const shown = opts.draftThinking === 'strip' ? stripThinking(draft) : draft;
  if (opts.draftPlacement === 'user') {
    return [...systemTurn(opts), { role: 'user', content: getTemplate(opts.template)({ question, draft: shown }) }];
  }
  return [...systemTurn(opts), { role: 'user', content: question }, { role: 'assistant', content: shown }, { role: 'user', content: opts.followUp }];
}

function render(renderer: ChatRenderer, messages: ChatMessage[], opts: ChatPromptOptions): ChatPrompt {
  const { text, ids } = renderer.applyChatTemplate(messages, { addGenerationPrompt: true, kwargs: opts.chatKwargs });
  return { ids, text, messages };
}

/** q through the chat template, ending in the assistant's generation prompt. */
export function chatQuestionPrompt(renderer: ChatRenderer, question: string, options: Partial<ChatPromptOptions> = {}): ChatPrompt {
  const opts = ChatPromptOptions.parse(options);
  return render(renderer, questionMessages(question, opts), opts);
}

/** q' through the chat template, ending in the assistant's generation prompt. */
export function chatRefinementPrompt(renderer: ChatRenderer, question: string, draft: string, options: Partial<ChatPromptOptions> = {}): ChatPrompt {
  const opts = ChatPromptOptions.parse(options);
  return render(renderer, refinementMessages(question, draft, opts), opts);
}
