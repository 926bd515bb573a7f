// Installs the igrpo-ts Jupyter kernel spec (npm run kernel:install [-- options]).
//
//   --python PATH          a Python with jupyter_client (default: $IGRPO_PYTHON, else the first of python3 on PATH,
//                          /usr/bin/python3, python that can import jupyter_client)
//   --prefix DIR           install into DIR/share/jupyter/kernels/igrpo-ts (tests use a temp prefix)
//   --user | --sys-prefix  the per-user registry or the Python's sys.prefix. Default: --sys-prefix when --python names a
//                          virtual environment or conda environment (VS Code lists a Python environment's kernels from
//                          its sys.prefix), else the per-user registry when not root
//   --max-old-space-size N the V8 heap limit of the kernel in MiB (default 8192)
//   --backend NAME         bake IGRPO_BACKEND=NAME into the spec (default: none, the kernel inherits yours)
//
// We write our own kernel.json from kernels/igrpo-ts/kernel.json rather than `tslab install`'s: that one starts
// tslab in the notebook's folder, where `import "../src/…"` cannot compile (see kernels/igrpo-ts/launch.cjs).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PLOTLY_STABLE_ASSET, plotlyAssetName, plotlyBundlePath } from '../src/analysis/display.js';

export const KERNEL_NAME = 'igrpo-ts';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SPEC_DIR = path.join(ROOT, 'kernels', KERNEL_NAME);

export interface InstallOptions {
  python?: string;
  prefix?: string;
  user?: boolean;
  sysPrefix?: boolean;
  maxOldSpaceMb?: number;
  backend?: string;
  /** For tests: the platform whose spec to write (default: this one). */
  platform?: NodeJS.Platform;
}

function hasJupyter(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import jupyter_client'], { stdio: 'ignore' });
  return r.status === 0;
}

/** The Python to register with: the override, else the first candidate that can import jupyter_client. */
export function detectPython(override = process.env.IGRPO_PYTHON): string {
  if (override) {
    if (!hasJupyter(override)) throw new Error(`${override} cannot import jupyter_client (install Jupyter there)`);
    return override;
  }
  const candidates = ['python3', '/usr/bin/python3', 'python'];
  const found = candidates.find(hasJupyter);
  if (!found) {
    throw new Error(
      `no Python with Jupyter found (tried ${candidates.join(', ')}); install jupyter (Debian: ` +
        `jupyter-nbconvert jupyter-client python3-ipykernel) or pass --python PATH / set IGRPO_PYTHON`,
    );
  }
  return found;
}

