// Chat messages → prompt text. A tokenizer with a chat template (the hf-chat branch gives Hugging Face
// tokenizers `applyChatTemplate`) renders with it. The character GPT has none: its messages' texts are
// joined with newlines and a final newline added — the shape of the synthetic task's prompt q ("problem\n").
// That is a plain join, not a chat format; /v1/models says which one a model uses.
import type { Tokenizer } from '../tokenizer/types.js';
import { messageText, type ChatMessage } from './protocol.js';

interface Templated {
  applyChatTemplate(messages: { role: string; content: string }[], opts: { addGenerationPrompt: boolean }): string;
}

export function hasChatTemplate(t: Tokenizer): t is Tokenizer & Templated {
  return typeof (t as Partial<Templated>).applyChatTemplate === 'function';
}

export function renderChat(t: Tokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  const plain = messages.map((m) => ({ role: m.role, content: messageText(m) }));
  if (hasChatTemplate(t)) return t.applyChatTemplate(plain, { addGenerationPrompt });
  return plain.map((m) => m.content).join('\n') + '\n';
}
