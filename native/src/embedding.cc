#include <cstring>
#include "kernels.h"

namespace igrpo {

void embedding_forward(const float* table, const int32_t* ids, float* out, int rows, int vocab, int d) {
  for (int r = 0; r < rows; r++) {
    const int id = ids[r];
    if (id < 0 || id >= vocab) {
      std::memset(out + (int64_t)r * d, 0, sizeof(float) * d);  // tf.gather's cpu kernel throws; JS checks first
      continue;
    }
    std::memcpy(out + (int64_t)r * d, table + (int64_t)id * d, sizeof(float) * d);
  }
}

// Scatter-add, serial so the sum order per row is fixed (deterministic).
void embedding_backward(const float* dy, const int32_t* ids, float* dtable, int rows, int vocab, int d) {
  std::memset(dtable, 0, sizeof(float) * (size_t)vocab * d);
  for (int r = 0; r < rows; r++) {
    const int id = ids[r];
    if (id < 0 || id >= vocab) continue;
    float* t = dtable + (int64_t)id * d;
    const float* g = dy + (int64_t)r * d;
#pragma omp simd
    for (int i = 0; i < d; i++) t[i] += g[i];
  }
}

}  // namespace igrpo
