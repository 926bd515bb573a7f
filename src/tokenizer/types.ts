// One tokenizer interface, two implementations (characters for synthetic tasks, HF tokenizer.json).
export interface Tokenizer {
  readonly vocabSize: number;
  /** End-of-sequence id: sampling stops on it; training appends it to completions. */
  readonly eosId: number;
  /** Padding id, never a real token. */
  readonly padId: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** JSON that load functions accept to rebuild this tokenizer (saved in checkpoints). */
  toJSON(): unknown;
}
