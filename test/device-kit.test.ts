// The device kit (scripts/package-device.sh → run.sh → bench/gpu_llm.ts, issue 20) cannot rot between GPU
// sessions: it is built here (xz -0, outside the repository, so nothing of the checkout can be reached),
// its dry run goes through every part on lavapipe with PyTorch on the CPU and prints the result line,
// and its time budget stops a hung part. Needs lavapipe (IGRPO_SKIP_WEBGPU=1 skips, like the other
// webgpu tests) and Debian's python3-torch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PYTHON } from './hf-fixtures.js';
import { SKIP_WEBGPU } from './webgpu_helpers.js';

const skip = SKIP_WEBGPU ? 'IGRPO_SKIP_WEBGPU=1' : false;
let tmp = '';
let kit = '';

before(() => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-kit-test-'));
  kit = path.join(tmp, 'kit');
  const r = spawnSync('bash', ['scripts/package-device.sh', '--out', kit, '--fast'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `package-device.sh failed:\n${r.stdout}\n${r.stderr}`);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** run.sh with its own $OUT and $TMPDIR (unpacked node/Dawn) under this test's folder. */
function runKit(out: string, args: string[], extraEnv: Record<string, string> = {}) {
  fs.mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  const r = spawnSync('bash', [path.join(kit, 'run.sh'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, OUT: out, TMPDIR: tmp, IGRPO_PYTHON: PYTHON, ...extraEnv },
  });
  const lines = (r.stdout ?? '').trim().split('\n');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1], seconds: (performance.now() - t0) / 1000 };
}

test('the kit has what the device lacks (node, Dawn, a Vulkan loader, the bundles, the PyTorch scripts) and fits the carry limit', { skip }, () => {
  const files = fs.readdirSync(kit);
  for (const f of ['run.sh', 'node.xz', 'dawn.node.xz', 'gpu-llm.mjs', 'bench-gpu.mjs', 'torch_llama_gpu.py', 'torch_gpt_cuda.py', 'torch_gpt.py', 'package.json', 'kit.json']) {
    assert.ok(files.includes(f), `kit lacks ${f} (has ${files.join(', ')})`);
  }
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(kit, f)).size, 0);
  assert.ok(bytes < 60 * 2 ** 20, `kit is ${bytes} bytes, over 60 MiB even at xz -0`);
  assert.ok(!files.some((f) => f === 'node_modules' || f.endsWith('.safetensors')), 'no node_modules, no weights in the kit');
});

