// A character tokenizer for the synthetic tasks: one id per character of an explicit alphabet, plus
// multi-character special tokens ("<think>", "</answer>", …) that encode greedily as single ids.
// Ids: the special tokens first (pad = 0, bos = 1, eos = 2, then the rest), then the alphabet.
import { z } from 'zod';
import { parseWith } from '../util/validate.js';
import type { Tokenizer } from './types.js';

export const CharTokenizerJSONSchema = z
  .object({
    type: z.literal('char'),
    /** Every ordinary character, each once. */
    alphabet: z.string().min(1),
    pad: z.string().min(1),
    bos: z.string().min(1),
    eos: z.string().min(1),
    /** Further special tokens, e.g. the reasoning and answer tags. */
    specials: z.array(z.string().min(1)).default([]),
  })
  .strict();

export type CharTokenizerJSON = z.infer<typeof CharTokenizerJSONSchema>;
export type CharTokenizerOptions = Omit<z.input<typeof CharTokenizerJSONSchema>, 'type' | 'pad' | 'bos' | 'eos'> &
  Partial<Pick<CharTokenizerJSON, 'pad' | 'bos' | 'eos'>>;

/** Printable ASCII (space to ~) and newline: an alphabet that encodes any plain-ASCII prompt. */
export const PRINTABLE_ASCII = '\n' + Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

/** The tags of the iGRPO output format, as special tokens. */
export const REASONING_SPECIALS = ['<think>', '</think>', '<answer>', '</answer>'] as const;

export class CharTokenizer implements Tokenizer {
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly vocabSize: number;
  private readonly spec: CharTokenizerJSON;
  private readonly tokens: string[];
  private readonly charIds = new Map<string, number>();
  /** Special tokens longest first, so greedy matching prefers "</answer>" over any shorter prefix. */
  private readonly specialsByLength: [string, number][];

  constructor(options: CharTokenizerOptions) {
    const spec = CharTokenizerJSONSchema.parse({ type: 'char', pad: '<pad>', bos: '<bos>', eos: '<eos>', ...options });
    this.spec = spec;
    const specials = [spec.pad, spec.bos, spec.eos, ...spec.specials];
    const chars = Array.from(spec.alphabet); // code points, not UTF-16 units
    const seen = new Set<string>();
    for (const t of [...specials, ...chars]) {
      if (seen.has(t)) throw new Error(`CharTokenizer: token ${JSON.stringify(t)} appears twice`);
      seen.add(t);
    }
    this.tokens = [...specials, ...chars];
    chars.forEach((ch, i) => this.charIds.set(ch, specials.length + i));
    this.specialsByLength = specials.map((s, i) => [s, i] as [string, number]).sort((a, b) => b[0].length - a[0].length);
    this.vocabSize = this.tokens.length;
  }

  /** Id of a token string (a special or one character); undefined if it has none. */
  tokenId(token: string): number | undefined {
    const special = this.specialsByLength.find(([s]) => s === token);
    return special ? special[1] : this.charIds.get(token);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      for (const [s, id] of this.specialsByLength) {
        if (text.startsWith(s, i)) {
          ids.push(id);
          i += s.length;
          continue outer;
        }
      }
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      const id = this.charIds.get(ch);
      if (id === undefined) throw new Error(`CharTokenizer: character ${JSON.stringify(ch)} (at ${i}) is not in the alphabet`);
      ids.push(id);
      i += ch.length;
    }
    return ids;
  }

  /** Text of the ids; padding decodes to nothing, other specials to their strings. */
  decode(ids: readonly number[]): string {
    let out = '';
    for (const id of ids) {
      if (id === this.padId) continue;
      const t = this.tokens[id];
      if (t === undefined) throw new Error(`CharTokenizer: id ${id} is outside the vocabulary (${this.vocabSize})`);
      out += t;
    }
    return out;
  }

  toJSON(): CharTokenizerJSON {
    return { ...this.spec, specials: [...this.spec.specials] };
  }

  static fromJSON(json: unknown, source = 'tokenizer JSON'): CharTokenizer {
    return new CharTokenizer(parseWith(CharTokenizerJSONSchema, json, source));
  }
}
