// Run-time choice of the tfjs backend, by argument or $IGRPO_BACKEND, with a report of why.
//
// `auto` tries, fastest first: tensorflow-gpu, tensorflow, native, wasm, cpu — and reports why each
// one before the winner was skipped. webgpu is never picked by `auto`: it needs a GPU with a Vulkan
// driver, and where there is none (CI, this project's machines) Mesa's lavapipe runs it on the CPU far
// slower than native or wasm; ask for it by name (IGRPO_BACKEND=webgpu) on a machine with a GPU.
// An unknown name, or a backend asked for by name that cannot start, is an error that says what to
// install — never a silent fallback to something slower.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { packageRoot } from '../paths.js';

export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'native', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The order `auto` tries (webgpu excluded: see the file comment). */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'];

export interface BackendReport {
  /** The backend now active. */
  name: BackendName;
  /** The tfjs backend name behind it (tfjs-node and tfjs-node-gpu both register 'tensorflow'). */
  tfBackend: string;
  /** Why this one: asked for by name, or the fastest that started. */
  reason: string;
  /** Backends tried before it (auto) and why each did not start. */
  skipped: { name: BackendName; why: string }[];
}

/** What to install (or do) when a backend cannot start. */
const HOW_TO_GET: Record<BackendName, string> = {
  'tensorflow-gpu':
    "install @tensorflow/tfjs-node-gpu (npm install @tensorflow/tfjs-node-gpu; it downloads libtensorflow and needs CUDA 11.2 + cuDNN 8.1)",
  tensorflow:
    "install the real @tensorflow/tfjs-node (this package's overrides map it to plain @tensorflow/tfjs for danfojs-node; remove that override and npm install @tensorflow/tfjs-node)",
  native: "build the native CPU backend: npm run build:native (needs libopenblas-dev and a C++ toolchain; bash scripts/setup-system.sh)",
  webgpu: 'needs a GPU with a Vulkan driver, or Mesa lavapipe: sudo apt-get install libvulkan1 mesa-vulkan-drivers (bash scripts/setup-system.sh)',
  wasm: 'reinstall @tensorflow/tfjs-backend-wasm (npm install @tensorflow/tfjs-backend-wasm@4.22.0)',
  cpu: 'reinstall @tensorflow/tfjs (npm install @tensorflow/tfjs@4.22.0)',
};

/** Bring one backend up and make it active; throws with the reason when it cannot. Returns the tfjs name. */
const STARTERS: Record<BackendName, () => Promise<string>> = {
  'tensorflow-gpu': async () => {
    await importOrExplain('@tensorflow/tfjs-node-gpu');
    return activate('tensorflow', 'loaded @tensorflow/tfjs-node-gpu but no tensorflow backend was registered');
  },
  tensorflow: async () => {
    await importOrExplain('@tensorflow/tfjs-node');
    return activate('tensorflow', '@tensorflow/tfjs-node resolves to plain @tensorflow/tfjs (package.json overrides), which registers no tensorflow backend');
  },
  native: async () => {
    const { registerNativeBackend } = await import('./native/index.js');
    const named = (await registerNativeBackend()) as unknown;
    return activate(typeof named === 'string' ? named : 'native', 'registerNativeBackend() registered no backend named native');
  },
  webgpu: async () => {
    const { registerWebgpuBackend } = await import('./webgpu/index.js');
    await registerWebgpuBackend();
    return activate('webgpu', 'registerWebgpuBackend() registered no webgpu backend');
  },
  wasm: async () => {
    const wasm = await importOrExplain('@tensorflow/tfjs-backend-wasm');
    setWasmPathsForNode(wasm as { setWasmPaths?: (p: string) => void });
    const report = await activate('wasm', 'the wasm backend did not register');
    // every weight product onto XNNPACK (see src/backend/wasm): re-registers BatchMatMul for 'wasm'
    const { registerWasmSpeedups } = await import('./wasm/index.js');
    registerWasmSpeedups();
    return report;
  },
  cpu: async () => activate('cpu', 'the cpu backend did not register'),
};

