// Internal: the two builds of the elementwise / normalisation kernels (kernels.cpp dispatches).
#pragma once
#include <cstdint>

#include "tensor/kernels.h"

namespace tern::detail {

// Whether the AVX-512 builds run (CPU support and TERN_ISA; kernels.cpp).
bool kernels_use_avx512();

#define TERN_KERNEL_SET                                                                                     \
  void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act act);                                \
  void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,  \
                  float eps, float* mean, float* rstd);                                                     \
  void add_bias_residual_layer_norm(float* x, const float* bias, const float* residual, const float* gamma, \
                                    const float* beta, float* out, int64_t R, int64_t C, float eps,         \
                                    float* mean, float* rstd);                                              \
  void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add);                                 \
  void attn_pv(const float* P, int64_t L, const float* V, int64_t ldv, int64_t D, float* out, int64_t ldo);

namespace base {
TERN_KERNEL_SET
}
namespace avx512 {
TERN_KERNEL_SET
// dx = dy * act'(x) for GeluErf / GeluTanh.
void act_backward(const float* x, const float* dy, float* dx, int64_t N, Act act);
// Dropout of x[i0:i1] (tensor/dropout_avx512.cpp): x[i] = (hash(base, i) >> 32) >= thr ? x[i] * scale : 0,
// base = DropoutMask::keep's per-(seed, stream) word, thr = ceil(p * 2^32).
void dropout_range(float* x, int64_t i0, int64_t i1, uint64_t base, uint64_t thr, float scale);
// C[:, n_lo:n_hi] = alpha * A B^T + beta * C over those columns, single thread (gemm_small_avx512.cpp).
//   A: (M, K) lda, B: (N, K) ldb, C: (M, N) ldc
void sgemm_nt_columns(int64_t M, int64_t n_lo, int64_t n_hi, int64_t K, float alpha, const float* A,
                      int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// scale * K^T (K: (L, D) stride ld, D % 16 == 0) packed for the fp32 6x64 kernel: (ceil(L/64), D, 64), the
// lanes from L to the next multiple of 16 zero (kernels_avx512.cpp; used by attention_packed).
void pack_kt(const float* k, int64_t ld, int64_t L, int64_t D, float scale, float* kt);
// One query's attention (attention_packed_first), D % 16 == 0:
//   s (L) = scale * K q   (q: (D); K: (L, D) stride ld; each key's products in 16 lanes, then a tree sum)
//   out (D) = sum_j p_j V_j   (V: (L, D) stride ld; in order of j)
void attn_first_scores(const float* q, const float* k, int64_t ld, int64_t L, int64_t D, float scale,
                       float* s);
void attn_first_pv(const float* p, const float* v, int64_t ld, int64_t L, int64_t D, float* out);
}  // namespace avx512
#undef TERN_KERNEL_SET

}  // namespace tern::detail
