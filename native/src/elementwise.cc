#include <cmath>
#include <cstring>
#include "fastmath.h"
#include "kernels.h"

namespace igrpo {

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                 float eps, float decay, float bc1, float bc2Sqrt) {
  const float stepSize = lr / bc1;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (std::sqrt(vi) / bc2Sqrt + eps);
  }
}

void sum_rows(const float* x, float* out, int64_t outer, int64_t inner) {
  std::memset(out, 0, sizeof(float) * inner);
  for (int64_t r = 0; r < outer; r++) {
    const float* xr = x + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; i++) out[i] += xr[i];
  }
}

void add_broadcast(const float* a, int64_t na, const float* b, int64_t nb, float* c, int64_t n) {
  if (na == n && nb == n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) c[i] = a[i] + b[i];
    return;
  }
  const float* big = na == n ? a : b;
  const float* small = na == n ? b : a;
  const int64_t ns = na == n ? nb : na;
  for (int64_t r = 0; r < n; r += ns) {
#pragma omp simd
    for (int64_t i = 0; i < ns; i++) c[r + i] = big[r + i] + small[i];
  }
}

}  // namespace igrpo

namespace igrpo {

void softmax_rows(const float* x, float* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++) {
      yr[i] = fast_exp(xr[i] - mx);
      sum += yr[i];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) yr[i] *= inv;
  }
}

}  // namespace igrpo
