// The GPU check at real shapes (issue 20), in one call of a lent GPU machine: the project's Llama-family
// policy on webgpu (Dawn over Vulkan) against the same model in PyTorch-CUDA, fp32 and bf16
// (bench/torch_llama_gpu.py, written from transformers' Qwen2 code), then the tiny GPT's bench:gpu.
//
// On ONE random model of Qwen2.5-0.5B's shape (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864,
// vocab 151,936, tied; generated on the device as a BF16 HF folder that every side loads), each side in
// its own process measures, as bench:llm does on the CPU:
//   (a) KV-cache group sampling, 4 prompts × 8 completions × 128 new tokens, tokens/s;
//   (b) one LoRA GRPO update (r 16 on the seven projections; 8 × 256 tokens), seconds (median of the
//       steps after the first, which pays for shader compilation / cuBLAS set-up);
//   (c) peak memory: GPU buffers (ours: tfjs-webgpu's buffer pool, bytes held and bytes in use;
//       PyTorch: max_memory_reserved / max_memory_allocated), the GPU's memory.used over the process
//       (nvidia-smi, both sides alike), and host RSS;
//   and the mean token log-prob of the update batch before any update, compared token by token across
//   sides (both read the same ids from one LCG): a wrong kernel at real shape shows here.
// The last line printed is one JSON object: sample_ratio (ours/PyTorch fp32 tokens/s), lora_step_ratio
// (ours/PyTorch fp32 seconds), rss_ratio, gpu_memory_ratio and smi_memory_ratio, the same against bf16 (`bf16`), the environment
// found (adapter, driver, Vulkan ICD, torch and CUDA versions) and per-part status. The same object is
// rewritten to <out>/gpu-llm.json after every part, so a run cut short leaves what it measured.
//
// A hard time budget (--budget seconds, counted from --started-at): each part runs under what is left,
// is killed when it runs out, and the parts not started are marked "skipped: budget".
//
//   npm run bench:gpu-llm -- --dry-run          # small shape (2 layers, hidden 64): the whole path on lavapipe
//   bash .device/kit/run.sh [--dry-run]         # the same, from the device kit (scripts/package-device.sh)
// Options: --budget S (300; dry run 240)  --out DIR ($OUT, else a temp dir)
//          --python PATH (IGRPO_PYTHON; else python3 in the kit (the device's torch), /usr/bin/python3 in the repository (Debian's))
//          --layers N (fewer decoder layers at the same widths, for a shorter run)
//          --no-tiny-gpt  --tiny-gpt-args "..." (bench:gpu's options)  --started-at EPOCH_MS
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlmWorkload } from './llm_measure.js';

const self = fileURLToPath(import.meta.url);
const here = path.dirname(self);
// run from the repository (tsx) or as scripts/package-device.sh's bundle (plain node; the kit's folder holds the rest)
const bundled = !self.endsWith('.ts');

export interface LlmShape extends LlmWorkload {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  mlp: number;
  vocab: number;
}

/** Qwen2.5-0.5B's shape and the issue's workload. */
export const FULL_SHAPE: LlmShape = {
  layers: 24, hidden: 896, heads: 14, kvHeads: 2, mlp: 4864, vocab: 151936,
  prompts: 4, group: 8, newTokens: 128, promptLen: 64, loraBatch: 8, loraSeq: 256, rank: 16, steps: 3,
};

/** The dry run's: every code path of the full run, small enough for lavapipe on a loaded 2-core machine. */
export const DRY_SHAPE: LlmShape = {
  layers: 2, hidden: 64, heads: 4, kvHeads: 2, mlp: 128, vocab: 512,
  prompts: 2, group: 4, newTokens: 8, promptLen: 16, loraBatch: 2, loraSeq: 32, rank: 4, steps: 2,
};

/** The 31-bit LCG both sides draw inputs from (bench/torch_llama_gpu.py's Lcg): x ← 1103515245·x + 12345 mod 2³¹. */
export function lcg(seed: number): { int(n: number): number; unit(): number } {
  let x = seed % 2147483648;
  const next = () => (x = (Math.imul(1103515245, x) + 12345) & 0x7fffffff);
  return { int: (n) => next() % n, unit: () => next() / 2147483648 };
}

