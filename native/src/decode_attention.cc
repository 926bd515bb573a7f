// KV-cache decoding on the native backend (src/model/decode-attention.ts, kvcache.ts): one new query per
// row against its group's shared prompt prefix (masked where left-padded) and the row's own generated
// suffix, in one pass per (row, head); plus the in-place append and growth of a preallocated suffix.
//
// Layouts (row-major): q row b, head h at q[b·qStride + h·dh]; prefix kp/vp [U, H, Tp, dh] with
// U = B / group; suffix ks/vs [B, H, cap, dh] of which the first ts positions are valid; out [B, H·dh].
// The composite in decode-attention.ts adds -1e9 to masked scores; exp of that underflows to exactly 0,
// so skipping masked keys gives the same result.
#include <cmath>
#include <cstring>
#include <vector>
#include "fastmath.h"

namespace igrpo {

namespace {

inline float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

inline void axpy(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

}  // namespace

void decode_attention(const float* q, long qStride, const float* kp, const float* vp, const float* mask,
                      const float* ks, const float* vs, float* out, int b, int h, int dh, int group, int tp,
                      int cap, int ts) {
  const float scale = 1.0f / std::sqrt((float)dh);
  std::vector<float> p(tp + ts);
  std::vector<float> qs(dh);
  const int u = b / group;
  // a group's rows one after another per head, so the prompt's keys stay in cache across the group
  for (int ui = 0; ui < u; ui++) {
    const float* m = mask ? mask + (long)ui * tp : nullptr;
    for (int hi = 0; hi < h; hi++) {
      const float* kpu = kp + ((long)ui * h + hi) * tp * dh;
      const float* vpu = vp + ((long)ui * h + hi) * tp * dh;
      for (int g = 0; g < group; g++) {
        const int row = ui * group + g;
        const float* qr = q + (long)row * qStride + (long)hi * dh;
        for (int c = 0; c < dh; c++) qs[c] = qr[c] * scale;
        const float* ksr = ks + ((long)row * h + hi) * cap * dh;
        const float* vsr = vs + ((long)row * h + hi) * cap * dh;
        float mx = -INFINITY;
        for (int j = 0; j < tp; j++) {
          if (m && m[j] == 0.0f) continue;
          p[j] = dot(qs.data(), kpu + (long)j * dh, dh);
          mx = std::max(mx, p[j]);
        }
        for (int j = 0; j < ts; j++) {
          p[tp + j] = dot(qs.data(), ksr + (long)j * dh, dh);
          mx = std::max(mx, p[tp + j]);
        }
        float sum = 0;
        for (int j = 0; j < tp + ts; j++) {
          if (j < tp && m && m[j] == 0.0f) {
            p[j] = 0;
            continue;
          }
          p[j] = fast_exp(p[j] - mx);
          sum += p[j];
        }
        float* o = out + ((long)row * h + hi) * dh;
        std::memset(o, 0, sizeof(float) * dh);
        for (int j = 0; j < tp; j++)
          if (p[j] != 0.0f) axpy(p[j], vpu + (long)j * dh, o, dh);
        for (int j = 0; j < ts; j++) axpy(p[tp + j], vsr + (long)j * dh, o, dh);
        const float inv = 1.0f / sum;
        for (int c = 0; c < dh; c++) o[c] *= inv;
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
