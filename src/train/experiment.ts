// The GRPO-vs-iGRPO experiment at a matched rollout budget: every variant from the same shipped policy,
// the same seeds, the same completions per prompt; held-out pass@1 curves, the final accuracy with a
// 95% t-interval over seeds, paired differences between variants, and per-step wall-time ratios.
//
//   node --import tsx src/train/experiment.ts [--name NAME] [--config FILE] [--seeds 0,1,2] [--parallel 2] [--summary-only]
//
// The config is a train config; its optional `variants` block names the variants, each a partial config
// merged over the rest (e.g. { "grpo": { "algo": "grpo" }, "igrpo-3r": { "igrpo": { "budget": [4, 2, 2] } } }).
// Without it the variants are GRPO and iGRPO ({ grpo: { algo: 'grpo' }, igrpo: { algo: 'igrpo' } }).
// Runs go to a pool of --parallel worker processes, seed by seed.
//
// Writes results/<name>/logs/<variant>-s<seed>/ (metrics, evals, rollouts, config), results/<name>/summary.json.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../paths.js';
import { ci95, meanCI } from '../util/stats.js';
import { deepMerge } from '../util/merge.js';
import { ConfigError, parseTrainConfig, type TrainConfig } from './config.js';
import { readConfigObject } from './config-file.js';
import { readEvals, readMetrics } from './records-file.js';
import { Trainer } from './trainer.js';

export interface MethodSummary {
  seeds: number[];
  initialAccuracy: number[];
  finalAccuracies: number[];
  mean: number;
  ci95: [number, number];
  /** Mean wall time of a training step (sampling, scoring, update; evaluation and checkpoints excluded), per seed. */
  stepMs: number[];
  completionsPerStep: number;
  completionTokensPerStep: number;
  /** pass@1 by updates done, per seed: [[updates, passAt1], …]. */
  curves: [number, number][][];
}

const runDir = (root: string, variant: string, seed: number) => path.join(root, 'logs', `${variant}-s${seed}`); // not 'runs/': .gitignore skips those

/** The default variants: the two methods. */
const METHODS: Record<string, Record<string, unknown>> = { grpo: { algo: 'grpo' }, igrpo: { algo: 'igrpo' } };

/** An experiment config: the shared train config and its variants (each a partial config merged over it). */
export function readExperiment(file: string): { base: Record<string, unknown>; variants: Record<string, Record<string, unknown>> } {
  const { variants, ...base } = readConfigObject(file);
  if (variants !== undefined && (typeof variants !== 'object' || variants === null || Array.isArray(variants) || Object.keys(variants).length === 0)) {
    throw new ConfigError(`invalid config ${file}: 'variants' must be an object of named partial configs`);
  }
  for (const name of Object.keys(variants ?? {})) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new ConfigError(`invalid config ${file}: variant name '${name}' (letters, digits, . _ -)`);
  }
  return { base, variants: (variants as Record<string, Record<string, unknown>>) ?? METHODS };
}

/** The train config of one variant and seed, validated (errors name the file and the variant). */
export function variantConfig(file: string, variant: string, seed: number): TrainConfig {
  const { base, variants } = readExperiment(file);
  if (!variants[variant]) throw new ConfigError(`${file}: no variant '${variant}' (known: ${Object.keys(variants).join(', ')})`);
  return parseTrainConfig(deepMerge(deepMerge(base, variants[variant]), { seed }), `${file} (variant '${variant}')`);
}

async function runOne(cfg: TrainConfig, out: string): Promise<void> {
  fs.rmSync(out, { recursive: true, force: true });
  const t = await Trainer.create(cfg, { out });
  await t.run({
    onStep: (s) => process.stdout.write(`${cfg.algo} s${cfg.seed} step ${s.step} reward ${s.metrics!.reward.toFixed(3)} acc ${s.metrics!.accuracy.toFixed(3)}` +
      `${s.eval ? ` eval ${s.eval.passAt1.toFixed(3)}` : ''} ${(s.metrics!.wallMs.total / 1000).toFixed(1)}s\n`),
  });
  t.dispose();
  fs.rmSync(path.join(out, 'checkpoints'), { recursive: true, force: true }); // the results keep logs, not weights
}