/** Prompts sharing all but their last 4 tokens, the update batch [B][S] and its advantages (torch_llama_gpu.py bench_inputs). */
export function benchInputs(s: LlmShape): { prompts: number[][]; ids: number[][]; advantages: number[] } {
  const r = lcg(20);
  const prefix = Array.from({ length: s.promptLen - 4 }, () => r.int(s.vocab));
  const prompts = Array.from({ length: s.prompts }, () => [...prefix, ...Array.from({ length: 4 }, () => r.int(s.vocab))]);
  const ids = Array.from({ length: s.loraBatch }, () => Array.from({ length: s.loraSeq }, () => r.int(s.vocab)));
  const advantages = Array.from({ length: s.loraBatch }, () => 2 * r.unit() - 1);
  return { prompts, ids, advantages };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

// ------------------------------------------------------------------------------------------ our side

interface WorkerArgs {
  dir: string;
  shape: LlmShape;
  logpOut: string;
}

/** Our side, in its own process: webgpu, the HF folder, log-probs, sampling, LoRA steps; prints a JSON line after each phase. */
async function worker(a: WorkerArgs): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const wg = await import('../src/backend/webgpu/index.js');
  const { loadPretrained } = await import('../src/model/hf.js');
  const { timeGroupSampling, timeLoraSteps } = await import('./llm_measure.js');
  await wg.registerWebgpuBackend();
  const peak = trackBufferPeaks(tf.backend() as unknown as BufferOwner);
  const adapter = wg.webgpuAdapter()!;
  const out: Record<string, unknown> = {
    side: 'webgpu', adapter: wg.describeWebgpu(), adapter_info: adapter, software: adapter.software,
  };
  const emit = () => {
    Object.assign(out, { peak_gpu_allocated_mb: peak.usedMb(), peak_gpu_reserved_mb: peak.heldMb(), peak_rss_mb: vmHwmMb(), errors: wg.webgpuErrors().slice(0, 5) });
    console.log(JSON.stringify(out));
  };
  try {
    let t0 = performance.now();
    const model = loadPretrained(a.dir);
    out.load_s = (performance.now() - t0) / 1000;
    const s = a.shape;
    const inputs = benchInputs(s);
    const ids = tf.tensor2d(inputs.ids, undefined, 'int32');
    const advantages = tf.tensor1d(inputs.advantages);
    t0 = performance.now();
    const logp = model.tokenLogProbs(ids);
    const lp = (await logp.array()) as number[][];
    logp.dispose();
    out.logp_s = (performance.now() - t0) / 1000; // the first forward: shader compilation included
    fs.writeFileSync(a.logpOut, JSON.stringify(lp));
    out.logp_mean = lp.flat().reduce((x, y) => x + y, 0) / (lp.length * lp[0].length);
    emit();
    const c0 = wg.webgpuCounters().dispatches;
    const sampleS = await timeGroupSampling(model, inputs.prompts, s.group, s.newTokens);
    const sampleDispatches = wg.webgpuCounters().dispatches - c0; // its 2-token warm-up included
    Object.assign(out, { sample_s: sampleS, tokens_per_s: (s.prompts * s.group * s.newTokens) / sampleS, sample_dispatches_with_warmup: sampleDispatches });
    emit();
    const c1 = wg.webgpuCounters().dispatches;
    const times = await timeLoraSteps(model, ids, advantages, s.rank, s.steps);
    const timed = times.length > 1 ? times.slice(1) : times;
    Object.assign(out, { lora_step_s: median(timed), lora_steps_s: times, lora_dispatches_per_step: (wg.webgpuCounters().dispatches - c1) / times.length });
    emit();
    tf.dispose([ids, advantages]);
    model.dispose();
  } finally {
    await tf.setBackend('cpu');
    await wg.shutdownWebgpu();
  }
}

