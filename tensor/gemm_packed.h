// tern's own packed fp32 GEMM for the training shapes (tensor/gemm_packed_avx512.cpp): BLIS-style blocking
// with per-call packing of op(A) and op(B) into reused thread-local buffers and a 6 x 64 AVX-512 register
// tile. Any transposition of A and B: the packing absorbs it. tern::sgemm (tensor/gemm.cpp) routes the large
// GEMMs of a training step here where bench/gemm_bench measured it faster than oneDNN.
#pragma once
#include <cstdint>

namespace tern::detail {

// C (M, N) = alpha * op(A) op(B) + beta * C, row-major, BLAS conventions (beta == 0 overwrites C).
// nt: threads (1 = this thread only; > 1 opens an OpenMP region that splits the rows, or the columns
// when there are few rows). Needs AVX-512F (callers check detail::kernels_use_avx512()).
void sgemm_packed(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int nt);

// Blocking parameters (reduction block, column block); 0 keeps the current value. Returns the old ones
// through the pointers when non-null. For bench/gemm_bench's tuning only.
void set_sgemm_packed_blocking(int64_t kc, int64_t nc, int64_t* old_kc = nullptr, int64_t* old_nc = nullptr);

}  // namespace tern::detail
