// Internal (include only from files compiled with -mavx512f -mavx512dq -mfma): float transcendentals in 16
// lanes shared by the elementwise kernels (kernels_avx512.cpp) and the GEMM epilogues (lowp_avx512.cpp).
//   exp(x)  = 2^n * p(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite split ln 2), p = Taylor to r^7
//             (|r| <= 0.35: truncation < 1e-8 relative); 2^n applied with vscalefps (handles underflow).
//   erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: the Chebyshev fit of Numerical Recipes
//             (2nd ed., 6.2 "erfcc"), fractional error < 1.2e-7 everywhere, so GELU keeps relative
//             accuracy also for large negative x where 1 + erf(x) cancels.
//   tanh(u) = 1 - 2 / (exp(2u) + 1).
#pragma once
#include <immintrin.h>

#include "tensor/kernels.h"

namespace tern::detail::avx512_math {

inline __m512 exp16(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-104.0f), hi = _mm512_set1_ps(88.7228f);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

// erfc(z) for z >= 0.
inline __m512 erfc16_pos(__m512 z) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), one));
  __m512 p = _mm512_set1_ps(0.17087277f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.82215223f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.48851587f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.13520398f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.27886807f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.18628806f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.09678418f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.37409196f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.00002368f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.26551223f));
  p = _mm512_fnmadd_ps(z, z, p);  // -z^2 + P(t)
  return _mm512_mul_ps(t, exp16(p));
}

inline __m512 tanh16(__m512 u) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 e = exp16(_mm512_add_ps(u, u));
  return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.f), _mm512_add_ps(e, one)));
}

inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// GELU(x) = 0.5 x erfc(-x / sqrt 2): for x < 0 that is 0.5 x erfc(|x|/sqrt2); for x >= 0, x - 0.5 x
// erfc(x/sqrt2).
inline __m512 gelu_erf16(__m512 x) {
  const __m512 half_x = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  const __m512 hxe = _mm512_mul_ps(half_x, erfc16_pos(z));
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(neg, _mm512_sub_ps(x, hxe), hxe);
}

// GELU (erf form) for the activations that feed a bf16 / int8 GEMM, whose input rounding (bf16: 2^-9
// relative; u8: (max - min) / 255 per row) is far coarser than this formula's error:
//   GELU(x) = 0.5 (x + |x| erf(|x| / sqrt2)),  erf(a / sqrt2) ~= a P(a^2) / Q(a^2) on 0 <= a <= 3.9 sqrt2
//   (a clamped there, result clamped to 1), P degree 4, Q degree 3: the fit of erf(z) = z P0(z^2) / Q0(z^2)
//   by tern (iteratively reweighted least squares, docs/scripts/fit_gelu_lowp.py) with z = a / sqrt2 folded
//   into the coefficients; 1 / Q by vrcp14ps alone (relative error <= 2^-14). |GELU error| <= 6e-6 (the
//   fit) + 3.1e-5 |x| (the reciprocal): 16 operations, no divide, no exp.
inline __m512 gelu_erf16_lowp(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 a = _mm512_min_ps(ax, _mm512_set1_ps(5.51543283f));
  const __m512 u = _mm512_mul_ps(a, a);
  __m512 p = _mm512_set1_ps(-2.13629889e-07f);
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(9.82894053e-05f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.00843804982f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.0572561473f));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(0.797894955f));
  __m512 q = _mm512_set1_ps(0.00141185976f);
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.0252064336f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(0.23851119f));
  q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(1.f));
  const __m512 e = _mm512_min_ps(_mm512_mul_ps(_mm512_mul_ps(a, p), _mm512_rcp14_ps(q)), _mm512_set1_ps(1.f));
  return _mm512_mul_ps(_mm512_fmadd_ps(ax, e, x), _mm512_set1_ps(0.5f));
}

// Transposes 16 rows x 16 32-bit words (r[i] = row i; clobbered) in registers and stores column c (word c
// of every row, 16 words) at dst + c * ld. Shuffles only: the bit patterns pass unchanged.
inline void transpose16_store(__m512 r[16], float* dst, int64_t ld) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {  // per 128-bit lane: [a0 b0 a1 b1], [a2 b2 a3 b3]
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + c], lane l: rows 4i..4i+3 of column 4l + c
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {  // column 4l + c = lane l of r[c], r[4 + c], r[8 + c], r[12 + c]
    const __m512 x = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88),
                 y = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
    const __m512 x2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88),
                 y2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    _mm512_storeu_ps(dst + c * ld, _mm512_shuffle_f32x4(x, x2, 0x88));
    _mm512_storeu_ps(dst + (4 + c) * ld, _mm512_shuffle_f32x4(y, y2, 0x88));
    _mm512_storeu_ps(dst + (8 + c) * ld, _mm512_shuffle_f32x4(x, x2, 0xDD));
    _mm512_storeu_ps(dst + (12 + c) * ld, _mm512_shuffle_f32x4(y, y2, 0xDD));
  }
}

inline __m512 gelu_tanh16(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 u =
      _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.f), tanh16(u)));
}

inline __m512 apply(__m512 x, Act a) {
  switch (a) {
    case Act::Identity:
      return x;
    case Act::GeluErf:
      return gelu_erf16(x);
    case Act::GeluTanh:
      return gelu_tanh16(x);
    case Act::QuickGelu:
      return _mm512_mul_ps(x, sigmoid16(_mm512_mul_ps(x, _mm512_set1_ps(1.702f))));
    case Act::Relu:
      return _mm512_max_ps(x, _mm512_setzero_ps());
    case Act::Silu:
      return _mm512_mul_ps(x, sigmoid16(x));
    case Act::Tanh:
      return tanh16(x);
    case Act::Sigmoid:
      return sigmoid16(x);
    case Act::Mish:
      break;  // handled by the scalar path
  }
  return x;
}

}  // namespace tern::detail::avx512_math
