// Single-precision GEMM, row-major:  C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C.
// op(A) = A (M, K) with leading dimension lda, or A^T where A is stored (K, M); likewise B.
// Backends: oneDNN's JIT sgemm (default: AVX-512 whatever OPENBLAS_CORETYPE says), OpenBLAS cblas_sgemm,
// or the reference loop. TERN_GEMM=dnnl|openblas|ref in the environment overrides the choice.
#pragma once
#include <cstdint>
#include <string>

namespace tern {

enum class GemmBackend : uint8_t { Dnnl, OpenBlas, Reference };

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Batched: for i < batch, the same GEMM at A + i*stride_a, B + i*stride_b, C + i*stride_c.
// Runs the batch in parallel (one thread per GEMM) when the GEMMs are small.
void sgemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                   float* C, int64_t ldc, int64_t stride_c, int64_t batch);

struct WeightRef;  // tensor/weight.h

// The inference path's weight GEMM (a Linear layer):  y (M, w.rows) = x (M, w.cols) W^T + beta * y,
// W as stored in `w` (torch.nn.Linear layout). x: (M, w.cols) with leading dimension ldx; y: (M, w.rows)
// with leading dimension ldy. Dispatches on w.type: float32 is sgemm(false, true, ...) (the same bits);
// bfloat16 and int8 are not implemented yet and fail naming the type.
void gemm_weight(int64_t M, const float* x, int64_t ldx, const WeightRef& w, float beta, float* y, int64_t ldy);

GemmBackend gemm_backend();
void set_gemm_backend(GemmBackend b);
// Human-readable description of the GEMM path that runs, e.g. "oneDNN 2.6.3 sgemm (JIT, cpu isa
// avx512_core)".
std::string gemm_description();

}  // namespace tern
