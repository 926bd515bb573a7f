#include <cmath>
#include "kernels.h"

namespace igrpo {

static float row_logsumexp(const float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  float s = 0.f;
  for (int i = 0; i < n; i++) s += std::exp(x[i] - mx);
  return mx + std::log(s);
}

void token_logprobs_forward(const float* logits, const int32_t* targets, float* out, int rows, int vocab) {
  for (int r = 0; r < rows; r++) {
    const float* x = logits + (int64_t)r * vocab;
    out[r] = x[targets[r]] - row_logsumexp(x, vocab);
  }
}

void token_logprobs_backward(const float* dy, const float* logits, const int32_t* targets, float* dlogits,
                             int rows, int vocab) {
  for (int r = 0; r < rows; r++) {
    const float* x = logits + (int64_t)r * vocab;
    float* dx = dlogits + (int64_t)r * vocab;
    const float lse = row_logsumexp(x, vocab);
    for (int i = 0; i < vocab; i++) dx[i] = -dy[r] * std::exp(x[i] - lse);
    dx[targets[r]] += dy[r];
  }
}

}  // namespace igrpo