/** A backend name that does not exist (bad usage: the CLI exits 2), as opposed to one that failed to start. */
export class UnknownBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownBackendError';
  }
}

/**
 * Select and start a backend: a name from BACKEND_NAMES or 'auto' (default: $IGRPO_BACKEND, else auto).
 */
export async function selectBackend(name: string = process.env.IGRPO_BACKEND ?? 'auto'): Promise<BackendReport> {
  const wanted = name.trim().toLowerCase() || 'auto';
  if (wanted === 'auto') {
    const skipped: BackendReport['skipped'] = [];
    for (const b of AUTO_ORDER) {
      try {
        const tfBackend = await STARTERS[b]();
        const reason = skipped.length ? `fastest that started (auto; ${skipped.map((s) => s.name).join(', ')} did not)` : 'fastest available (auto)';
        return { name: b, tfBackend, reason, skipped };
      } catch (e) {
        skipped.push({ name: b, why: oneLine(e) });
      }
    }
    throw new Error(`no backend could start: ${skipped.map((s) => `${s.name}: ${s.why}`).join('; ')}`);
  }
  if (!(BACKEND_NAMES as readonly string[]).includes(wanted)) {
    throw new UnknownBackendError(`unknown backend '${name}'; valid names: auto, ${BACKEND_NAMES.join(', ')}`);
  }
  const b = wanted as BackendName;
  try {
    const tfBackend = await STARTERS[b]();
    return { name: b, tfBackend, reason: name === process.env.IGRPO_BACKEND ? 'asked for by IGRPO_BACKEND' : 'asked for by name', skipped: [] };
  } catch (e) {
    throw new Error(`backend '${b}' could not start: ${oneLine(e)}; to use it, ${HOW_TO_GET[b]}`);
  }
}

/** One line describing the active backend, for logs and CLI stderr. */
export function describeBackend(r: BackendReport): string {
  const skipped = r.skipped.length ? `; skipped ${r.skipped.map((s) => `${s.name} (${s.why})`).join(', ')}` : '';
  return `backend ${r.name}: ${r.reason}${skipped}`;
}

async function importOrExplain(pkg: string): Promise<unknown> {
  try {
    return await import(pkg);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(`${pkg} is not installed`);
    throw new Error(`${pkg} failed to load: ${oneLine(e)}`);
  }
}

async function activate(tfName: string, notRegistered: string): Promise<string> {
  if (!tf.findBackendFactory(tfName) && !tf.findBackend(tfName)) throw new Error(notRegistered);
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfName);
  } catch (e) {
    throw new Error(`the ${tfName} backend failed to initialise: ${oneLine(e)}`);
  }
  if (!ok) throw new Error(`the ${tfName} backend failed to initialise`);
  await tf.ready();
  silenceNodeAdvice();
  return tfName;
}

/**
 * tfjs's cpu backend prints "install our node backend" on first use in Node (the native and wasm
 * backends use it for some tensors too). Our report already says which backends exist and why, so
 * that banner is noise on stderr; mark it as shown.
 */
function silenceNodeAdvice(): void {
  // the native backend is a cpu backend instance of its own, so mark the active one as well
  for (const b of [tf.findBackend('cpu'), tf.backend()] as unknown as ({ firstUse?: boolean } | null)[]) {
    if (b && 'firstUse' in b) b.firstUse = false;
  }
}

/** In Node the wasm backend looks for its .wasm files beside the running script; point it at its own dist folder. */
function setWasmPathsForNode(wasm: { setWasmPaths?: (p: string) => void }): void {
  if (typeof process === 'undefined' || !process.versions?.node || !wasm.setWasmPaths) return;
  try {
    // a require anchored at our package root works under ESM (tsx) and CommonJS (tslab) alike
    const main = createRequire(path.join(packageRoot(), 'package.json')).resolve('@tensorflow/tfjs-backend-wasm');
    const dist = main.slice(0, main.lastIndexOf('dist') + 'dist'.length) + path.sep;
    wasm.setWasmPaths(dist);
  } catch {
    /* leave the backend's default lookup */
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
