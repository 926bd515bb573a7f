#include <cmath>
#include <vector>
#include <omp.h>
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
#pragma omp parallel for schedule(static) if (rows * d > 32768)
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (int64_t)r * d;
    float* yr = y + (int64_t)r * d;
    float mu, rs;
    row_stats(xr, d, eps, &mu, &rs);
#pragma omp simd
    for (int i = 0; i < d; i++) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
  }
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                        int rows, int d, float eps) {
  const int nt = get_threads();
  // Per-thread partial sums for dgamma/dbeta, added up at the end (deterministic for a fixed thread count).
  std::vector<float> part((size_t)nt * 2 * d, 0.f);
#pragma omp parallel num_threads(nt) if (rows * d > 32768)
  {
    float* pg = part.data() + (size_t)omp_get_thread_num() * 2 * d;
    float* pb = pg + d;
#pragma omp for schedule(static)
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
        pb[i] += dyr[i];
        pg[i] += dyr[i] * n;
        dxr[i] = rs * (dyr[i] * gamma[i] - mdn - n * mdnn);
      }
    }
  }
  for (int i = 0; i < d; i++) {
    float g = 0.f, b = 0.f;
    for (int t = 0; t < nt; t++) {
      g += part[(size_t)t * 2 * d + i];
      b += part[(size_t)t * 2 * d + d + i];
    }
    dgamma[i] = g;
    dbeta[i] = b;
  }
}

}  // namespace igrpo
