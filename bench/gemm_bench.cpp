// GEMM benchmark for the Linear-layer shape C (M, N) = A (M, K) * W^T, W stored (N, K): oneDNN's packing
// sgemm against tern's AVX-512 small-M kernel (tensor/gemm_small_avx512.cpp), for the weight shapes of
// BERT-base and tweet-bert-mini and M from 1 to 128 rows (tokens in the batch). Validates both against the
// reference loop first; median of the timed runs after warm-up; GFLOP/s. Picks the crossover M that
// tensor/gemm.cpp uses.
//
//   gemm_bench [--threads N] [--runs N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/kernels_ref.h"
#include "tensor/threads.h"

namespace tern::detail {
int64_t set_gemm_small_m_limit(int64_t m);
}

using namespace tern;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Median ms of C = A W^T with the small-M path allowed up to `limit` rows.
double time_gemm(int64_t limit, int64_t M, int64_t N, int64_t K, const float* A, const float* W, float* C,
                 int runs) {
  detail::set_gemm_small_m_limit(limit);
  for (int w = 0; w < 3; ++w) sgemm(false, true, M, N, K, 1.f, A, K, W, K, 0.f, C, N);
  std::vector<double> ts;
  const double start = now_ms();
  for (int r = 0; r < runs || (now_ms() - start < 300 && r < 2000); ++r) {
    const double t0 = now_ms();
    sgemm(false, true, M, N, K, 1.f, A, K, W, K, 0.f, C, N);
    ts.push_back(now_ms() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, runs = 21;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  set_num_threads(threads);
  set_gemm_backend(GemmBackend::Dnnl);
  const int64_t default_limit = detail::set_gemm_small_m_limit(0);
  std::printf("tern gemm_bench: %d threads; C = A W^T; 'dnnl' = %s without the small-M path\n", num_threads(),
              gemm_description().c_str());
  struct Shape {
    const char* what;
    int64_t N, K;
  };
  const Shape shapes[] = {{"base qkv", 2304, 768},  {"base out", 768, 768}, {"base ffn1", 3072, 768},
                          {"base ffn2", 768, 3072}, {"mini qkv", 768, 256}, {"mini ffn1", 1024, 256},
                          {"mini ffn2", 256, 1024}};
  const int64_t Ms[] = {1, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 1024};
  const auto W = randn(3072 * 3072, 1), A = randn(1024 * 3072, 2);
  std::vector<float> C(1024 * 3072), R(1024 * 3072);
  // Validate on every weight shape at an odd M.
  for (const Shape& s : shapes) {
    const int64_t M = 7;
    ref::sgemm(false, true, M, s.N, s.K, 1.f, A.data(), s.K, W.data(), s.K, 0.f, R.data(), s.N);
    detail::set_gemm_small_m_limit(128);
    sgemm(false, true, M, s.N, s.K, 1.f, A.data(), s.K, W.data(), s.K, 0.f, C.data(), s.N);
    double worst = 0;
    for (int64_t i = 0; i < M * s.N; ++i) worst = std::max(worst, std::fabs(double(C[i]) - R[i]));
    if (!(worst < 1e-3)) {
      std::printf("validate %s: small-M kernel vs reference max |diff| %.2e (MISMATCH)\n", s.what, worst);
      return 1;
    }
  }
  std::printf("validate: small-M kernel vs reference loop on every shape (ok)\n");
  std::printf("%-10s %5s %10s %10s %10s %10s %8s\n", "weight", "M", "dnnl ms", "GFLOP/s", "small ms",
              "GFLOP/s", "small/dnnl");
  for (const Shape& s : shapes) {
    for (int64_t M : Ms) {
      const double flop = 2.0 * M * s.N * s.K;
      const double d = time_gemm(0, M, s.N, s.K, A.data(), W.data(), C.data(), runs);
      const double k = time_gemm(1 << 20, M, s.N, s.K, A.data(), W.data(), C.data(), runs);
      std::printf("%-10s %5lld %10.4f %10.1f %10.4f %10.1f %8.2fx\n", s.what, static_cast<long long>(M), d,
                  flop / d / 1e6, k, flop / k / 1e6, d / k);
    }
  }
  detail::set_gemm_small_m_limit(default_limit);
  std::printf("tensor/gemm.cpp uses the small-M kernel for M <= %lld (M <= %lld when K >= 2N)\n",
              static_cast<long long>(default_limit), static_cast<long long>(4 * default_limit));
  return 0;
}
