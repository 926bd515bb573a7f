// Hugging Face tokenizer.json (BPE, WordPiece, Unigram, …) behind our Tokenizer interface, through
// @huggingface/tokenizers, with transformers' semantics where they matter to a trainer:
//   - encode(text) is the raw encoding (no special tokens: what completions and targets are made of);
//     encodePrompt(text) is transformers' `tokenizer(text)`: the post-processor decides the special
//     tokens (Llama 3's TemplateProcessing adds <|begin_of_text|>, Qwen's ByteLevel adds nothing).
//   - decode(ids, { skipSpecialTokens }) is transformers' decode: ids outside the vocabulary are
//     dropped (as the Rust tokenizer does; models pad their embedding past the vocabulary), and
//     clean_up_tokenization_spaces follows tokenizer_config.json (transformers' default: false).
//   - eosIds: every id of generation_config.json's eos_token_id (an int or a list) plus the tokenizer's
//     eos token, so sampling stops on <|im_end|> and <|endoftext|>, or <|eot_id|> and <|end_of_text|>.
//     Without generation_config.json's eos_token_id, config.json's stands in: transformers' from_pretrained
//     builds the model's generation config with GenerationConfig.from_model_config(config) when the folder
//     has no generation_config.json (modeling_utils.py), and generate() stops on its eos_token_id.
//   - eosId (the tokenizer's eos, appended to training completions): tokenizer_config / special_tokens_map's
//     eos_token; else the first of those eos ids (base models and converted checkpoints often name no
//     eos_token); else a token with a usual eos name; refused only when nothing names one.
// The chat template (tokenizer_config.json's chat_template) renders through ./chat.ts.
import { Tokenizer as HFTokenizerImpl } from '@huggingface/tokenizers';
import type { Tokenizer } from './types.js';
import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';

/** transformers' tokenizer classes whose __init__ replaces tokenizer.json's post-processor with bos/eos flags. */
const REBUILDS_POST_PROCESSOR = /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/;

const EOS_NAMES = ['<|endoftext|>', '<|im_end|>', '<|eot_id|>', '</s>', '<eos>', '[SEP]'];
const PAD_NAMES = ['<pad>', '<|pad|>', '[PAD]', '<|finetune_right_pad_id|>'];

type TokenSpec = string | { content: string } | null | undefined;

export interface HFTokenizerConfig {
  bos_token?: TokenSpec;
  eos_token?: TokenSpec;
  pad_token?: TokenSpec;
  unk_token?: TokenSpec;
  clean_up_tokenization_spaces?: boolean;
  tokenizer_class?: string;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string | { name: string; template: string }[];
  [key: string]: unknown;
}

/** What of generation_config.json the tokenizer needs: the ids generation stops on. */
export interface HFGenerationConfig {
  eos_token_id?: number | number[] | null;
  bos_token_id?: number | null;
  pad_token_id?: number | number[] | null;
  [key: string]: unknown;
}

export interface HFTokenizerExtras {
  /** generation_config.json's content (its eos_token_id joins eosIds). */
  generationConfig?: HFGenerationConfig;
  /** config.json's eos_token_id: the stop ids when generation_config.json gives none (transformers' from_model_config). */
  modelConfig?: { eos_token_id?: number | number[] | null };
  /** The files read, named when no eos is found. */
  filesRead?: readonly string[];
  /** Where the files came from, for error messages (a folder or a file). */
  source?: string;
}

export interface DecodeOptions {
  /** Drop special tokens (transformers' skip_special_tokens). Default false. */
  skipSpecialTokens?: boolean;
  /** Default: tokenizer_config.json's clean_up_tokenization_spaces, else false (transformers ≥ 4.45). */
  cleanUpTokenizationSpaces?: boolean;
}

