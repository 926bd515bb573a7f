// Node binding: every function works in place on the Float32Array/Int32Array buffers that tfjs's cpu
// backend stores tensor values in (no copies); the JS side allocates outputs and checks shapes.
#include <napi.h>
#include "kernels.h"

namespace igrpo {
void register_decode(Napi::Env env, Napi::Object exports);  // decode_binding.cc
}

namespace {

float* F(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Float32Array");
  }
  return info[i].As<Napi::Float32Array>().Data();
}

int32_t* I32(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an Int32Array");
  }
  return info[i].As<Napi::Int32Array>().Data();
}

int N(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
int64_t L(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
float R(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().FloatValue(); }
bool B(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Boolean>().Value(); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  igrpo::set_threads(N(info, 0));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), igrpo::get_threads()); }

// (a, b, c, batch, m, n, k, transA, transB, aStride, bStride)
Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  igrpo::batch_matmul(F(info, 0), F(info, 1), F(info, 2), N(info, 3), N(info, 4), N(info, 5), N(info, 6), B(info, 7),
                      B(info, 8), L(info, 9), L(info, 10));
  return info.Env().Undefined();
}

// (a, b, bias, c, m, n, k, transA, transB)
Napi::Value MatMulBias(const Napi::CallbackInfo& info) {
  igrpo::matmul_bias(F(info, 0), F(info, 1), F(info, 2), F(info, 3), N(info, 4), N(info, 5), N(info, 6), B(info, 7),
                     B(info, 8));
  return info.Env().Undefined();
}

// (x, gamma, beta, y, rows, d, eps)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  igrpo::layernorm_forward(F(info, 0), F(info, 1), F(info, 2), F(info, 3), N(info, 4), N(info, 5), R(info, 6));
  return info.Env().Undefined();
}

// (dy, x, gamma, dx, dgamma, dbeta, rows, d, eps)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  igrpo::layernorm_backward(F(info, 0), F(info, 1), F(info, 2), F(info, 3), F(info, 4), F(info, 5), N(info, 6),
                            N(info, 7), R(info, 8));
  return info.Env().Undefined();
}

// (x, w, y, rows, d, eps)
Napi::Value RmsNormForward(const Napi::CallbackInfo& info) {
  igrpo::rmsnorm_forward(F(info, 0), F(info, 1), F(info, 2), N(info, 3), N(info, 4), R(info, 5));
  return info.Env().Undefined();
}

// (dy, x, w, dx, dw, rows, d, eps)
Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
  igrpo::rmsnorm_backward(F(info, 0), F(info, 1), F(info, 2), F(info, 3), F(info, 4), N(info, 5), N(info, 6),
                          R(info, 7));
  return info.Env().Undefined();
}

// (x, cos, sin, y, b, h, t, dh, perBatch, inverse)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  auto fn = B(info, 9) ? igrpo::rope_backward : igrpo::rope_forward;
  fn(F(info, 0), F(info, 1), F(info, 2), F(info, 3), N(info, 4), N(info, 5), N(info, 6), N(info, 7), B(info, 8));
  return info.Env().Undefined();
}

// (gate, up, y, n)
Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  igrpo::swiglu_forward(F(info, 0), F(info, 1), F(info, 2), L(info, 3));
  return info.Env().Undefined();
}

// (dy, gate, up, dgate, dup, n)
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  igrpo::swiglu_backward(F(info, 0), F(info, 1), F(info, 2), F(info, 3), F(info, 4), L(info, 5));
  return info.Env().Undefined();
}

// (x, y, n)
Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  igrpo::gelu_forward(F(info, 0), F(info, 1), L(info, 2));
  return info.Env().Undefined();
}

// (dy, x, dx, n)
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  igrpo::gelu_backward(F(info, 0), F(info, 1), F(info, 2), L(info, 3));
  return info.Env().Undefined();
}

// (q, k, v, out, bh, groups, tq, tk, dh)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  igrpo::attention_forward(F(info, 0), F(info, 1), F(info, 2), F(info, 3), N(info, 4), N(info, 5), N(info, 6),
                           N(info, 7), N(info, 8));
  return info.Env().Undefined();
}

// (dout, q, k, v, dq, dk, dv, bh, groups, tq, tk, dh)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  igrpo::attention_backward(F(info, 0), F(info, 1), F(info, 2), F(info, 3), F(info, 4), F(info, 5), F(info, 6),
                            N(info, 7), N(info, 8), N(info, 9), N(info, 10), N(info, 11));
  return info.Env().Undefined();
}

