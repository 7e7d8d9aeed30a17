// GEMM benchmark for the Linear-layer shape C (M, N) = A (M, K) * W^T, W stored (N, K): oneDNN's packing
// sgemm against tern's AVX-512 small-M kernel (tensor/gemm_small_avx512.cpp), for the weight shapes of
// BERT-base and tweet-bert-mini and M from 1 to 128 rows (tokens in the batch). Validates both against the
// reference loop first; median of the timed runs after warm-up; GFLOP/s. Picks the crossover M that
// tensor/gemm.cpp uses.
//
// --train: the training step's GEMMs instead (M = B*T tokens 1024 / 2048): forward C = X W^T (NT), weight
// gradient dW = dY^T X (TN, the reduction over the tokens), input gradient dX = dY W (NN), BERT-base and
// tweet-bert-mini, oneDNN against tern's packed GEMM (tensor/gemm_packed_avx512.cpp), validated against the
// reference loop in every transposition first. --kc / --nc set the packed GEMM's blocking (tuning).
//
//   gemm_bench [--threads N] [--runs N] [--train] [--kc N] [--nc N] [--cpu]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/gemm_packed.h"
#include "tensor/kernels_ref.h"
#include "tensor/threads.h"

namespace tern::detail {
int64_t set_gemm_small_m_limit(int64_t m);
int set_gemm_packed_mode(int mode);
}  // namespace tern::detail

using namespace tern;

namespace {

// --cpu: process CPU time instead of the wall clock (a comparison of kernels on one thread while other jobs
// share the cores: time-slicing then does not count).
bool g_cpu_clock = false;

double now_ms() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
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

// Median ms of one general sgemm with the packed path off (mode 0) or forced (mode 2).
double time_general(int mode, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A,
                    const float* B, float* C, int runs) {
  detail::set_gemm_packed_mode(mode);
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  for (int w = 0; w < 2; ++w) sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
  std::vector<double> ts;
  const double start = now_ms();
  for (int r = 0; r < runs || (now_ms() - start < 200 && r < 200); ++r) {
    const double t0 = now_ms();
    sgemm(ta, tb, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
    ts.push_back(now_ms() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

int train_table(int runs) {
  struct G {
    const char* what;
    bool ta, tb;
    int64_t N, K;  // M = tokens for forward / dX; for dW M = out, N = in, K = tokens
    bool dw;
  };
  std::vector<G> gs;
  for (int base = 1; base >= 0; --base) {
    const int64_t C = base ? 768 : 256, I = base ? 3072 : 1024;
    const int64_t outs[] = {3 * C, C, I, C}, ins[] = {C, C, C, I};
    for (int l = 0; l < 4; ++l) {
      gs.push_back({base ? "base fwd" : "mini fwd", false, true, outs[l], ins[l], false});
      gs.push_back({base ? "base dW" : "mini dW", true, false, outs[l], ins[l], true});
      gs.push_back({base ? "base dX" : "mini dX", false, false, ins[l], outs[l], false});
    }
  }
  const auto A = randn(3072 * 2048, 3), B = randn(3072 * 3072, 4);
  std::vector<float> C(3072 * 3072), R(3072 * 3072);
  // Validate every transposition at ragged sizes against the reference loop.
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const int64_t M = 133, N = 301, K = 517;
    const int64_t lda = ta ? M : K, ldb = tb ? K : N;
    ref::sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, R.data(), N);
    detail::set_gemm_packed_mode(2);
    sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N);
    double worst = 0;
    for (int64_t i = 0; i < M * N; ++i) worst = std::max(worst, std::fabs(double(C[i]) - R[i]));
    if (!(worst < 1e-3)) {
      std::printf("validate ta=%d tb=%d: packed vs reference max |diff| %.2e (MISMATCH)\n", ta, tb, worst);
      return 1;
    }
  }
  int64_t kc = 0, nc = 0;
  detail::set_sgemm_packed_blocking(0, 0, &kc, &nc);
  std::printf(
      "validate: packed GEMM vs reference loop, all 4 transpositions (ok); blocking KC %lld NC %lld\n",
      static_cast<long long>(kc), static_cast<long long>(nc));
  std::printf("%-9s %2s %5s %5s %5s %10s %8s %10s %8s %8s\n", "gemm", "op", "M", "N", "K", "dnnl ms",
              "GFLOP/s", "packed ms", "GFLOP/s", "dnnl/packed");
  double sum_d = 0, sum_p = 0;
  for (int64_t T : {1024, 2048})
    for (const G& g : gs) {
      const int64_t M = g.dw ? g.N : T, N = g.dw ? g.K : g.N, K = g.dw ? T : g.K;
      const double flop = 2.0 * M * N * K;
      const double d = time_general(0, g.ta, g.tb, M, N, K, A.data(), B.data(), C.data(), runs);
      const double p = time_general(2, g.ta, g.tb, M, N, K, A.data(), B.data(), C.data(), runs);
      sum_d += d;
      sum_p += p;
      std::printf("%-9s %c%c %5lld %5lld %5lld %10.3f %8.1f %10.3f %8.1f %8.2fx\n", g.what, g.ta ? 'T' : 'N',
                  g.tb ? 'T' : 'N', static_cast<long long>(M), static_cast<long long>(N),
                  static_cast<long long>(K), d, flop / d / 1e6, p, flop / p / 1e6, d / p);
    }
  std::printf("sum of medians: dnnl %.1f ms, packed %.1f ms (%.2fx)\n", sum_d, sum_p, sum_d / sum_p);
  detail::set_gemm_packed_mode(1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, runs = 21;
  bool train = false;
  int64_t kc = 0, nc = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--train")) train = true;
    if (!std::strcmp(argv[i], "--cpu")) g_cpu_clock = true;
    if (i + 1 >= argc) break;
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--kc")) kc = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--nc")) nc = std::atoll(argv[i + 1]);
  }
  set_num_threads(threads);
  set_gemm_backend(GemmBackend::Dnnl);
  detail::set_sgemm_packed_blocking(kc, nc);
  if (train) {
    std::printf("tern gemm_bench --train: %d threads; 'dnnl' = oneDNN sgemm, 'packed' = tern's packed GEMM\n",
                num_threads());
    return train_table(runs);
  }
  detail::set_gemm_packed_mode(0);
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
