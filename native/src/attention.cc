#include <cblas.h>
#include <cmath>
#include <cstring>
#include <vector>
#include "fastmath.h"
#include "kernels.h"

namespace igrpo {

// Per head, the scores and probabilities go through sgemm (llm.c's layout, OpenBLAS instead of loops):
// S = Q·Kᵀ·scale, causal softmax row by row, O = P·V. Heads run one after another; each product is
// small, so OpenBLAS runs it on the calling thread. Grouped-query attention: `groups` consecutive query
// heads read one kv head (flat query head i reads kv head i / groups, since H = Hkv·groups).

// P = causal softmax(Q·Kᵀ·scale) for one head, [tq, tk], zero above the diagonal (offset tk - tq).
static void head_probs(const float* q, const float* k, float* p, int tq, int tk, int dh, float scale) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tq, tk, dh, scale, q, dh, k, dh, 0.0f, p, tk);
  const int offset = tk - tq;
  for (int i = 0; i < tq; i++) {
    float* row = p + (int64_t)i * tk;
    const int last = offset + i;
    float mx = -INFINITY;
    for (int j = 0; j <= last; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j <= last; j++) {
      row[j] = fast_exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j <= last; j++) row[j] *= inv;
    for (int j = last + 1; j < tk; j++) row[j] = 0.f;
  }
}

void attention_forward(const float* q, const float* k, const float* v, float* out, int bh, int groups, int tq, int tk,
                       int dh) {
  const float scale = 1.0f / std::sqrt((float)dh);
  std::vector<float> p((size_t)tq * tk);
  for (int h = 0; h < bh; h++) {
    const float* qh = q + (int64_t)h * tq * dh;
    const float* kh = k + (int64_t)(h / groups) * tk * dh;
    const float* vh = v + (int64_t)(h / groups) * tk * dh;
    head_probs(qh, kh, p.data(), tq, tk, dh, scale);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tq, dh, tk, 1.0f, p.data(), tk, vh, dh, 0.0f,
                out + (int64_t)h * tq * dh, dh);
  }
}

// Recomputes P (flash-attention style) instead of keeping [BH, Tq, Tk] from the forward. A kv head's
// dK and dV sum over its `groups` query heads: the first writes (beta 0), the others accumulate.
void attention_backward(const float* dout, const float* q, const float* k, const float* v,
                        float* dq, float* dk, float* dv, int bh, int groups, int tq, int tk, int dh) {
  const float scale = 1.0f / std::sqrt((float)dh);
  std::vector<float> p((size_t)tq * tk), dp((size_t)tq * tk);
  for (int h = 0; h < bh; h++) {
    const int64_t kv = h / groups;
    const float beta = h % groups == 0 ? 0.0f : 1.0f;
    const float* qh = q + (int64_t)h * tq * dh;
    const float* kh = k + kv * tk * dh;
    const float* vh = v + kv * tk * dh;
    const float* doh = dout + (int64_t)h * tq * dh;
    head_probs(qh, kh, p.data(), tq, tk, dh, scale);
    // dP = dO·Vᵀ, dV = Pᵀ·dO
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tq, tk, dh, 1.0f, doh, dh, vh, dh, 0.0f, dp.data(), tk);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tk, dh, tq, 1.0f, p.data(), tk, doh, dh, beta,
                dv + kv * tk * dh, dh);
    // dS = P ∘ (dP − rowsum(P ∘ dP)), kept in dp (zero wherever P is)
    for (int i = 0; i < tq; i++) {
      const float* pr = p.data() + (int64_t)i * tk;
      float* dr = dp.data() + (int64_t)i * tk;
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (int j = 0; j < tk; j++) s += pr[j] * dr[j];
#pragma omp simd
      for (int j = 0; j < tk; j++) dr[j] = pr[j] * (dr[j] - s);
    }
    // dQ = dS·K·scale, dK = dSᵀ·Q·scale
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tq, dh, tk, scale, dp.data(), tk, kh, dh, 0.0f,
                dq + (int64_t)h * tq * dh, dh);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tk, dh, tq, scale, dp.data(), tk, qh, dh, beta,
                dk + kv * tk * dh, dh);
  }
}

}  // namespace igrpo
