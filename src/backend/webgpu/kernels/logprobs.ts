// Fused token log-probs: out[n] = logits[n, t_n] - logsumexp(logits[n, :]); one dispatch forward,
// one backward. The backward kernel recovers logsumexp from the saved output (lse = logit_t - out),
// so nothing else is stored: dlogits[n, v] = dy[n] (1[v = t_n] - exp(logits[n, v] - lse_n)).
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';
import { WG, WG_MAX, WG_SUM } from './wgsl.js';

export function tokenLogProbsForward(logits: TensorInfo, targets: TensorInfo): TensorInfo {
  const [n, v] = logits.shape;
  // one workgroup per row: lanes stride the vocabulary (large vocabularies stay coalesced)
  return runFlat(
    {
      key: 'tlp_fwd',
      inputs: ['Logits', 'Targets'],
      outputShape: [n],
      threads: n * WG,
      workgroupSize: WG,
      uniforms: 'n : i32, v : i32,',
      helpers: `${WG_SUM}\n${WG_MAX}`,
      body: `let row = index / ${WG};
  let lane = index % ${WG};
  let valid = row < uniforms.n;
  let v = uniforms.v;
  let base = row * v;
  var m = -3.0e38;
  if (valid) { for (var j = lane; j < v; j += ${WG}) { m = max(m, Logits[base + j]); } }
  let rowMax = wgMax(lane, m);
  var s = 0.0;
  if (valid) { for (var j = lane; j < v; j += ${WG}) { s += exp(Logits[base + j] - rowMax); } }
  let total = wgSum(lane, s);
  if (valid && lane == 0) { result[row] = Logits[base + Targets[row]] - rowMax - log(total); }`,
    },
    [logits, targets],
    [{ type: 'int32', data: [n] }, { type: 'int32', data: [v] }],
  );
}

export function tokenLogProbsBackward(dy: TensorInfo, logits: TensorInfo, targets: TensorInfo, out: TensorInfo): TensorInfo {
  const [n, v] = logits.shape;
  return runFlat(
    {
      key: 'tlp_bwd',
      inputs: ['Dy', 'Logits', 'Targets', 'Lp'],
      outputShape: [n, v],
      threads: n * v,
      uniforms: 'size : i32, v : i32,',
      body: `if (index >= uniforms.size) { return; }
  let row = index / uniforms.v;
  let col = index - row * uniforms.v;
  let t = Targets[row];
  let lse = Logits[row * uniforms.v + t] - Lp[row];
  var onehot = 0.0;
  if (col == t) { onehot = 1.0; }
  result[index] = Dy[row] * (onehot - exp(Logits[index] - lse));`,
    },
    [dy, logits, targets, out],
    [{ type: 'int32', data: [n * v] }, { type: 'int32', data: [v] }],
  );
}
