// `igrpo eval --benchmark FILE`: mean accuracy and pass@k with 95% CIs on a benchmark file (GSM8K,
// MATH-500, AIME24/25, AMC23, Minerva, or any JSONL with id/problem/answer) for a local policy or a model
// on OpenAI-compatible engines; per-problem JSONL, resumable; a summary table (stdout and FILE.summary.md).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ProgressBar } from '../analysis/progress.js';
import { describeBackend, selectBackend } from '../backend/select.js';
import type { AdapterName } from '../data/adapters.js';
import { loadProblems } from '../data/loaders.js';
import type { Problem } from '../data/schema.js';
import { makeLocalSampler } from '../engine/local.js';
import { makeRemoteSampler } from '../engine/remote.js';
import { eosIdsOf } from '../sampling/generate.js';
import type { PromptIn, SampleFn } from '../sampling/request.js';
import { loadPolicy } from '../model/load.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { HFTokenizer } from '../tokenizer/hf.js';
import { tokenizerFromJSON } from '../tokenizer/index.js';
import { runBenchmark, summaryTable } from '../train/benchmark.js';
import { PromptConfig, makePromptOf, questionTextOf } from '../train/prompt.js';
import { resolvePolicyDir } from '../model/load.js';
import { intFlag, UsageError, usageFailure } from './common.js';

export const BENCHMARK_HELP = `usage: igrpo eval --benchmark FILE [--policy DIR | --engine-url URL... --model NAME] [options]

  --benchmark FILE       problems: JSONL/JSON/CSV/Parquet with id, problem, answer (or a public benchmark's fields)
  --adapter A            auto|problem|gsm8k|math|aime|amc|minerva (default auto)
  --limit N              the first N problems only
  --out FILE             per-problem JSONL (default runs/eval/<benchmark>-<model>.jsonl); an existing file is
                         resumed: its problems are skipped (written with the same settings, else an error)
  --k N                  samples per problem (default 8)
  --pass-at LIST         pass@k for these k, e.g. 1,4,8 (default 1 and --k)
  --temperature T        (default 0.6)   --top-p P (default 0.95)   --top-k K (default off)
  --max-new-tokens M     (default 32 for a local policy, 2048 for an engine)
  --seed S               (default 0)
  --chunk N              problems per sampling call (default 16)
  --prompt-template T    the prompt, {problem} (or any field) replaced (default "{problem}\\n"; with --chat, the user
                         turn's content, default "{problem}")
  --chat                 render the prompt with the model's chat template (tokenizer_config.json), as a user turn
                         with the generation prompt: what an instruct model expects; needs the policy's tokenizer
                         or, with an engine, --tokenizer
  --system TEXT          with --chat, a system turn
  local policy:  --policy DIR (default: the shipped data/policy)   --backend B
  engine:        --engine-url URL (repeatable: several servers)  --model NAME  --api-key KEY (default $IGRPO_ENGINE_API_KEY)
                 --tokenizer FILE (the model's tokenizer.json: prompts go as token ids; without it, as text)
                 --concurrency N (requests in flight per server, default 16)  --timeout-ms MS
                 --engine vllm|sglang (request shape, default vllm)
                 --retry-for-s S (keep retrying a failed request this long: default 300, a cold start)
                 --retries N (at most N retries instead)
                 max_tokens is capped per prompt to the room the engine's max_model_len leaves (/v1/models)
  --json                 print the summary as one JSON object

Scored with the training verifier (accuracy reward, strict extraction: \\boxed{} or <answer>).`;

function num(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new UsageError(`${flag} expects a non-negative number, got '${v}'`);
  return x;
}

function loadTokenizer(file: string): Tokenizer {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const config = fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) : {};
  // the toolkit's own tokenizer.json (a character tokenizer) or a Hugging Face one with its config beside it
  return json?.type === 'char' ? tokenizerFromJSON(json, file) : new HFTokenizer(json, config);
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'model';

