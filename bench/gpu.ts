// GPU benchmark: the project's GPT (src/model) on the webgpu backend (Dawn over Vulkan) against the
// same model in PyTorch CUDA (bench/torch_gpt_cuda.py), with ratios.
//
//   npm run bench:gpu                          # d_model 128, T 64: before/after + PyTorch CUDA when present
//   npm run bench:gpu -- --sizes 128x64,512x256,1024x256 --steps 10
//   npm run bench:gpu -- --modes fused --no-torch --no-sample
// Options: --sizes DxT,...  --batch B (32)  --layers L (4)  --steps N (5)  --warmup W (2)  --sample-tokens K (64)
//          --kernel-times (one more step under tf.time: GPU time per kernel, by timestamp queries)
//          --modes baseline,fused (both)  --no-sample  --no-torch  --python PATH (IGRPO_PYTHON or python3)
// "baseline" is stock tfjs-backend-webgpu (composite ops, tfjs-core's Sum/Mean gradients, src/optim Adam's
// tensor path); "fused" is this project's webgpu path (fused kernels, on-device reductions, in-place Adam).
// Each measurement runs in its own child process. On lavapipe (Mesa's CPU Vulkan) step times say nothing
// of a GPU; dispatches and uploads per step are the same on any adapter, host time is this machine's.
// The last line printed is one JSON object with every figure.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const self = fileURLToPath(import.meta.url);
const here = path.dirname(self);
// run from the repository (tsx) or as scripts/package-device.sh's bundle (plain node, IGRPO_ROOT set)
const bundled = !self.endsWith('.ts');
const root = bundled ? process.env.IGRPO_ROOT ?? here : path.resolve(here, '..');

interface Size {
  dModel: number;
  seq: number;
  heads: number;
}

interface Args {
  sizes: Size[];
  batch: number;
  layers: number;
  steps: number;
  warmup: number;
  modes: ('baseline' | 'fused')[];
  sample: boolean;
  sampleTokens: number;
  kernelTimes: boolean;
  torch: boolean;
  python: string;
  worker?: { mode: 'baseline' | 'fused'; size: Size };
}

/** GPT-2's head counts for these widths: d/64 heads, at least 4. */
const headsFor = (d: number) => Math.max(4, Math.floor(d / 64));

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (get('sizes') ?? '128x64').split(',').map((s) => {
    const [d, t] = s.split('x').map(Number);
    if (!(d > 0 && t > 0)) throw new Error(`--sizes: '${s}' is not DxT (e.g. 512x256)`);
    return { dModel: d, seq: t, heads: headsFor(d) };
  });
  const modes = (get('modes') ?? 'baseline,fused').split(',') as Args['modes'];
  for (const m of modes) if (m !== 'baseline' && m !== 'fused') throw new Error(`--modes: unknown mode '${m}'`);
  const a: Args = {
    sizes,
    batch: Number(get('batch') ?? 32),
    layers: Number(get('layers') ?? 4),
    steps: Number(get('steps') ?? 5),
    warmup: Number(get('warmup') ?? 2),
    modes,
    sample: !argv.includes('--no-sample'),
    sampleTokens: Number(get('sample-tokens') ?? 64),
    kernelTimes: argv.includes('--kernel-times'),
    torch: !argv.includes('--no-torch'),
    python: get('python') ?? process.env.IGRPO_PYTHON ?? 'python3',
  };
  if (argv.includes('--worker')) a.worker = { mode: get('mode') as 'baseline' | 'fused', size: sizes[0] };
  return a;
}

interface WorkerResult {
  mode: string;
  adapter: string;
  software: boolean;
  dModel: number;
  seq: number;
  trainStepMs: number;
  hostMsPerStep: number;
  dispatchesPerStep: number;
  uploadsPerStep: number;
  uploadMBPerStep: number;
  sampleTokensPerS?: number;
  sampleDispatchesPerDecodeStep?: number;
  /** One extra step under tf.time (timestamp queries, one submit per kernel): GPU ms per kernel name. */
  kernelMs?: number;
  topKernels?: [string, number][];
  /** Loss of the first and last timed step: finite and falling, or the figures mean nothing. */
  losses: [number, number];
  /** Dawn validation errors (an invalid kernel is skipped silently, which would look fast). */
  errors: string[];
}

