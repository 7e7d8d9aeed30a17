// AVX-512 builds of the elementwise / normalisation kernels. This file alone is compiled with
// -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma; kernels.cpp calls it only when the CPU has them.
//
// Transcendentals: tensor/simd_math_avx512.h.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/kernels_impl.h"
#include "tensor/kernels_ref.h"
#include "tensor/simd_math_avx512.h"

namespace tern::detail::avx512 {

namespace {

using namespace detail::avx512_math;

inline __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? 0xffff : static_cast<__mmask16>((1u << n) - 1);
}

inline float hsum(__m512 v) {
  return _mm512_reduce_add_ps(v);
}

}  // namespace

void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act a) {
  if (a == Act::Mish) {
    for (int64_t i = 0; i < R * C; ++i) x[i] = ref::act(x[i] + (bias ? bias[i % C] : 0.f), a);
    return;
  }
#pragma omp parallel for schedule(static) if (R * C > 32768)
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    int64_t c = 0;
    if (a == Act::GeluErf) {
      // Four independent vectors per step: GELU is a long dependency chain (reciprocal, polynomial, exp),
      // and interleaving four of them keeps both FMA pipes busy.
      for (; c + 64 <= C; c += 64) {
        __m512 v0 = _mm512_loadu_ps(xr + c), v1 = _mm512_loadu_ps(xr + c + 16),
               v2 = _mm512_loadu_ps(xr + c + 32), v3 = _mm512_loadu_ps(xr + c + 48);
        if (bias) {
          v0 = _mm512_add_ps(v0, _mm512_loadu_ps(bias + c));
          v1 = _mm512_add_ps(v1, _mm512_loadu_ps(bias + c + 16));
          v2 = _mm512_add_ps(v2, _mm512_loadu_ps(bias + c + 32));
          v3 = _mm512_add_ps(v3, _mm512_loadu_ps(bias + c + 48));
        }
        v0 = gelu_erf16(v0), v1 = gelu_erf16(v1), v2 = gelu_erf16(v2), v3 = gelu_erf16(v3);
        _mm512_storeu_ps(xr + c, v0), _mm512_storeu_ps(xr + c + 16, v1);
        _mm512_storeu_ps(xr + c + 32, v2), _mm512_storeu_ps(xr + c + 48, v3);
      }
    }
    for (; c < C; c += 16) {
      const __mmask16 m = tail_mask(C - c);
      __m512 v = _mm512_maskz_loadu_ps(m, xr + c);
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + c));
      _mm512_mask_storeu_ps(xr + c, m, apply(v, a));
    }
  }
}

// One row of LayerNorm: two passes (mean, then centred variance) in 16 float lanes.
// LayerNorm of one row whose 16-lane sum (vectors added in order of c) is `sum16`.
static inline void ln_row_sum(const float* xr, __m512 sum16, const float* gamma, const float* beta,
                              float* orow, int64_t C, float eps, float* mean_out, float* rstd_out) {
  const float mean = hsum(sum16) / static_cast<float>(C);
  const __m512 vm = _mm512_set1_ps(mean);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t c = 0; c < C; c += 16) {
    const __mmask16 m = tail_mask(C - c);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + c), vm);
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  const float var = hsum(acc) / static_cast<float>(C);
  const float rstd = 1.f / std::sqrt(var + eps);
  const __m512 vr = _mm512_set1_ps(rstd);
  for (int64_t c = 0; c < C; c += 16) {
    const __mmask16 m = tail_mask(C - c);
    const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + c), vm), vr);
    const __m512 y =
        _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, gamma + c), _mm512_maskz_loadu_ps(m, beta + c));
    _mm512_mask_storeu_ps(orow + c, m, y);
  }
  if (mean_out) *mean_out = mean;
  if (rstd_out) *rstd_out = rstd;
}

static inline void ln_row(const float* xr, const float* gamma, const float* beta, float* orow, int64_t C,
                          float eps, float* mean_out, float* rstd_out) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t c = 0; c < C; c += 16)
    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail_mask(C - c), xr + c));
  ln_row_sum(xr, acc, gamma, beta, orow, C, eps, mean_out, rstd_out);
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,
                float eps, float* mean, float* rstd) {
#pragma omp parallel for schedule(static) if (R * C > 32768)
  for (int64_t r = 0; r < R; ++r)
    ln_row(x + r * C, gamma, beta, out + r * C, C, eps, mean ? mean + r : nullptr, rstd ? rstd + r : nullptr);
}

