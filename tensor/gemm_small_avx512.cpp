// AVX-512 GEMM for few rows against a transposed weight: C = alpha * A B^T + beta * C, the shape of every
// Linear layer at small batch (a single tweet of 16 tokens gives M = 16). Library GEMMs pack B (the
// weight, K x N) into panels on every call; at M <= ~32 that repacking costs as much as the arithmetic
// (measured: oneDNN reaches ~33 GFLOP/s at M = 16 on one core). This kernel streams B in its stored
// layout instead: each 4 x 4 block of C is 16 dot products over K, 16 lanes at a time.
//
// Compiled alone with -mavx512f -mavx512dq -mfma; gemm.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include <cstdint>

#include "tensor/kernels_impl.h"

namespace tern::detail::avx512 {

namespace {

// The sums of 4 vectors' lanes as one 4-float vector: [sum(a), sum(b), sum(c), sum(d)].
inline __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  // 512 -> 256: add the two halves of each.
  const __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  const __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
  const __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
  const __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
  // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7]; twice more gives per 128-bit
  // lane [a, b, c, d] partial sums of that lane; the two lanes are then added.
  const __m256 ab = _mm256_hadd_ps(a8, b8), cd = _mm256_hadd_ps(c8, d8);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// One MR x NR block of C (MR, NR <= 4): rows m0.. of A (M, K) with rows n0.. of B (N, K).
template <int MR, int NR>
inline void block(int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                  float beta, float* C, int64_t ldc) {
  __m512 acc[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 b[NR];
    for (int j = 0; j < NR; ++j) b[j] = _mm512_loadu_ps(B + j * ldb + k);
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_loadu_ps(A + i * lda + k);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  if (k < K) {  // tail: masked loads read zeros past K
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 b[NR];
    for (int j = 0; j < NR; ++j) b[j] = _mm512_maskz_loadu_ps(m, B + j * ldb + k);
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_maskz_loadu_ps(m, A + i * lda + k);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    alignas(16) float s[4];
    _mm_store_ps(s, sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    float* c = C + i * ldc;
    for (int j = 0; j < NR; ++j) c[j] = beta == 0.f ? alpha * s[j] : alpha * s[j] + beta * c[j];
  }
}

template <int NR>
inline void column_block(int64_t M, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float beta, float* C, int64_t ldc) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) block<4, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
  switch (M - m) {
    case 3:
      block<3, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
      break;
    case 2:
      block<2, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
      break;
    case 1:
      block<1, NR>(K, alpha, A + m * lda, lda, B, ldb, beta, C + m * ldc, ldc);
      break;
    default:
      break;
  }
}

}  // namespace

void sgemm_nt_columns(int64_t M, int64_t n_lo, int64_t n_hi, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Columns n of C in blocks of 4 (4 rows of B stay in L1 while every row of A passes them).
  int64_t n = n_lo;
  for (; n + 4 <= n_hi; n += 4) column_block<4>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc);
  switch (n_hi - n) {
    case 3:
      column_block<3>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc);
      break;
    case 2:
      column_block<2>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc);
      break;
    case 1:
      column_block<1>(M, K, alpha, A, lda, B + n * ldb, ldb, beta, C + n, ldc);
      break;
    default:
      break;
  }
}

}  // namespace tern::detail::avx512