/** tf.time's "Name: ms, Name: ms" profile → per-name totals, largest first. */
function kernelTotals(info: string): [string, number][] {
  const totals = new Map<string, number>();
  for (const part of info.split(', ')) {
    const i = part.lastIndexOf(': ');
    if (i < 0) continue;
    const name = part.slice(0, i);
    totals.set(name, (totals.get(name) ?? 0) + Number(part.slice(i + 2)));
  }
  return [...totals.entries()].sort((x, y) => y[1] - x[1]);
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One configuration in this process: train steps (timed, counted), then grouped KV-cache sampling. */
async function worker(a: Args): Promise<WorkerResult> {
  const { mode, size } = a.worker!;
  if (mode === 'baseline') process.env.IGRPO_WEBGPU_BASELINE = '1';
  const wg = await import('../src/backend/webgpu/index.js');
  const { GPT } = await import('../src/model/gpt.js');
  const { CharTokenizer } = await import('../src/tokenizer/index.js');
  const { Adam } = await import('../src/optim/adam.js');
  const { sample } = await import('../src/sampling/index.js');
  await wg.registerWebgpuBackend();
  const adapter = wg.webgpuAdapter()!;
  try {
    // vocab 32 as the CPU bench: 3 specials + 29 characters
    const tokenizer = new CharTokenizer({ alphabet: 'abcdefghijklmnopqrstuvwxyz .,' });
    const model = new GPT(
      { vocabSize: 32, dModel: size.dModel, nLayers: a.layers, nHeads: size.heads, maxSeqLen: Math.max(size.seq + 1, 96), seed: 0 },
      tokenizer,
    );
    const params = model.parameters();
    const opt = new Adam(params, { lr: 1e-3 }); // fused in place on webgpu unless IGRPO_WEBGPU_BASELINE=1
    const data = Int32Array.from({ length: a.batch * (size.seq + 1) }, (_, i) => (i * 7919 + 13) % 32);
    const ids = tf.tensor2d(data, [a.batch, size.seq + 1], 'int32');
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogProbs(ids))) as tf.Scalar, params);
      opt.step(params.map((p) => grads[p.name]));
      tf.dispose(grads);
      return value;
    };
    for (let i = 0; i < a.warmup; i++) {
      const l = step();
      await l.data();
      l.dispose();
    }
    const times: number[] = [];
    const hosts: number[] = [];
    const losses: number[] = [];
    const c0 = wg.webgpuCounters();
    for (let i = 0; i < a.steps; i++) {
      const t0 = performance.now();
      const loss = step();
      hosts.push(performance.now() - t0);
      const [lv] = await loss.data(); // the step's one readback
      times.push(performance.now() - t0);
      losses.push(lv);
      loss.dispose();
    }
    const c1 = wg.webgpuCounters();
    const r: WorkerResult = {
      mode,
      adapter: wg.describeWebgpu(),
      software: adapter.software,
      dModel: size.dModel,
      seq: size.seq,
      trainStepMs: median(times),
      hostMsPerStep: median(hosts),
      dispatchesPerStep: (c1.dispatches - c0.dispatches) / a.steps,
      uploadsPerStep: (c1.uploads - c0.uploads) / a.steps,
      uploadMBPerStep: (c1.uploadBytes - c0.uploadBytes) / a.steps / 1e6,
      losses: [losses[0], losses[losses.length - 1]],
      errors: [],
    };
    if (a.kernelTimes) {
      const info = (await tf.time(() => tf.dispose(step()))) as tf.TimingInfo & { getExtraProfileInfo?: () => string };
      r.kernelMs = info.kernelMs as number;
      r.topKernels = kernelTotals(info.getExtraProfileInfo?.() ?? '').slice(0, 12);
    }
    opt.dispose();
    ids.dispose();
    if (a.sample) {
      // 8 prompts of 16 tokens × 8 completions each (prefix shared), 64 new tokens each: 4,096 tokens
      const prompts = Array.from({ length: 8 }, (_, p) => Array.from({ length: 16 }, (_, i) => 3 + ((p * 31 + i * 17) % 29)));
      const opts = { n: 8, maxNewTokens: a.sampleTokens, seed: 1, stopOnEos: false };
      await sample(model, [prompts[0]], { ...opts, n: 2, maxNewTokens: 4 }); // compiles the decode kernels
      const s0 = wg.webgpuCounters();
      const t0 = performance.now();
      const out = await sample(model, prompts, opts);
      const secs = (performance.now() - t0) / 1000;
      const tokens = out.flat().reduce((n, c) => n + c.ids.length, 0);
      r.sampleTokensPerS = tokens / secs;
      r.sampleDispatchesPerDecodeStep = (wg.webgpuCounters().dispatches - s0.dispatches) / a.sampleTokens; // the 64-row batch, prefill included
    }
    model.dispose();
    r.errors = wg.webgpuErrors();
    return r;
  } finally {
    await tf.setBackend('cpu');
    await wg.shutdownWebgpu();
  }
}

interface TorchResult {
  device?: string;
  error?: string;
  train_step_ms?: number;
  sample_tokens_per_s?: number;
}

function lastJson(stdout: string): unknown {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : undefined;
}

function runWorker(a: Args, mode: string, s: Size): WorkerResult {
  const argv = [...(bundled ? [self] : ['--import', 'tsx', self]), '--worker', '--mode', mode, '--sizes', `${s.dModel}x${s.seq}`,
    '--batch', String(a.batch), '--layers', String(a.layers), '--steps', String(a.steps), '--warmup', String(a.warmup)];
  if (!a.sample) argv.push('--no-sample');
  if (a.kernelTimes) argv.push('--kernel-times');
  argv.push('--sample-tokens', String(a.sampleTokens));
  const r = spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  const out = lastJson(r.stdout ?? '') as WorkerResult | { error: string } | undefined;
  if (r.status !== 0 || !out || 'error' in out) {
    const why = out && 'error' in out ? out.error : (r.stderr ?? '').split('\n').filter((l) => !/artificially reduced/.test(l)).slice(-15).join('\n');
    throw new Error(`webgpu ${mode} d${s.dModel} T${s.seq} failed:\n${why}`);
  }
  return out;
}