void add_bias_residual_layer_norm(float* x, const float* bias, const float* residual, const float* gamma,
                                  const float* beta, float* out, int64_t R, int64_t C, float eps, float* mean,
                                  float* rstd) {
#pragma omp parallel for schedule(static) if (R * C > 32768)
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    const float* rr = residual + r * C;
    // x + bias + residual in place, summed on the way (ln_row's order: the same bits, one pass less)
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 m = tail_mask(C - c);
      __m512 v = _mm512_maskz_loadu_ps(m, xr + c);
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + c));
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, rr + c));
      _mm512_mask_storeu_ps(xr + c, m, v);
      acc = _mm512_add_ps(acc, v);
    }
    ln_row_sum(xr, acc, gamma, beta, out + r * C, C, eps, mean ? mean + r : nullptr,
               rstd ? rstd + r : nullptr);
  }
}

void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add) {
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 m = tail_mask(C - c);
      __m512 v = _mm512_maskz_loadu_ps(m, xr + c);
      if (mask_add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask_add + c));
      _mm512_mask_storeu_ps(xr + c, m, v);
      vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 m = tail_mask(C - c);
      const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + c), mx)));
      _mm512_mask_storeu_ps(xr + c, m, e);
      acc = _mm512_add_ps(acc, e);
    }
    const __m512 inv = _mm512_set1_ps(1.f / hsum(acc));
    for (int64_t c = 0; c < C; c += 16) {
      const __mmask16 m = tail_mask(C - c);
      _mm512_mask_storeu_ps(xr + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + c), inv));
    }
  }
}

// out (L, D) = P (L, L) V (L, D), D <= 128 held in up to 8 accumulators per row: for each j, broadcast
// P[i, j] and FMA it with row j of V. Larger D in chunks of 128 columns.
void attn_pv(const float* P, int64_t L, const float* V, int64_t ldv, int64_t D, float* out, int64_t ldo) {
  if (D == 64) {
    // The head size of BERT-base and -mini: four accumulators in registers, two rows at a time.
    int64_t i = 0;
    for (; i + 2 <= L; i += 2) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      const float* pi = P + i * L;
      for (int64_t j = 0; j < L; ++j) {
        const float* vj = V + j * ldv;
        const __m512 v0 = _mm512_loadu_ps(vj), v1 = _mm512_loadu_ps(vj + 16), v2 = _mm512_loadu_ps(vj + 32),
                     v3 = _mm512_loadu_ps(vj + 48);
        const __m512 p = _mm512_set1_ps(pi[j]), q = _mm512_set1_ps(pi[L + j]);
        a0 = _mm512_fmadd_ps(p, v0, a0), a1 = _mm512_fmadd_ps(p, v1, a1);
        a2 = _mm512_fmadd_ps(p, v2, a2), a3 = _mm512_fmadd_ps(p, v3, a3);
        b0 = _mm512_fmadd_ps(q, v0, b0), b1 = _mm512_fmadd_ps(q, v1, b1);
        b2 = _mm512_fmadd_ps(q, v2, b2), b3 = _mm512_fmadd_ps(q, v3, b3);
      }
      float* o = out + i * ldo;
      _mm512_storeu_ps(o, a0), _mm512_storeu_ps(o + 16, a1), _mm512_storeu_ps(o + 32, a2);
      _mm512_storeu_ps(o + 48, a3);
      o += ldo;
      _mm512_storeu_ps(o, b0), _mm512_storeu_ps(o + 16, b1), _mm512_storeu_ps(o + 32, b2);
      _mm512_storeu_ps(o + 48, b3);
    }
    if (i < L) {
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      const float* pi = P + i * L;
      for (int64_t j = 0; j < L; ++j) {
        const float* vj = V + j * ldv;
        const __m512 p = _mm512_set1_ps(pi[j]);
        a0 = _mm512_fmadd_ps(p, _mm512_loadu_ps(vj), a0),
        a1 = _mm512_fmadd_ps(p, _mm512_loadu_ps(vj + 16), a1);
        a2 = _mm512_fmadd_ps(p, _mm512_loadu_ps(vj + 32), a2);
        a3 = _mm512_fmadd_ps(p, _mm512_loadu_ps(vj + 48), a3);
      }
      float* o = out + i * ldo;
      _mm512_storeu_ps(o, a0), _mm512_storeu_ps(o + 16, a1), _mm512_storeu_ps(o + 32, a2);
      _mm512_storeu_ps(o + 48, a3);
    }
    return;
  }
  for (int64_t d0 = 0; d0 < D; d0 += 128) {
    const int64_t dn = std::min<int64_t>(128, D - d0), nv = (dn + 15) / 16;
    __mmask16 m[8];
    for (int64_t u = 0; u < 8; ++u) m[u] = u < nv ? tail_mask(dn - 16 * u) : 0;
    for (int64_t i = 0; i < L; ++i) {
      __m512 acc[8];
      for (int u = 0; u < 8; ++u) acc[u] = _mm512_setzero_ps();
      const float* pi = P + i * L;
      for (int64_t j = 0; j < L; ++j) {
        const __m512 pj = _mm512_set1_ps(pi[j]);
        const float* vj = V + j * ldv + d0;
        for (int64_t u = 0; u < nv; ++u)
          acc[u] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m[u], vj + 16 * u), acc[u]);
      }
      for (int64_t u = 0; u < nv; ++u) _mm512_mask_storeu_ps(out + i * ldo + d0 + 16 * u, m[u], acc[u]);
    }
  }
}

