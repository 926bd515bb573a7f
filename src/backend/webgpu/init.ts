// Bringing up tfjs-backend-webgpu in Node: Dawn (the `webgpu` npm package) over Vulkan.
//
// Order matters: tfjs-backend-webgpu registers its backend factory at import time only when
// globalThis.navigator.gpu already exists, so Dawn's globals and `navigator` are set first and the
// backend module is imported afterwards (dynamically). Some Dawn builds keep the process alive until
// the device is destroyed (the `webgpu` 0.6.2 here does not): shutdownWebgpu() (index.ts) releases it.
import * as path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { packageRoot } from '../../paths.js';

/** What to install when no Vulkan adapter can be opened. */
export const VULKAN_HELP =
  'install a Vulkan driver: on a machine without a GPU, Mesa 25 lavapipe from bookworm-backports ' +
  "(apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1, or run 'bash scripts/setup-system.sh'); " +
  "on an NVIDIA GPU, the NVIDIA driver's Vulkan ICD plus libvulkan1 (point VK_DRIVER_FILES at its nvidia_icd.json)";

interface Dawn {
  create(options: string[]): unknown;
  globals: Record<string, unknown>;
}

/** Loads Dawn: $IGRPO_DAWN_NODE (a dawn.node file, used by the bundled device kit) or the `webgpu` package. */
function loadDawn(): Dawn {
  const req = createRequire(path.join(packageRoot(), 'package.json'));
  const explicit = process.env.IGRPO_DAWN_NODE;
  try {
    return req(explicit ?? 'webgpu') as Dawn;
  } catch (e) {
    throw new Error(
      `webgpu backend: cannot load Dawn from ${explicit ?? "the 'webgpu' npm package"} (${(e as Error).message}); ` +
        "run 'npm ci' (the webgpu package's install script must be allowed) or set IGRPO_DAWN_NODE to a dawn.node file",
    );
  }
}

/** Dawn flags: IGRPO_DAWN_FLAGS adds comma-separated `key=value` toggles (e.g. enable-dawn-features=...). */
function dawnOptions(): string[] {
  const extra = process.env.IGRPO_DAWN_FLAGS;
  return extra ? extra.split(',').filter(Boolean) : [];
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for Mesa's CPU Vulkan driver: figures measured on it say nothing of a real GPU's speed. */
  software: boolean;
}

type GPULike = { requestAdapter(o?: unknown): Promise<{ info: Record<string, string> } | null> };

let adapterDescription: AdapterDescription | undefined;

/** Sets Dawn's globals and navigator.gpu, checks an adapter opens, imports the tfjs backend. Idempotent. */
export async function installWebgpu(): Promise<AdapterDescription> {
  if (adapterDescription) return adapterDescription;
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    const dawn = loadDawn();
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create(dawnOptions());
    // Node 21+ defines a read-only globalThis.navigator; Node 20 has none. Define ours either way.
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const gpu = g.navigator!.gpu as GPULike;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`webgpu backend: no WebGPU adapter (Dawn found no usable Vulkan device); ${VULKAN_HELP}`);
  const info = adapter.info;
  adapterDescription = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`) || info.architecture === 'software',
  };
  // Static specifier so bundlers (scripts/package-device.sh) include it; CommonJS builds turn this into require().
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    throw new Error('webgpu backend: @tensorflow/tfjs-backend-webgpu did not register (navigator.gpu was not set before it loaded)');
  }
  return adapterDescription;
}

export function currentAdapter(): AdapterDescription | undefined {
  return adapterDescription;
}