interface BufferOwner {
  bufferManager: { acquireBuffer(...a: unknown[]): unknown; numBytesUsed: number; numBytesAllocated: number };
}

/** Peaks of tfjs-webgpu's buffer manager: bytes in live tensors (numBytesUsed) and bytes held, pool included (numBytesAllocated). */
function trackBufferPeaks(backend: BufferOwner): { usedMb(): number; heldMb(): number } {
  const bm = backend.bufferManager;
  let used = bm.numBytesUsed;
  let held = bm.numBytesAllocated;
  const acquire = bm.acquireBuffer.bind(bm);
  bm.acquireBuffer = (...args: unknown[]) => {
    const b = acquire(...args);
    used = Math.max(used, bm.numBytesUsed);
    held = Math.max(held, bm.numBytesAllocated);
    return b;
  };
  return { usedMb: () => used / 2 ** 20, heldMb: () => held / 2 ** 20 };
}

function vmHwmMb(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

// ------------------------------------------------------------------------------------------ parts, budget

interface Part {
  status: 'ok' | 'failed' | 'timed out' | 'skipped: budget' | 'not run';
  seconds?: number;
  /** The GPU's memory.used peak over the part minus its value before (nvidia-smi), MiB. */
  smi_peak_mb?: number;
  error?: string;
}

interface PartRun {
  part: Part;
  stdout: string;
  /** The last JSON line printed (a partial one when the part was cut short). */
  json?: Record<string, unknown>;
}

function lastJson(stdout: string): Record<string, unknown> | undefined {
  for (const line of stdout.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // a line cut off by a kill: try the one before
    }
  }
  return undefined;
}

/** nvidia-smi's memory.used (MiB) now, or undefined without nvidia-smi. */
function smiUsedMb(): number | undefined {
  const r = spawnSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10000 });
  const v = Number((r.stdout ?? '').trim().split('\n')[0]);
  return r.status === 0 && Number.isFinite(v) ? v : undefined;
}

class Budget {
  constructor(readonly deadlineMs: number) {}

  leftS(): number {
    return (this.deadlineMs - Date.now()) / 1000;
  }
}

/**
 * Runs one part in its own process group under min(capS, what the budget leaves minus reserveS);
 * kills the group when that runs out. stderr passes through (the kit's log); stdout is kept.
 */
async function runPart(cmd: string, args: string[], capS: number, budget: Budget, opts: { reserveS?: number; env?: NodeJS.ProcessEnv; echo?: boolean } = {}): Promise<PartRun> {
  const limitS = Math.min(capS, budget.leftS() - (opts.reserveS ?? 10));
  if (limitS < 5) return { part: { status: 'skipped: budget' }, stdout: '' };
  const base = smiUsedMb();
  let peak = base;
  const sampler = base === undefined ? undefined : spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '200'], { stdio: ['ignore', 'pipe', 'ignore'] });
  sampler?.stdout?.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) {
      const v = Number(l.trim());
      if (l.trim() && Number.isFinite(v)) peak = Math.max(peak ?? v, v);
    }
  });
  sampler?.on('error', () => undefined);
  const t0 = Date.now();
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (opts.echo) process.stderr.write(d);
  });
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => {
    process.stderr.write(d);
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, limitS * 1000);
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      stderrTail += `${cmd}: ${e.message}`;
      process.stderr.write(`${cmd}: ${e.message}\n`);
      resolve(-1);
    });
    child.on('close', (c) => resolve(c));
  });
  clearTimeout(killer);
  sampler?.kill('SIGKILL');
  const part: Part = { status: timedOut ? 'timed out' : code === 0 ? 'ok' : 'failed', seconds: (Date.now() - t0) / 1000 };
  // the error's last lines travel in the result line: the call's output tail may not reach back to them
  const why = stderrTail.split('\n').filter((l) => l.trim() && !/artificially reduced/.test(l)).slice(-6).join(' | ');
  if (timedOut) part.error = `killed after ${limitS.toFixed(0)} s (budget)${why ? `; last stderr: ${why}` : ''}`;
  else if (code !== 0) part.error = `exit status ${code}${why ? `: ${why}` : ''}`;
  if (base !== undefined && peak !== undefined) part.smi_peak_mb = peak - base;
  return { part, stdout, json: lastJson(stdout) };
}

