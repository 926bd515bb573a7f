// Chat messages → prompt ids. A tokenizer with a chat template (main's HFTokenizer after the hf-chat merge:
// `chatTemplate()` non-null and `applyChatTemplate(messages, { addGenerationPrompt })` → { text, ids },
// transformers' apply_chat_template) renders with it. The character GPT has none: its messages' texts are
// joined with newlines and a final newline added — the shape of the synthetic task's prompt q
// ("problem\n"). That is a plain join, not a chat format; /v1/models says which one a model uses.
// Duck-typed so this file does not depend on the tokenizer module's chat types.
import type { Tokenizer } from '../tokenizer/types.js';
import { messageText, type ChatMessage } from './protocol.js';

interface Templated {
  chatTemplate(): unknown;
  applyChatTemplate(messages: { role: string; content: string }[], opts: { addGenerationPrompt: boolean }): { text: string; ids: number[] };
}

export function hasChatTemplate(t: Tokenizer): t is Tokenizer & Templated {
  const c = t as Partial<Templated>;
  return typeof c.applyChatTemplate === 'function' && typeof c.chatTemplate === 'function' && c.chatTemplate() != null;
}

/** The prompt's text and ids (ids undefined: encode the text with the tokenizer). */
export function renderChat(t: Tokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): { text: string; ids?: number[] } {
  const plain = messages.map((m) => ({ role: m.role, content: messageText(m) }));
  if (hasChatTemplate(t)) return t.applyChatTemplate(plain, { addGenerationPrompt });
  return { text: plain.map((m) => m.content).join('\n') + '\n' };
}
