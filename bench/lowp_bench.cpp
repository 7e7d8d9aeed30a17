// Reduced-precision GEMM benchmark: PackedWeight::gemm (tensor/packed_weight.h) in fp32 / bf16 / int8 for the
// Linear-layer shapes of tweet-bert-mini (hidden 256, FFN 1024) and BERT-base (768 / 3072), y = x W^T + bias,
// M = token rows in the batch. Validates each precision against its reference twin first (one odd M per
// shape). Per shape the precisions are timed interleaved (run r of each, in turn), median of the runs;
// GFLOP/s counts 2 M N K (GOP/s for int8); "x fp32" is the same-run ratio of medians.
//
//   lowp_bench [--threads N] [--runs N] [--m 16,64,...] [--precisions fp32,bf16,int8] [--compare 1]
//              [--clock cpu]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/packed_weight.h"
#include "tensor/threads.h"

namespace tern::detail {
int64_t set_lowp_dnnl_min_m(Precision p, int64_t m);
int64_t set_f32_packed_max_m(int64_t m);
}  // namespace tern::detail

using namespace tern;

namespace {

// --clock cpu: this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which leaves out the time the thread waits
// for a core on a loaded machine; meaningful with --threads 1 only (OpenMP workers are other threads).
bool g_cpu_clock = false;

double now_ms() {
  if (g_cpu_clock) {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<float> randn(size_t n, uint32_t seed, float scale) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(t);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, runs = 15;
  // --compare 1: also the alternatives, forced for every M: oneDNN matmul for bf16 / int8, tern::sgemm for
  // fp32 (printed after the defaults; "x fp32" is always against the default fp32).
  bool compare = false;
  std::vector<int64_t> Ms = {16, 64, 256, 800, 2048};
  std::vector<Precision> precs = {Precision::F32, Precision::BF16, Precision::I8};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--compare")) compare = std::atoi(argv[i + 1]) != 0;
    if (!std::strcmp(argv[i], "--clock")) g_cpu_clock = !std::strcmp(argv[i + 1], "cpu");
    if (!std::strcmp(argv[i], "--m")) {
      Ms.clear();
      for (const auto& t : split(argv[i + 1])) Ms.push_back(std::atoll(t.c_str()));
    }
    if (!std::strcmp(argv[i], "--precisions")) {
      precs.clear();
      for (const auto& t : split(argv[i + 1])) precs.push_back(parse_precision(t));
    }
  }
  set_num_threads(threads);
  std::printf("tern lowp_bench: %d threads, %d interleaved runs per shape, median of %s; y = x W^T + bias\n",
              num_threads(), runs, g_cpu_clock ? "thread CPU time" : "wall time");
  for (Precision p : precs) {
    require_precision(p);
    std::printf("  %s\n", precision_description(p).c_str());
  }
  struct Shape {
    const char* what;
    int64_t N, K;
  };
  const Shape shapes[] = {{"mini qkv", 768, 256},   {"mini out", 256, 256},  {"mini ffn1", 1024, 256},
                          {"mini ffn2", 256, 1024}, {"base qkv", 2304, 768}, {"base out", 768, 768},
                          {"base ffn1", 3072, 768}, {"base ffn2", 768, 3072}};
  const int64_t maxM = *std::max_element(Ms.begin(), Ms.end());
  const auto X = randn(std::max<int64_t>(maxM, 33) * 3072, 2, 1.f), B = randn(3072, 3, 0.1f);
  std::vector<float> Y(std::max<int64_t>(maxM, 33) * 3072), R(33 * 3072);
  std::printf("%-10s %5s %-5s %9s %9s %7s  %s\n", "weight", "M", "prec", "ms", "GFLOP/s", "x fp32", "kernel");
  for (const Shape& s : shapes) {
    const auto W = randn(s.N * s.K, 1, 0.05f);
    std::vector<PackedWeight> pw;
    std::vector<Precision> ps = precs;
    for (Precision p : precs) pw.push_back(PackedWeight::from_f32(p, W.data(), s.N, s.K, s.K));
    if (compare) {
      // The same precisions again with oneDNN matmul for every M (their rows print as "bf16 dnnl").
      for (Precision p : precs) {
        const int64_t old =
            p == Precision::F32 ? detail::set_f32_packed_max_m(-1) : detail::set_lowp_dnnl_min_m(p, 0);
        pw.push_back(PackedWeight::from_f32(p, W.data(), s.N, s.K, s.K));
        ps.push_back(p);
        if (p == Precision::F32)
          detail::set_f32_packed_max_m(old);
        else
          detail::set_lowp_dnnl_min_m(p, old);
      }
    }
    // Validate against the twin at M = 33.
    for (size_t i = 0; i < pw.size(); ++i) {
      const int64_t old = detail::set_lowp_dnnl_min_m(ps[i], i < precs.size() ? INT64_MAX : 0);
      pw[i].gemm(33, X.data(), s.K, B.data(), 0.f, Y.data(), s.N);
      detail::set_lowp_dnnl_min_m(ps[i], old);
      ref::packed_weight_gemm(ps[i], W.data(), s.N, s.K, s.K, 33, X.data(), s.K, B.data(), 0.f, R.data(),
                              s.N);
      double worst = 0, scale = 0;
      for (int64_t j = 0; j < 33 * s.N; ++j) {
        worst = std::max(worst, std::fabs(double(Y[j]) - R[j]));
        scale = std::max(scale, std::fabs(double(R[j])));
      }
      if (!(worst <= 1e-4 * scale)) {
        std::printf("validate %s %s: max |kernel - twin| %.3e (max |y| %.3e): MISMATCH\n", s.what,
                    precision_name(ps[i]), worst, scale);
        return 1;
      }
    }
    for (int64_t M : Ms) {
      // Variant i >= precs.size() is the oneDNN copy: its threshold is set to 0 around its calls only.
      auto call = [&](size_t i) {
        const int64_t old = detail::set_lowp_dnnl_min_m(ps[i], i < precs.size() ? INT64_MAX : 0);
        pw[i].gemm(M, X.data(), s.K, B.data(), 0.f, Y.data(), s.N);
        detail::set_lowp_dnnl_min_m(ps[i], old);
      };
      std::vector<std::vector<double>> ts(pw.size());
      for (size_t i = 0; i < pw.size(); ++i)
        for (int w = 0; w < 2; ++w) call(i);
      for (int r = 0; r < runs; ++r)
        for (size_t i = 0; i < pw.size(); ++i) {
          const double t0 = now_ms();
          call(i);
          ts[i].push_back(now_ms() - t0);
        }
      const double flop = 2.0 * M * s.N * s.K;
      double base = 0;
      for (size_t i = 0; i < pw.size(); ++i) {
        const double ms = median(ts[i]);
        if (ps[i] == Precision::F32 && i < precs.size()) base = ms;
        char ratio[16] = "";
        if (base > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", base / ms);
        const int64_t old = detail::set_lowp_dnnl_min_m(ps[i], i < precs.size() ? INT64_MAX : 0);
        const std::string kernel = pw[i].kernel(M);
        detail::set_lowp_dnnl_min_m(ps[i], old);
        std::printf("%-10s %5lld %-5s %9.4f %9.1f %7s  %s\n", s.what, static_cast<long long>(M),
                    precision_name(ps[i]), ms, flop / ms / 1e6, ratio, kernel.c_str());
      }
    }
  }
  return 0;
}
