// `igrpo eval`: held-out pass@1 (averaged over k samples per problem) of a policy on the synthetic task or a problem file.
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '../backend/select.js';
import { loadPolicy } from '../model/load.js';
import { ConfigError, parseTrainConfig } from '../train/config.js';
import { readTrainConfig } from '../train/config-file.js';
import { loadProblems } from '../data/loaders.js';
import type { Policy } from '../model/policy.js';
import { resolveDataFile } from '../train/data-source.js';
import { questionTextOf } from '../train/prompt.js';
import { buildRewards } from '../verify/registry.js';
import { evaluate } from '../train/evaluate.js';
import { resolvePolicyDir } from '../model/load.js';
import { evalProblems, TaskConfig } from '../train/task.js';
import { runBenchmarkCommand } from './eval-benchmark.js';
import { intFlag, orUsage, UsageError, usageFailure } from './common.js';

const HELP = `usage: igrpo eval [options]

  --policy DIR|ORG/NAME  policy folder (GPT or Hugging Face), a run's checkpoint policy, or a hub id in
                         the HF cache (default: the shipped data/policy)
  --task arithmetic|countdown   (default arithmetic)
  --difficulty D         the task's difficulty knob (default 2, as the shipped policy)
  --n N                  held-out problems (default 128)
  --k K                  samples per problem; pass@1 is averaged over them (default 8)
  --temperature T        (default 0.6, the paper's)   --top-p P   (default 0.95)
  --max-new-tokens M     (default 32)
  --seed S               (default 0)
  --backend B            (default $IGRPO_BACKEND or auto)
  --json                 print one JSON object

On any problem file (JSONL/JSON/CSV/Parquet, or benchmark:NAME), in the policy's own prompt format
('{problem}' + newline) and the paper's rewards unless --config gives a prompt block and rewards:
  --data FILE            evaluate on the file's problems (the first --n of them)
  --adapter A            auto, problem, gsm8k, math, aime, amc, minerva (default auto)
  --config FILE          a train config: its prompt and rewards blocks are used

On benchmark files (GSM8K, MATH-500, AIME, AMC, Minerva, any JSONL), with pass@k and engines:
  igrpo eval --benchmark FILE [--engine-url URL --model NAME] ...   (igrpo eval --benchmark X --help)

exit codes: 0 done, 2 bad usage, 1 other errors`;

/** Problems of a file (first n), and the prompt format and rewards (a config's, else the defaults). */
async function fileProblems(spec: string, adapter: string, n: number, configFile: string | undefined, policy: Policy) {
  const cfg = configFile ? readTrainConfig(configFile) : parseTrainConfig({});
  const parsed = TaskConfig.shape.adapter.safeParse(adapter);
  if (!parsed.success) throw new UsageError(`--adapter must be one of ${TaskConfig.shape.adapter.removeDefault().options.join(', ')}, got '${adapter}'`);
  const { file, adapter: a } = resolveDataFile(spec, parsed.data);
  const { problems } = await loadProblems(file, { adapter: a, limit: n });
  if (problems.length === 0) throw new Error(`--data ${spec}: no problems in ${file}`);
  return { file, problems, promptOf: questionTextOf(cfg.prompt, policy.tokenizer), rewards: buildRewards(cfg.rewards) };
}

function numFlag(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new UsageError(`${flag} expects a non-negative number, got '${v}'`);
  return x;
}

export async function run(argv: string[]): Promise<number> {
  // benchmark files, engines, pass@k: a mode of its own (eval-benchmark.ts); without --benchmark, as before
  if (argv.some((a) => a === '--benchmark' || a.startsWith('--benchmark='))) return runBenchmarkCommand(argv);
  let values: Record<string, string | boolean | undefined>;
  let task: TaskConfig;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        policy: { type: 'string' }, task: { type: 'string' }, difficulty: { type: 'string' }, n: { type: 'string' }, k: { type: 'string' },
        temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'max-new-tokens': { type: 'string' }, seed: { type: 'string' },
        backend: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        data: { type: 'string' }, adapter: { type: 'string' }, config: { type: 'string' },
      },
    }));
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const r = TaskConfig.safeParse({ task: values.task, difficulty: intFlag(values.difficulty as string | undefined, '--difficulty'), evalSize: intFlag(values.n as string | undefined, '--n') });
    if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    task = r.data;
  } catch (e) {
    const code = usageFailure('eval', e, HELP);
    if (code === undefined) throw e;
    return code;
  }
  const started = await orUsage('eval', HELP, () => selectBackend((values.backend as string | undefined) ?? process.env.IGRPO_BACKEND ?? 'auto'));
  if ('code' in started) return started.code;
  const backend = started.value;
  if (!values.json) console.error(describeBackend(backend));
  const dir = resolvePolicyDir((values.policy as string | undefined) ?? 'embedded');
  const policy = loadPolicy(dir);
  const fileRun = values.data ? await fileProblems(values.data as string, (values.adapter as string | undefined) ?? 'auto', task.evalSize, values.config as string | undefined, policy) : undefined;
  const problems = fileRun?.problems ?? evalProblems(task);
  const k = intFlag(values.k as string | undefined, '--k') ?? 8;
  const t0 = performance.now();
  const r = await evaluate(policy, problems, {
    k,
    temperature: numFlag(values.temperature as string | undefined, '--temperature', 0.6),
    topP: numFlag(values['top-p'] as string | undefined, '--top-p', 0.95),
    maxNewTokens: intFlag(values['max-new-tokens'] as string | undefined, '--max-new-tokens') ?? 32,
    seed: intFlag(values.seed as string | undefined, '--seed') ?? 0,
    promptOf: fileRun?.promptOf,
    rewards: fileRun?.rewards,
  });
  policy.dispose();
  const { perProblem, ...result } = r;
  if (values.json) console.log(JSON.stringify({ policy: dir, ...(fileRun ? { data: fileRun.file } : { task }), ...result }));
  else {
    console.log(`${dir}: pass@1 ${(100 * r.passAt1).toFixed(1)}% ± ${(196 * (r.stderr ?? 0)).toFixed(1)} (95% normal CI over problems), ` +
      `k=${r.k}, ${r.n} ${fileRun ? `problems of ${fileRun.file}` : `held-out ${task.task} problems (difficulty ${task.difficulty})`}, T=${r.temperature}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`  problems solved by at least one sample: ${perProblem.filter((x) => x > 0).length}/${r.n}; by all: ${perProblem.filter((x) => x === 1).length}/${r.n}`);
  }
  return 0;
}
