// A stand-in tokenizer for a model folder that ships none (e.g. llama2.c's stories260K): it knows the
// vocabulary size and the special ids, works on ids only, and decodes ids to "<id>" text so sampling's
// text fields stay readable. Encoding text is an error: there is no vocabulary to encode with.
import type { Tokenizer } from './types.js';

export class IdsOnlyTokenizer implements Tokenizer {
  constructor(
    readonly vocabSize: number,
    readonly eosId: number,
    readonly padId: number = eosId,
    readonly bosId?: number,
  ) {}

  encode(text: string): number[] {
    throw new Error(`this model folder has no tokenizer.json: give token ids, not text (${JSON.stringify(text.slice(0, 20))})`);
  }

  decode(ids: readonly number[]): string {
    return ids.map((i) => `<${i}>`).join('');
  }

  toJSON(): unknown {
    return { type: 'ids', vocabSize: this.vocabSize, eosId: this.eosId, padId: this.padId, bosId: this.bosId };
  }
}
