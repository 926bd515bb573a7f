// `igrpo sample`: print N completions of one prompt from a checkpoint, the shipped policy
// (data/policy), or — until that exists — a seeded, randomly initialised model (said on stderr).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '../backend/select.js';
import { GPT } from '../model/gpt.js';
import { loadPolicy } from '../model/load.js';
import { CHECKPOINT_FILES } from '../model/checkpoint.js';
import { dataPath } from '../paths.js';
import { sample } from '../sampling/index.js';
import { CharTokenizer, PRINTABLE_ASCII, REASONING_SPECIALS } from '../tokenizer/char.js';
import { orUsage, UsageError } from './common.js';

const HELP = `usage: igrpo sample --prompt TEXT [options]

  --prompt TEXT          prompt to complete (required)
  --n N                  completions (default 1)
  --seed S               sampling seed (default 0)
  --max-new-tokens K     tokens per completion at most (default 64)
  --temperature T        0 = greedy (default 1)
  --top-k K              sample among the K most likely tokens (default off)
  --top-p P              nucleus sampling mass (default off)
  --stop STR             stop string (repeatable)
  --backend B            auto, tensorflow-gpu, tensorflow, native, webgpu, wasm, cpu (default $IGRPO_BACKEND or auto)
  --checkpoint DIR       policy folder (config.json, model.safetensors, tokenizer.json); default data/policy
  --json                 one JSON object per completion`;

/** The untrained stand-in's shape: small enough to start instantly. */
const RANDOM_MODEL = { dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 256, seed: 0 };

function num(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`${flag} expects a number, got '${v}'`);
  return x;
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
    sampleOptions(values);
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

  const policy = openPolicy(values.checkpoint);
  try {
    const [completions] = await sample(policy, [values.prompt!], sampleOptions(values));
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

function openPolicy(checkpoint: string | undefined): GPT {
  if (checkpoint) return loadPolicy(checkpoint);
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
