#include <cblas.h>
#include <omp.h>
#include "kernels.h"

namespace igrpo {

static int g_threads = 1;

// One knob for both pools: OpenBLAS's for GEMMs, OpenMP's for the fused loops (they never run at once).
void set_threads(int n) {
  g_threads = n < 1 ? 1 : n;
  openblas_set_num_threads(g_threads);
  omp_set_num_threads(g_threads);
}

int get_threads() { return g_threads; }

}  // namespace igrpo
