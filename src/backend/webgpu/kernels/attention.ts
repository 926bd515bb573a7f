// Fused causal attention, forward and backward, one invocation per (batch·head, row): the scores,
// mask and softmax never reach memory and no causal mask is built on the CPU.
//
// q: [B, H, Tq, dh]; k, v: [B, Hkv, Tk, dh] with grp = H / Hkv query heads per kv head (flat query head
// g reads flat kv head g / grp: transformers' repeat_kv order); query i sits at absolute position
// off + i (off = Tk - Tq) and sees keys 0..off+i (src/ops causalAttention's rule). Forward uses an online softmax. Backward
// (FlashAttention-2's recurrences, recomputing scores) takes 4 dispatches: per-row stats
// (L = logsumexp, D = dO·O), dQ per query row, dK and dV per key row.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';

interface Dims {
  bh: number;
  grp: number;
  tq: number;
  tk: number;
  dh: number;
}

function dims(q: TensorInfo, k: TensorInfo): Dims {
  const [b, h, tq, dh] = q.shape;
  return { bh: b * h, grp: h / k.shape[1], tq, tk: k.shape[2], dh };
}

const uniforms = (d: Dims) => [
  { type: 'int32' as const, data: [d.bh] },
  { type: 'int32' as const, data: [d.grp] },
  { type: 'int32' as const, data: [d.tq] },
  { type: 'int32' as const, data: [d.tk] },
  { type: 'float32' as const, data: [1 / Math.sqrt(d.dh)] },
];
const UNIFORMS = 'bh : i32, grp : i32, tq : i32, tk : i32, scale : f32,';

/** Shared WGSL: row bookkeeping and q·k for row r of Q against key j of K (both flat, dh specialised). */
const helpers = (dh: number) => `
const DH : i32 = ${dh};
fn qDotK(qBase : i32, kBase : i32) -> f32 {
  var s = 0.0;
  for (var c = 0; c < DH; c++) { s += Q[qBase + c] * K[kBase + c]; }
  return s;
}`;

/** Prologue of the per-query-row kernels: row g·Tq + i of batch·head g sees keys 0..last. */
const QUERY_ROW = `if (index >= uniforms.bh * uniforms.tq) { return; }
  let g = index / uniforms.tq;
  let i = index - g * uniforms.tq;
  let last = uniforms.tk - uniforms.tq + i;
  let qBase = index * DH;
  let kv0 = (g / uniforms.grp) * uniforms.tk * DH;`;

const zeroAcc = (dh: number) => `var acc : array<f32, ${dh}>;
  for (var c = 0; c < DH; c++) { acc[c] = 0.0; }`;

export function attentionForward(q: TensorInfo, k: TensorInfo, v: TensorInfo): TensorInfo {
  const d = dims(q, k);
  return runFlat(
    {
      key: `attn_fwd_gqa_${d.dh}`,
      inputs: ['Q', 'K', 'V'],
      outputShape: q.shape,
      threads: d.bh * d.tq,
      uniforms: UNIFORMS,
      helpers: helpers(d.dh),
      body: `${QUERY_ROW}
  ${zeroAcc(d.dh)}
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0; j <= last; j++) {
    let s = qDotK(qBase, kv0 + j * DH) * uniforms.scale;
    let mNew = max(m, s);
    let corr = exp(m - mNew);
    let p = exp(s - mNew);
    l = l * corr + p;
    for (var c = 0; c < DH; c++) { acc[c] = acc[c] * corr + p * V[kv0 + j * DH + c]; }
    m = mNew;
  }
  for (var c = 0; c < DH; c++) { result[qBase + c] = acc[c] / l; }`,
    },
    [q, k, v],
    uniforms(d),
  );
}

/** Per query row: [L (logsumexp of scaled, masked scores), D = dO·O], shape [B·H·Tq, 2]. */
function attentionStats(q: TensorInfo, k: TensorInfo, o: TensorInfo, dO: TensorInfo): TensorInfo {
  const d = dims(q, k);
  return runFlat(
    {
      key: `attn_stats_gqa_${d.dh}`,
      inputs: ['Q', 'K', 'O', 'DO'],
      outputShape: [d.bh * d.tq, 2],
      threads: d.bh * d.tq,
      uniforms: UNIFORMS,
      helpers: helpers(d.dh),
      body: `${QUERY_ROW}
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0; j <= last; j++) {
    let s = qDotK(qBase, kv0 + j * DH) * uniforms.scale;
    let mNew = max(m, s);
    l = l * exp(m - mNew) + exp(s - mNew);
    m = mNew;
  }
  var dd = 0.0;
  for (var c = 0; c < DH; c++) { dd += DO[qBase + c] * O[qBase + c]; }
  result[index * 2] = m + log(l);
  result[index * 2 + 1] = dd;`,
    },
    [q, k, o, dO],
    uniforms(d),
  );
}