export class HFTokenizer implements Tokenizer {
  /** max id + 1 over the vocabulary and the added tokens. */
  readonly vocabSize: number;
  /** The tokenizer's own eos token (appended to training completions). */
  readonly eosId: number;
  /** Every id generation stops on: generation_config's eos_token_id (int or list) and eosId. */
  readonly eosIds: readonly number[];
  readonly padId: number;
  /** tokenizer_config's bos_token, if it names a token (Qwen has none). */
  readonly bosId: number | undefined;
  /** Where the files came from ("tokenizer.json" when built from JSON alone). */
  readonly source: string;
  private readonly impl: HFTokenizerImpl;
  private readonly specialIds: Set<number>;
  private readonly cleanUp: boolean;
  private chat: ChatTemplate | null | undefined;

  constructor(
    private readonly json: Record<string, unknown>,
    private readonly config: HFTokenizerConfig = {},
    private readonly extras: HFTokenizerExtras = {},
  ) {
    this.source = extras.source ?? 'tokenizer.json';
    if (typeof json !== 'object' || json === null || !('model' in json)) {
      throw new Error(`${this.source}: expected the contents of a Hugging Face tokenizer.json (an object with a "model" field)`);
    }
    // the library reads added_tokens unconditionally
    this.impl = new HFTokenizerImpl({ added_tokens: [], ...json }, config);
    const vocab = this.impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.specialIds = new Set();
    for (const [id, t] of this.impl.get_added_tokens_decoder()) if (t.special) this.specialIds.add(id);
    this.cleanUp = config.clean_up_tokenization_spaces ?? false;

    const genIds = this.idList(extras.generationConfig?.eos_token_id, 'generation_config.json');
    const stopIds = genIds.length ? genIds : this.idList(extras.modelConfig?.eos_token_id, 'config.json');
    const named = tokenName(config.eos_token);
    const eos = (named === undefined ? undefined : this.findToken(named, [], 'eos_token')) ?? stopIds[0] ?? this.findToken(undefined, EOS_NAMES, 'eos_token');
    if (eos === undefined) {
      const read = extras.filesRead?.length ? `read ${extras.filesRead.join(', ')}: ` : '';
      throw new Error(`${this.source}: no end-of-sequence token found (${read}no eos_token in tokenizer_config.json or special_tokens_map.json, ` +
        `no eos_token_id in generation_config.json or config.json, and no special token named ${EOS_NAMES.join(' ')}); ` +
        'set eos_token in tokenizer_config.json or eos_token_id in generation_config.json');
    }
    this.eosId = eos;
    this.eosIds = [...new Set([...stopIds, eos])];
    const bosName = tokenName(config.bos_token);
    this.bosId = bosName === undefined ? undefined : this.findToken(bosName, [], 'bos_token');
    // models without a pad token pad with eos (padding is always masked, so the id only has to be valid)
    this.padId = this.findToken(tokenName(config.pad_token), PAD_NAMES, 'pad_token') ?? eos;
  }

