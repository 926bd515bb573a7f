// LLM benchmark (issue 11, "Speed and memory"): the project's Llama-family policy on the native backend
// against the same model in PyTorch 1.13 (bench/torch_llama.py, written from transformers' Qwen2 code),
// on ONE random model of Qwen2.5-0.5B's shape (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864,
// vocab 151,936, tied, θ 1e6, eps 1e-6) generated once as an HF folder (BF16 safetensors) in a temp dir
// that both sides load. Per thread count, sides alternate, each measurement in its own process:
//   (a) KV-cache group sampling, P prompts × G completions, N new tokens (ours shares each prompt's
//       prefix; PyTorch decodes the same P·G rows with its cache), tokens/s;
//   (b) one LoRA update step (r 16 on q,k,v,o,gate,up,down; 8 × 256 tokens): token log-probs → GRPO
//       clipped loss → backward → Adam on the adapters (the last of --steps steps is timed);
//   (c) the process's peak RSS (VmHWM), covering both.
// The last line is one JSON object with sample_ratio (ours/PyTorch tokens/s), lora_step_ratio
// (ours/PyTorch seconds) and rss_ratio (ours/PyTorch peak RSS), medians over --reps, at the largest
// thread count measured; per-thread figures are in `by_threads`.
//
//   npm run bench:llm                      # 1 and 2 threads, full shape (heavy: tens of minutes)
//   npm run bench:llm -- --threads 2       # one thread count
//   npm run bench:llm -- --quick           # 2 layers, short sequences: a ~1–2 min smoke run
// Options: --reps R (default 1 quick, 2 full)  --layers L  --keep DIR (reuse/keep the model folder)
//          --gradient-checkpointing (our LoRA step recomputes each layer in the backward instead of keeping
//          its activations: less memory, one more forward; off by default, as in transformers and TRL)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LlmResult, type LlmWorkerArgs, runWorker } from './llm_worker.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

function lastJson(stdout: string, what: string): LlmResult {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${what} printed no JSON line:\n${stdout}`);
  return JSON.parse(line) as LlmResult;
}

function python(args: string[], threads: number, what: string): string {
  const r = spawnSync('/usr/bin/python3', [path.join(here, 'torch_llama.py'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  if (r.signal) throw new Error(`${what} was killed by ${r.signal} (out of memory?):\n${r.stderr}`);
  if (r.status !== 0) throw new Error(`${what} failed (needs Debian's python3-torch: bash scripts/setup-system.sh):\n${r.stderr}`);
  return r.stdout;
}

function runOurs(w: LlmWorkerArgs): LlmResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'llm.ts'), '--worker', JSON.stringify(w)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, IGRPO_THREADS: String(w.threads), OMP_NUM_THREADS: String(w.threads) },
  });
  if (r.signal) throw new Error(`our worker was killed by ${r.signal} (out of memory?):\n${r.stderr}`);
  if (r.status !== 0) throw new Error(`our worker failed (native backend: npm run build:native):\n${r.stderr}`);
  return lastJson(r.stdout, 'our worker');
}

function runTorch(w: LlmWorkerArgs): LlmResult {
  const flags = ['--threads', w.threads, '--prompts', w.prompts, '--group', w.group, '--new', w.newTokens, '--prompt-len', w.promptLen,
    '--lora-batch', w.loraBatch, '--lora-seq', w.loraSeq, '--rank', w.rank, '--steps', w.steps].map(String);
  return lastJson(python(['run', w.dir, ...flags], w.threads, 'PyTorch worker'), 'PyTorch worker');
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--worker')) {
    console.log(JSON.stringify(await runWorker(JSON.parse(arg(argv, 'worker')!) as LlmWorkerArgs)));
    return;
  }
  const quick = argv.includes('--quick');
  const threadList = arg(argv, 'threads') ? [Number(arg(argv, 'threads'))] : [1, 2];
  const reps = Number(arg(argv, 'reps') ?? (quick ? 1 : 2));
  const layers = Number(arg(argv, 'layers') ?? (quick ? 2 : 24));
  const shape = quick
    ? { prompts: 2, group: 4, newTokens: 16, promptLen: 32, loraBatch: 2, loraSeq: 64, rank: 16, steps: 2 }
    : { prompts: 4, group: 8, newTokens: 128, promptLen: 64, loraBatch: 8, loraSeq: 256, rank: 16, steps: 2 };
  const keep = arg(argv, 'keep');
  const dir = keep ?? mkdtempSync(path.join(os.tmpdir(), 'igrpo-bench-llm-'));
  try {
    if (!existsSync(path.join(dir, 'model.safetensors'))) {
      const t0 = performance.now();
      python(['make', dir, '--layers', String(layers)], 2, 'making the random model');
      console.error(`random Qwen2.5-0.5B-shaped model (${layers} layers, BF16) in ${dir}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const byThreads: Record<string, unknown> = {};
    let last: { sample_ratio: number; lora_step_ratio: number; rss_ratio: number } | undefined;
    for (const threads of threadList) {
      const w: LlmWorkerArgs = { dir, threads, ...shape, checkpointing: argv.includes('--gradient-checkpointing') };
      const ours: LlmResult[] = [];
      const torch: LlmResult[] = [];
      for (let r = 0; r < reps; r++) {
        // alternate which side goes first, so drift on a shared machine hits both
        const order = r % 2 === 0 ? ['ours', 'torch'] : ['torch', 'ours'];
        for (const side of order) {
          const res = side === 'ours' ? runOurs(w) : runTorch(w);
          (side === 'ours' ? ours : torch).push(res);
          console.error(`threads ${threads} rep ${r} ${res.side}: ${res.tokens_per_s.toFixed(1)} tok/s sampling, LoRA step ${res.lora_step_s.toFixed(2)} s (steps ${res.lora_steps_s.map((s) => s.toFixed(2)).join(', ')}), peak RSS ${res.peak_rss_mb.toFixed(0)} MB`);
        }
      }
      const m = (xs: LlmResult[], k: 'tokens_per_s' | 'lora_step_s' | 'peak_rss_mb') => median(xs.map((x) => x[k]));
      last = {
        sample_ratio: r3(m(ours, 'tokens_per_s') / m(torch, 'tokens_per_s')),
        lora_step_ratio: r3(m(ours, 'lora_step_s') / m(torch, 'lora_step_s')),
        rss_ratio: r3(m(ours, 'peak_rss_mb') / m(torch, 'peak_rss_mb')),
      };
      byThreads[threads] = {
        ours: { tokens_per_s: r3(m(ours, 'tokens_per_s')), lora_step_s: r3(m(ours, 'lora_step_s')), peak_rss_mb: Math.round(m(ours, 'peak_rss_mb')) },
        pytorch: { tokens_per_s: r3(m(torch, 'tokens_per_s')), lora_step_s: r3(m(torch, 'lora_step_s')), peak_rss_mb: Math.round(m(torch, 'peak_rss_mb')) },
        ...last,
      };
    }
    const checkpointing = argv.includes('--gradient-checkpointing');
    console.log(JSON.stringify({ bench: 'llm', quick, layers, reps, shape, checkpointing, threads: threadList, by_threads: byThreads, ...last! }));
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main(process.argv.slice(2));
