// The GRPO-vs-iGRPO experiment at a matched rollout budget: both methods from the same shipped policy,
// the same seeds, the same completions per prompt; held-out pass@1 curves, the final accuracy with a
// 95% t-interval over seeds, and the per-step wall-time ratio iGRPO / GRPO (each pair of runs is made
// side by side, so both see the same machine load).
//
//   node --import tsx src/train/experiment.ts [--name NAME] [--config FILE] [--seeds 0,1,2] [--parallel 2] [--summary-only]
//
// Writes results/<name>/logs/<algo>-s<seed>/ (metrics, evals, config), results/<name>/summary.json.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../paths.js';
import { ci95, meanCI } from '../util/stats.js';
import type { TrainConfig } from './config.js';
import { readTrainConfig } from './config-file.js';
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

const runDir = (root: string, algo: string, seed: number) => path.join(root, 'logs', `${algo}-s${seed}`); // not 'runs/': .gitignore skips those

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
function spawnJob(root: string, configFile: string, algo: string, seed: number): Promise<void> {
  const dir = runDir(root, algo, seed);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const log = fs.openSync(`${dir}.log.txt`, 'w');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], '--name', path.basename(root), '--config', configFile, '--job', `${algo}:${seed}`], {
    stdio: ['ignore', log, log],
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${algo} seed ${seed} failed (exit ${code}); see ${dir}.log.txt`)))),
  );
}

export function summariseMethod(root: string, algo: string, seeds: readonly number[]): MethodSummary {
  const evals = seeds.map((s) => readEvals(path.join(runDir(root, algo, s), 'evals.jsonl')));
  const metrics = seeds.map((s) => readMetrics(path.join(runDir(root, algo, s), 'metrics.jsonl')));
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

export function summarise(root: string, seeds: readonly number[], meta: Record<string, unknown>) {
  const grpo = summariseMethod(root, 'grpo', seeds);
  const igrpo = summariseMethod(root, 'igrpo', seeds);
  const ratios = seeds.map((_, i) => igrpo.stepMs[i] / grpo.stepMs[i]);
  const diff = meanCI(seeds.map((_, i) => igrpo.finalAccuracies[i] - grpo.finalAccuracies[i]));
  return {
    ...meta,
    methods: { grpo, igrpo },
    /** iGRPO / GRPO mean step wall time, per seed pair (run side by side) and their mean. */
    stepTimeRatio: { perSeed: ratios, mean: ratios.reduce((a, b) => a + b, 0) / ratios.length },
    /** Paired difference of final held-out pass@1 (iGRPO − GRPO) over seeds, with its 95% t-interval. */
    finalDifference: { mean: diff.mean, ci95: ci95(diff) },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The tables of results/<name>/README.md (the reading is written by a person under them). */
export function renderTables(summary: ReturnType<typeof summarise>): string {
  const { grpo, igrpo } = summary.methods;
  const lines: string[] = [];
  lines.push('| method | seeds | held-out pass@1 before | after, per seed | mean | 95% CI (t, over seeds) | mean step time |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const [name, m] of [['GRPO', grpo], ['iGRPO', igrpo]] as const) {
    const ms = m.stepMs.reduce((a, b) => a + b, 0) / m.stepMs.length;
    lines.push(`| ${name} | ${m.seeds.join(', ')} | ${m.initialAccuracy.map(pct).join(', ')} | ${m.finalAccuracies.map(pct).join(', ')} | ${pct(m.mean)} | [${pct(m.ci95[0])}, ${pct(m.ci95[1])}] | ${(ms / 1000).toFixed(2)} s |`);
  }
  lines.push('');
  lines.push(`Paired difference iGRPO − GRPO (final pass@1): ${pct(summary.finalDifference.mean)}, 95% CI [${pct(summary.finalDifference.ci95[0])}, ${pct(summary.finalDifference.ci95[1])}].`);
  lines.push(`Step wall-time ratio iGRPO / GRPO: ${summary.stepTimeRatio.mean.toFixed(2)} (per seed: ${summary.stepTimeRatio.perSeed.map((r) => r.toFixed(2)).join(', ')}).`);
  lines.push(`Completions sampled per step: GRPO ${grpo.completionsPerStep}, iGRPO ${igrpo.completionsPerStep}; completion tokens per step: GRPO ${grpo.completionTokensPerStep.toFixed(0)}, iGRPO ${igrpo.completionTokensPerStep.toFixed(0)}.`);
  lines.push('');
  lines.push('Held-out pass@1 by updates (mean over seeds):');
  lines.push('');
  const updates = grpo.curves[0].map(([u]) => u);
  lines.push(`| updates | ${updates.join(' | ')} |`);
  lines.push(`|---|${updates.map(() => '---').join('|')}|`);
  for (const [name, m] of [['GRPO', grpo], ['iGRPO', igrpo]] as const) {
    const means = updates.map((_, i) => m.curves.reduce((a, c) => a + (c[i]?.[1] ?? NaN), 0) / m.curves.length);
    lines.push(`| ${name} | ${means.map(pct).join(' | ')} |`);
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
  if (values.job) {
    const [algo, seed] = values.job.split(':');
    const cfg = readTrainConfig(configFile, { algo, seed: Number(seed) });
    const { selectBackend, describeBackend } = await import('../backend/select.js');
    console.log(describeBackend(await selectBackend(cfg.backend)));
    await runOne(cfg, runDir(root, cfg.algo, cfg.seed));
    return;
  }
  const parallel = Number(values.parallel ?? 2);
  const t0 = Date.now();
  if (!values['summary-only']) {
    // pairs (grpo, igrpo) of one seed run side by side, each in its own process: their step times see the same load
    const jobs = seeds.flatMap((seed) => (['grpo', 'igrpo'] as const).map((algo) => ({ algo, seed })));
    for (let i = 0; i < jobs.length; i += parallel) {
      await Promise.all(jobs.slice(i, i + parallel).map((j) => spawnJob(root, configFile, j.algo, j.seed)));
    }
  }
  const summary = summarise(root, seeds, {
    name,
    config: path.relative(packageRoot(), configFile),
    command: `node --import tsx src/train/experiment.ts --name ${name} --config ${path.relative(packageRoot(), configFile)} --seeds ${seeds.join(',')} --parallel ${parallel}`,
    // a summary-only pass keeps the wall time the runs took
    wallSeconds: values['summary-only'] ? previousWallSeconds(root) : Math.round((Date.now() - t0) / 1000),
    date: new Date().toISOString(),
  });
  fs.writeFileSync(path.join(root, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  fs.writeFileSync(path.join(root, 'tables.md'), renderTables(summary));
  console.log(JSON.stringify({ grpo: summary.methods.grpo.finalAccuracies, igrpo: summary.methods.igrpo.finalAccuracies, ratio: summary.stepTimeRatio.mean }));
}

if (process.argv[1] && /experiment\.ts$/.test(process.argv[1])) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
