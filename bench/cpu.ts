// CPU benchmark: the project's GPT (src/model) on a tfjs backend against the same model in PyTorch: a plain
// train step, a whole GRPO update step (src/rl/update.ts), KV-cache and grouped sampling
// (bench/torch_gpt.py, Debian's python3-torch), on the same thread count, runs alternated.
//
//   npm run bench:cpu                 # native + wasm vs PyTorch, 3 alternated repetitions
//   npm run bench:cpu -- --quick      # one repetition, fewer steps (under ~2 minutes)
//   npm run bench:cpu -- --sweep      # d_model 128/256/512 × T 64/256, train step only
// Options: --backends native,wasm  --threads N (default IGRPO_THREADS or 2)  --d-model D  --seq T  --reps R
// Each project measurement runs in its own child process (clean peak RSS); the last line is one JSON object.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type WorkerArgs, type WorkerResult } from './cpu_worker.js';

interface Args {
  quick: boolean;
  sweep: boolean;
  worker: boolean;
  backends: string[];
  threads: number;
  dModel: number;
  seq: number;
  reps: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    sweep: argv.includes('--sweep'),
    worker: argv.includes('--worker'),
    backends: (get('backends') ?? get('backend') ?? 'native,wasm').split(','),
    threads: Number(get('threads') ?? process.env.IGRPO_THREADS ?? 2),
    dModel: Number(get('d-model') ?? 128),
    seq: Number(get('seq') ?? 64),
    reps: Number(get('reps') ?? (quick ? 1 : 3)),
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** bench/torch_gpt.py's JSON line: the worker's figures without the tfjs-only fields. */
type TorchResult = Omit<WorkerResult, 'backend' | 'num_tensors_stable'>;

function lastJsonLine(stdout: string, what: string): unknown {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${what} printed no JSON line:\n${stdout}`);
  return JSON.parse(line);
}

function runTorch(a: Args, w: WorkerArgs): TorchResult {
  const args = [path.join(here, 'torch_gpt.py'), '--threads', String(a.threads), '--d-model', String(w.dModel), '--seq', String(w.seq),
    '--steps', String(w.steps), '--warmup', String(w.warmup), '--sample-reps', '1', '--max-len', String(Math.max(256, w.seq + 1))];
  if (!w.sample) args.push('--no-sample');
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(a.threads) } });
  if (r.status !== 0) throw new Error(`PyTorch reference failed (needs Debian's python3-torch: bash scripts/setup-system.sh):\n${r.stderr}`);
  return lastJsonLine(r.stdout, 'bench/torch_gpt.py') as TorchResult;
}

function runWorker(a: Args, w: WorkerArgs): WorkerResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'cpu.ts'), '--worker', JSON.stringify(w)], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, IGRPO_THREADS: String(a.threads) },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`project run on ${w.backend} failed:\n${r.stderr}`);
  return lastJsonLine(r.stdout, `worker ${w.backend}`) as WorkerResult;
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function workerArgs(a: Args, backend: string, dModel: number, seq: number, sample: boolean): WorkerArgs {
  return { backend, dModel, seq, sample, steps: a.quick ? 4 : 10, warmup: a.quick ? 2 : 3 };
}

