// Fused LayerNorm over the last axis: forward 1 dispatch; backward 4 (row stats, dx, dgamma, dbeta)
// instead of the composite's ~25. Rows are independent: one invocation per row for forward, stats and
// dx; dgamma/dbeta reduce over rows with one 64-wide workgroup per column.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';

function rowsCols(x: TensorInfo): [number, number] {
  const d = x.shape[x.shape.length - 1];
  return [x.shape.reduce((a, b) => a * b, 1) / d, d];
}

const STATS = `
fn rowStats(row : i32, d : i32, eps : f32) -> vec2<f32> {
  var mean = 0.0;
  for (var j = 0; j < d; j++) { mean += X[row * d + j]; }
  mean /= f32(d);
  var v = 0.0;
  for (var j = 0; j < d; j++) { let c = X[row * d + j] - mean; v += c * c; }
  return vec2<f32>(mean, inverseSqrt(v / f32(d) + eps));
}`;

export function layerNormForward(x: TensorInfo, gamma: TensorInfo, beta: TensorInfo, eps: number): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'ln_fwd',
      inputs: ['X', 'Gamma', 'Beta'],
      outputShape: x.shape,
      threads: rows,
      uniforms: 'rows : i32, d : i32, eps : f32,',
      helpers: STATS,
      body: `if (index >= uniforms.rows) { return; }
  let d = uniforms.d;
  let s = rowStats(index, d, uniforms.eps);
  for (var j = 0; j < d; j++) {
    result[index * d + j] = (X[index * d + j] - s.x) * s.y * Gamma[j] + Beta[j];
  }`,
    },
    [x, gamma, beta],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }, { type: 'float32', data: [eps] }],
  );
}

/** Per-row [mean, rstd], shape [rows, 2]. */
function layerNormStats(x: TensorInfo, eps: number): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'ln_stats',
      inputs: ['X'],
      outputShape: [rows, 2],
      threads: rows,
      uniforms: 'rows : i32, d : i32, eps : f32,',
      helpers: STATS,
      body: `if (index >= uniforms.rows) { return; }
  let s = rowStats(index, uniforms.d, uniforms.eps);
  result[index * 2] = s.x;
  result[index * 2 + 1] = s.y;`,
    },
    [x],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }, { type: 'float32', data: [eps] }],
  );
}

/** dx = rstd (g - mean(g) - x̂ mean(g x̂)), g = dy γ. */
function layerNormDx(dy: TensorInfo, x: TensorInfo, gamma: TensorInfo, stats: TensorInfo): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'ln_dx',
      inputs: ['Dy', 'X', 'Gamma', 'Stats'],
      outputShape: x.shape,
      threads: rows,
      uniforms: 'rows : i32, d : i32,',
      body: `if (index >= uniforms.rows) { return; }
  let d = uniforms.d;
  let mean = Stats[index * 2];
  let rstd = Stats[index * 2 + 1];
  var mg = 0.0;
  var mgx = 0.0;
  for (var j = 0; j < d; j++) {
    let g = Dy[index * d + j] * Gamma[j];
    mg += g;
    mgx += g * (X[index * d + j] - mean) * rstd;
  }
  mg /= f32(d);
  mgx /= f32(d);
  for (var j = 0; j < d; j++) {
    let xhat = (X[index * d + j] - mean) * rstd;
    result[index * d + j] = rstd * (Dy[index * d + j] * Gamma[j] - mg - xhat * mgx);
  }`,
    },
    [dy, x, gamma, stats],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }],
  );
}

const WG = 64;

/** Column sums over rows of dy·x̂ (withXhat = 1: dgamma) or dy (withXhat = 0: dbeta); one workgroup per column. */
function layerNormParamGrad(dy: TensorInfo, x: TensorInfo, stats: TensorInfo, withXhat: number): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'ln_dparam',
      inputs: ['Dy', 'X', 'Stats'],
      outputShape: [d],
      threads: d * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32, withXhat : i32,',
      helpers: `var<workgroup> partial : array<f32, ${WG}>;`,
      body: `let col = index / ${WG};
  let lane = index % ${WG};
  let d = uniforms.d;
  var acc = 0.0;
  if (col < d) {
    for (var r = lane; r < uniforms.rows; r += ${WG}) {
      var v = Dy[r * d + col];
      if (uniforms.withXhat == 1) { v *= (X[r * d + col] - Stats[r * 2]) * Stats[r * 2 + 1]; }
      acc += v;
    }
  }
  partial[lane] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}; s > 0; s >>= 1u) {
    if (lane < s) { partial[lane] += partial[lane + s]; }
    workgroupBarrier();
  }
  if (lane == 0 && col < d) { result[col] = partial[0]; }`,
    },
    [dy, x, stats],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }, { type: 'int32', data: [withXhat] }],
  );
}

export function layerNormBackward(
  dy: TensorInfo,
  x: TensorInfo,
  gamma: TensorInfo,
  eps: number,
): { dx: TensorInfo; dgamma: TensorInfo; dbeta: TensorInfo; stats: TensorInfo } {
  const stats = layerNormStats(x, eps);
  return {
    dx: layerNormDx(dy, x, gamma, stats),
    dgamma: layerNormParamGrad(dy, x, stats, 1),
    dbeta: layerNormParamGrad(dy, x, stats, 0),
    stats,
  };
}