/** True when `python` runs in a virtual environment (sys.prefix ≠ sys.base_prefix) or a conda environment. */
export function isEnvironment(python: string): boolean {
  const py = 'import sys, os; print(sys.prefix != getattr(sys, "base_prefix", sys.prefix) or os.path.isdir(os.path.join(sys.prefix, "conda-meta")))';
  const r = spawnSync(python, ['-c', py], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'True';
}

/** kernel.json for this checkout: absolute node and launcher paths, the heap limit, optional backend. */
export function kernelSpec(opts: InstallOptions): Record<string, unknown> {
  const template = JSON.parse(fs.readFileSync(path.join(SPEC_DIR, 'kernel.json'), 'utf8'));
  const fill = (s: string) =>
    s
      .replace('{node}', process.execPath)
      .replace('{launcher}', path.join(SPEC_DIR, 'launch.cjs'))
      .replace('{max_old_space_mb}', String(opts.maxOldSpaceMb ?? 8192));
  const env: Record<string, string> = { IGRPO_ROOT: ROOT };
  if (opts.backend) env.IGRPO_BACKEND = opts.backend;
  const { metadata: _template, ...rest } = template;
  // Jupyter interrupts a Windows kernel through an event that only Python kernels watch (jupyter_client
  // win_interrupt.py), never SIGINT: there the kernel asks for interrupt_request messages instead.
  const interruptMode = (opts.platform ?? process.platform) === 'win32' ? 'message' : template.interrupt_mode;
  return { ...rest, interrupt_mode: interruptMode, argv: (template.argv as string[]).map(fill), env };
}

/** Installs the spec with the chosen Python's jupyter_client; returns the installed spec directory. */
export function installKernel(opts: InstallOptions = {}): string {
  const python = detectPython(opts.python);
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-kernel-'));
  try {
    fs.writeFileSync(path.join(staging, 'kernel.json'), JSON.stringify(kernelSpec(opts), null, 2) + '\n');
    // Jupyter serves a kernel spec's folder at {base_url}kernelspecs/igrpo-ts/: figures load plotly.js from there
    // (offline, and again after a reload or reopening; see src/analysis/display.ts).
    fs.copyFileSync(plotlyBundlePath(), path.join(staging, plotlyAssetName()));
    // ...and unversioned: figures saved with this version look for it when an upgrade removed their versioned file.
    fs.copyFileSync(plotlyBundlePath(), path.join(staging, PLOTLY_STABLE_ASSET));
    // --python alone: a virtual/conda environment gets the spec in its own sys.prefix, where VS Code (and that
    // environment's Jupyter) look for its kernels; the per-user folder is listed by VS Code only among "Jupyter
    // kernels", not under the environment that was named.
    const sysPrefix = opts.sysPrefix ?? (opts.python !== undefined && !opts.prefix && !opts.user && isEnvironment(python));
    const user = opts.user ?? (!opts.prefix && !sysPrefix && process.getuid?.() !== 0);
    const py = [
      'import sys, json, os, glob',
      'from jupyter_client.kernelspec import KernelSpecManager',
      'a = json.loads(sys.argv[1])',
      'prefix = sys.prefix if a["sysPrefix"] else a["prefix"]',
      'ksm = KernelSpecManager()',
      // plotly.js files an earlier install left (figures saved then name them): after the install, they become copies
      // of the current plotly.js, so those figures still draw (plotly.js keeps old figure JSON drawing across versions)
      'dest = ksm._get_destination_dir(a["name"], user=a["user"], prefix=prefix)',
      'old = [os.path.basename(f) for f in glob.glob(os.path.join(dest, "plotly-*.min.js"))]',
      'dest = ksm.install_kernel_spec(a["src"], a["name"], user=a["user"], prefix=prefix)',
      'import shutil',
      'for f in old:',
      '    if not os.path.exists(os.path.join(dest, f)): shutil.copyfile(os.path.join(dest, a["stable"]), os.path.join(dest, f))',
      'print(dest)',
    ].join('\n');
    const args = { src: staging, name: KERNEL_NAME, user, prefix: opts.prefix ?? null, sysPrefix, stable: PLOTLY_STABLE_ASSET };
    const r = spawnSync(python, ['-c', py, JSON.stringify(args)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`kernel install with ${python} failed:\n${r.stderr}`);
    return r.stdout.trim();
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function parseOptions(argv: string[]): InstallOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      python: { type: 'string' },
      prefix: { type: 'string' },
      user: { type: 'boolean' },
      'sys-prefix': { type: 'boolean' },
      'max-old-space-size': { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const opts: InstallOptions = {
    python: values.python,
    prefix: values.prefix === undefined ? undefined : path.resolve(values.prefix),
    user: values.user,
    sysPrefix: values['sys-prefix'],
    maxOldSpaceMb: values['max-old-space-size'] === undefined ? undefined : Number(values['max-old-space-size']),
    backend: values.backend,
  };
  if (opts.maxOldSpaceMb !== undefined && !(opts.maxOldSpaceMb > 0)) throw new Error('--max-old-space-size must be > 0');
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const dir = installKernel(parseOptions(process.argv.slice(2)));
    console.log(`installed the '${KERNEL_NAME}' kernel ("iGRPO (TypeScript)") in ${dir}`);
  } catch (err) {
    console.error(`install-kernel: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
