#include "tensor/threads.h"

#include <omp.h>
#include <unistd.h>

#include <atomic>

#include "tensor/blas_libs.h"

namespace tern {

namespace {
std::atomic<int> g_threads{0};
}

int num_cores() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

void set_num_threads(int n) {
  if (n <= 0) n = num_cores();
  g_threads = n;
  omp_set_num_threads(n);  // tern's loops, and oneDNN (OpenMP runtime) reads omp_get_max_threads()
  detail::openblas_set_threads_when_loaded(n);  // OpenBLAS is loaded on first use (tensor/blas_libs.h)
}

int num_threads() {
  int n = g_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

}  // namespace tern