export async function runBenchmarkCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        benchmark: { type: 'string' }, adapter: { type: 'string' }, limit: { type: 'string' }, out: { type: 'string' }, k: { type: 'string' },
        'pass-at': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'top-k': { type: 'string' },
        'max-new-tokens': { type: 'string' }, seed: { type: 'string' }, chunk: { type: 'string' }, 'prompt-template': { type: 'string' }, chat: { type: 'boolean' }, system: { type: 'string' },
        policy: { type: 'string' }, backend: { type: 'string' }, 'engine-url': { type: 'string', multiple: true }, model: { type: 'string' },
        'api-key': { type: 'string' }, tokenizer: { type: 'string' }, concurrency: { type: 'string' }, 'timeout-ms': { type: 'string' },
        retries: { type: 'string' }, 'retry-for-s': { type: 'string' }, engine: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(BENCHMARK_HELP);
      return 0;
    }
    const urls = values['engine-url'] as string[] | undefined;
    if (urls && !values.model) throw new UsageError('--engine-url needs --model');
    if (urls && values.policy) throw new UsageError('--policy and --engine-url exclude each other');
    if (!urls && (values.model || values.tokenizer || values.engine || values['retry-for-s'])) throw new UsageError('--model, --tokenizer, --engine and --retry-for-s go with --engine-url');
    if (values.engine !== undefined && values.engine !== 'vllm' && values.engine !== 'sglang') throw new UsageError(`--engine expects vllm or sglang, got '${values.engine}'`);
    if (values.system !== undefined && !values.chat) throw new UsageError('--system goes with --chat');
    if (values.chat && urls && !values.tokenizer) throw new UsageError('--chat with --engine-url needs --tokenizer (the chat template is read from the tokenizer_config.json beside it)');
  } catch (e) {
    const code = usageFailure('eval', e, BENCHMARK_HELP);
    if (code === undefined) throw e;
    return code;
  }
  const urls = values['engine-url'] as string[] | undefined;
  const k = intFlag(values.k as string | undefined, '--k') ?? 8;
  const ks = values['pass-at'] ? String(values['pass-at']).split(',').map((x) => intFlag(x.trim(), '--pass-at')!) : [...new Set([1, k])];
  const temperature = num(values.temperature, '--temperature', 0.6);
  const topP = num(values['top-p'], '--top-p', 0.95);
  const topK = intFlag(values['top-k'] as string | undefined, '--top-k') ?? 0;
  const chat = values.chat === true;
  const template = (values['prompt-template'] as string | undefined) ?? (chat ? '{problem}' : '{problem}\n');
  if (!template.includes('{problem}')) throw new UsageError('--prompt-template must contain {problem}');
  const promptConfig = PromptConfig.parse({ template, format: chat ? 'chat' : 'plain', ...(values.system !== undefined ? { system: values.system } : {}) });
  const file = values.benchmark as string;
  const loaded = await loadProblems(file, { adapter: ((values.adapter as string | undefined) ?? 'auto') as AdapterName, limit: intFlag(values.limit as string | undefined, '--limit') });
  const problems: Problem[] = loaded.problems;
  // the prompt text: the filled template, or (--chat) the chat template around it (src/train/prompt.ts)
  let render: (p: Problem) => string = makePromptOf(promptConfig);

  let sampleFn: SampleFn;
  let modelName: string;
  let prompt: (p: Problem) => PromptIn;
  let dispose = () => {};
  let maxNewTokens: number;
  if (urls) {
    modelName = values.model as string;
    const tokenizer = values.tokenizer ? loadTokenizer(values.tokenizer as string) : undefined;
    if (tokenizer) render = questionTextOf(promptConfig, tokenizer);
    prompt = (p) => {
      const text = render(p);
      return { text, ids: tokenizer ? tokenizer.encode(text) : [] };
    };
    maxNewTokens = intFlag(values['max-new-tokens'] as string | undefined, '--max-new-tokens') ?? 2048;
    sampleFn = makeRemoteSampler({
      urls, model: modelName, apiKey: (values['api-key'] as string | undefined) ?? (process.env.IGRPO_ENGINE_API_KEY || undefined),
      temperature, topP, topK, maxConcurrency: intFlag(values.concurrency as string | undefined, '--concurrency') ?? 16,
      engine: (values.engine as 'vllm' | 'sglang' | undefined) ?? 'vllm',
      // an eos at exactly max_tokens is a stop, as locally (remote.ts finishReasonOf)
      ...(tokenizer ? { eosIds: [...eosIdsOf(tokenizer)] } : {}),
      ...(values['timeout-ms'] ? { timeoutMs: intFlag(values['timeout-ms'] as string, '--timeout-ms') } : {}),
      ...(values['retry-for-s'] ? { retryForMs: Math.round(num(values['retry-for-s'], '--retry-for-s', 300) * 1000) } : {}),
      ...(values.retries ? { retries: intFlag(values.retries as string, '--retries') } : {}),
    });
  } else {
    const backend = await selectBackend((values.backend as string | undefined) ?? process.env.IGRPO_BACKEND ?? 'auto');
    if (!values.json) console.error(describeBackend(backend));
    const dir = resolvePolicyDir((values.policy as string | undefined) ?? 'embedded');
    const policy = loadPolicy(dir);
    modelName = dir;
    try {
      render = questionTextOf(promptConfig, policy.tokenizer);
    } catch (e) {
      policy.dispose();
      throw e;
    }
    maxNewTokens = intFlag(values['max-new-tokens'] as string | undefined, '--max-new-tokens') ?? 32;
    prompt = (p) => {
      const text = render(p);
      const ids = policy.tokenizer.encode(text);
      if (ids.length >= policy.maxSeqLen) throw new Error(`prompt of ${ids.length} tokens does not fit the policy's context of ${policy.maxSeqLen}`);
      return { text, ids };
    };
    sampleFn = makeLocalSampler(policy, { temperature, topP, topK });
    dispose = () => policy.dispose();
  }
  const out = (values.out as string | undefined) ?? path.join('runs', 'eval', `${safe(path.basename(file).replace(/\.[^.]+$/, ''))}-${safe(path.basename(modelName))}.jsonl`);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const bar = values.json ? undefined : new ProgressBar({ total: problems.length, label: `eval ${path.basename(file)}` });
  try {
    const { summary } = await runBenchmark(problems, sampleFn, {
      n: k, ks, maxNewTokens, seed: intFlag(values.seed as string | undefined, '--seed') ?? 0, chunk: intFlag(values.chunk as string | undefined, '--chunk') ?? 16, out,
      prompt, settings: { model: modelName, engine: !!urls, temperature, topP, topK, template, ...(chat ? { chat: true, system: values.system } : {}), benchmark: path.basename(file) },
      onProgress: (done) => bar?.tick(done - bar.snapshot().done),
    });
    bar?.finish();
    const table = summaryTable(`${path.basename(file)} · ${modelName}`, summary);
    fs.writeFileSync(out.replace(/\.jsonl$/, '') + '.summary.md', table + '\n');
    if (values.json) console.log(JSON.stringify({ benchmark: file, model: modelName, out, ...summary }));
    else console.log(`${table}\nper-problem records: ${out}`);
  } finally {
    dispose();
  }
  return 0;
}
