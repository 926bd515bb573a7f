// Loads the compiled addon (native/build/Release/igrpo_native.node, built by `npm run build:native`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { packageRoot } from '../../paths.js';

type F32 = Float32Array;
type I32 = Int32Array;

/** The C++ functions (native/src/addon.cc); each writes into arrays the caller allocated. */
export interface NativeAddon {
  setThreads(n: number): void;
  getThreads(): number;
  batchMatMul(a: F32, b: F32, c: F32, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, aStride: number, bStride: number): void;
  matMulBias(a: F32, b: F32, bias: F32, c: F32, m: number, n: number, k: number, transA: boolean, transB: boolean): void;
  layerNormForward(x: F32, gamma: F32, beta: F32, y: F32, rows: number, d: number, eps: number): void;
  layerNormBackward(dy: F32, x: F32, gamma: F32, dx: F32, dgamma: F32, dbeta: F32, rows: number, d: number, eps: number): void;
  rmsNormForward(x: F32, w: F32, y: F32, rows: number, d: number, eps: number): void;
  rmsNormBackward(dy: F32, x: F32, w: F32, dx: F32, dw: F32, rows: number, d: number, eps: number): void;
  /** inverse = true runs the backward (the inverse rotation of dy). */
  rope(x: F32, cos: F32, sin: F32, y: F32, b: number, h: number, t: number, dh: number, perBatch: boolean, inverse: boolean): void;
  swigluForward(gate: F32, up: F32, y: F32, n: number): void;
  swigluBackward(dy: F32, gate: F32, up: F32, dgate: F32, dup: F32, n: number): void;
  geluForward(x: F32, y: F32, n: number): void;
  geluBackward(dy: F32, x: F32, dx: F32, n: number): void;
  /** q [bh, tq, dh], k and v [bh / groups, tk, dh]: `groups` query heads per kv head. */
  attentionForward(q: F32, k: F32, v: F32, out: F32, bh: number, groups: number, tq: number, tk: number, dh: number): void;
  attentionBackward(dout: F32, q: F32, k: F32, v: F32, dq: F32, dk: F32, dv: F32, bh: number, groups: number, tq: number, tk: number, dh: number): void;
  tokenLogProbsForward(logits: F32, targets: I32, out: F32, rows: number, vocab: number): void;
  tokenLogProbsBackward(dy: F32, logits: F32, targets: I32, dlogits: F32, rows: number, vocab: number): void;
  embeddingForward(table: F32, ids: I32, out: F32, rows: number, vocab: number, d: number): void;
  embeddingBackward(dy: F32, ids: I32, dtable: F32, rows: number, vocab: number, d: number): void;
  adamUpdate(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number,
    decay: number, bc1: number, bc2Sqrt: number): void;
  sumRows(x: F32, out: F32, outer: number, inner: number): void;
  addBroadcast(a: F32, b: F32, c: F32): void;
  transpose(x: F32, out: F32, shape: I32, perm: I32): void;
  softmaxRows(x: F32, y: F32, rows: number, n: number): void;
}

export const BUILD_COMMAND = 'npm run build:native';

let addon: NativeAddon | undefined;

export function addonPath(): string {
  return path.join(packageRoot(), 'native', 'build', 'Release', 'igrpo_native.node');
}

/** The addon, loading it on first use; a clear error naming the build command when it is not built. */
export function loadAddon(): NativeAddon {
  return (addon ??= loadAddonFrom(addonPath()));
}

/** Loads the addon from a given file (no caching); the error names the build command. */
export function loadAddonFrom(file: string): NativeAddon {
  if (!fs.existsSync(file)) {
    throw new Error(
      `the native backend is not built: ${file} is missing. Run '${BUILD_COMMAND}' ` +
        '(needs g++ and libopenblas-dev; scripts/setup-system.sh installs them), or choose another backend (wasm, cpu).',
    );
  }
  const req = createRequire(path.join(packageRoot(), 'package.json'));
  try {
    return req(file) as NativeAddon;
  } catch (e) {
    throw new Error(`the native backend failed to load from ${file}: ${(e as Error).message}. Rebuild it with '${BUILD_COMMAND}'.`);
  }
}

/** The addon if it has already been loaded (by registerNativeBackend), else null; never throws. */
export function loadedAddon(): NativeAddon | null {
  return addon ?? null;
}