/** dQ_i = scale Σ_j P_ij (dO_i·V_j - D_i) K_j. */
function attentionDq(q: TensorInfo, k: TensorInfo, v: TensorInfo, dO: TensorInfo, stats: TensorInfo): TensorInfo {
  const d = dims(q, k);
  return runFlat(
    {
      key: `attn_dq_gqa_${d.dh}`,
      inputs: ['Q', 'K', 'V', 'DO', 'Stats'],
      outputShape: q.shape,
      threads: d.bh * d.tq,
      uniforms: UNIFORMS,
      helpers: helpers(d.dh),
      body: `${QUERY_ROW}
  let L = Stats[index * 2];
  let D = Stats[index * 2 + 1];
  ${zeroAcc(d.dh)}
  for (var j = 0; j <= last; j++) {
    let kBase = kv0 + j * DH;
    let p = exp(qDotK(qBase, kBase) * uniforms.scale - L);
    var dp = 0.0;
    for (var c = 0; c < DH; c++) { dp += DO[qBase + c] * V[kBase + c]; }
    let ds = p * (dp - D);
    for (var c = 0; c < DH; c++) { acc[c] += ds * K[kBase + c]; }
  }
  for (var c = 0; c < DH; c++) { result[qBase + c] = acc[c] * uniforms.scale; }`,
    },
    [q, k, v, dO, stats],
    uniforms(d),
  );
}

/**
 * wantDk = 1: dK_j = scale Σ_i dS_ij Q_i; wantDk = 0: dV_j = Σ_i P_ij dO_i, over the queries of the grp
 * query heads reading this kv head that see key j. One invocation per key row of K ([B·Hkv·Tk]).
 */
function attentionDkv(q: TensorInfo, k: TensorInfo, v: TensorInfo, dO: TensorInfo, stats: TensorInfo, wantDk: number): TensorInfo {
  const d = dims(q, k);
  const bhkv = d.bh / d.grp;
  return runFlat(
    {
      key: `attn_dkv_gqa_${d.dh}`,
      inputs: ['Q', 'K', 'V', 'DO', 'Stats'],
      outputShape: k.shape,
      threads: bhkv * d.tk,
      uniforms: `${UNIFORMS} wantDk : i32,`,
      helpers: helpers(d.dh),
      body: `if (index >= (uniforms.bh / uniforms.grp) * uniforms.tk) { return; }
  let gk = index / uniforms.tk;
  let j = index - gk * uniforms.tk;
  let kBase = index * DH;
  let off = uniforms.tk - uniforms.tq;
  ${zeroAcc(d.dh)}
  for (var r = 0; r < uniforms.grp; r++) {
    let g = gk * uniforms.grp + r;
    for (var i = max(j - off, 0); i < uniforms.tq; i++) {
      let row = g * uniforms.tq + i;
      let qBase = row * DH;
      let p = exp(qDotK(qBase, kBase) * uniforms.scale - Stats[row * 2]);
      if (uniforms.wantDk == 1) {
        var dp = 0.0;
        for (var c = 0; c < DH; c++) { dp += DO[qBase + c] * V[kBase + c]; }
        let ds = p * (dp - Stats[row * 2 + 1]) * uniforms.scale;
        for (var c = 0; c < DH; c++) { acc[c] += ds * Q[qBase + c]; }
      } else {
        for (var c = 0; c < DH; c++) { acc[c] += p * DO[qBase + c]; }
      }
    }
  }
  for (var c = 0; c < DH; c++) { result[kBase + c] = acc[c]; }`,
    },
    [q, k, v, dO, stats],
    [...uniforms(d), { type: 'int32', data: [wantDk] }],
  );
}

export function attentionBackward(
  dO: TensorInfo,
  q: TensorInfo,
  k: TensorInfo,
  v: TensorInfo,
  o: TensorInfo,
): { dq: TensorInfo; dk: TensorInfo; dv: TensorInfo; stats: TensorInfo } {
  const stats = attentionStats(q, k, o, dO);
  return {
    dq: attentionDq(q, k, v, dO, stats),
    dk: attentionDkv(q, k, v, dO, stats, 1),
    dv: attentionDkv(q, k, v, dO, stats, 0),
    stats,
  };
}
