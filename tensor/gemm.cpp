#include "tensor/gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "tensor/blas_libs.h"
#include "tensor/check.h"
#include "tensor/gemm_packed.h"
#include "tensor/kernels_impl.h"
#include "tensor/kernels_ref.h"
#include "tensor/weight.h"

namespace tern {

namespace {

GemmBackend initial_backend() {
  const char* e = std::getenv("TERN_GEMM");
  if (!e || !*e || !std::strcmp(e, "dnnl")) return GemmBackend::Dnnl;
  if (!std::strcmp(e, "openblas")) return GemmBackend::OpenBlas;
  if (!std::strcmp(e, "ref")) return GemmBackend::Reference;
  TERN_FAIL("TERN_GEMM='" << e << "': expected dnnl, openblas or ref");
}

std::atomic<GemmBackend>& backend_slot() {
  static std::atomic<GemmBackend> b{initial_backend()};
  return b;
}

void check_args(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  TERN_CHECK(M >= 0 && N >= 0 && K >= 0, "sgemm with negative size M=" << M << " N=" << N << " K=" << K);
  TERN_CHECK(lda >= std::max<int64_t>(1, ta ? M : K), "sgemm lda=" << lda << " too small");
  TERN_CHECK(ldb >= std::max<int64_t>(1, tb ? K : N), "sgemm ldb=" << ldb << " too small");
  TERN_CHECK(ldc >= std::max<int64_t>(1, N), "sgemm ldc=" << ldc << " too small");
}

// Up to this many rows, A B^T (every Linear layer's shape) goes to the AVX-512 kernel that streams B in
// its stored layout (gemm_small_avx512.cpp) instead of oneDNN's packing GEMM; up to 4x as many when the
// reduction is at least twice the output width (the FFN's second Linear, K = 4N), where oneDNN stays slow
// longer. Measured with bench/gemm_bench on the Zen 5 machine, 2 threads (docs/results.md): the kernel is
// 1.1-7.9x faster than oneDNN for M in 4..64 on every BERT-base / mini weight shape and 1.1-1.7x for the
// FFN's second Linear up to M = 256; oneDNN is faster beyond.
std::atomic<int64_t>& small_m_limit() {
  static std::atomic<int64_t> v{64};
  return v;
}

// tern's packed GEMM (gemm_packed_avx512.cpp) instead of oneDNN: 0 never, 1 for the training shapes
// (use_packed below), 2 always (bench/gemm_bench compares the two). Default 0: on a quiet machine the
// training step measured the same with either (bench/train_bench, 2 threads, docs/results.md: base 32x32
// 2791 vs 2817 ms, 32x64 5627 vs 5321, mini 128 vs 124, 243 vs 236 packed vs oneDNN).
// TERN_GEMM_PACKED=0|1|2 in the environment sets it (A/B runs of bench/train_bench).
int initial_packed_mode() {
  const char* e = std::getenv("TERN_GEMM_PACKED");
  if (!e || !*e) return 0;
  TERN_CHECK((e[0] == '0' || e[0] == '1' || e[0] == '2') && !e[1],
             "TERN_GEMM_PACKED='" << e << "': expected 0, 1 or 2");
  return e[0] - '0';
}

std::atomic<int>& packed_mode() {
  static std::atomic<int> v{initial_packed_mode()};
  return v;
}

}  // namespace

namespace detail {
int64_t set_gemm_small_m_limit(int64_t m) {
  return small_m_limit().exchange(m);
}
int set_gemm_packed_mode(int mode) {
  return packed_mode().exchange(mode);
}

// C = alpha * A B^T + beta * C with the columns split between the threads (serial inside a parallel
// region or when the product is tiny).                A: (M, K), B: (N, K), C: (M, N)
void sgemm_nt_small(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float beta, float* C, int64_t ldc) {
  const double flops = 2.0 * M * N * K;
  const int nt = (omp_in_parallel() || flops < 4e5) ? 1 : omp_get_max_threads();
  if (nt == 1) {
    avx512::sgemm_nt_columns(M, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    // Contiguous column ranges in multiples of 4 (the kernel's block width).
    const int64_t t = omp_get_thread_num(), n = omp_get_num_threads(), blocks = (N + 3) / 4;
    const int64_t lo = std::min(N, blocks * t / n * 4), hi = std::min(N, blocks * (t + 1) / n * 4);
    if (lo < hi) avx512::sgemm_nt_columns(M, lo, hi, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}
}  // namespace detail

namespace {
bool use_small_m(bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  if (ta || !tb || K < 16) return false;
  const int64_t limit = small_m_limit().load(std::memory_order_relaxed);
  return (M <= limit || (K >= 2 * N && M <= 4 * limit)) && detail::kernels_use_avx512();
}

// With TERN_GEMM_PACKED=1 the training step's GEMMs (M, N, K all >= 128: B*T tokens x hidden / intermediate
// sizes) go to the packed kernel in every transposition (bench/gemm_bench's training table).
bool use_packed(int64_t M, int64_t N, int64_t K) {
  const int mode = packed_mode().load(std::memory_order_relaxed);
  if (mode == 0 || !detail::kernels_use_avx512()) return false;
  return mode == 2 || (M >= 128 && N >= 128 && K >= 128);
}
}  // namespace

GemmBackend gemm_backend() {
  return backend_slot().load();
}
void set_gemm_backend(GemmBackend b) {
  backend_slot() = b;
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check_args(ta, tb, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    // C = beta * C (BLAS semantics: beta == 0 overwrites, even NaN).
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  switch (gemm_backend()) {
    case GemmBackend::Dnnl: {
      if (use_small_m(ta, tb, M, N, K)) {
        detail::sgemm_nt_small(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
      }
      if (use_packed(M, N, K)) {
        detail::sgemm_packed(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, omp_get_max_threads());
        return;
      }
      dnnl_status_t st = detail::dnnl_api().sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                                  ldb, beta, C, ldc);
      TERN_CHECK(st == dnnl_success, "oneDNN sgemm failed with status " << static_cast<int>(st));
      return;
    }
    case GemmBackend::OpenBlas:
      detail::openblas_api().sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                                   tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                                   ldc);
      return;
    case GemmBackend::Reference:
      ref::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
  }
}

const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::F32:
      return "float32";
    case WeightType::BF16:
      return "bfloat16";
    case WeightType::I8:
      return "int8";
  }
  return "unknown";
}

void gemm_weight(int64_t M, const float* x, int64_t ldx, const WeightRef& w, float beta, float* y,
                 int64_t ldy) {
  TERN_CHECK(w.data != nullptr, "gemm_weight: the weight (" << w.rows << ", " << w.cols << ") has no data");
  TERN_CHECK(w.ld >= w.cols,
             "gemm_weight: weight leading dimension " << w.ld << " < its " << w.cols << " columns");
  switch (w.type) {
    case WeightType::F32:
      TERN_CHECK(w.scales == nullptr, "gemm_weight: float32 weights take no scales");
      sgemm(false, true, M, w.rows, w.cols, 1.f, x, ldx, static_cast<const float*>(w.data), w.ld, beta, y,
            ldy);
      return;
    case WeightType::BF16:
    case WeightType::I8:
      break;
  }
  TERN_FAIL("gemm_weight: " << weight_type_name(w.type) << " weights (" << w.rows << ", " << w.cols
                            << ") are not implemented yet: only float32 weights can be multiplied");
}

void sgemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                   float* C, int64_t ldc, int64_t stride_c, int64_t batch) {
  check_args(ta, tb, M, N, K, lda, ldb, ldc);
  // Big GEMMs use the library's own threads; a batch of small ones runs one GEMM per thread
  // (inside the parallel region oneDNN / OpenBLAS see one thread).
  const double flops = 2.0 * M * N * K;
  if (flops > 4e6 || batch == 1) {
    for (int64_t i = 0; i < batch; ++i)
      sgemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c,
            ldc);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < batch; ++i)
    sgemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
}

