// Forward/backward CPU kernels over raw row-major float arrays (llm.c style), shared by the Node binding.
// Each backward recomputes what it needs from the forward's inputs, so tfjs only saves inputs.
#pragma once
#include <cstdint>

namespace igrpo {

void set_threads(int n);
int get_threads();

// C[b] = op(A[b or 0]) · op(B[b or 0]) for b < batch; aStride/bStride are 0 to broadcast one matrix.
void batch_matmul(const float* a, const float* b, float* c, int batch, int m, int n, int k,
                  bool transA, bool transB, int64_t aStride, int64_t bStride);

// C = op(A)·op(B) + bias, bias [n] broadcast over the m rows.
void matmul_bias(const float* a, const float* b, const float* bias, float* c, int m, int n, int k, bool transA, bool transB);

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, int rows, int d, float eps);
void layernorm_backward(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                        int rows, int d, float eps);

// RMSNorm, rotate-half RoPE and SwiGLU (llm.cc), the Llama family's blocks.
void rmsnorm_forward(const float* x, const float* w, float* y, int rows, int d, float eps);
void rmsnorm_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, int rows, int d, float eps);
void rope_forward(const float* x, const float* cos, const float* sin, float* y, int b, int h, int t, int dh, bool perBatch);
void rope_backward(const float* dy, const float* cos, const float* sin, float* dx, int b, int h, int t, int dh, bool perBatch);
void swiglu_forward(const float* gate, const float* up, float* y, int64_t n);
void swiglu_backward(const float* dy, const float* gate, const float* up, float* dgate, float* dup, int64_t n);

void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n);

// q: [BH, Tq, dh], k and v: [BH / groups, Tk, dh] (query head i reads kv head i / groups); query i
// sees keys 0..(Tk - Tq + i).
void attention_forward(const float* q, const float* k, const float* v, float* out, int bh, int groups, int tq, int tk,
                       int dh);
void attention_backward(const float* dout, const float* q, const float* k, const float* v,
                        float* dq, float* dk, float* dv, int bh, int groups, int tq, int tk, int dh);

// out[n] = log softmax(logits[n])[targets[n]]; dlogits[n] = dy[n] (onehot(targets[n]) - softmax(logits[n])).
void token_logprobs_forward(const float* logits, const int32_t* targets, float* out, int rows, int vocab);
void token_logprobs_backward(const float* dy, const float* logits, const int32_t* targets, float* dlogits,
                             int rows, int vocab);

void embedding_forward(const float* table, const int32_t* ids, float* out, int rows, int vocab, int d);
void embedding_backward(const float* dy, const int32_t* ids, float* dtable, int rows, int vocab, int d);

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                 float eps, float decay, float bc1, float bc2Sqrt);

// Reductions and elementwise helpers for the ops that dominate a train step after the fused kernels.
// Sum over the leading `outer` rows of [outer, inner] → [inner] (a bias gradient).
void sum_rows(const float* x, float* out, int64_t outer, int64_t inner);
// c[i] = a[i % na] + b[i % nb] with na, nb dividing n (same shape or a trailing-broadcast bias).
void add_broadcast(const float* a, int64_t na, const float* b, int64_t nb, float* c, int64_t n);

// Softmax of each row of [rows, n].
void softmax_rows(const float* x, float* y, int64_t rows, int64_t n);

// out = x.transpose(perm); shape and perm have `rank` entries.
void transpose(const float* x, float* out, const int* shape, const int* perm, int rank);

}  // namespace igrpo
