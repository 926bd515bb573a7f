// The Llama family's elementwise/row kernels (src/ops/llm.ts composites): RMSNorm, rotate-half RoPE and
// SwiGLU, each a forward and a backward that recomputes what it needs from the forward's inputs.
// Serial: memory-bound and small next to the GEMMs; threads only cost barriers on shared cores.
#include <cmath>
#include "kernels.h"

namespace igrpo {

static float row_rstd(const float* x, int d, float eps) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < d; i++) s += x[i] * x[i];
  return 1.0f / std::sqrt(s / d + eps);
}

void rmsnorm_forward(const float* x, const float* w, float* y, int rows, int d, float eps) {
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (int64_t)r * d;
    float* yr = y + (int64_t)r * d;
    const float rs = row_rstd(xr, d, eps);
#pragma omp simd
    for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * rs);
  }
}

// y = w x r, r = (mean(x²) + eps)^-1/2: dx = r (g - x r² mean(g x)), g = dy w; dw = Σ_rows dy x r.
void rmsnorm_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, int rows, int d,
                      float eps) {
  for (int i = 0; i < d; i++) dw[i] = 0.f;
  for (int r = 0; r < rows; r++) {
    const float* xr = x + (int64_t)r * d;
    const float* dyr = dy + (int64_t)r * d;
    float* dxr = dx + (int64_t)r * d;
    const float rs = row_rstd(xr, d, eps);
    float sgx = 0.f;
#pragma omp simd reduction(+ : sgx)
    for (int i = 0; i < d; i++) sgx += dyr[i] * w[i] * xr[i];
    const float c = sgx / d * rs * rs;
#pragma omp simd
    for (int i = 0; i < d; i++) {
      dw[i] += dyr[i] * xr[i] * rs;
      dxr[i] = rs * (dyr[i] * w[i] - xr[i] * c);
    }
  }
}

// x [B, H, T, dh]; tables [rowsOf, dh] read at row t (perBatch = false) or b (perBatch = true).
// Forward y = x cos + rotate_half(x) sin; backward (sign = -1) is its transpose, the inverse rotation.
static void rope(const float* x, const float* cos, const float* sin, float* y, int b, int h, int t, int dh,
                 bool perBatch, float sign) {
  const int half = dh / 2;
  for (int bi = 0; bi < b; bi++)
    for (int hi = 0; hi < h; hi++)
      for (int ti = 0; ti < t; ti++) {
        const int64_t off = (((int64_t)bi * h + hi) * t + ti) * dh;
        const int64_t row = (int64_t)(perBatch ? bi : ti) * dh;
        const float* xr = x + off;
        float* yr = y + off;
        const float* c = cos + row;
        const float* s = sin + row;
        if (sign > 0) {
#pragma omp simd
          for (int i = 0; i < half; i++) {
            const float a = xr[i], bb = xr[i + half];
            yr[i] = a * c[i] - bb * s[i];
            yr[i + half] = bb * c[i + half] + a * s[i + half];
          }
        } else {
#pragma omp simd
          for (int i = 0; i < half; i++) {
            const float a = xr[i], bb = xr[i + half];
            yr[i] = a * c[i] + bb * s[i + half];
            yr[i + half] = bb * c[i + half] - a * s[i];
          }
        }
      }
}

void rope_forward(const float* x, const float* cos, const float* sin, float* y, int b, int h, int t, int dh,
                  bool perBatch) {
  rope(x, cos, sin, y, b, h, t, dh, perBatch, 1.f);
}

void rope_backward(const float* dy, const float* cos, const float* sin, float* dx, int b, int h, int t, int dh,
                   bool perBatch) {
  rope(dy, cos, sin, dx, b, h, t, dh, perBatch, -1.f);
}

void swiglu_forward(const float* gate, const float* up, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    y[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

// d silu(g) = σ(g) (1 + g (1 - σ(g))).
void swiglu_backward(const float* dy, const float* gate, const float* up, float* dgate, float* dup, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    const float sg = 1.0f / (1.0f + std::exp(-g));
    dup[i] = dy[i] * g * sg;
    dgate[i] = dy[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
  }
}

}  // namespace igrpo
