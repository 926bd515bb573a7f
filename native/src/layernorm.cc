#include <cmath>
#include "kernels.h"

namespace igrpo {

static void row_stats(const float* x, int d, float eps, float* mean, float* rstd) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < d; i++) s += x[i];
  const float mu = s / d;
  float v = 0.f;
#pragma omp simd reduction(+ : v)
  for (int i = 0; i < d; i++) v += (x[i] - mu) * (x[i] - mu);
  *mean = mu;
  *rstd = 1.0f / std::sqrt(v / d + eps);
}

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, int rows, int d, float eps) {
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (int64_t)r * d;
    float* yr = y + (int64_t)r * d;
    float mu, rs;
    row_stats(xr, d, eps, &mu, &rs);
#pragma omp simd
    for (int i = 0; i < d; i++) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
  }
}

// Serial: memory-bound and small next to the GEMMs; threads only cost barriers on shared cores.
void layernorm_backward(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                        int rows, int d, float eps) {
  for (int i = 0; i < d; i++) dgamma[i] = dbeta[i] = 0.f;
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (int64_t)r * d;
    const float* dyr = dy + (int64_t)r * d;
    float* dxr = dx + (int64_t)r * d;
    float mu, rs;
    row_stats(xr, d, eps, &mu, &rs);
    float mdn = 0.f, mdnn = 0.f;
#pragma omp simd reduction(+ : mdn, mdnn)
    for (int i = 0; i < d; i++) {
      const float n = (xr[i] - mu) * rs;
      const float dn = dyr[i] * gamma[i];
      mdn += dn;
      mdnn += dn * n;
    }
    mdn /= d;
    mdnn /= d;
#pragma omp simd
    for (int i = 0; i < d; i++) {
      const float n = (xr[i] - mu) * rs;
      dbeta[i] += dyr[i];
      dgamma[i] += dyr[i] * n;
      dxr[i] = rs * (dyr[i] * gamma[i] - mdn - n * mdnn);
    }
  }
}

}  // namespace igrpo