/** One run in a child process (a core of its own), its output in the run folder's log.txt. */
function spawnJob(root: string, configFile: string, variant: string, seed: number): Promise<void> {
  const dir = runDir(root, variant, seed);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const log = fs.openSync(`${dir}.log.txt`, 'w');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], '--name', path.basename(root), '--config', configFile, '--job', `${variant}:${seed}`], {
    stdio: ['ignore', log, log],
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${variant} seed ${seed} failed (exit ${code}); see ${dir}.log.txt`)))),
  );
}

export function summariseMethod(root: string, variant: string, seeds: readonly number[]): MethodSummary {
  const evals = seeds.map((s) => readEvals(path.join(runDir(root, variant, s), 'evals.jsonl')));
  const metrics = seeds.map((s) => readMetrics(path.join(runDir(root, variant, s), 'metrics.jsonl')));
  const finals = evals.map((e) => e[e.length - 1].passAt1);
  const ti = meanCI(finals);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    seeds: [...seeds],
    initialAccuracy: evals.map((e) => e.find((x) => x.updates === 0)?.passAt1 ?? NaN),
    finalAccuracies: finals,
    mean: ti.mean,
    ci95: ci95(ti),
    stepMs: metrics.map((ms) => mean(ms.map((m) => m.wallMs.total))),
    completionsPerStep: mean(metrics.flat().map((m) => m.sampledCompletions)),
    completionTokensPerStep: mean(metrics.flat().map((m) => m.completionTokens)),
    curves: evals.map((e) => e.map((x) => [x.updates, x.passAt1] as [number, number])),
  };
}

/** Paired difference a − b of final held-out pass@1 over seeds, with its 95% t-interval. */
function pairedDifference(a: MethodSummary, b: MethodSummary) {
  const d = meanCI(a.finalAccuracies.map((x, i) => x - b.finalAccuracies[i]));
  return { mean: d.mean, ci95: ci95(d), perSeed: a.finalAccuracies.map((x, i) => x - b.finalAccuracies[i]) };
}

const stepRatio = (a: MethodSummary, b: MethodSummary) => {
  const perSeed = a.stepMs.map((x, i) => x / b.stepMs[i]);
  return { perSeed, mean: perSeed.reduce((x, y) => x + y, 0) / perSeed.length };
};

/**
 * Every variant's summary; paired differences of each variant against GRPO, and of each iGRPO variant
 * against plain iGRPO (where those variants ran). `finalDifference` / `stepTimeRatio` (iGRPO − GRPO) as before.
 */
export function summarise(root: string, seeds: readonly number[], meta: Record<string, unknown>, variants: readonly string[] = Object.keys(METHODS)) {
  const methods = Object.fromEntries(variants.map((v) => [v, summariseMethod(root, v, seeds)])) as Record<string, MethodSummary>;
  const differences: Record<string, ReturnType<typeof pairedDifference>> = {};
  const stepTimeRatios: Record<string, ReturnType<typeof stepRatio>> = {};
  for (const v of variants) {
    for (const ref of ['grpo', 'igrpo']) {
      if (v === ref || !methods[ref] || (ref === 'igrpo' && v === 'grpo')) continue;
      differences[`${v} − ${ref}`] = pairedDifference(methods[v], methods[ref]);
      stepTimeRatios[`${v} / ${ref}`] = stepRatio(methods[v], methods[ref]);
    }
  }
  const both = methods.grpo && methods.igrpo;
  return {
    ...meta,
    variants: [...variants],
    methods,
    /** iGRPO / GRPO mean step wall time, per seed and their mean. */
    stepTimeRatio: both ? stepRatio(methods.igrpo, methods.grpo) : undefined,
    /** Paired difference of final held-out pass@1 (iGRPO − GRPO) over seeds, with its 95% t-interval. */
    finalDifference: both ? (({ mean, ci95 }) => ({ mean, ci95 }))(pairedDifference(methods.igrpo, methods.grpo)) : undefined,
    /** Every variant against GRPO, and every other iGRPO variant against iGRPO: "a − b" → paired difference. */
    differences,
    /** Mean step wall-time ratios "a / b" (runs in a pool of workers: the same machine, not always the same moment). */
    stepTimeRatios,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const LABEL: Record<string, string> = { grpo: 'GRPO', igrpo: 'iGRPO' };
const label = (v: string) => LABEL[v] ?? v;

/** The tables of results/<name>/README.md (the reading is written by a person under them). */
export function renderTables(summary: ReturnType<typeof summarise>): string {
  const variants = summary.variants ?? Object.keys(summary.methods);
  const lines: string[] = [];
  lines.push('| method | seeds | held-out pass@1 before | after, per seed | mean | 95% CI (t, over seeds) | mean step time | completions / step |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const v of variants) {
    const m = summary.methods[v];
    const ms = m.stepMs.reduce((a, b) => a + b, 0) / m.stepMs.length;
    lines.push(`| ${label(v)} | ${m.seeds.join(', ')} | ${m.initialAccuracy.map(pct).join(', ')} | ${m.finalAccuracies.map(pct).join(', ')} | ${pct(m.mean)} | [${pct(m.ci95[0])}, ${pct(m.ci95[1])}] | ${(ms / 1000).toFixed(2)} s | ${m.completionsPerStep.toFixed(0)} |`);
  }
  lines.push('');
  lines.push('Paired differences of final pass@1 (per seed, then mean and 95% t-interval over seeds):');
  lines.push('');
  lines.push('| difference | per seed | mean | 95% CI | step-time ratio |');
  lines.push('|---|---|---|---|---|');
  for (const [name, d] of Object.entries(summary.differences)) {
    const [a, b] = name.split(' − ');
    const r = summary.stepTimeRatios[`${a} / ${b}`];
    lines.push(`| ${label(a)} − ${label(b)} | ${d.perSeed.map((x) => (100 * x).toFixed(1)).join(', ')} | ${pct(d.mean)} | [${pct(d.ci95[0])}, ${pct(d.ci95[1])}] | ${r ? r.mean.toFixed(2) : ''} |`);
  }
  lines.push('');
  lines.push(`Completion tokens per step: ${variants.map((v) => `${label(v)} ${summary.methods[v].completionTokensPerStep.toFixed(0)}`).join(', ')}.`);
  lines.push('');
  lines.push('Held-out pass@1 by updates (mean over seeds):');
  lines.push('');
  const updates = summary.methods[variants[0]].curves[0].map(([u]) => u);
  lines.push(`| updates | ${updates.join(' | ')} |`);
  lines.push(`|---|${updates.map(() => '---').join('|')}|`);
  for (const v of variants) {
    const m = summary.methods[v];
    const means = updates.map((_, i) => m.curves.reduce((a, c) => a + (c[i]?.[1] ?? NaN), 0) / m.curves.length);
    lines.push(`| ${label(v)} | ${means.map(pct).join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

function previousWallSeconds(root: string): number | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'summary.json'), 'utf8')).wallSeconds;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      name: { type: 'string' }, config: { type: 'string' }, seeds: { type: 'string' }, parallel: { type: 'string' },
      'summary-only': { type: 'boolean' }, job: { type: 'string' },
    },
  });
  const name = values.name ?? 'grpo-vs-igrpo';
  const configFile = values.config ?? path.join(packageRoot(), 'data', 'configs', 'experiment.json');
  const seeds = (values.seeds ?? '0,1,2').split(',').map(Number);
  const root = path.join(packageRoot(), 'results', name);
  fs.mkdirSync(root, { recursive: true });
  const variants = Object.keys(readExperiment(configFile).variants);
  if (values.job) {
    const [variant, seed] = values.job.split(':');
    const cfg = variantConfig(configFile, variant, Number(seed));
    const { selectBackend, describeBackend } = await import('../backend/select.js');
    console.log(describeBackend(await selectBackend(cfg.backend)));
    await runOne(cfg, runDir(root, variant, cfg.seed));
    return;
  }
  for (const v of variants) for (const seed of seeds) variantConfig(configFile, v, seed); // every config valid before the first run
  const parallel = Number(values.parallel ?? 2);
  const t0 = Date.now();
  if (!values['summary-only']) {
    // a pool of `parallel` workers, each run in its own process, seed by seed (a seed's variants run close in time)
    const jobs = seeds.flatMap((seed) => variants.map((variant) => ({ variant, seed })));
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const j = jobs[next++];
        await spawnJob(root, configFile, j.variant, j.seed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  }
  const summary = summarise(root, seeds, {
    name,
    config: path.relative(packageRoot(), configFile),
    command: `node --import tsx src/train/experiment.ts --name ${name} --config ${path.relative(packageRoot(), configFile)} --seeds ${seeds.join(',')} --parallel ${parallel}`,
    // a summary-only pass keeps the wall time the runs took
    wallSeconds: values['summary-only'] ? previousWallSeconds(root) : Math.round((Date.now() - t0) / 1000),
    date: new Date().toISOString(),
  }, variants);
  fs.writeFileSync(path.join(root, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  fs.writeFileSync(path.join(root, 'tables.md'), renderTables(summary));
  console.log(JSON.stringify(Object.fromEntries(variants.map((v) => [v, summary.methods[v].finalAccuracies]))));
}

if (process.argv[1] && /experiment\.ts$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
