// Rebuild a tokenizer from the JSON its toJSON() wrote (a checkpoint's tokenizer.json).
import { CharTokenizer } from './char.js';
import { HFTokenizer } from './hf.js';
import type { Tokenizer } from './types.js';

export type { Tokenizer } from './types.js';
export { CharTokenizer, PRINTABLE_ASCII, REASONING_SPECIALS } from './char.js';
export { HFTokenizer, checkVocabFits, type HFTokenizerConfig, type HFGenerationConfig, type DecodeOptions } from './hf.js';
export { loadHFTokenizer } from './load-hf.js';
export { ChatTemplate, ChatTemplateError, strftime, type ChatMessage, type ChatTemplateOptions, type ChatTemplateSource } from './chat.js';

/** A CharTokenizer for {"type": "char", …}, an HFTokenizer for a Hugging Face tokenizer.json. */
export function tokenizerFromJSON(json: unknown, source = 'tokenizer JSON'): Tokenizer {
  if (typeof json !== 'object' || json === null) throw new Error(`${source}: expected a JSON object`);
  if ((json as { type?: unknown }).type === 'char') return CharTokenizer.fromJSON(json, source);
  if ('model' in json) {
    try {
      return HFTokenizer.fromJSON(json);
    } catch (e) {
      throw new Error(`${source}: ${(e as Error).message}`);
    }
  }
  throw new Error(`${source}: neither a character tokenizer ({"type": "char"}) nor a Hugging Face tokenizer.json`);
}