function runTorch(a: Args, s: Size): TorchResult {
  const argv = [path.join(here, 'torch_gpt_cuda.py'), '--d-model', String(s.dModel), '--seq', String(s.seq), '--heads', String(s.heads),
    '--layers', String(a.layers), '--batch', String(a.batch), '--steps', String(Math.max(a.steps, 10))];
  if (!a.sample) argv.push('--no-sample');
  argv.push('--sample-tokens', String(a.sampleTokens));
  const r = spawnSync(a.python, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  const out = lastJson(r.stdout ?? '') as TorchResult | undefined;
  if (out) return out;
  return { error: `${a.python} ${path.basename(argv[0])} failed: ${(r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? '—' : x.toFixed(digits));

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.worker) {
    try {
      console.log(JSON.stringify(await worker(a)));
    } catch (e) {
      console.log(JSON.stringify({ error: (e as Error).message }));
      process.exitCode = 1;
    }
    return;
  }
  const rows: { size: Size; results: WorkerResult[]; torch?: TorchResult }[] = [];
  for (const s of a.sizes) {
    const results: WorkerResult[] = [];
    for (const m of a.modes) {
      try {
        results.push(runWorker(a, m, s));
      } catch (e) {
        console.error((e as Error).message);
        console.error('bench:gpu: the webgpu backend did not run; on a machine without a GPU install Mesa lavapipe (bash scripts/setup-system.sh).');
        process.exitCode = 1;
        return;
      }
    }
    const torch = a.torch ? runTorch(a, s) : undefined;
    rows.push({ size: s, results, torch });
  }
  const first = rows[0].results[0];
  console.log(`\nbench:gpu — ${first.adapter}`);
  console.log(`tiny GPT: vocab 32, ${a.layers} layers, batch ${a.batch}, MLP 4×, Adam; fp32; median of ${a.steps} steps after ${a.warmup} warm-up\n`);
  if (first.software) console.log('lavapipe: the step times below are a CPU emulating Vulkan; only dispatches, uploads and host ms carry over to a GPU.\n');
  console.log('d_model/heads/T   mode      step ms   host ms  dispatches  uploads (MB)   sample tok/s  PyTorch-CUDA step ms, tok/s   step ratio  sample ratio');
  for (const r of rows) {
    for (const w of r.results) {
      const t = r.torch;
      const tStep = t?.train_step_ms;
      const tTok = t?.sample_tokens_per_s;
      console.log(
        `${`${r.size.dModel}/${r.size.heads}/${r.size.seq}`.padEnd(17)} ${w.mode.padEnd(8)} ${fmt(w.trainStepMs).padStart(8)} ${fmt(w.hostMsPerStep).padStart(9)} ` +
          `${fmt(w.dispatchesPerStep, 0).padStart(11)} ${`${fmt(w.uploadsPerStep, 0)} (${fmt(w.uploadMBPerStep, 2)})`.padStart(13)} ${fmt(w.sampleTokensPerS, 0).padStart(14)}  ` +
          `${(tStep === undefined ? '—' : `${fmt(tStep, 2)}, ${fmt(tTok, 0)}`).padEnd(28)} ${(tStep ? `${fmt(w.trainStepMs / tStep)}×` : '—').padStart(10)} ` +
          `${(tTok && w.sampleTokensPerS ? `${fmt(w.sampleTokensPerS / tTok, 2)}×` : '—').padStart(12)}`,
      );
    }
  }
  for (const r of rows) {
    for (const w of r.results) {
      if (w.kernelMs === undefined) continue;
      const top = (w.topKernels ?? []).map(([n, ms]) => `${n.replace(/Program\d*$/, '')} ${ms.toFixed(1)}`).join(', ');
      console.log(`\nGPU kernel ms, d${r.size.dModel} T${r.size.seq} ${w.mode}: ${w.kernelMs.toFixed(1)} in all (Adam's raw dispatches not timed); ${top}`);
    }
  }
  for (const r of rows) {
    for (const w of r.results) {
      const [l0, l1] = w.losses;
      if (!Number.isFinite(l1) || !(l1 < l0) || w.errors.length) {
        console.log(`\nWARNING d${r.size.dModel} T${r.size.seq} ${w.mode}: loss ${l0} → ${l1}; ${w.errors.length} Dawn errors ${w.errors.slice(0, 2).join(' | ')}`);
        process.exitCode = 1;
      }
    }
  }
  const torchNote = rows.find((r) => r.torch?.error)?.torch?.error;
  if (torchNote) console.log(`\nPyTorch CUDA: not measured (${torchNote})`);
  console.log(`\nstep ratio = webgpu step / PyTorch step (target ≤ 3 at d_model 512 and 1024); sample ratio = webgpu tok/s / PyTorch tok/s (target ≥ 0.5)`);
  console.log(JSON.stringify({ batch: a.batch, layers: a.layers, steps: a.steps, rows }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