std::string gemm_description() {
  switch (gemm_backend()) {
    case GemmBackend::Dnnl: {
      const detail::DnnlApi& dnnl = detail::dnnl_api();
      const dnnl_version_t* v = dnnl.version();
      const char* isa = "?";
      switch (dnnl.get_effective_cpu_isa()) {
        case dnnl_cpu_isa_avx512_core:
          isa = "avx512_core";
          break;
        case dnnl_cpu_isa_avx512_core_vnni:
          isa = "avx512_core_vnni";
          break;
        case dnnl_cpu_isa_avx512_core_bf16:
          isa = "avx512_core_bf16";
          break;
        case dnnl_cpu_isa_avx512_core_amx:
          isa = "avx512_core_amx";
          break;
        case dnnl_cpu_isa_avx2:
          isa = "avx2";
          break;
        case dnnl_cpu_isa_avx2_vnni:
          isa = "avx2_vnni";
          break;
        case dnnl_cpu_isa_avx:
          isa = "avx";
          break;
        case dnnl_cpu_isa_sse41:
          isa = "sse41";
          break;
        default:
          isa = "other";
          break;
      }
      std::string d = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                      std::to_string(v->patch) + " sgemm (JIT, cpu isa " + isa + ")";
      if (detail::kernels_use_avx512() && small_m_limit().load() > 0)
        d += " + tern AVX-512 A*B^T for M <= " + std::to_string(small_m_limit().load()) + " (" +
             std::to_string(4 * small_m_limit().load()) + " when K >= 2N)";
      if (detail::kernels_use_avx512() && packed_mode().load() > 0)
        d += packed_mode().load() == 2 ? " + tern packed AVX-512 GEMM for every size"
                                       : " + tern packed AVX-512 GEMM for M, N, K >= 128";
      return d;
    }
    case GemmBackend::OpenBlas: {
      const char* core = detail::openblas_api().get_corename();
      return std::string("OpenBLAS cblas_sgemm (core ") + (core ? core : "?") + ")";
    }
    case GemmBackend::Reference:
      return "reference triple loop";
  }
  return "?";
}

}  // namespace tern
