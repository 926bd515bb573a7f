#include <cblas.h>
#include <cstring>
#include "kernels.h"

namespace igrpo {

void batch_matmul(const float* a, const float* b, float* c, int batch, int m, int n, int k,
                  bool transA, bool transB, int64_t aStride, int64_t bStride) {
  const int lda = transA ? m : k;
  const int ldb = transB ? k : n;
  const CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  // A shared right operand with a batched left one (x[B,T,D]·W[D,E]) is one tall GEMM, not B small ones.
  if (batch > 1 && bStride == 0 && aStride == (int64_t)m * k && !transA) {
    cblas_sgemm(CblasRowMajor, ta, tb, batch * m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    return;
  }
  if (m == 1) {
    // one query row per batch (KV-cache decoding's attention): sgemv has far less per-call overhead
    for (int i = 0; i < batch; i++) {
      const float* bi = b + i * bStride;
      if (transB) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, bi, k, a + i * aStride, 1, 0.0f, c + (int64_t)i * n, 1);
      else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, bi, n, a + i * aStride, 1, 0.0f, c + (int64_t)i * n, 1);
    }
    return;
  }
  for (int i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a + i * aStride, lda, b + i * bStride, ldb, 0.0f,
                c + (int64_t)i * m * n, n);
  }
}

// C = op(A)·op(B) + bias (bias [n] broadcast over rows): C starts as the bias and sgemm adds with beta = 1,
// which saves the separate bias pass and its temporary.
void matmul_bias(const float* a, const float* b, const float* bias, float* c, int m, int n, int k, bool transA, bool transB) {
  for (int i = 0; i < m; i++) std::memcpy(c + (int64_t)i * n, bias, sizeof(float) * n);
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
              transA ? m : k, b, transB ? k : n, 1.0f, c, n);
}

}  // namespace igrpo
