// `igrpo sample`: print N completions of one prompt from a checkpoint (a GPT checkpoint folder, a Hugging
// Face model folder, or ORG/NAME[@rev] in the HF cache), the shipped policy (data/policy), or — until
// that exists — a seeded, randomly initialised model (said on stderr).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '../backend/select.js';
import { GPT } from '../model/gpt.js';
import { loadPolicy } from '../model/load.js';
import { CHECKPOINT_FILES } from '../model/checkpoint.js';
import type { Policy } from '../model/policy.js';
import { dataPath } from '../paths.js';
import { questionPrompt } from '../rl/prompt-format.js';
import { sample } from '../sampling/index.js';
import { CharTokenizer, PRINTABLE_ASCII, REASONING_SPECIALS } from '../tokenizer/char.js';
import { orUsage, UsageError } from './common.js';

const HELP = `usage: igrpo sample --prompt TEXT [options]

  --prompt TEXT          prompt to complete (required); with --chat, the user's message
  --n N                  completions (default 1)
  --seed S               sampling seed (default 0)
  --max-new-tokens K     tokens per completion at most (default 64)
  --temperature T        0 = greedy (default 1)
  --top-k K              sample among the K most likely tokens (default off)
  --top-p P              nucleus sampling mass (default off)
  --stop STR             stop string (repeatable); every eos id of generation_config.json always stops
  --backend B            auto, tensorflow-gpu, tensorflow, native, webgpu, wasm, cpu (default $IGRPO_BACKEND or auto)
  --checkpoint DIR|ORG/NAME[@REV]
                         a GPT checkpoint folder, a Hugging Face model folder (Llama, Qwen2/2.5, Qwen3,
                         SmolLM2), or a hub id in the HF cache (igrpo pull it first); default data/policy
  --adapter DIR          a PEFT LoRA adapter folder on top (default: <checkpoint>/adapter when present)
  --chat                 render the prompt through the model's chat template (add_generation_prompt)
  --system TEXT          a system message before the prompt (with --chat)
  --chat-kwargs JSON     extra chat-template variables, e.g. '{"enable_thinking": false}' for Qwen3
  --json                 one JSON object per completion`;

/** The untrained stand-in's shape: small enough to start instantly. */
const RANDOM_MODEL = { dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 256, seed: 0 };

function num(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`${flag} expects a number, got '${v}'`);
  return x;
}

function chatKwargs(v: string | undefined): Record<string, unknown> {
  if (v === undefined) return {};
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch (e) {
    throw new UsageError(`--chat-kwargs expects a JSON object, got '${v}' (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new UsageError(`--chat-kwargs expects a JSON object, got '${v}'`);
  return o as Record<string, unknown>;
}

type Values = ReturnType<typeof parseFlags>['values'];

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    options: {
      prompt: { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      stop: { type: 'string', multiple: true },
      backend: { type: 'string' },
      checkpoint: { type: 'string' },
      adapter: { type: 'string' },
      chat: { type: 'boolean' },
      system: { type: 'string' },
      'chat-kwargs': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

export async function run(argv: string[]): Promise<number> {
  // exit 2 for bad usage (an unknown option, a missing --prompt, a bad number, an unknown backend)
  const parsed = await orUsage('sample', HELP, async () => {
    const { values } = parseFlags(argv);
    if (!values.help && values.prompt === undefined) throw new UsageError('--prompt is required');
    if (!values.chat && (values.system !== undefined || values['chat-kwargs'] !== undefined)) throw new UsageError('--system and --chat-kwargs need --chat');
    sampleOptions(values);
    chatKwargs(values['chat-kwargs']);
    return values;
  });
  if ('code' in parsed) return parsed.code;
  const values = parsed.value;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const backend = await orUsage('sample', HELP, () => selectBackend(values.backend ?? process.env.IGRPO_BACKEND ?? 'auto'));
  if ('code' in backend) return backend.code;
  console.error(describeBackend(backend.value));

  const policy = openPolicy(values.checkpoint, values.adapter);
  try {
    const prompt = questionPrompt(policy.tokenizer, values.prompt!, values.chat ? 'chat' : 'plain', { system: values.system, chatKwargs: chatKwargs(values['chat-kwargs']) });
    const [completions] = await sample(policy, [prompt.ids], sampleOptions(values));
    completions.forEach((c, index) => {
      if (values.json) {
        console.log(JSON.stringify({ index, text: c.text, finishReason: c.finishReason, tokens: c.ids.length, ids: c.ids, logprobs: c.logprobs }));
      } else {
        const sum = c.logprobs.reduce((a, b) => a + b, 0);
        console.log(`--- ${index} (${c.finishReason}, ${c.ids.length} tokens, logprob ${sum.toFixed(2)})\n${c.text}`);
      }
    });
  } finally {
    policy.dispose();
  }
  return 0;
}

function sampleOptions(values: Values) {
  return {
    n: num(values.n, '--n', 1),
    seed: num(values.seed, '--seed', 0),
    maxNewTokens: num(values['max-new-tokens'], '--max-new-tokens', 64),
    temperature: num(values.temperature, '--temperature', 1),
    topK: num(values['top-k'], '--top-k', 0),
    topP: num(values['top-p'], '--top-p', 1),
    stop: values.stop ?? [],
  };
}

function openPolicy(checkpoint: string | undefined, adapter: string | undefined): Policy {
  if (checkpoint) {
    const policy = loadPolicy(checkpoint, { adapter });
    console.error(`policy: ${checkpoint}${adapter ? ` + adapter ${adapter}` : ''}`);
    return policy;
  }
  if (adapter) throw new Error('--adapter needs --checkpoint (the base model it was trained on)');
  const shipped = dataPath('policy');
  if (fs.existsSync(path.join(shipped, CHECKPOINT_FILES.config))) {
    console.error(`policy: ${shipped}`);
    return loadPolicy(shipped);
  }
  const tokenizer = new CharTokenizer({ alphabet: PRINTABLE_ASCII, specials: [...REASONING_SPECIALS] });
  console.error(
    `policy: no shipped policy at ${shipped} yet; using a seeded RANDOMLY INITIALISED model ` +
      `(${RANDOM_MODEL.nLayers} layers, d=${RANDOM_MODEL.dModel}, seed ${RANDOM_MODEL.seed}): its text is noise`,
  );
  return new GPT({ vocabSize: tokenizer.vocabSize, ...RANDOM_MODEL }, tokenizer);
}
