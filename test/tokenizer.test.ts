import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CharTokenizer, HFTokenizer, PRINTABLE_ASCII, REASONING_SPECIALS, tokenizerFromJSON } from '../src/tokenizer/index.js';

test('CharTokenizer: specials first, greedy special matching, round trip', () => {
  const t = new CharTokenizer({ alphabet: '<>/abt0123456789', specials: [...REASONING_SPECIALS] });
  assert.equal(t.padId, 0);
  assert.equal(t.bosId, 1);
  assert.equal(t.eosId, 2);
  assert.equal(t.vocabSize, 3 + 4 + 16);
  // "<think>" is one token even though '<' is also in the alphabet; "<a" is two characters
  const ids = t.encode('<think>12</think><a');
  assert.deepEqual(ids, [3, 7 + 6 + 1, 7 + 6 + 2, 4, 7 + 0, 7 + 3]);
  assert.equal(t.decode(ids), '<think>12</think><a');
  assert.equal(t.decode([0, ...t.encode('ab'), 0]), 'ab'); // padding decodes to nothing
  assert.equal(t.decode([t.eosId]), '<eos>');
  assert.equal(t.tokenId('</answer>'), 6);
});

test('CharTokenizer: clear errors and JSON round trip', () => {
  const t = new CharTokenizer({ alphabet: PRINTABLE_ASCII, specials: [...REASONING_SPECIALS] });
  assert.throws(() => t.encode('héllo'), /character "é" \(at 1\) is not in the alphabet/);
  assert.throws(() => t.decode([999]), /id 999 is outside the vocabulary/);
  assert.throws(() => new CharTokenizer({ alphabet: 'aba' }), /token "a" appears twice/);
  const back = tokenizerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
  assert.ok(back instanceof CharTokenizer);
  assert.deepEqual(back.encode('x=<answer>4</answer>\n'), t.encode('x=<answer>4</answer>\n'));
  assert.throws(() => tokenizerFromJSON({ type: 'char', alphabet: '' }, 'tok.json'), /invalid tok.json: alphabet/);
  assert.throws(() => tokenizerFromJSON([1, 2], 'tok.json'), /tok.json: neither a character tokenizer/);
});

/** A tiny byte-free BPE tokenizer.json: vocab a b c ab abc, merges "a b" then "ab c", eos added token. */
function tinyBpe(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 5, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' }, // join tokens without spaces (no decoder joins with spaces)
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: { a: 0, b: 1, c: 2, ab: 3, abc: 4, '<|endoftext|>': 5 },
      merges: ['a b', 'ab c'],
    },
  };
}

test('HF tokenizer.json (BPE) behind the Tokenizer interface', () => {
  const t = new HFTokenizer(tinyBpe());
  assert.equal(t.vocabSize, 6);
  assert.equal(t.eosId, 5);
  assert.equal(t.padId, 5); // no pad token: pads with eos
  assert.deepEqual(t.encode('abcab'), [4, 3]); // merges applied in rank order
  assert.deepEqual(t.encode('cab<|endoftext|>'), [2, 3, 5]);
  assert.equal(t.decode([4, 3, 2]), 'abcabc');
  const back = tokenizerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
  assert.ok(back instanceof HFTokenizer);
  assert.deepEqual(back.encode('abcab'), [4, 3]);
  assert.throws(() => new HFTokenizer({ ...tinyBpe(), added_tokens: [], model: { ...(tinyBpe().model as object), vocab: { a: 0 } } }), /no end-of-sequence token/);
});