test('dry run: every part on lavapipe + PyTorch CPU, one JSON line last (also in $OUT/gpu-llm.json), log-probs agree across sides', { skip }, () => {
  const out = path.join(tmp, 'out-dry');
  const hasDeb = fs.readdirSync(kit).some((f) => /^libvulkan1_.*\.deb$/.test(f));
  // with the kit's own Vulkan loader when it carries one: the path an H100 without libvulkan takes
  const r = runKit(out, ['--dry-run'], hasDeb ? { IGRPO_KIT_FORCE_VULKAN_DEB: '1' } : {});
  assert.equal(r.status, 0, `run.sh --dry-run failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  const line = JSON.parse(r.last) as Record<string, any>;
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'gpu-llm.json'), 'utf8')), line, '$OUT/gpu-llm.json holds the printed line');
  assert.equal(line.bench, 'gpu-llm');
  assert.equal(line.dry_run, true);
  for (const [name, p] of Object.entries(line.parts as Record<string, { status: string; error?: string }>)) {
    assert.equal(p.status, 'ok', `part ${name}: ${p.status} ${p.error ?? ''}\n${fs.readFileSync(path.join(out, 'kit.log'), 'utf8').slice(-3000)}`);
  }
  assert.equal(line.partial, false);
  // the bench:llm shape: ratios of ours to PyTorch fp32, and to bf16
  for (const k of ['sample_ratio', 'lora_step_ratio', 'rss_ratio']) {
    assert.ok(line[k] > 0, `${k} = ${line[k]}`);
    assert.ok(line.bf16[k] > 0, `bf16.${k} = ${line.bf16[k]}`);
  }
  assert.equal(line.gpu_memory_ratio, null, 'no CUDA here: no GPU memory ratio');
  assert.ok(line.ours.peak_gpu_reserved_mb > 0 && line.ours.peak_gpu_allocated_mb > 0, 'our webgpu buffer peaks are counted');
  assert.ok(line.ours.peak_gpu_reserved_mb >= line.ours.peak_gpu_allocated_mb);
  assert.equal(line.ours.lora_steps_s.length, line.shape.steps);
  assert.deepEqual(line.ours.errors, [], 'no Dawn validation errors');
  assert.deepEqual(line.warnings, []);
  // the same ids on both sides (one LCG): fp32 log-probs agree to rounding, bf16 to bf16's precision
  assert.ok(line.logp_max_abs_diff_fp32 < 1e-4, `ours vs PyTorch fp32 log-probs: max |Δ| ${line.logp_max_abs_diff_fp32}`);
  assert.ok(line.logp_max_abs_diff_bf16 > line.logp_max_abs_diff_fp32 && line.logp_max_abs_diff_bf16 < 0.25, `vs bf16: ${line.logp_max_abs_diff_bf16}`);
  // what the run found
  assert.match(line.ours.adapter, /llvmpipe|lavapipe/i);
  assert.equal(line.ours.software, true);
  assert.match(line.env.node, /^v\d+/);
  assert.equal(typeof line.env.torch.torch, 'string');
  assert.equal(typeof line.env.kit.commit, 'string');
  if (hasDeb) assert.match(line.env.vulkan_loader, /libvulkan1_.*unpacked/);
  // the tiny GPT's bench:gpu ran from the kit too
  assert.ok(Array.isArray(line.tiny_gpt) && line.tiny_gpt.length === 1, JSON.stringify(line.tiny_gpt));
  assert.ok(line.tiny_gpt[0].dispatches > 0 && line.tiny_gpt[0].dispatches <= 250, `tiny GPT dispatches per step ${line.tiny_gpt[0].dispatches}`);
  // what comes back from the device: at most 8 plain files, named in letters, digits, '.', '_' and '-'
  const files = fs.readdirSync(out);
  assert.deepEqual(files.sort(), ['bench-gpu.txt', 'gpu-llm.json', 'kit.log']);
  assert.match(fs.readFileSync(path.join(out, 'kit.log'), 'utf8'), /run\.sh: \d+ s in all, exit status 0/);
  console.log(`dry run: ${r.seconds.toFixed(0)} s; parts ${Object.entries(line.parts as Record<string, { seconds: number }>).map(([k, p]) => `${k} ${p.seconds.toFixed(1)} s`).join(', ')}`);
});

test('the budget stops a hung part, marks what was not run, and still prints the line inside the budget', { skip }, () => {
  const out = path.join(tmp, 'out-budget');
  // a "python" whose torch probe fails at once and whose every script hangs (killed with its process group)
  const fake = path.join(tmp, 'hang-python');
  fs.writeFileSync(fake, `#!/bin/sh\n[ "$1" = -c ] && exit 1\necho $$ > ${path.join(tmp, 'hang.pid')}\nexec sleep 600\n`, { mode: 0o755 });
  const budget = 18;
  const r = runKit(out, ['--dry-run', '--budget', String(budget)], { IGRPO_PYTHON: fake });
  const line = JSON.parse(r.last) as Record<string, any>;
  assert.ok(r.seconds < budget + 5, `run.sh took ${r.seconds.toFixed(1)} s on a ${budget} s budget`);
  assert.ok(line.elapsed_s <= budget, `elapsed ${line.elapsed_s} s`);
  assert.equal(line.partial, true);
  assert.equal(line.parts.make.status, 'timed out');
  assert.match(line.parts.webgpu.error, /make part failed/);
  assert.equal(line.parts.tiny_gpt.status, 'skipped: budget');
  assert.match(line.env.torch, /no torch/);
  const pid = Number(fs.readFileSync(path.join(tmp, 'hang.pid'), 'utf8'));
  assert.throws(() => process.kill(pid, 0), /ESRCH/, `the hung process ${pid} was left running`);
});
