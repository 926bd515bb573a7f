// Fused LayerNorm over the last axis: forward 1 dispatch; backward 4 (row stats, dx, dgamma, dbeta)
// instead of the composite's ~25. Forward, stats and dx run one 64-wide workgroup per row; dgamma and
// dbeta reduce over rows with one 64-wide workgroup per column.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';
import { WG, WG_SUM, columnSumBody } from './wgsl.js';

function rowsCols(x: TensorInfo): [number, number] {
  const d = x.shape[x.shape.length - 1];
  return [x.shape.reduce((a, b) => a * b, 1) / d, d];
}

// One 64-wide workgroup per row: lanes stride the row (coalesced loads) and meet in a tree reduction.
// No early return: workgroupBarrier needs uniform control flow, so out-of-range rows only skip memory.
const ROW = `${WG_SUM}
fn rowStats(row : i32, lane : i32, valid : bool, d : i32, eps : f32) -> vec2<f32> {
  var s = 0.0;
  if (valid) { for (var j = lane; j < d; j += ${WG}) { s += X[row * d + j]; } }
  let mean = wgSum(lane, s) / f32(d);
  var q = 0.0;
  if (valid) { for (var j = lane; j < d; j += ${WG}) { let c = X[row * d + j] - mean; q += c * c; } }
  return vec2<f32>(mean, inverseSqrt(wgSum(lane, q) / f32(d) + eps));
}`;
const ROW_HEAD = `let row = index / ${WG};
  let lane = index % ${WG};
  let valid = row < uniforms.rows;
  let d = uniforms.d;`;

export function layerNormForward(x: TensorInfo, gamma: TensorInfo, beta: TensorInfo, eps: number): TensorInfo {
  const [rows, d] = rowsCols(x);
  return runFlat(
    {
      key: 'ln_fwd',
      inputs: ['X', 'Gamma', 'Beta'],
      outputShape: x.shape,
      threads: rows * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32, eps : f32,',
      helpers: ROW,
      body: `${ROW_HEAD}
  let s = rowStats(row, lane, valid, d, uniforms.eps);
  if (valid) {
    for (var j = lane; j < d; j += ${WG}) {
      result[row * d + j] = (X[row * d + j] - s.x) * s.y * Gamma[j] + Beta[j];
    }
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
      threads: rows * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32, eps : f32,',
      helpers: ROW,
      body: `${ROW_HEAD}
  let s = rowStats(row, lane, valid, d, uniforms.eps);
  if (valid && lane == 0) {
    result[row * 2] = s.x;
    result[row * 2 + 1] = s.y;
  }`,
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
      threads: rows * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, d : i32,',
      helpers: WG_SUM,
      body: `${ROW_HEAD}
  var mean = 0.0;
  var rstd = 0.0;
  var sg = 0.0;
  var sgx = 0.0;
  if (valid) {
    mean = Stats[row * 2];
    rstd = Stats[row * 2 + 1];
    for (var j = lane; j < d; j += ${WG}) {
      let g = Dy[row * d + j] * Gamma[j];
      sg += g;
      sgx += g * (X[row * d + j] - mean) * rstd;
    }
  }
  let mg = wgSum(lane, sg) / f32(d);
  let mgx = wgSum(lane, sgx) / f32(d);
  if (valid) {
    for (var j = lane; j < d; j += ${WG}) {
      let xhat = (X[row * d + j] - mean) * rstd;
      result[row * d + j] = rstd * (Dy[row * d + j] * Gamma[j] - mg - xhat * mgx);
    }
  }`,
    },
    [dy, x, gamma, stats],
    [{ type: 'int32', data: [rows] }, { type: 'int32', data: [d] }],
  );
}

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
      uniforms: 'rows : i32, cols : i32, withXhat : i32,',
      helpers: WG_SUM,
      body: columnSumBody(
        'Dy[r * uniforms.cols + col] * select(1.0, (X[r * uniforms.cols + col] - Stats[r * 2]) * Stats[r * 2 + 1], uniforms.withXhat == 1)',
      ),
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
