// Shared by the webgpu tests: bring the backend up (failing loudly when it cannot start, unless the
// explicit opt-out IGRPO_SKIP_WEBGPU=1 is set) and run one computation on cpu and on webgpu.
import * as tf from '@tensorflow/tfjs';
import { registerWebgpuBackend, shutdownWebgpu } from '../src/backend/webgpu/index.js';

/** IGRPO_SKIP_WEBGPU=1 skips these tests on purpose (a machine without Mesa 25's lavapipe). */
export const SKIP_WEBGPU = process.env.IGRPO_SKIP_WEBGPU === '1';

export async function startWebgpu(): Promise<void> {
  if (SKIP_WEBGPU) return;
  await tf.setBackend('cpu');
  try {
    await registerWebgpuBackend();
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\n(webgpu tests need lavapipe: run 'bash scripts/setup-system.sh'; ` +
        'set IGRPO_SKIP_WEBGPU=1 to skip them on purpose)',
    );
  }
}

export async function stopWebgpu(): Promise<void> {
  if (SKIP_WEBGPU) return;
  await tf.setBackend('cpu');
  await shutdownWebgpu();
}

/** Runs f on the named backend and reads its (tensor) results back as flat arrays. */
export async function runOn(backend: 'cpu' | 'webgpu', f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = f();
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
  list.forEach((t) => t.dispose());
  return values;
}

/** Max |a - b| / (atol + rtol |b|) over all entries must be ≤ 1; names the worst entry otherwise. */
export function assertClose(actual: Float32Array, expected: Float32Array, what: string, atol = 1e-5, rtol = 1e-4): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  if (!(worst <= 1)) {
    throw new Error(`${what}: entry ${at} is ${actual[at]}, expected ${expected[at]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Deterministic pseudo-random floats in [-scale, scale). */
export function seeded(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
