#include "tensor/gemm.h"

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "tensor/check.h"
#include "tensor/kernels_ref.h"

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

}  // namespace

GemmBackend gemm_backend() { return backend_slot().load(); }
void set_gemm_backend(GemmBackend b) { backend_slot() = b; }

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
      dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      TERN_CHECK(st == dnnl_success, "oneDNN sgemm failed with status " << static_cast<int>(st));
      return;
    }
    case GemmBackend::OpenBlas:
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                  lda, B, ldb, beta, C, ldc);
      return;
    case GemmBackend::Reference:
      ref::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
  }
}

void sgemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                   int64_t ldc, int64_t stride_c, int64_t batch) {
  check_args(ta, tb, M, N, K, lda, ldb, ldc);
  // Big GEMMs use the library's own threads; a batch of small ones runs one GEMM per thread
  // (inside the parallel region oneDNN / OpenBLAS see one thread).
  const double flops = 2.0 * M * N * K;
  if (flops > 4e6 || batch == 1) {
    for (int64_t i = 0; i < batch; ++i)
      sgemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < batch; ++i)
    sgemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c, ldc);
}

std::string gemm_description() {
  switch (gemm_backend()) {
    case GemmBackend::Dnnl: {
      const dnnl_version_t* v = dnnl_version();
      const char* isa = "?";
      switch (dnnl_get_effective_cpu_isa()) {
        case dnnl_cpu_isa_avx512_core: isa = "avx512_core"; break;
        case dnnl_cpu_isa_avx512_core_vnni: isa = "avx512_core_vnni"; break;
        case dnnl_cpu_isa_avx512_core_bf16: isa = "avx512_core_bf16"; break;
        case dnnl_cpu_isa_avx512_core_amx: isa = "avx512_core_amx"; break;
        case dnnl_cpu_isa_avx2: isa = "avx2"; break;
        case dnnl_cpu_isa_avx2_vnni: isa = "avx2_vnni"; break;
        case dnnl_cpu_isa_avx: isa = "avx"; break;
        case dnnl_cpu_isa_sse41: isa = "sse41"; break;
        default: isa = "other"; break;
      }
      return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
             " sgemm (JIT, cpu isa " + isa + ")";
    }
    case GemmBackend::OpenBlas: {
      const char* core = openblas_get_corename();
      return std::string("OpenBLAS cblas_sgemm (core ") + (core ? core : "?") + ")";
    }
    case GemmBackend::Reference: return "reference triple loop";
  }
  return "?";
}

}  // namespace tern
