// Node binding of decode_attention.cc's kernels (registered by addon.cc's Init through register_decode).
#include <napi.h>

namespace igrpo {
void decode_attention(const float* q, const float* kp, const float* vp, const float* mask, const float* ks,
                      const float* vs, float* out, int b, int h, int hkv, int dh, int group, int tp, int cap, int ts);
void kv_append(const float* src, long srcStride, float* dst, int b, int h, int dh, int cap, int pos);
void kv_grow(const float* x, float* out, long bh, int xcap, int len, int cap, int dh);
}  // namespace igrpo

namespace {

float* F32(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Float32Array");
  }
  return info[i].As<Napi::Float32Array>().Data();
}

int Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// (q, kp, vp, mask | null, ks, vs, out, b, h, hkv, dh, group, tp, cap, ts)
Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  const float* mask = info[3].IsNull() ? nullptr : F32(info, 3);
  igrpo::decode_attention(F32(info, 0), F32(info, 1), F32(info, 2), mask, F32(info, 4), F32(info, 5), F32(info, 6),
                          Int(info, 7), Int(info, 8), Int(info, 9), Int(info, 10), Int(info, 11), Int(info, 12),
                          Int(info, 13), Int(info, 14));
  return info.Env().Undefined();
}

// (src, srcStride, dst, b, h, dh, cap, pos)
Napi::Value KvAppend(const Napi::CallbackInfo& info) {
  igrpo::kv_append(F32(info, 0), Int(info, 1), F32(info, 2), Int(info, 3), Int(info, 4), Int(info, 5), Int(info, 6),
                   Int(info, 7));
  return info.Env().Undefined();
}

// (x, out, bh, xcap, len, cap, dh)
Napi::Value KvGrow(const Napi::CallbackInfo& info) {
  igrpo::kv_grow(F32(info, 0), F32(info, 1), Int(info, 2), Int(info, 3), Int(info, 4), Int(info, 5), Int(info, 6));
  return info.Env().Undefined();
}

}  // namespace

namespace igrpo {
void register_decode(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("kvAppend", Napi::Function::New(env, KvAppend));
  exports.Set("kvGrow", Napi::Function::New(env, KvGrow));
}
}  // namespace igrpo
