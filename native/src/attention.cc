#include <cmath>
#include <cstring>
#include <vector>
#include "fastmath.h"
#include "kernels.h"

namespace igrpo {

static inline float dot(const float* a, const float* b, int n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline void axpy(float alpha, const float* x, float* y, int n) {
#pragma omp simd
  for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

// Normalised causal softmax of query row qi against keys 0..last into p; returns nothing else.
static void probs_row(const float* qi, const float* k, float* p, int last, int dh, float scale) {
  float mx = -INFINITY;
  for (int j = 0; j <= last; j++) {
    p[j] = dot(qi, k + (int64_t)j * dh, dh) * scale;
    mx = p[j] > mx ? p[j] : mx;
  }
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j <= last; j++) {
    p[j] = fast_exp(p[j] - mx);
    sum += p[j];
  }
  const float inv = 1.0f / sum;
  for (int j = 0; j <= last; j++) p[j] *= inv;
}

void attention_forward(const float* q, const float* k, const float* v, float* out, int bh, int tq, int tk, int dh) {
  const float scale = 1.0f / std::sqrt((float)dh);
  const int offset = tk - tq;
#pragma omp parallel
  {
    std::vector<float> p(tk);
#pragma omp for schedule(dynamic, 8) collapse(2)
    for (int h = 0; h < bh; h++) {
      for (int i = 0; i < tq; i++) {
        const float* kh = k + (int64_t)h * tk * dh;
        const float* vh = v + (int64_t)h * tk * dh;
        const int last = offset + i;
        probs_row(q + ((int64_t)h * tq + i) * dh, kh, p.data(), last, dh, scale);
        float* o = out + ((int64_t)h * tq + i) * dh;
        std::memset(o, 0, sizeof(float) * dh);
        for (int j = 0; j <= last; j++) axpy(p[j], vh + (int64_t)j * dh, o, dh);
      }
    }
  }
}

// Recomputes the probabilities (flash-attention style) instead of keeping [BH, Tq, Tk] from the forward.
void attention_backward(const float* dout, const float* q, const float* k, const float* v,
                        float* dq, float* dk, float* dv, int bh, int tq, int tk, int dh) {
  const float scale = 1.0f / std::sqrt((float)dh);
  const int offset = tk - tq;
  std::memset(dk, 0, sizeof(float) * (size_t)bh * tk * dh);
  std::memset(dv, 0, sizeof(float) * (size_t)bh * tk * dh);
#pragma omp parallel
  {
    std::vector<float> p(tk), dp(tk);
#pragma omp for schedule(dynamic, 1)
    for (int h = 0; h < bh; h++) {
      const float* kh = k + (int64_t)h * tk * dh;
      const float* vh = v + (int64_t)h * tk * dh;
      float* dkh = dk + (int64_t)h * tk * dh;
      float* dvh = dv + (int64_t)h * tk * dh;
      for (int i = 0; i < tq; i++) {
        const float* qi = q + ((int64_t)h * tq + i) * dh;
        const float* doi = dout + ((int64_t)h * tq + i) * dh;
        float* dqi = dq + ((int64_t)h * tq + i) * dh;
        const int last = offset + i;
        probs_row(qi, kh, p.data(), last, dh, scale);
        float pdp = 0.f;
        for (int j = 0; j <= last; j++) {
          dp[j] = dot(doi, vh + (int64_t)j * dh, dh);
          pdp += p[j] * dp[j];
          axpy(p[j], doi, dvh + (int64_t)j * dh, dh);
        }
        std::memset(dqi, 0, sizeof(float) * dh);
        for (int j = 0; j <= last; j++) {
          const float ds = p[j] * (dp[j] - pdp) * scale;
          axpy(ds, kh + (int64_t)j * dh, dqi, dh);
          axpy(ds, qi, dkh + (int64_t)j * dh, dh);
        }
      }
    }
  }
}

}  // namespace igrpo
