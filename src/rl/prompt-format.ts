// How a problem's text becomes the ids a policy samples under, for plain and chat prompt formats.
// plain: transformers' tokenizer(text) for HF tokenizers (encodePrompt: the post-processor decides the
// special tokens), encode(text) for the character tokenizer. chat: the model's chat template with
// add_generation_prompt (chat-prompts.ts), an error naming the tokenizer when it has none.
import type { Tokenizer } from '../tokenizer/types.js';
import { type ChatPromptOptions, type ChatRenderer, chatQuestionPrompt, chatRefinementPrompt } from './chat-prompts.js';

export type PromptFormat = 'plain' | 'chat';

/** A prompt ready for the sampler: ids (encoded once, no text round trip) and its text. */
export interface EncodedPrompt {
  ids: number[];
  text: string;
}

const hasEncodePrompt = (t: Tokenizer): t is Tokenizer & { encodePrompt(text: string): number[] } =>
  typeof (t as { encodePrompt?: unknown }).encodePrompt === 'function';

/** The chat renderer of a tokenizer (HFTokenizer with a chat template), or an error saying what is missing. */
export function chatRenderer(t: Tokenizer): ChatRenderer {
  const r = t as Partial<ChatRenderer> & { chatTemplate?: () => unknown; source?: string };
  if (typeof r.applyChatTemplate !== 'function' || typeof r.chatTemplate !== 'function') {
    throw new Error('prompt format chat: the policy\'s tokenizer is not a Hugging Face tokenizer (no chat template); use the plain format');
  }
  if (!r.chatTemplate()) throw new Error(`prompt format chat: ${r.source ?? 'the tokenizer'} has no chat_template (tokenizer_config.json or chat_template.jinja); use the plain format`);
  return r as ChatRenderer;
}

/** A plain text prompt as the sampler's ids. */
export function plainPrompt(t: Tokenizer, text: string): EncodedPrompt {
  return { ids: hasEncodePrompt(t) ? t.encodePrompt(text) : t.encode(text), text };
}

/** Stage 1 / evaluation prompt of a question in the given format. */
export function questionPrompt(t: Tokenizer, question: string, format: PromptFormat, chat: Partial<ChatPromptOptions> = {}): EncodedPrompt {
  if (format === 'plain') return plainPrompt(t, question);
  const p = chatQuestionPrompt(chatRenderer(t), question, chat);
  return { ids: p.ids, text: p.text };
}

/** Stage 2 prompt q' of a question and its draft as a chat turn (the paper's template, configurable). */
export function refinementChatPrompt(t: Tokenizer, question: string, draft: string, chat: Partial<ChatPromptOptions> = {}): EncodedPrompt {
  const p = chatRefinementPrompt(chatRenderer(t), question, draft, chat);
  return { ids: p.ids, text: p.text };
}
