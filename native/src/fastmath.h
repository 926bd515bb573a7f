// A vectorisable expf (Cephes polynomial, ~1 ulp over the clamped range): glibc's expf/tanhf are
// scalar calls that gcc cannot vectorise without -ffast-math, and GELU and softmax spend their time there.
#pragma once
#include <cstdint>

namespace igrpo {

static inline float fast_exp(float x) {
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  // floor via truncation of a positive number (x ≥ -87 keeps it positive); floorf does not vectorise
  const float n = (float)(int32_t)(x * 1.44269504088896341f + 128.5f) - 128.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

// tanh(u) = sign(u)·(1 − 2/(e^{2|u|} + 1)); absolute error ~1e-7, which is what GELU's 1 + tanh needs.
static inline float fast_tanh(float u) {
  const float a = __builtin_fabsf(u);
  const float t = 1.0f - 2.0f / (fast_exp(2.0f * a) + 1.0f);
  return __builtin_copysignf(t, u);
}

}  // namespace igrpo
