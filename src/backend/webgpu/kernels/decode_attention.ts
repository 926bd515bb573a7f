// Fused decode attention over the two-part KV cache of src/model (kvcache.ts; src/ops/decode.ts):
// one new query per row against its group's shared prompt prefix (masked where padded) and the row's
// own suffix, in one online softmax. One dispatch per layer and decode step instead of the composite's
// ~14 (scale, transposes, two matmuls, mask arithmetic, concat, softmax, slices, two more matmuls, add).
// One invocation per (row, query head): decode batches are small, keys are read through the cache.
// Keys/values have Hkv heads (query head h reads kv head h / (H / Hkv)); the suffix buffer [B, Hkv,
// cap, dh] has ts ≤ cap valid positions. kvAppendForward writes one step's keys into such a buffer
// (a copy: tfjs programs write fresh outputs).
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';

export function decodeAttentionForward(
  q: TensorInfo,
  kp: TensorInfo,
  vp: TensorInfo,
  ks: TensorInfo,
  vs: TensorInfo,
  prefixMask: TensorInfo | null,
  group: number,
  suffixLength: number,
): TensorInfo {
  const [b, h, , dh] = q.shape;
  const [, hkv, tp] = kp.shape;
  const cap = ks.shape[2];
  const ts = suffixLength;
  const masked = prefixMask !== null;
  const inputs = masked ? [q, kp, vp, ks, vs, prefixMask] : [q, kp, vp, ks, vs];
  return runFlat(
    {
      key: `dec_attn_gqa_${dh}_${masked ? 'm' : 'n'}`,
      inputs: masked ? ['Q', 'KP', 'VP', 'KS', 'VS', 'PM'] : ['Q', 'KP', 'VP', 'KS', 'VS'],
      outputShape: q.shape,
      threads: b * h,
      uniforms: 'bh : i32, heads : i32, grp : i32, tp : i32, ts : i32, scale : f32, kvHeads : i32, cap : i32,',
      helpers: `const DH : i32 = ${dh};`,
      body: `if (index >= uniforms.bh) { return; }
  let row = index / uniforms.heads;
  let head = index - row * uniforms.heads;
  let u = row / uniforms.grp;
  let kvh = head / (uniforms.heads / uniforms.kvHeads);
  let qBase = index * DH;
  let pBase = (u * uniforms.kvHeads + kvh) * uniforms.tp * DH;
  let sBase = (row * uniforms.kvHeads + kvh) * uniforms.cap * DH;
  var acc : array<f32, ${dh}>;
  for (var c = 0; c < DH; c++) { acc[c] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
  for (var j = 0; j < uniforms.tp + uniforms.ts; j++) {
    var kBase = pBase + j * DH;
    if (j >= uniforms.tp) { kBase = sBase + (j - uniforms.tp) * DH; }
    var s = 0.0;
    if (j < uniforms.tp) {
      for (var c = 0; c < DH; c++) { s += Q[qBase + c] * KP[kBase + c]; }
    } else {
      for (var c = 0; c < DH; c++) { s += Q[qBase + c] * KS[kBase + c]; }
    }
    s *= uniforms.scale;
    ${masked ? 'if (j < uniforms.tp) { s += (1.0 - PM[u * uniforms.tp + j]) * -1.0e9; }' : ''}
    let mNew = max(m, s);
    let corr = exp(m - mNew);
    let p = exp(s - mNew);
    l = l * corr + p;
    if (j < uniforms.tp) {
      for (var c = 0; c < DH; c++) { acc[c] = acc[c] * corr + p * VP[kBase + c]; }
    } else {
      for (var c = 0; c < DH; c++) { acc[c] = acc[c] * corr + p * VS[kBase + c]; }
    }
    m = mNew;
  }
  for (var c = 0; c < DH; c++) { result[qBase + c] = acc[c] / l; }`,
    },
    inputs,
    [
      { type: 'int32', data: [b * h] },
      { type: 'int32', data: [h] },
      { type: 'int32', data: [group] },
      { type: 'int32', data: [tp] },
      { type: 'int32', data: [ts] },
      { type: 'float32', data: [1 / Math.sqrt(dh)] },
      { type: 'int32', data: [hkv] },
      { type: 'int32', data: [cap] },
    ],
  );
}

/** buffer [B, Hkv, cap, dh] with x [B, Hkv, 1, dh] at `position`: one dispatch, one thread per element. */
export function kvAppendForward(buffer: TensorInfo, x: TensorInfo, position: number): TensorInfo {
  const [, , cap, dh] = buffer.shape;
  const n = buffer.shape.reduce((a, c) => a * c, 1);
  return runFlat(
    {
      key: 'kv_append',
      inputs: ['Buf', 'X'],
      outputShape: buffer.shape,
      threads: n,
      uniforms: 'n : i32, cap : i32, dh : i32, pos : i32,',
      body: `if (index >= uniforms.n) { return; }
  let c = index % uniforms.dh;
  let t = (index / uniforms.dh) % uniforms.cap;
  let bh = index / (uniforms.dh * uniforms.cap);
  if (t == uniforms.pos) { result[index] = X[bh * uniforms.dh + c]; } else { result[index] = Buf[index]; }`,
    },
    [buffer, x],
    [
      { type: 'int32', data: [n] },
      { type: 'int32', data: [cap] },
      { type: 'int32', data: [dh] },
      { type: 'int32', data: [position] },
    ],
  );
}