// ------------------------------------------------------------------------------------------ environment

function sh(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Which Vulkan ICD files the loader will read: $VK_DRIVER_FILES / $VK_ICD_FILENAMES, else the standard folders. */
function vulkanIcds(): { source: string; files: { path: string; library_path?: string; api_version?: string }[] } {
  const explicit = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  const list = explicit
    ? explicit.split(':').filter(Boolean)
    : ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'].flatMap((d) =>
        fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => path.join(d, f)) : [],
      );
  return {
    source: explicit ? 'VK_DRIVER_FILES' : 'loader default folders',
    files: list.map((p) => {
      try {
        const icd = (JSON.parse(fs.readFileSync(p, 'utf8')) as { ICD?: { library_path?: string; api_version?: string } }).ICD ?? {};
        return { path: p, library_path: icd.library_path, api_version: icd.api_version };
      } catch {
        return { path: p };
      }
    }),
  };
}

const TORCH_PROBE = `import json, torch
d = {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
if d["cuda_available"]:
    p = torch.cuda.get_device_properties(0)
    d.update(device=p.name, capability=f"{p.major}.{p.minor}", memory_mb=p.total_memory // 2**20, cudnn=torch.backends.cudnn.version())
print(json.dumps(d))`;

function probeEnvironment(python: string): Record<string, unknown> {
  const smi = sh('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,compute_cap', '--format=csv,noheader']);
  const torchOut = sh(python, ['-c', TORCH_PROBE]);
  let kit: unknown;
  try {
    kit = JSON.parse(fs.readFileSync(path.join(here, 'kit.json'), 'utf8'));
  } catch {
    kit = bundled ? 'kit.json missing' : 'repository (not the kit)';
  }
  return {
    host: `${os.hostname()} ${os.type()} ${os.release()} ${os.arch()}, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
    kit,
    nvidia_smi: smi ?? 'not available',
    vulkan_loader: process.env.IGRPO_VULKAN_LOADER ?? 'system (ldconfig)',
    vulkan_icds: vulkanIcds(),
    python,
    torch: torchOut ? (JSON.parse(torchOut.split('\n').pop()!) as unknown) : `${python}: no torch`,
  };
}

// ------------------------------------------------------------------------------------------ the run

interface RunArgs {
  dryRun: boolean;
  budgetS: number;
  startedAt: number;
  out: string;
  python: string;
  tinyGpt: boolean;
  tinyGptArgs: string[];
  shape: LlmShape;
}

function parseArgs(argv: string[]): RunArgs {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dryRun = argv.includes('--dry-run');
  const out = get('out') ?? process.env.OUT ?? fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-gpu-llm-'));
  const tiny = get('tiny-gpt-args');
  const a: RunArgs = {
    dryRun,
    budgetS: Number(get('budget') ?? (dryRun ? 240 : 300)),
    startedAt: Number(get('started-at') ?? Date.now()),
    out,
    python: get('python') ?? process.env.IGRPO_PYTHON ?? (!bundled && fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'),
    tinyGpt: !argv.includes('--no-tiny-gpt'),
    tinyGptArgs: tiny !== undefined
      ? tiny.split(/\s+/).filter(Boolean)
      : dryRun
        ? ['--sizes', '64x16', '--batch', '4', '--steps', '2', '--warmup', '1', '--sample-tokens', '4', '--modes', 'fused']
        : ['--sizes', '128x64,512x256,1024x256', '--steps', '10', '--warmup', '3'],
    shape: { ...(dryRun ? DRY_SHAPE : FULL_SHAPE) },
  };
  if (get('layers') !== undefined) a.shape.layers = Number(get('layers'));
  if (!(a.shape.layers > 0)) throw new Error(`--layers: '${get('layers')}' is not a positive number of layers`);
  if (!(a.budgetS > 0)) throw new Error(`--budget: '${get('budget')}' is not a number of seconds`);
  return a;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const num = (o: Record<string, unknown> | undefined, k: string): number | undefined => (typeof o?.[k] === 'number' ? (o[k] as number) : undefined);
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? r3(a / b) : null);

function maxAbsDiff(a: number[][], b: number[][]): number | null {
  if (a.length !== b.length) return null;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i].length !== b[i].length) return null;
    for (let j = 0; j < a[i].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
  }
  return m;
}

function readLogp(file: string): number[][] | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as number[][];
  } catch {
    return undefined;
  }
}

/** Ours against one PyTorch dtype: the bench:llm ratios plus GPU memory. */
function compare(ours: Record<string, unknown> | undefined, torch: Record<string, unknown> | undefined, oursPart: Part, torchPart: Part) {
  return {
    sample_ratio: ratio(num(ours, 'tokens_per_s'), num(torch, 'tokens_per_s')),
    lora_step_ratio: ratio(num(ours, 'lora_step_s'), num(torch, 'lora_step_s')),
    rss_ratio: ratio(num(ours, 'peak_rss_mb'), num(torch, 'peak_rss_mb')),
    // pool held vs caching allocator reserved: what each process keeps on the GPU
    gpu_memory_ratio: ratio(num(ours, 'peak_gpu_reserved_mb'), num(torch, 'peak_gpu_reserved_mb')),
    // the GPU's memory.used over each process, from outside (nvidia-smi): contexts, Dawn's and CUDA's own allocations included
    smi_memory_ratio: ratio(oursPart.smi_peak_mb, torchPart.smi_peak_mb),
  };
}

async function run(a: RunArgs): Promise<void> {
  fs.mkdirSync(a.out, { recursive: true });
  const budget = new Budget(a.startedAt + a.budgetS * 1000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-gpu-llm-model-'));
  const dir = path.join(work, 'model');
  const s = a.shape;
  const parts: Record<string, Part> = { make: { status: 'not run' }, webgpu: { status: 'not run' }, pytorch_fp32: { status: 'not run' }, pytorch_bf16: { status: 'not run' } };
  if (a.tinyGpt) parts.tiny_gpt = { status: 'not run' };
  const results: Record<string, Record<string, unknown> | undefined> = {};
  let tinyGpt: unknown;
  const logpDiff: Record<'fp32' | 'bf16', number | null> = { fp32: null, bf16: null };
  const env = probeEnvironment(a.python);
  const line = () => {
    const ours = results.webgpu;
    const fp32 = results.pytorch_fp32;
    const bf16 = results.pytorch_bf16;
    const vsFp32 = compare(ours, fp32, parts.webgpu, parts.pytorch_fp32);
    const vsBf16 = compare(ours, bf16, parts.webgpu, parts.pytorch_bf16);
    const warnings: string[] = [];
    if (ours?.software && !a.dryRun) warnings.push('webgpu ran on a software adapter (lavapipe): no Vulkan driver of the GPU was found; see env.vulkan_icds');
    if (Array.isArray(ours?.errors) && ours.errors.length) warnings.push(`Dawn reported ${ours.errors.length} validation errors (an invalid kernel is skipped, which looks fast)`);
    if (logpDiff.fp32 !== null && logpDiff.fp32 > 1e-2) warnings.push(`ours and PyTorch fp32 disagree on the log-probs (max |Δ| ${logpDiff.fp32}): a kernel is wrong at this shape`);
    return {
      bench: 'gpu-llm',
      dry_run: a.dryRun,
      partial: Object.values(parts).some((p) => p.status !== 'ok'),
      budget_s: a.budgetS,
      elapsed_s: r3((Date.now() - a.startedAt) / 1000),
      shape: s,
      ...vsFp32,
      bf16: vsBf16,
      // the update batch's base log-probs, ours against PyTorch, max |Δ| over all tokens
      logp_max_abs_diff_fp32: logpDiff.fp32,
      logp_max_abs_diff_bf16: logpDiff.bf16,
      parts,
      ours: ours ?? null,
      pytorch_fp32: fp32 ?? null,
      pytorch_bf16: bf16 ?? null,
      tiny_gpt: tinyGpt ?? null,
      warnings,
      env,
    };
  };
  const save = () => fs.writeFileSync(path.join(a.out, 'gpu-llm.json'), `${JSON.stringify(line())}\n`);
  const onSignal = (sig: NodeJS.Signals) => {
    for (const p of Object.values(parts)) if (p.status === 'not run') p.status = 'skipped: budget';
    save();
    console.log(JSON.stringify(line()));
    process.exit(sig === 'SIGTERM' ? 143 : 130);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  save();

  const py = path.join(here, 'torch_llama_gpu.py');
  const shapeFlags = ['--layers', s.layers, '--hidden', s.hidden, '--heads', s.heads, '--kv-heads', s.kvHeads, '--mlp', s.mlp, '--vocab', s.vocab].map(String);
  const runFlags = ['--prompts', s.prompts, '--group', s.group, '--new', s.newTokens, '--prompt-len', s.promptLen, '--lora-batch', s.loraBatch,
    '--lora-seq', s.loraSeq, '--rank', s.rank, '--steps', s.steps].map(String);
  const node = (script: string, args: string[]) => (bundled ? [script, ...args] : ['--import', 'tsx', script, ...args]);
  const caps = a.dryRun ? { make: 60, webgpu: 120, torch: 60 } : { make: 90, webgpu: 150, torch: 75 };
  const log = (m: string) => process.stderr.write(`[gpu-llm ${((Date.now() - a.startedAt) / 1000).toFixed(0)} s] ${m}\n`);
  try {
    log(`random model (${s.layers} layers, hidden ${s.hidden}, vocab ${s.vocab}) → ${dir}`);
    const made = await runPart(a.python, [py, 'make', dir, ...shapeFlags], caps.make, budget);
    parts.make = made.part;
    save();
    if (made.part.status === 'ok') {
      log('webgpu: load, log-probs, sampling, LoRA steps');
      const w: WorkerArgs = { dir, shape: s, logpOut: path.join(work, 'logp-webgpu.json') };
      const ours = await runPart(process.execPath, node(self, ['--worker', JSON.stringify(w)]), caps.webgpu, budget);
      parts.webgpu = ours.part;
      results.webgpu = ours.json;
      save();
      for (const dtype of ['fp32', 'bf16'] as const) {
        log(`PyTorch ${dtype}`);
        const t = await runPart(a.python, [py, 'run', dir, '--dtype', dtype, '--logp-out', path.join(work, `logp-${dtype}.json`), ...runFlags], caps.torch, budget);
        parts[`pytorch_${dtype}`] = t.part;
        results[`pytorch_${dtype}`] = t.json;
        const theirs = readLogp(path.join(work, `logp-${dtype}.json`));
        const mine = readLogp(w.logpOut);
        logpDiff[dtype] = mine && theirs ? maxAbsDiff(mine, theirs) : null;
        save();
      }
    } else {
      for (const k of ['webgpu', 'pytorch_fp32', 'pytorch_bf16']) parts[k] = { status: 'failed', error: 'no model: the make part failed' };
    }
    if (a.tinyGpt) {
      log(`tiny GPT bench:gpu ${a.tinyGptArgs.join(' ')}`);
      const script = bundled ? path.join(here, 'bench-gpu.mjs') : path.join(here, 'gpu.ts');
      const env2 = { ...process.env, IGRPO_PYTHON: a.python };
      const t = await runPart(process.execPath, node(script, a.tinyGptArgs), 1e9, budget, { reserveS: 8, env: env2, echo: true });
      parts.tiny_gpt = t.part;
      fs.writeFileSync(path.join(a.out, 'bench-gpu.txt'), t.stdout);
      tinyGpt = summarizeTiny(t.json);
      if (t.part.status === 'ok' && t.json === undefined) parts.tiny_gpt = { ...t.part, status: 'failed', error: 'no JSON line' };
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const final = line();
  fs.writeFileSync(path.join(a.out, 'gpu-llm.json'), `${JSON.stringify(final)}\n`);
  printSummary(final);
  console.log(JSON.stringify(final));
}

/** bench:gpu's last JSON line → per size and mode: step ms, dispatches, tokens/s, PyTorch's, ratios. */
function summarizeTiny(j: Record<string, unknown> | undefined): unknown {
  if (!j || !Array.isArray(j.rows)) return j ?? null;
  type Row = { size: { dModel: number; seq: number }; results: { mode: string; trainStepMs: number; dispatchesPerStep: number; sampleTokensPerS?: number; adapter: string }[]; torch?: { train_step_ms?: number; sample_tokens_per_s?: number; error?: string } };
  return (j.rows as Row[]).flatMap((r) =>
    r.results.map((w) => ({
      size: `${r.size.dModel}x${r.size.seq}`,
      mode: w.mode,
      step_ms: r3(w.trainStepMs),
      dispatches: w.dispatchesPerStep,
      sample_tok_s: w.sampleTokensPerS === undefined ? null : r3(w.sampleTokensPerS),
      torch_step_ms: r.torch?.train_step_ms ?? null,
      torch_tok_s: r.torch?.sample_tokens_per_s ?? null,
      step_ratio: r.torch?.train_step_ms ? r3(w.trainStepMs / r.torch.train_step_ms) : null,
    })),
  );
}

function printSummary(l: ReturnType<typeof JSON.parse>): void {
  const f = (x: unknown, d = 2) => (typeof x === 'number' ? x.toFixed(d) : '—');
  const row = (name: string, r: Record<string, unknown> | null) =>
    `${name.padEnd(14)} ${f(r?.tokens_per_s, 1).padStart(10)} ${f(r?.lora_step_s, 3).padStart(10)} ${f(r?.peak_gpu_reserved_mb, 0).padStart(10)} ${f(r?.peak_rss_mb, 0).padStart(9)} ${f(r?.logp_mean, 5).padStart(10)}`;
  const lines = [
    '',
    `gpu-llm (${l.dry_run ? 'DRY RUN, small shape' : "Qwen2.5-0.5B's shape"}): ${l.ours?.adapter ?? 'webgpu: no result'}`,
    `side            tok/s      LoRA s     GPU MiB   RSS MiB  logp mean`,
    row('webgpu', l.ours),
    row('pytorch fp32', l.pytorch_fp32),
    row('pytorch bf16', l.pytorch_bf16),
    `vs fp32: sample ${f(l.sample_ratio)}×, LoRA step ${f(l.lora_step_ratio)}×, GPU memory ${f(l.gpu_memory_ratio)}× (nvidia-smi ${f(l.smi_memory_ratio)}×); ` +
      `vs bf16: ${f(l.bf16.sample_ratio)}×, ${f(l.bf16.lora_step_ratio)}×, ${f(l.bf16.gpu_memory_ratio)}× (${f(l.bf16.smi_memory_ratio)}×)`,
    `log-prob max |Δ| vs fp32 ${f(l.logp_max_abs_diff_fp32, 6)}, vs bf16 ${f(l.logp_max_abs_diff_bf16, 4)}`,
    ...(l.warnings as string[]).map((w) => `WARNING: ${w}`),
    `parts: ${Object.entries(l.parts as Record<string, Part>).map(([k, p]) => `${k} ${p.status}${p.seconds !== undefined ? ` ${p.seconds.toFixed(0)} s` : ''}`).join(', ')}; ${l.elapsed_s} s of ${l.budget_s}`,
  ];
  console.log(lines.join('\n')); // stdout, like the line after it
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--worker');
  if (i >= 0) {
    await worker(JSON.parse(argv[i + 1]) as WorkerArgs);
    return;
  }
  await run(parseArgs(argv));
}

// run only as a program (tests import the input helpers)
if (path.resolve(process.argv[1] ?? '') === self) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