// (logits, targets, out, rows, vocab)
Napi::Value TokenLogProbsForward(const Napi::CallbackInfo& info) {
  igrpo::token_logprobs_forward(F(info, 0), I32(info, 1), F(info, 2), N(info, 3), N(info, 4));
  return info.Env().Undefined();
}

// (dy, logits, targets, dlogits, rows, vocab)
Napi::Value TokenLogProbsBackward(const Napi::CallbackInfo& info) {
  igrpo::token_logprobs_backward(F(info, 0), F(info, 1), I32(info, 2), F(info, 3), N(info, 4), N(info, 5));
  return info.Env().Undefined();
}

// (table, ids, out, rows, vocab, d)
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  igrpo::embedding_forward(F(info, 0), I32(info, 1), F(info, 2), N(info, 3), N(info, 4), N(info, 5));
  return info.Env().Undefined();
}

// (dy, ids, dtable, rows, vocab, d)
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  igrpo::embedding_backward(F(info, 0), I32(info, 1), F(info, 2), N(info, 3), N(info, 4), N(info, 5));
  return info.Env().Undefined();
}

// (p, g, m, v, lr, beta1, beta2, eps, decay, bc1, bc2Sqrt)
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  const size_t n = info[0].As<Napi::Float32Array>().ElementLength();
  igrpo::adam_update(F(info, 0), F(info, 1), F(info, 2), F(info, 3), (int64_t)n, R(info, 4), R(info, 5), R(info, 6),
                     R(info, 7), R(info, 8), R(info, 9), R(info, 10));
  return info.Env().Undefined();
}

// (x, out, outer, inner)
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  igrpo::sum_rows(F(info, 0), F(info, 1), L(info, 2), L(info, 3));
  return info.Env().Undefined();
}

// (a, b, c): lengths of a and b divide c's
Napi::Value AddBroadcast(const Napi::CallbackInfo& info) {
  const int64_t na = info[0].As<Napi::Float32Array>().ElementLength();
  const int64_t nb = info[1].As<Napi::Float32Array>().ElementLength();
  const int64_t n = info[2].As<Napi::Float32Array>().ElementLength();
  igrpo::add_broadcast(F(info, 0), na, F(info, 1), nb, F(info, 2), n);
  return info.Env().Undefined();
}

// (x, out, shape: Int32Array, perm: Int32Array)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const int rank = (int)info[2].As<Napi::Int32Array>().ElementLength();
  igrpo::transpose(F(info, 0), F(info, 1), I32(info, 2), I32(info, 3), rank);
  return info.Env().Undefined();
}

// (x, y, rows, n)
Napi::Value SoftmaxRows(const Napi::CallbackInfo& info) {
  igrpo::softmax_rows(F(info, 0), F(info, 1), L(info, 2), L(info, 3));
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
  exports.Set("matMulBias", Napi::Function::New(env, MatMulBias));
  exports.Set("layerNormForward", Napi::Function::New(env, LayerNormForward));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBackward));
  exports.Set("rmsNormForward", Napi::Function::New(env, RmsNormForward));
  exports.Set("rmsNormBackward", Napi::Function::New(env, RmsNormBackward));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("swigluForward", Napi::Function::New(env, SwigluForward));
  exports.Set("swigluBackward", Napi::Function::New(env, SwigluBackward));
  exports.Set("geluForward", Napi::Function::New(env, GeluForward));
  exports.Set("geluBackward", Napi::Function::New(env, GeluBackward));
  exports.Set("attentionForward", Napi::Function::New(env, AttentionForward));
  exports.Set("attentionBackward", Napi::Function::New(env, AttentionBackward));
  exports.Set("tokenLogProbsForward", Napi::Function::New(env, TokenLogProbsForward));
  exports.Set("tokenLogProbsBackward", Napi::Function::New(env, TokenLogProbsBackward));
  exports.Set("embeddingForward", Napi::Function::New(env, EmbeddingForward));
  exports.Set("embeddingBackward", Napi::Function::New(env, EmbeddingBackward));
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate));
  exports.Set("sumRows", Napi::Function::New(env, SumRows));
  exports.Set("addBroadcast", Napi::Function::New(env, AddBroadcast));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("softmaxRows", Napi::Function::New(env, SoftmaxRows));
  igrpo::register_decode(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(igrpo_native, Init)
