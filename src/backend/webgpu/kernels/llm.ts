// Fused RMSNorm, rotate-half RoPE and SwiGLU for the Llama family (src/ops/llm.ts composites).
// RMSNorm: forward 1 dispatch (one 64-wide workgroup per row), backward 3 (row rstd, dx, dweight as a
// column sum). RoPE and SwiGLU are flat elementwise dispatches; RoPE's backward is the inverse rotation.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';
import { WG, WG_SUM, columnSumBody } from './wgsl.js';

const numel = (t: TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

function rowsCols(x: TensorInfo): [number, number] {
  const d = x.shape[x.shape.length - 1];
  return [numel(x) / d, d];
}

// No early return before wgSum: barriers need uniform control flow, so out-of-range rows only skip memory.
const ROW = `${WG_SUM}
fn rowRstd(row : i32, lane : i32, valid : bool, d : i32, eps : f32) -> f32 {
  var s = 0.0;
  if (valid) { for (var j = lane; j < d; j += ${WG}) { let v = X[row * d + j]; s += v * v; } }
  return inverseSqrt(wgSum(lane, s) / f32(d) + eps);
}`;
const ROW_HEAD = `let row = index / ${WG};
  let lane = index % ${WG};
  let valid = row < uniforms.rows;
  let d = uniforms.d;`;

export function rmsNormForward(x: TensorInfo, weight: TensorInfo, eps: number): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'rms_fwd',
      inputs: ['X', 'W'],
      outputShape: x.shape,
      threads: rows * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32, eps : f32,',
      helpers: ROW,
      body: `${ROW_HEAD}
  let rs = rowRstd(row, lane, valid, d, uniforms.eps);
  if (valid) {
    for (var j = lane; j < d; j += ${WG}) { result[row * d + j] = W[j] * (X[row * d + j] * rs); }
  }`,
    },
    [x, weight],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }, { type: 'float32', data: [eps] }],
  );
}

/** Per-row rstd, shape [rows]. */
function rmsRstd(x: TensorInfo, eps: number): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'rms_rstd',
      inputs: ['X'],
      outputShape: [rows],
      threads: rows * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32, eps : f32,',
      helpers: ROW,
      body: `${ROW_HEAD}
  let rs = rowRstd(row, lane, valid, d, uniforms.eps);
  if (valid && lane == 0) { result[row] = rs; }`,
    },
    [x],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }, { type: 'float32', data: [eps] }],
  );
}

/** dx = r (g - x r² mean(g x)), g = dy w. */
function rmsDx(dy: TensorInfo, x: TensorInfo, weight: TensorInfo, rstd: TensorInfo): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'rms_dx',
      inputs: ['Dy', 'X', 'W', 'Rstd'],
      outputShape: x.shape,
      threads: rows * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32,',
      helpers: WG_SUM,
      body: `${ROW_HEAD}
  var rs = 0.0;
  var sgx = 0.0;
  if (valid) {
    rs = Rstd[row];
    for (var j = lane; j < d; j += ${WG}) { sgx += Dy[row * d + j] * W[j] * X[row * d + j]; }
  }
  let c = wgSum(lane, sgx) / f32(d) * rs * rs;
  if (valid) {
    for (var j = lane; j < d; j += ${WG}) {
      result[row * d + j] = rs * (Dy[row * d + j] * W[j] - X[row * d + j] * c);
    }
  }`,
    },
    [dy, x, weight, rstd],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }],
  );
}

/** dweight[j] = Σ_rows dy x r; one workgroup per column. */
function rmsDweight(dy: TensorInfo, x: TensorInfo, rstd: TensorInfo): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'rms_dw',
      inputs: ['Dy', 'X', 'Rstd'],
      outputShape: [d],
      threads: d * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, cols : i32,',
      helpers: WG_SUM,
      body: columnSumBody('Dy[r * uniforms.cols + col] * X[r * uniforms.cols + col] * Rstd[r]'),
    },
    [dy, x, rstd],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }],
  );
}

