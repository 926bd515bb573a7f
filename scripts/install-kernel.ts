// Installs the igrpo-ts Jupyter kernel spec (npm run kernel:install [-- options]).
//
//   --python PATH          a Python with jupyter_client (default: $IGRPO_PYTHON, else the first of python3 on PATH,
//                          /usr/bin/python3, python that can import jupyter_client)
//   --prefix DIR           install into DIR/share/jupyter/kernels/igrpo-ts (tests use a temp prefix)
//   --user | --sys-prefix  the per-user registry (the default when not root) or the Python's sys.prefix
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
import { plotlyAssetName, plotlyBundlePath } from '../src/analysis/display.js';

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
  return { ...rest, argv: (template.argv as string[]).map(fill), env };
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
    const user = opts.user ?? (!opts.prefix && !opts.sysPrefix && process.getuid?.() !== 0);
    const py = [
      'import sys, json',
      'from jupyter_client.kernelspec import KernelSpecManager',
      'a = json.loads(sys.argv[1])',
      'prefix = sys.prefix if a["sysPrefix"] else a["prefix"]',
      'print(KernelSpecManager().install_kernel_spec(a["src"], a["name"], user=a["user"], prefix=prefix))',
    ].join('\n');
    const args = { src: staging, name: KERNEL_NAME, user, prefix: opts.prefix ?? null, sysPrefix: !!opts.sysPrefix };
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
