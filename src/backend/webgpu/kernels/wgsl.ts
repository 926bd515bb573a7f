// WGSL pieces shared by this folder's kernels.

/** Lanes per workgroup in the row- and column-reducing kernels. */
export const WG = 64;

/**
 * wgSum(lane, v): the sum of v over the workgroup's WG lanes, returned to every lane. Must be called
 * in uniform control flow (it holds barriers): kernels guard memory accesses, never return early.
 */
export const WG_SUM = `
var<workgroup> red : array<f32, ${WG}>;
fn wgSum(lane : i32, v : f32) -> f32 {
  red[lane] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}; s > 0; s >>= 1u) {
    if (lane < s) { red[lane] += red[lane + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}`;

/** wgMax(lane, v): the maximum of v over the workgroup (same rules as wgSum; shares its scratch). */
export const WG_MAX = `
fn wgMax(lane : i32, v : f32) -> f32 {
  red[lane] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}; s > 0; s >>= 1u) {
    if (lane < s) { red[lane] = max(red[lane], red[lane + s]); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}`;

/**
 * A kernel body summing `term(r)` (a WGSL expression of row r and column col) over rows for one column
 * per workgroup, writing result[col]. Needs helpers WG_SUM and uniforms `rows` and `cols`.
 */
export function columnSumBody(term: string): string {
  return `let col = index / ${WG};
  let lane = index % ${WG};
  let valid = col < uniforms.cols;
  var acc = 0.0;
  if (valid) {
    for (var r = lane; r < uniforms.rows; r += ${WG}) { acc += ${term}; }
  }
  let total = wgSum(lane, acc);
  if (valid && lane == 0) { result[col] = total; }`;
}
