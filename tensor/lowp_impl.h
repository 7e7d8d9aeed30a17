// Internal: the bf16 / int8 GEMM kernels behind PackedWeight (tensor/packed_weight.cpp) and the arithmetic
// they share with the reference twin, so that both quantise identically.
//
// Packed weight layouts (output channels in groups of 64, padded with zeros to Np = round_up(N, 64); the
// reduction padded with zeros to Kp). Each reduction step of a group is 256 contiguous bytes = 4 operands of
// 16 channels, so the micro-kernel (6 rows x 64 channels) reads one stream:
//   bf16: (Np/64, Kp/2, 64, 2) uint16, Kp = round_up(K, 2): 16-channel block j at bytes 64 j of a step
//   int8: (Np/64, Kp/4, 64, 4) int8,   Kp = round_up(K, 4)
//   fp32: (Np/64, K, 64) float, Kp = K
// (measured against (Np/16, Kp/4, 16, 4), four streams 16 Kp apart: no difference beyond the noise).
// Activations are converted per call into a row-major buffer with rows padded to Kp (pad value irrelevant:
// the padded weights are zero).
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/kernels.h"

namespace tern::detail::lowp {

// Per-row asymmetric u8 parameters from the row's min and max (see tensor/packed_weight.h).
struct RowQuant {
  float scale, inv;
  int32_t zp;
};
inline RowQuant row_quant(float mn, float mx) {
  const float lo = std::fmin(mn, 0.f), hi = std::fmax(mx, 0.f);
  float s = (hi - lo) / 255.f;
  if (!(s > 0.f) || !std::isfinite(s)) s = 1.f;  // an all-zero row (or non-finite values: garbage in)
  const float inv = 1.f / s;
  float z = std::nearbyint(-lo * inv);
  z = std::fmin(std::fmax(z, 0.f), 255.f);
  return RowQuant{s, inv, static_cast<int32_t>(z)};
}
// q = clamp(round(x * inv + zp), 0, 255): x * inv + zp with one rounding (fma), then to the nearest integer
// (even on ties), as the AVX-512 kernel's vfmadd + vcvtps2dq.
inline uint8_t quant_u8(float x, const RowQuant& r) {
  float v = std::nearbyint(std::fma(x, r.inv, static_cast<float>(r.zp)));
  v = std::fmin(std::fmax(v, 0.f), 255.f);
  return static_cast<uint8_t>(v);
}

// Arguments of one call of the int8 kernel over a range of rows and 16-column blocks.
struct I8Args {
  int64_t Kp;             // padded reduction (multiple of 4)
  int64_t N;              // real output columns (<= Np)
  const uint8_t* xq;      // (M, Kp) ld Kp
  const float* xs;        // (M) row scales
  const int32_t* xzp;     // (M) row zero points
  const int8_t* w;        // packed (Np/64, Kp/4, 64, 4)
  const int32_t* colsum;  // (Np) sum_k q_w
  const float* ws;        // (Np) channel scales (0 in the padding)
  const float* bias;      // (N) or null
  float beta;
  float* y;  // (M, N) ld ldy
  int64_t ldy;
  Act act = Act::Identity;  // applied in the store after the bias (beta == 0 then); not Mish. GeluErf
                            // uses gelu_erf16_lowp (tensor/simd_math_avx512.h): an int8 GEMM reads it next
};
struct Bf16Args {
  int64_t Kp;  // padded reduction (multiple of 2)
  int64_t N;
  const uint16_t* xb;  // (M, Kp) ld Kp
  const uint16_t* w;   // packed (Np/64, Kp/2, 64, 2)
  const float* bias;
  float beta;
  float* y;
  int64_t ldy;
  Act act = Act::Identity;
  bool exact_act = false;  // GeluErf: false = gelu_erf16_lowp (bf16 / int8 inputs follow), true = gelu_erf16
};

struct F32Args {
  int64_t K;  // reduction (no padding)
  int64_t N;
  const float* x;  // (M, K) ld ldx: the caller's activations
  int64_t ldx;
  const float* w;  // packed (Np/64, K, 64)
  const float* bias;
  float beta;
  float* y;
  int64_t ldy;
  Act act = Act::Identity;
  bool exact_act = false;  // GeluErf: false = gelu_erf16_lowp (bf16 / int8 inputs follow), true = gelu_erf16
};

// bf16 attention of one (sequence, head) (attention_packed with bf16 = true, tensor/kernels.cpp): the two
// products on vdpbf16ps through gemm_bf16, with K and V packed as its "weights":
//   attn_scores_bf16: S (L, L) = bf16(Q) bf16(scale K)^T, fp32 sums;
//   (the caller's fp32 softmax on S, in place)
//   attn_pv_bf16:     out (L, D) = bf16(P) bf16(V), fp32 sums.
// Q, K, V: rows of stride ld_in; D a multiple of 32; buf: attn_bf16_buf(L, D) uint16 (the bf16 copies).
inline int64_t attn_bf16_part(int64_t n) {
  return (n + 31) / 32 * 32;  // uint16 -> whole 64-byte lines
}
inline int64_t attn_bf16_buf(int64_t L, int64_t D) {
  const int64_t Lp = L + (L & 1), Lg = (L + 63) / 64 * 64, Dg = (D + 63) / 64 * 64;
  return attn_bf16_part(L * D) + attn_bf16_part(Lg * D) + attn_bf16_part(L * Lp) + attn_bf16_part(Lp * Dg);
}

namespace avx512 {
void attn_scores_bf16(const float* q, const float* k, int64_t ld_in, int64_t L, int64_t D, float scale,
                      float* S, uint16_t* buf);
void attn_pv_bf16(const float* P, int64_t L, const float* v, int64_t ld_in, int64_t D, float* out,
                  int64_t ld_out, uint16_t* buf);
// Symmetric per-output-channel int8 of w (rows, cols) ld: q (rows, cols) row-major, scales (rows); the bits
// of ref::quantize_weight_i8. Returns the first output channel with a non-finite value (nothing written for
// it or after it), or -1.
int64_t quantize_weight_i8(const float* w, int64_t rows, int64_t cols, int64_t ld, int8_t* q, float* scales);
// Quantise rows [m0, m1) of x (M, K) ld ldx into xq (ld Kp, padding zero), xs, xzp (asymmetric u8 per row).
void quantize_rows_u8(const float* x, int64_t ldx, int64_t K, int64_t Kp, int64_t m0, int64_t m1, uint8_t* xq,
                      float* xs, int32_t* xzp);
// Rows [m0, m1) of x (M, K) ld ldx to bf16 (nearest even) in xb (ld Kp, padding zero).
void rows_to_bf16(const float* x, int64_t ldx, int64_t K, int64_t Kp, int64_t m0, int64_t m1, uint16_t* xb);
// y[m0:m1, 16*b0 : min(N, 16*b1)] for 16-column blocks [b0, b1).
void gemm_i8(const I8Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1);
void gemm_bf16(const Bf16Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1);
void gemm_f32(const F32Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1);
// The kernels' store: y[m0:m1, c0:c1] from raw sums acc (row m at acc + (m - m0) * lda, column c at + c - c0)
// with dequantisation (int8), bias and beta (c0 a multiple of 16; used for oneDNN's raw sums too).
void epilogue_i8(const I8Args& a, const int32_t* acc, int64_t lda, int64_t m0, int64_t m1, int64_t c0,
                 int64_t c1);
void epilogue_bf16(const Bf16Args& a, const float* acc, int64_t lda, int64_t m0, int64_t m1, int64_t c0,
                   int64_t c1);
}  // namespace avx512

}  // namespace tern::detail::lowp
