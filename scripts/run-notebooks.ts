// Executes notebooks headlessly with the igrpo-ts kernel (npm run notebooks [-- [--keep DIR] [--full] [NOTEBOOK…]]).
//
// The kernel is installed into a throwaway prefix (your own Jupyter setup is untouched) and each notebook is run by
// `jupyter nbconvert --to notebook --execute` in IGRPO_NOTEBOOK_FAST=1 mode (small sizes, as in CI) unless --full.
// A failing cell stops that notebook; its source and real error are printed (scripts/run-notebooks.config.py).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectPython, installKernel, KERNEL_NAME } from './install-kernel.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NOTEBOOK_DIR = path.join(ROOT, 'notebooks');

export function listNotebooks(): string[] {
  return fs
    .readdirSync(NOTEBOOK_DIR)
    .filter((f) => /^\d\d-.*\.ipynb$/.test(f))
    .sort()
    .map((f) => path.join(NOTEBOOK_DIR, f));
}

export interface NotebookRunner {
  python: string;
  prefix: string;
  cleanup(): void;
}

/** A kernel installed into a temporary prefix, for executing notebooks without touching the user's Jupyter. */
export function prepareRunner(): NotebookRunner {
  const python = detectPython();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-nbkernel-'));
  installKernel({ python, prefix, maxOldSpaceMb: 4096 });
  return { python, prefix, cleanup: () => fs.rmSync(prefix, { recursive: true, force: true }) };
}

export interface NotebookResult {
  notebook: string;
  ok: boolean;
  seconds: number;
  /** nbconvert's stderr (with the failed cell's real error when ok is false). */
  log: string;
  output: string;
}

export function executeNotebook(
  runner: NotebookRunner,
  notebook: string,
  opts: { outDir: string; fast?: boolean; cellTimeoutS?: number; env?: Record<string, string>; allowErrors?: boolean },
): NotebookResult {
  fs.mkdirSync(opts.outDir, { recursive: true });
  const output = path.join(opts.outDir, path.basename(notebook));
  const args = [
    '-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute',
    '--config', path.join(ROOT, 'scripts', 'run-notebooks.config.py'),
    `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
    `--ExecutePreprocessor.timeout=${opts.cellTimeoutS ?? 600}`,
    ...(opts.allowErrors ? ['--allow-errors'] : []),
    '--output-dir', opts.outDir, notebook,
  ];
  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(runner.prefix, 'share', 'jupyter'),
    ...(opts.fast === false ? {} : { IGRPO_NOTEBOOK_FAST: '1' }),
    ...opts.env,
  };
  const started = Date.now();
  const r = spawnSync(runner.python, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { notebook, ok: r.status === 0, seconds: (Date.now() - started) / 1000, log: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`, output };
}

/** The failed cell and its real error (from the config hook), else the tail of nbconvert's log. */
export function failureText(log: string): string {
  const start = log.indexOf('=== notebook cell');
  const endMark = '=== end of failed cell ===';
  const end = log.indexOf(endMark, start);
  return start >= 0 && end > start ? log.slice(start, end + endMark.length) : log.slice(-4000);
}

function main(argv: string[]): number {
  let keep: string | undefined;
  let fast = true;
  const picked: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--keep') keep = argv[++i];
    else if (argv[i] === '--full') fast = false;
    else picked.push(path.resolve(argv[i]));
  }
  const notebooks = picked.length ? picked : listNotebooks();
  const runner = prepareRunner();
  const outDir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-nbout-'));
  let failed = 0;
  try {
    for (const nb of notebooks) {
      const r = executeNotebook(runner, nb, { outDir, fast });
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.seconds.toFixed(1).padStart(6)}s  ${path.relative(ROOT, nb)}`);
      if (!r.ok) {
        failed++;
        console.log(failureText(r.log));
      }
    }
  } finally {
    runner.cleanup();
  }
  if (keep) console.log(`executed notebooks in ${keep}`);
  return failed ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