  /** The raw encoding: no special tokens added (special-token text still maps to its id). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.impl.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  /**
   * transformers' `tokenizer(text).input_ids`: the post-processor adds what the model was trained with.
   * LlamaTokenizerFast and GemmaTokenizerFast rebuild it from tokenizer_config's add_bos_token (default
   * true) and add_eos_token (default false) when they load (update_post_processor): so do we.
   */
  encodePrompt(text: string): number[] {
    if (!REBUILDS_POST_PROCESSOR.test(String(this.config.tokenizer_class ?? ''))) return this.encode(text, { addSpecialTokens: true });
    const bos = this.config.add_bos_token ?? true;
    const eos = this.config.add_eos_token ?? false;
    if (bos && this.bosId === undefined) throw new Error(`${this.source}: add_bos_token is set but there is no bos_token`);
    return [...(bos ? [this.bosId!] : []), ...this.encode(text), ...(eos ? [this.eosId] : [])];
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    // the Rust tokenizer skips ids it has no token for; the library would throw on an empty list
    const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && this.impl.id_to_token(id) !== undefined);
    const kept = opts.skipSpecialTokens ? known.filter((id) => !this.specialIds.has(id)) : known;
    if (kept.length === 0) return '';
    return this.impl.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces ?? this.cleanUp });
  }

  tokenId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The special-token strings a chat template sees (transformers' special_tokens_map): bos_token, eos_token, … */
  specialTokensMap(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const) {
      const name = tokenName(this.config[key] as TokenSpec);
      if (name !== undefined) out[key] = name;
    }
    return out;
  }

  /** The model's chat template (tokenizer_config.json's chat_template, or chat_template.jinja), or null. */
  chatTemplate(): ChatTemplate | null {
    if (this.chat === undefined) {
      const t = this.config.chat_template;
      this.chat = t === undefined || t === null ? null : new ChatTemplate(t, { source: `${this.source} (chat_template)` });
    }
    return this.chat;
  }

  /** transformers' apply_chat_template(messages, tokenize=False). */
  renderChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const t = this.chatTemplate();
    if (!t) throw new Error(`${this.source}: this tokenizer has no chat_template (tokenizer_config.json or chat_template.jinja); use a plain prompt`);
    return t.render(messages, { ...opts, specialTokens: { ...this.specialTokensMap(), ...opts.specialTokens } });
  }

  /** transformers' apply_chat_template(messages): the rendered text tokenized with add_special_tokens=False. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): { text: string; ids: number[] } {
    const text = this.renderChat(messages, opts);
    return { text, ids: this.encode(text, { addSpecialTokens: false }) };
  }

  /** The tokenizer.json content, plus the config (and generation eos ids) so a checkpoint keeps them. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.json, igrpo_config: this.config };
    const { generationConfig: gen, modelConfig: model } = this.extras;
    // config.json's ids stood in for generation_config's: kept as such, so the rebuilt tokenizer stops on the same ids
    const eos = gen?.eos_token_id ?? model?.eos_token_id;
    if (gen || (eos !== undefined && eos !== null)) out.igrpo_generation_config = { eos_token_id: eos ?? null };
    return out;
  }

  /** An eos_token_id field (int, list or absent) as ids of this vocabulary; `file` names it in errors. */
  private idList(v: number | number[] | null | undefined, file: string): number[] {
    const ids = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`${file}: eos_token_id ${JSON.stringify(id)} is not a token id of ${this.source} (vocabulary ${this.vocabSize})`);
      }
    }
    return ids;
  }

  static fromJSON(json: unknown, config?: HFTokenizerConfig): HFTokenizer {
    const { igrpo_config, igrpo_generation_config, ...rest } = json as Record<string, unknown>;
    return new HFTokenizer(rest, config ?? (igrpo_config as HFTokenizerConfig | undefined) ?? {}, {
      generationConfig: igrpo_generation_config as HFGenerationConfig | undefined,
    });
  }

  private findToken(preferred: string | undefined, names: string[], field: string): number | undefined {
    if (preferred !== undefined) {
      const id = this.impl.token_to_id(preferred);
      // an eos the config names must exist; a bos/pad that does not is treated as absent
      if (id === undefined && field === 'eos_token') throw new Error(`${this.source}: ${field} ${JSON.stringify(preferred)} is not in the vocabulary`);
      if (id !== undefined) return id;
    }
    // a guess by name takes special tokens only: Qwen's byte-level vocabulary has "</s>" as plain text (id 128247)
    for (const n of names) {
      const id = this.impl.token_to_id(n);
      if (id !== undefined && this.specialIds.has(id)) return id;
    }
    return undefined;
  }
}

function tokenName(t: TokenSpec): string | undefined {
  if (t === null || t === undefined) return undefined;
  return typeof t === 'string' ? t : t.content;
}

/**
 * A model's embedding must have a row for every token id: throws, naming the tokenizer's file, when the
 * tokenizer's largest id does not fit. Models may have more rows than tokens (Qwen pads to 151,936).
 */
export function checkVocabFits(tokenizer: { vocabSize: number; source?: string }, embeddingRows: number, embeddingName = 'the embedding'): void {
  if (tokenizer.vocabSize > embeddingRows) {
    throw new Error(
      `${tokenizer.source ?? 'tokenizer'}: its vocabulary has ids up to ${tokenizer.vocabSize - 1} but ${embeddingName} has ` +
        `${embeddingRows} rows; the tokenizer does not belong to this model`,
    );
  }
}