/** Alternate PyTorch and each backend `reps` times; ratios are taken per repetition, then the median. */
function compare(a: Args, dModel: number, seq: number, sample: boolean) {
  const torch: TorchResult[] = [];
  const ours = new Map<string, WorkerResult[]>(a.backends.map((b) => [b, []]));
  for (let r = 0; r < a.reps; r++) {
    torch.push(runTorch(a, workerArgs(a, 'torch', dModel, seq, sample)));
    for (const b of a.backends) {
      const res = runWorker(a, workerArgs(a, b, dModel, seq, sample));
      ours.get(b)!.push(res);
      const t = torch[torch.length - 1];
      console.log(`  rep ${r + 1} d=${dModel} T=${seq}: ${b} ${res.train_step_ms.toFixed(1)} ms/step (CPU ${res.train_step_cpu_ms.toFixed(1)}) vs PyTorch ${t.train_step_ms.toFixed(1)} ms (CPU ${t.train_step_cpu_ms.toFixed(1)})` +
        `; GRPO update ${res.update_step_ms.toFixed(1)} ms (CPU ${res.update_step_cpu_ms.toFixed(1)}) vs ${t.update_step_ms.toFixed(1)} ms (CPU ${t.update_step_cpu_ms.toFixed(1)})` +
        (sample ? `; sampling ${res.sample_tokens_per_s!.toFixed(0)} vs ${t.sample_tokens_per_s!.toFixed(0)} tok/s (per CPU-second ${res.sample_cpu_tokens_per_s!.toFixed(0)} vs ${t.sample_cpu_tokens_per_s!.toFixed(0)}); grouped ${res.group_sample_tokens_per_s!.toFixed(0)} vs ${t.group_sample_tokens_per_s!.toFixed(0)} tok/s (CPU ${res.group_sample_cpu_tokens_per_s!.toFixed(0)} vs ${t.group_sample_cpu_tokens_per_s!.toFixed(0)}; PyTorch without sharing)` : ''));
    }
  }
  const perBackend = [...ours].map(([backend, rs]) => {
    const ratio = (f: (w: WorkerResult, t: TorchResult) => number) => round(median(rs.map((w, i) => f(w, torch[i]))));
    return {
      backend,
      train_step_ratio: ratio((w, t) => w.train_step_ms / t.train_step_ms),
      train_step_cpu_ratio: ratio((w, t) => w.train_step_cpu_ms / t.train_step_cpu_ms),
      update_step_ratio: ratio((w, t) => w.update_step_ms / t.update_step_ms),
      update_step_cpu_ratio: ratio((w, t) => w.update_step_cpu_ms / t.update_step_cpu_ms),
      sample_ratio: sample ? ratio((w, t) => w.sample_tokens_per_s! / t.sample_tokens_per_s!) : undefined,
      group_sample_ratio: sample ? ratio((w, t) => w.group_sample_tokens_per_s! / t.group_sample_tokens_per_s!) : undefined,
      sample_cpu_ratio: sample ? ratio((w, t) => w.sample_cpu_tokens_per_s! / t.sample_cpu_tokens_per_s!) : undefined,
      group_sample_cpu_ratio: sample ? ratio((w, t) => w.group_sample_cpu_tokens_per_s! / t.group_sample_cpu_tokens_per_s!) : undefined,
      train_step_ms: round(median(rs.map((w) => w.train_step_ms)), 1),
      train_step_cpu_ms: round(median(rs.map((w) => w.train_step_cpu_ms)), 1),
      update_step_ms: round(median(rs.map((w) => w.update_step_ms)), 1),
      update_step_cpu_ms: round(median(rs.map((w) => w.update_step_cpu_ms)), 1),
      sample_tokens_per_s: sample ? round(median(rs.map((w) => w.sample_tokens_per_s!)), 0) : undefined,
      group_sample_tokens_per_s: sample ? round(median(rs.map((w) => w.group_sample_tokens_per_s!)), 0) : undefined,
      peak_rss_mb: round(Math.max(...rs.map((w) => w.peak_rss_mb)), 0),
      threads: rs[0].threads,
    };
  });
  const torchSummary = {
    train_step_ms: round(median(torch.map((t) => t.train_step_ms)), 1),
    train_step_cpu_ms: round(median(torch.map((t) => t.train_step_cpu_ms)), 1),
    update_step_ms: round(median(torch.map((t) => t.update_step_ms)), 1),
    update_step_cpu_ms: round(median(torch.map((t) => t.update_step_cpu_ms)), 1),
    sample_tokens_per_s: sample ? round(median(torch.map((t) => t.sample_tokens_per_s!)), 0) : undefined,
    group_sample_tokens_per_s: sample ? round(median(torch.map((t) => t.group_sample_tokens_per_s!)), 0) : undefined,
    peak_rss_mb: round(Math.max(...torch.map((t) => t.peak_rss_mb)), 0),
    threads: torch[0].threads,
  };
  return { perBackend, torch: torchSummary };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker') {
    console.log(JSON.stringify(await measure(JSON.parse(argv[1]) as WorkerArgs)));
    return;
  }
  const a = parseArgs(argv);
  console.log(`bench:cpu — ${a.quick ? 'quick, ' : ''}${a.reps} alternated repetition(s), ${a.threads} thread(s), backends ${a.backends.join(', ')}`);
  console.log('Figures share the machine with whatever else runs; compare ratios from the same run.');
  if (a.sweep) {
    const rows = [];
    for (const d of [128, 256, 512]) {
      for (const t of [64, 256]) {
        const { perBackend, torch } = compare(a, d, t, false);
        for (const p of perBackend) {
          rows.push({ d_model: d, seq: t, backend: p.backend, ms: p.train_step_ms, torch_ms: torch.train_step_ms, ratio: p.train_step_ratio, cpu_ratio: p.train_step_cpu_ratio });
        }
      }
    }
    console.log('| d_model | T | backend | project ms/step | PyTorch ms/step | wall ratio | CPU-time ratio |\n|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.d_model} | ${r.seq} | ${r.backend} | ${r.ms} | ${r.torch_ms} | ${r.ratio} | ${r.cpu_ratio} |`);
    console.log(JSON.stringify({ sweep: rows, threads: a.threads }));
    return;
  }
  const { perBackend, torch } = compare(a, a.dModel, a.seq, true);
  const best = perBackend[0];
  console.log(JSON.stringify({
    backend: best.backend,
    train_step_ratio: best.train_step_ratio,
    train_step_cpu_ratio: best.train_step_cpu_ratio,
    update_step_ratio: best.update_step_ratio,
    update_step_cpu_ratio: best.update_step_cpu_ratio,
    sample_ratio: best.sample_ratio,
    group_sample_ratio: best.group_sample_ratio,
    sample_cpu_ratio: best.sample_cpu_ratio,
    group_sample_cpu_ratio: best.group_sample_cpu_ratio,
    threads: { project: best.threads, torch: torch.threads },
    project: perBackend,
    torch,
    model: { vocab: 32, d_model: a.dModel, layers: 4, heads: 4, seq: a.seq, batch: 32 },
    update: { prompt: 16, temperature: 0.7, epsilon: 0.2, max_grad_norm: 1, loss: 'grpo' },
    reps: a.reps,
  }));
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