// d/dx GELU(x) = Phi(x) + x phi(x);  d/dx GELU_tanh(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2).
void act_backward(const float* x, const float* dy, float* dx, int64_t N, Act a) {
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.f);
#pragma omp parallel for schedule(static) if (N > 32768)
  for (int64_t i0 = 0; i0 < N; i0 += 4096) {
    const int64_t i1 = std::min<int64_t>(N, i0 + 4096);
    for (int64_t i = i0; i < i1; i += 16) {
      const __mmask16 m = tail_mask(i1 - i);
      const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
      __m512 g;
      if (a == Act::GeluErf) {
        const __m512 z = _mm512_mul_ps(_mm512_abs_ps(v), _mm512_set1_ps(0.70710678118654752f));
        const __m512 he = _mm512_mul_ps(half, erfc16_pos(z));  // 0.5 erfc(|x| / sqrt 2)
        const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        const __m512 cdf = _mm512_mask_blend_ps(neg, _mm512_sub_ps(one, he), he);
        const __m512 pdf = _mm512_mul_ps(_mm512_set1_ps(0.3989422804014327f),
                                         exp16(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(v, v))));
        g = _mm512_fmadd_ps(v, pdf, cdf);
      } else {
        const __m512 k = _mm512_set1_ps(0.7978845608028654f), c = _mm512_set1_ps(0.044715f);
        const __m512 x2 = _mm512_mul_ps(v, v);
        const __m512 u = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_mul_ps(c, x2), v, v));
        const __m512 t = tanh16(u);
        const __m512 du = _mm512_mul_ps(k, _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(3.f), c), x2, one));
        const __m512 sech2 = _mm512_fnmadd_ps(t, t, one);
        g = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(half, v), sech2), du,
                            _mm512_mul_ps(half, _mm512_add_ps(one, t)));
      }
      _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, dy + i)));
    }
  }
}

// Kt (ceil(L/64), D, 64) = scale * K^T for the fp32 6x64 kernel: Kt[j / 64][d][j % 64] = scale * K[j][d]
// (K: (L, D) rows of stride ld; D a multiple of 16), the key lanes from L to the next multiple of 16 zero.
// 16 keys x 16 dims at a time through a register transpose (unpack, shuffle, two 128-bit lane shuffles).
void attn_first_scores(const float* q, const float* k, int64_t ld, int64_t L, int64_t D, float scale,
                       float* s) {
  for (int64_t j = 0; j < L; ++j) {
    const float* kj = k + j * ld;
    __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(q), _mm512_loadu_ps(kj));
    for (int64_t d = 16; d < D; d += 16)
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(kj + d), acc);
    s[j] = _mm512_reduce_add_ps(acc) * scale;
  }
}

void attn_first_pv(const float* p, const float* v, int64_t ld, int64_t L, int64_t D, float* out) {
  for (int64_t d0 = 0; d0 < D; d0 += 64) {
    const int64_t nd = std::min<int64_t>(64, D - d0);  // a multiple of 16
    __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t j = 0; j < L; ++j) {
      const __m512 pj = _mm512_set1_ps(p[j]);
      const float* vj = v + j * ld + d0;
      for (int64_t c = 0; c < nd / 16; ++c) a[c] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + 16 * c), a[c]);
    }
    for (int64_t c = 0; c < nd / 16; ++c) _mm512_storeu_ps(out + d0 + 16 * c, a[c]);
  }
}

void pack_kt(const float* k, int64_t ld, int64_t L, int64_t D, float scale, float* kt) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < L; j0 += 16) {
    const int64_t nj = std::min<int64_t>(16, L - j0);
    float* dst = kt + j0 / 64 * 64 * D + j0 % 64;
    for (int64_t d0 = 0; d0 < D; d0 += 16) {
      __m512 r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = i < nj ? _mm512_mul_ps(sc, _mm512_loadu_ps(k + (j0 + i) * ld + d0)) : _mm512_setzero_ps();
      avx512_math::transpose16_store(r, dst + d0 * 64, 64);
    }
  }
}

}  // namespace tern::detail::avx512
