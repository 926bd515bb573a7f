// Sum over leading axes ([R, C] → [C]) in one dispatch. tfjs-backend-webgpu reduces only over the
// innermost axis, so a bias gradient (dy [rows, N] summed over rows) costs it a transpose plus a
// reduce; this kernel reads the columns in place. Small R: one invocation per column; large R: one
// 64-wide workgroup per column with a tree reduction.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';
import { WG, WG_SUM, columnSumBody } from './wgsl.js';

export function leadingSum(x: TensorInfo, rows: number, outShape: number[]): TensorInfo {
  const cols = x.shape.reduce((a, b) => a * b, 1) / rows;
  const uniforms = [
    { type: 'int32' as const, data: [rows] },
    { type: 'int32' as const, data: [cols] },
  ];
  if (rows <= WG) {
    return runFlat(
      {
        key: 'colsum_small',
        inputs: ['X'],
        outputShape: outShape,
        threads: cols,
        uniforms: 'rows : i32, cols : i32,',
        body: `if (index >= uniforms.cols) { return; }
  var acc = 0.0;
  for (var r = 0; r < uniforms.rows; r++) { acc += X[r * uniforms.cols + index]; }
  result[index] = acc;`,
      },
      [x],
      uniforms,
    );
  }
  return runFlat(
    {
      key: 'colsum_wg',
      inputs: ['X'],
      outputShape: outShape,
      threads: cols * WG,
      workgroupSize: WG,
      uniforms: 'rows : i32, cols : i32,',
      helpers: WG_SUM,
      body: columnSumBody('X[r * uniforms.cols + col]'),
    },
    [x],
    uniforms,
  );
}