export function rmsNormBackward(dy: TensorInfo, x: TensorInfo, weight: TensorInfo, eps: number): { dx: TensorInfo; dweight: TensorInfo; rstd: TensorInfo } {
  const rstd = rmsRstd(x, eps);
  return { dx: rmsDx(dy, x, weight, rstd), dweight: rmsDweight(dy, x, rstd), rstd };
}

/**
 * x [B, H, T, dh] rotated by tables [T, dh] (perBatch 0: row t) or [B, 1, 1, dh] (perBatch 1: row b).
 * inverse 0: y = x cos + rotate_half(x) sin; inverse 1: the transpose (the backward of dy).
 */
export function rope(x: TensorInfo, cos: TensorInfo, sin: TensorInfo, inverse: boolean): TensorInfo {
  const [b, h, t, dh] = x.shape;
  const n = numel(x);
  return runFlat(
    {
      key: 'rope',
      inputs: ['X', 'Cos', 'Sin'],
      outputShape: x.shape,
      threads: n,
      uniforms: 'n : i32, h : i32, t : i32, dh : i32, perBatch : i32, inverse : i32,',
      body: `if (index >= uniforms.n) { return; }
  let dh = uniforms.dh;
  let half = dh / 2;
  let i = index % dh;
  let ti = (index / dh) % uniforms.t;
  let bi = index / (dh * uniforms.t * uniforms.h);
  let row = select(ti, bi, uniforms.perBatch == 1) * dh;
  let first = i < half;
  let partner = select(index - half, index + half, first);
  let j = select(i - half, i + half, first);
  // forward: y_i = x_i cos_i ∓ x_partner sin_i (− in the first half); inverse: dx_i = dy_i cos_i ± dy_partner sin_partner
  let sgn = select(1.0, -1.0, first);
  var r = 0.0;
  if (uniforms.inverse == 0) {
    r = X[index] * Cos[row + i] + sgn * X[partner] * Sin[row + i];
  } else {
    r = X[index] * Cos[row + i] - sgn * X[partner] * Sin[row + j];
  }
  result[index] = r;`,
    },
    [x, cos, sin],
    [
      { type: 'int32', data: [n] },
      { type: 'int32', data: [h] },
      { type: 'int32', data: [t] },
      { type: 'int32', data: [dh] },
      { type: 'int32', data: [cos.shape.length === 4 ? 1 : 0] },
      { type: 'int32', data: [inverse ? 1 : 0] },
    ],
  );
}

const SIGMOID = `fn sigm(g : f32) -> f32 { return 1.0 / (1.0 + exp(-g)); }`;

export function swigluForward(gate: TensorInfo, up: TensorInfo): TensorInfo {
  const n = numel(gate);
  return runFlat(
    {
      key: 'swiglu_fwd',
      inputs: ['G', 'U'],
      outputShape: gate.shape,
      threads: n,
      uniforms: 'n : i32,',
      helpers: SIGMOID,
      body: `if (index >= uniforms.n) { return; }
  let g = G[index];
  result[index] = g * sigm(g) * U[index];`,
    },
    [gate, up],
    [{ type: 'int32', data: [n] }],
  );
}

/**
 * which 0: dgate = dy up σ(g)(1 + g(1 − σ(g))); which 1: dup = dy silu(g). dup binds no U: WGSL drops
 * unused bindings from the pipeline layout, so every bound input must be read.
 */
export function swigluBackward(dy: TensorInfo, gate: TensorInfo, up: TensorInfo, which: 0 | 1): TensorInfo {
  const n = numel(gate);
  return runFlat(
    {
      key: `swiglu_bwd${which}`,
      inputs: which === 0 ? ['Dy', 'G', 'U'] : ['Dy', 'G'],
      outputShape: gate.shape,
      threads: n,
      uniforms: 'n : i32,',
      helpers: SIGMOID,
      body: `if (index >= uniforms.n) { return; }
  let g = G[index];
  let s = sigm(g);
  ${which === 0 ? 'result[index] = Dy[index] * U[index] * s * (1.0 + g * (1.0 - s));' : 'result[index] = Dy[index] * g * s;'}`,
    },
    which === 0 ? [dy, gate, up] : [dy, gate],
    [{ type: 'int32', data: [n] }],
  );
}
