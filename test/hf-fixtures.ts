// Tiny Hugging Face checkpoints of each Llama-family member, made at test time by
// scripts/hf_reference.py (Debian python3-torch, no transformers) with its reference logits, once per
// test process, in a temporary folder removed at exit.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const PYTHON = process.env.IGRPO_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
export const FIXTURE_NAMES = ['llama', 'llama_tied', 'qwen2', 'qwen3'] as const;
export type FixtureName = (typeof FIXTURE_NAMES)[number];

export interface Reference {
  ids: number[][];
  logits: number[][][];
  logprobs: number[][];
}

let root: string | undefined;

function runPython(args: string[]): string {
  const r = spawnSync(PYTHON, ['scripts/hf_reference.py', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`scripts/hf_reference.py ${args.join(' ')} failed (needs Debian's python3-torch: bash scripts/setup-system.sh):\n${r.stderr}`);
  return r.stdout;
}

/** The folder holding every fixture (made on first use). */
export function fixturesRoot(): string {
  if (root) return root;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-hf-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  runPython(['fixtures', dir]);
  root = dir;
  return dir;
}

export function fixtureDir(name: FixtureName): string {
  return path.join(fixturesRoot(), name);
}

export function reference(name: FixtureName): Reference {
  return JSON.parse(fs.readFileSync(path.join(fixtureDir(name), 'reference.json'), 'utf8')) as Reference;
}

/** Greedy tokens of a llama2.c checkpoint from BOS=1 with llama2.c's own forward (interleaved RoPE). */
export function llama2cGreedy(bin: string, steps: number): number[] {
  return JSON.parse(runPython(['llama2c', bin, String(steps)])) as number[];
}

/** Logits [B][T][V] of a saved HF folder by the PyTorch reference (its own safetensors reader), a PEFT adapter merged when given. */
export function referenceForward(dir: string, ids: number[][], adapter?: string): number[][][] {
  return JSON.parse(runPython(['forward', dir, JSON.stringify(ids), ...(adapter ? [adapter] : [])])) as number[][][];
}

/** A scratch copy of a fixture folder (tests that damage files work on it). */
export function copyFixture(name: FixtureName): string {
  const dst = fs.mkdtempSync(path.join(os.tmpdir(), `igrpo-hf-${name}-`));
  for (const f of fs.readdirSync(fixtureDir(name))) fs.copyFileSync(path.join(fixtureDir(name), f), path.join(dst, f));
  process.on('exit', () => fs.rmSync(dst, { recursive: true, force: true }));
  return dst;
}

/** max |a − b| / (atol + rtol·|b|) ≤ 1, naming the worst index otherwise. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol: number, rtol = 0): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    const r = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  if (worst > 1 || Number.isNaN(worst)) throw new Error(`${what}: entry ${at} is ${actual[at]}, expected ${expected[at]} (atol ${atol}, rtol ${rtol})`);
}
