#include <cstring>
#include <vector>
#include "kernels.h"

namespace igrpo {

// out = x.transpose(perm) for a row-major x of `shape`. Walks the output in order with an odometer over
// the input strides; when the last axis stays last, whole rows are copied at once.
void transpose(const float* x, float* out, const int* shape, const int* perm, int rank) {
  std::vector<int64_t> inStride(rank, 1);
  for (int i = rank - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * shape[i + 1];
  std::vector<int> outShape(rank);
  std::vector<int64_t> stride(rank);  // input stride of each output axis
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    outShape[i] = shape[perm[i]];
    stride[i] = inStride[perm[i]];
    n *= outShape[i];
  }
  if (n == 0) return;
  const bool rows = perm[rank - 1] == rank - 1;
  const int inner = rows ? outShape[rank - 1] : 1;
  const int axes = rows ? rank - 1 : rank;  // axes the odometer walks
  std::vector<int> idx(rank, 0);
  int64_t src = 0;
  for (int64_t o = 0; o < n; o += inner) {
    if (rows) std::memcpy(out + o, x + src, sizeof(float) * inner);
    else out[o] = x[src];
    for (int a = axes - 1; a >= 0; a--) {
      src += stride[a];
      if (++idx[a] < outShape[a]) break;
      src -= stride[a] * outShape[a];
      idx[a] = 0;
    }
  }
}

}  // namespace igrpo
