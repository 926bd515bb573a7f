#include <cmath>
#include "fastmath.h"
#include "kernels.h"

namespace igrpo {

static const float kC = 0.7978845608028654f;  // sqrt(2/pi)

// GPT-2's tanh approximation, matching src/ops gelu's composite.
void gelu_forward(const float* x, float* y, int64_t n) {

  for (int64_t i = 0; i < n; i++) {
    const float xi = x[i];
    y[i] = 0.5f * xi * (1.0f + fast_tanh(kC * (xi + 0.044715f * xi * xi * xi)));
  }
}

void gelu_backward(const float* dy, const float* x, float* dx, int64_t n) {

  for (int64_t i = 0; i < n; i++) {
    const float xi = x[i];
    const float u = kC * (xi + 0.044715f * xi * xi * xi);
    const float t = fast_tanh(u);
    const float du = kC * (1.0f + 3.0f * 0.044715f * xi * xi);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * xi * (1.0f - t * t) * du);
  }
}

}  // namespace igrpo
