// KV-cache decoding on the native backend (src/model/decode-attention.ts, kvcache.ts): one new query per
// row against its group's shared prompt prefix (masked where left-padded) and the row's own generated
// suffix, in one pass per (row, head); plus the in-place append and growth of a preallocated suffix.
//
// Layouts (row-major): q and out [B, H, dh]; prefix kp/vp [U, Hkv, Tp, dh] with U = B / group; suffix
// ks/vs [B, Hkv, cap, dh] of which the first ts positions are valid. Query head h reads kv head
// h / (H / Hkv) (grouped-query attention; Hkv = H is multi-head).
// The composite in decode-attention.ts adds -1e9 to masked scores; exp of that underflows to exactly 0,
// so skipping masked keys gives the same result.
#include <cblas.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#include "fastmath.h"

namespace igrpo {

namespace {

typedef float v8 __attribute__((vector_size(32), aligned(4)));

// softmax numerators in place over n scores (masked ones, m[j] = 0, become exactly 0); returns their
// sum. Max and sum run in 8 lanes by hand: without -ffast-math gcc keeps float reductions scalar.
float exp_shifted(float* p, int n, const float* m) {
  v8 mx8 = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  float mx = -INFINITY;
  int j = 0;
  if (m) {
    for (; j < n; j++)
      if (m[j] != 0.0f) mx = std::max(mx, p[j]);
  } else {
    for (; j + 8 <= n; j += 8) {
      const v8 x = *(const v8*)(p + j);
      mx8 = x > mx8 ? x : mx8;
    }
    for (int c = 0; c < 8; c++) mx = std::max(mx, mx8[c]);
    for (; j < n; j++) mx = std::max(mx, p[j]);
  }
  for (j = 0; j < n; j++) p[j] = fast_exp(p[j] - mx);
  if (m)
    for (j = 0; j < n; j++) p[j] *= m[j];
  v8 s8 = {0, 0, 0, 0, 0, 0, 0, 0};
  for (j = 0; j + 8 <= n; j += 8) s8 += *(const v8*)(p + j);
  float sum = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
  for (; j < n; j++) sum += p[j];
  return sum;
}

// Scores p[j] = q · k_j (j < n, keys dh = 8·NC apart) and the weighted sum o = Σ_j p[j] v_j, with the
// NC chunks of a row in NC independent registers: one accumulator updated through memory per key was
// latency-bound at ~25 ns per key.
template <int NC>
void scores(const float* q, const float* k, int n, float* p) {
  v8 qv[NC];
  for (int c = 0; c < NC; c++) qv[c] = *(const v8*)(q + 8 * c);
  for (int j = 0; j < n; j++) {
    const float* kj = k + (long)j * 8 * NC;
    v8 acc[NC];
    for (int c = 0; c < NC; c++) acc[c] = qv[c] * *(const v8*)(kj + 8 * c);
    for (int w = 1; w < NC; w *= 2)
      for (int c = 0; c + w < NC; c += 2 * w) acc[c] += acc[c + w];
    const v8 a = acc[0];
    p[j] = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  }
}

template <int NC>
void weighted_sum(const float* p, const float* v, int n, float* o) {
  v8 acc[NC];
  for (int c = 0; c < NC; c++) acc[c] = *(const v8*)(o + 8 * c);
  for (int j = 0; j < n; j++) {
    const float* vj = v + (long)j * 8 * NC;
    for (int c = 0; c < NC; c++) acc[c] += p[j] * *(const v8*)(vj + 8 * c);
  }
  for (int c = 0; c < NC; c++) *(v8*)(o + 8 * c) = acc[c];
}

void scores_any(const float* q, const float* k, int n, int dh, float* p) {
  switch (dh) {
    case 8: return scores<1>(q, k, n, p);
    case 16: return scores<2>(q, k, n, p);
    case 32: return scores<4>(q, k, n, p);
    case 64: return scores<8>(q, k, n, p);
    case 128: return scores<16>(q, k, n, p);
  }
  for (int j = 0; j < n; j++) {
    float s = 0;
    for (int c = 0; c < dh; c++) s += q[c] * k[(long)j * dh + c];
    p[j] = s;
  }
}

void weighted_sum_any(const float* p, const float* v, int n, int dh, float* o) {
  switch (dh) {
    case 8: return weighted_sum<1>(p, v, n, o);
    case 16: return weighted_sum<2>(p, v, n, o);
    case 32: return weighted_sum<4>(p, v, n, o);
    case 64: return weighted_sum<8>(p, v, n, o);
    case 128: return weighted_sum<16>(p, v, n, o);
  }
  for (int j = 0; j < n; j++)
    for (int c = 0; c < dh; c++) o[c] += p[j] * v[(long)j * dh + c];
}

}  // namespace

// Per (prompt u, kv head): the M = G·R queries that read this kv head (the group's G rows × the R =
// H / Hkv query heads sharing it; R = 1 without grouped-query attention) against the prompt's keys —
// one small GEMM (scores [M, Tp]) when M > 1, so the prompt is read once per group — each row's own
// suffix by register-blocked loops, one softmax per query over both parts, then P_prefix · Vp (again
// one GEMM, straight into the output rows when R = 1) plus the row's suffix values.
void decode_attention(const float* q, const float* kp, const float* vp, const float* mask, const float* ks,
                      const float* vs, float* out, int b, int h, int hkv, int dh, int group, int tp, int cap, int ts) {
  const float scale = 1.0f / std::sqrt((float)dh);
  const int n = tp + ts;
  const int r = h / hkv;
  const int mq = group * r;  // queries per (prompt, kv head)
  std::vector<float> p((size_t)mq * n);
  std::vector<float> mrow(mask ? n : 0, 1.0f);  // a row's key mask over prefix + suffix
  std::vector<float> qs((size_t)mq * dh);
  std::vector<float> tmp(r == 1 ? 0 : (size_t)mq * dh);
  std::vector<float> inv(mq);
  const bool gemm = mq > 1 && tp > 0;
  const int u = b / group;
  const long outStride = (long)h * dh;
  // query m = g·R + ri: batch row u·G + g, query head kh·R + ri
  auto qrow = [&](int ui, int m) { return (long)ui * group + m / r; };
  for (int ui = 0; ui < u; ui++) {
    if (mask) std::memcpy(mrow.data(), mask + (long)ui * tp, sizeof(float) * tp);
    for (int kh = 0; kh < hkv; kh++) {
      const float* kpu = kp + ((long)ui * hkv + kh) * tp * dh;
      const float* vpu = vp + ((long)ui * hkv + kh) * tp * dh;
      // where query m's output goes: the output rows themselves (R = 1, stride H·dh) or a scratch [M, dh]
      float* ob = r == 1 ? out + (long)ui * group * outStride + (long)kh * dh : tmp.data();
      const long ldo = r == 1 ? outStride : dh;
      for (int m = 0; m < mq; m++) {
        const float* qr = q + qrow(ui, m) * outStride + ((long)kh * r + m % r) * dh;
        for (int c = 0; c < dh; c++) qs[(size_t)m * dh + c] = qr[c] * scale;
      }
      if (gemm)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mq, tp, dh, 1.0f, qs.data(), dh, kpu, dh, 0.0f, p.data(), n);
      for (int m = 0; m < mq; m++) {
        float* pm = p.data() + (long)m * n;
        if (!gemm) scores_any(qs.data() + (size_t)m * dh, kpu, tp, dh, pm);
        scores_any(qs.data() + (size_t)m * dh, ks + (qrow(ui, m) * hkv + kh) * cap * dh, ts, dh, pm + tp);
        inv[m] = 1.0f / exp_shifted(pm, n, mask ? mrow.data() : nullptr);
      }
      if (gemm)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mq, dh, tp, 1.0f, p.data(), n, vpu, dh, 0.0f, ob, ldo);
      for (int m = 0; m < mq; m++) {
        float* o = ob + m * ldo;
        const float* pm = p.data() + (long)m * n;
        if (!gemm) {
          std::memset(o, 0, sizeof(float) * dh);
          weighted_sum_any(pm, vpu, tp, dh, o);
        }
        weighted_sum_any(pm + tp, vs + (qrow(ui, m) * hkv + kh) * cap * dh, ts, dh, o);
        for (int c = 0; c < dh; c++) o[c] *= inv[m];
        if (r > 1) std::memcpy(out + qrow(ui, m) * outStride + ((long)kh * r + m % r) * dh, o, sizeof(float) * dh);
      }
    }
  }
}

void kv_append(const float* src, long srcStride, float* dst, int b, int h, int dh, int cap, int pos) {
  for (int row = 0; row < b; row++)
    for (int hi = 0; hi < h; hi++)
      std::memcpy(dst + (((long)row * h + hi) * cap + pos) * dh, src + (long)row * srcStride + (long)hi * dh,
                  sizeof(float) * dh);
}

void kv_grow(const float* x, float* out, long bh, int xcap, int len, int cap, int dh) {
  for (long r = 0; r < bh; r++) {
    std::memcpy(out + r * cap * dh, x + r * xcap * dh, sizeof(float) * len * dh);
    std::memset(out + (r * cap + len) * dh, 0, sizeof(float) * (long)(cap - len) * dh);
  }
}

}  // namespace igrpo
