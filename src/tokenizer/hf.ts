// Hugging Face tokenizer.json (BPE, WordPiece, Unigram, …) behind our Tokenizer interface, through
// @huggingface/tokenizers. The end-of-sequence and padding tokens come from tokenizer_config.json
// when given, else from the usual special-token names.
import { Tokenizer as HFTokenizerImpl } from '@huggingface/tokenizers';
import type { Tokenizer } from './types.js';

const EOS_NAMES = ['<|endoftext|>', '<|im_end|>', '<|eot_id|>', '</s>', '<eos>', '[SEP]'];
const PAD_NAMES = ['<pad>', '<|pad|>', '[PAD]', '<|finetune_right_pad_id|>'];

export interface HFTokenizerConfig {
  eos_token?: string | { content: string };
  pad_token?: string | { content: string } | null;
  [key: string]: unknown;
}

export class HFTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly impl: HFTokenizerImpl;

  constructor(
    private readonly json: Record<string, unknown>,
    private readonly config: HFTokenizerConfig = {},
  ) {
    if (typeof json !== 'object' || json === null || !('model' in json)) {
      throw new Error('HFTokenizer: expected the contents of a Hugging Face tokenizer.json (an object with a "model" field)');
    }
    this.impl = new HFTokenizerImpl(json, config);
    const vocab = this.impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const eos = this.findToken(tokenName(config.eos_token), EOS_NAMES);
    if (eos === undefined) throw new Error(`HFTokenizer: no end-of-sequence token found (looked for ${EOS_NAMES.join(' ')}); pass eos_token in the config`);
    this.eosId = eos;
    // models without a pad token pad with eos (padding is always masked, so the id only has to be valid)
    this.padId = this.findToken(tokenName(config.pad_token), PAD_NAMES) ?? eos;
  }

  encode(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.impl.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** The tokenizer.json content, plus the config under "igrpo_config" so a checkpoint keeps eos/pad. */
  toJSON(): Record<string, unknown> {
    return { ...this.json, igrpo_config: this.config };
  }

  static fromJSON(json: unknown, config?: HFTokenizerConfig): HFTokenizer {
    const { igrpo_config, ...rest } = json as Record<string, unknown>;
    return new HFTokenizer(rest, config ?? (igrpo_config as HFTokenizerConfig | undefined) ?? {});
  }

  private findToken(preferred: string | undefined, names: string[]): number | undefined {
    for (const n of preferred ? [preferred] : names) {
      const id = this.impl.token_to_id(n);
      if (id !== undefined) return id;
    }
    return undefined;
  }
}

function tokenName(t: string | { content: string } | null | undefined): string | undefined {
  if (!t) return undefined;
  return typeof t === 'string' ? t : t.content;
}
