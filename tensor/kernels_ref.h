// Plain reference twins of tensor/kernels.h and gemm.h: obvious loops, double accumulation where cheap.
// Tests compare the fast kernels against these.
#pragma once
#include <cstdint>

#include "tensor/kernels.h"

namespace tern::ref {

float act(float x, Act a);  // scalar activation with std:: functions
void add_bias(float* x, const float* bias, int64_t R, int64_t C);
void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act act);
void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,
                float eps);
void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add);
void attention(const float* q, const float* k, const float* v, int64_t ld_in, const float* mask_add,
               int64_t B, int64_t T, int64_t H, int64_t D, float scale, float* out, int64_t ld_out);
// attention_packed(..., bf16 = true)'s twin: Q, scale * K, P and V rounded to bf16 (nearest even), the
// products summed in double, softmax in fp32.
void attention_packed_bf16(const float* q, const float* k, const float* v, int64_t ld_in,
                           const int64_t* offsets, int64_t B, int64_t H, int64_t D, float scale, float* out,
                           int64_t ld_out);
void embedding_gather(const int64_t* ids, int64_t N, const float* table, int64_t V, int64_t C, float* out);
void embedding_gather_f16(const int64_t* ids, int64_t N, const uint16_t* table, int64_t V, int64_t C,
                          float* out);
// C = alpha * op(A) op(B) + beta * C, row-major; op(A): (M, K), op(B): (K, N).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace tern::ref
