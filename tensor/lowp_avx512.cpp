// AVX512-VNNI (vpdpbusd, u8 x s8 -> s32) and AVX512-BF16 (vdpbf16ps, bf16 x bf16 -> f32) GEMM kernels for
// PackedWeight: y (M, N) = x (M, K) W^T with W prepacked in 64-byte operands of 16 output channels
// (tensor/lowp_impl.h). The micro-kernel keeps an MR x (NB * 16) block of y in MR * NB zmm accumulators
// (6 x 64 = 24 registers); each reduction step loads NB weight operands and broadcasts one 32-bit group
// (4 u8 or 2 bf16) of each of the MR rows of x. Dequantisation, bias and beta * y are fused into the store.
//
// Compiled alone with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx512bf16 -mfma;
// packed_weight.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "tensor/lowp_impl.h"
#include "tensor/simd_math_avx512.h"

namespace tern::detail::lowp::avx512 {

namespace {

constexpr int kMR = 6;  // rows of x per micro-kernel
constexpr int kNB = 4;  // 16-column blocks per micro-kernel

inline __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The activation in the store. GELU (erf) feeding a bf16 / int8 GEMM uses the short formula (error <= 6e-6
// + 3.1e-5 |x|, far below that GEMM's input rounding); fp32 keeps the elementwise kernel's gelu_erf16 (exact:
// same bits).
inline __m512 activate(__m512 v, Act act, bool exact) {
  if (act == Act::Identity) return v;
  if (act == Act::GeluErf && !exact) return detail::avx512_math::gelu_erf16_lowp(v);
  return detail::avx512_math::apply(v, act);
}

// Stores one 16-column vector v of a row of y (masked to N) after v += beta * y (one rounding, fma).
inline void store_row(__m512 v, float* y, float beta, __mmask16 m) {
  if (beta != 0.f) v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, y), v);
  _mm512_mask_storeu_ps(y, m, v);
}

// The micro-kernels: the MR x NB accumulators are named variables (GCC keeps an array of 24 zmm partly on the
// stack, re-storing it every step: measured 2x slower), unused ones removed by `if constexpr`. They write the
// raw sums to `out` (MR, NB, 16), which the tile's epilogue reads back from L1.
#define TERN_LOWP_DECL(i) Vec c##i##0 = zero(), c##i##1 = zero(), c##i##2 = zero(), c##i##3 = zero();
#define TERN_LOWP_ROW(i)                                 \
  if constexpr (MR > i) {                                \
    const auto a = bcast(x + i * ldx + k * kGroup);      \
    c##i##0 = dot(c##i##0, a, w0);                       \
    if constexpr (NB > 1) c##i##1 = dot(c##i##1, a, w1); \
    if constexpr (NB > 2) c##i##2 = dot(c##i##2, a, w2); \
    if constexpr (NB > 3) c##i##3 = dot(c##i##3, a, w3); \
  }
#define TERN_LOWP_STORE(i)                                         \
  if constexpr (MR > i) {                                          \
    store(out + (i * NB + 0) * 16, c##i##0);                       \
    if constexpr (NB > 1) store(out + (i * NB + 1) * 16, c##i##1); \
    if constexpr (NB > 2) store(out + (i * NB + 2) * 16, c##i##2); \
    if constexpr (NB > 3) store(out + (i * NB + 3) * 16, c##i##3); \
  }
#define TERN_LOWP_MICRO_BODY                                  \
  TERN_LOWP_DECL(0)                                           \
  TERN_LOWP_DECL(1)                                           \
  TERN_LOWP_DECL(2)                                           \
  TERN_LOWP_DECL(3)                                           \
  TERN_LOWP_DECL(4)                                           \
  TERN_LOWP_DECL(5)                                           \
  for (int64_t k = 0; k < steps; ++k) {                       \
    const auto w0 = loadw(w + k * ks);                        \
    const auto w1 = NB > 1 ? loadw(w + ws + k * ks) : w0;     \
    const auto w2 = NB > 2 ? loadw(w + 2 * ws + k * ks) : w0; \
    const auto w3 = NB > 3 ? loadw(w + 3 * ws + k * ks) : w0; \
    TERN_LOWP_ROW(0)                                          \
    TERN_LOWP_ROW(1)                                          \
    TERN_LOWP_ROW(2)                                          \
    TERN_LOWP_ROW(3)                                          \
    TERN_LOWP_ROW(4)                                          \
    TERN_LOWP_ROW(5)                                          \
  }                                                           \
  TERN_LOWP_STORE(0)                                          \
  TERN_LOWP_STORE(1)                                          \
  TERN_LOWP_STORE(2)                                          \
  TERN_LOWP_STORE(3)                                          \
  TERN_LOWP_STORE(4)                                          \
  TERN_LOWP_STORE(5)

// int8: x (MR rows, ld ldx) u8, w: the 64-column group's packed weights, steps = Kp / 4.
template <int MR, int NB>
void i8_micro(const uint8_t* x, int64_t ldx, const int8_t* w, int64_t steps, int32_t* out) {
  constexpr int64_t ws = 64, ks = 256;  // bytes between 16-column blocks / reduction steps
  using Vec = __m512i;
  constexpr int kGroup = 4;
  auto zero = [] { return _mm512_setzero_si512(); };
  auto loadw = [](const int8_t* p) { return _mm512_loadu_si512(p); };
  auto bcast = [](const uint8_t* p) { return _mm512_set1_epi32(load_i32(p)); };
  auto dot = [](Vec c, Vec a, Vec b) { return _mm512_dpbusd_epi32(c, a, b); };
  auto store = [](int32_t* p, Vec v) { _mm512_store_si512(p, v); };
  TERN_LOWP_MICRO_BODY
}

// bf16: x (MR rows, ld ldx) bf16, w: the 64-column group's packed weights, steps = Kp / 2.
template <int MR, int NB>
void bf16_micro(const uint16_t* x, int64_t ldx, const uint16_t* w, int64_t steps, float* out) {
  constexpr int64_t ws = 32, ks = 128;  // elements between 16-column blocks / reduction steps
  using Vec = __m512;
  constexpr int kGroup = 2;
  auto zero = [] { return _mm512_setzero_ps(); };
  auto loadw = [](const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); };
  auto bcast = [](const uint16_t* p) { return (__m512bh)_mm512_set1_epi32(load_i32(p)); };
  auto dot = [](Vec c, __m512bh a, __m512bh b) { return _mm512_dpbf16_ps(c, a, b); };
  auto store = [](float* p, Vec v) { _mm512_store_ps(p, v); };
  TERN_LOWP_MICRO_BODY
}

// fp32: x (MR rows, ld ldx) fp32 (the caller's x: no conversion pass), w: the group's packed weights (K, 64),
// steps = K. The broadcast folds into vfmadd231ps's {1to16} memory operand.
template <int MR, int NB>
void f32_micro(const float* x, int64_t ldx, const float* w, int64_t steps, float* out) {
  using Vec = __m512;
  constexpr int kGroup = 1;
  constexpr int64_t ws = 16, ks = 64;  // floats between 16-column blocks / reduction steps
  auto zero = [] { return _mm512_setzero_ps(); };
  auto loadw = [](const float* p) { return _mm512_loadu_ps(p); };
  auto bcast = [](const float* p) { return _mm512_set1_ps(*p); };
  auto dot = [](Vec c, Vec a, Vec b) { return _mm512_fmadd_ps(a, b, c); };
  auto store = [](float* p, Vec v) { _mm512_store_ps(p, v); };
  TERN_LOWP_MICRO_BODY
}

#undef TERN_LOWP_MICRO_BODY
#undef TERN_LOWP_STORE
#undef TERN_LOWP_ROW
#undef TERN_LOWP_DECL

}  // namespace

void epilogue_i8(const I8Args& a, const int32_t* acc, int64_t lda, int64_t m0, int64_t m1, int64_t c0,
                 int64_t c1) {
  // The arguments in locals: y's stores (may-alias vector stores) would otherwise reload them every row.
  const float* const xs = a.xs;
  const int32_t* const xzp = a.xzp;
  const float* const bias = a.bias;
  float* const y = a.y;
  const int64_t ldy = a.ldy, N = a.N;
  const float beta = a.beta;
  const Act act = a.act;
  for (int64_t c = c0; c < c1; c += 16) {
    const __mmask16 msk = tail_mask(std::min(N, c1) - c);
    const __m512i cs = _mm512_maskz_loadu_epi32(msk, a.colsum + c);
    const __m512 ws = _mm512_maskz_loadu_ps(msk, a.ws + c);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(msk, bias + c) : _mm512_setzero_ps();
    const int32_t* ac = acc + (c - c0);
    for (int64_t m = m0; m < m1; ++m) {
      // (acc - zp * colsum) exactly in int32, then * (row scale * channel scale) (+ bias, one fma): the
      // twin's order.
      const __m512i q = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(msk, ac + (m - m0) * lda),
                                         _mm512_mullo_epi32(_mm512_set1_epi32(xzp[m]), cs));
      const __m512 sc = _mm512_mul_ps(_mm512_set1_ps(xs[m]), ws);
      __m512 v =
          bias ? _mm512_fmadd_ps(_mm512_cvtepi32_ps(q), sc, bv) : _mm512_mul_ps(_mm512_cvtepi32_ps(q), sc);
      v = activate(v, act, false);
      store_row(v, y + m * ldy + c, beta, msk);
    }
  }
}

void epilogue_bf16(const Bf16Args& a, const float* acc, int64_t lda, int64_t m0, int64_t m1, int64_t c0,
                   int64_t c1) {
  for (int64_t c = c0; c < c1; c += 16) {
    const __mmask16 msk = tail_mask(std::min(a.N, c1) - c);
    const __m512 bv = a.bias ? _mm512_maskz_loadu_ps(msk, a.bias + c) : _mm512_setzero_ps();
    for (int64_t m = m0; m < m1; ++m) {
      __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(msk, acc + (m - m0) * lda + (c - c0)), bv);
      v = activate(v, a.act, a.exact_act);
      store_row(v, a.y + m * a.ldy + c, a.beta, msk);
    }
  }
}

namespace {

template <int MR, int NB>
void i8_tile(const I8Args& a, int64_t m, int64_t b) {
  alignas(64) int32_t acc[MR * NB * 16];
  i8_micro<MR, NB>(a.xq + m * a.Kp, a.Kp, a.w + b * 16 * a.Kp, a.Kp / 4, acc);
  epilogue_i8(a, acc, NB * 16, m, m + MR, b * 16, std::min(a.N, (b + NB) * 16));
}

template <int MR, int NB>
void f32_tile(const F32Args& a, int64_t m, int64_t b) {
  alignas(64) float acc[MR * NB * 16];
  f32_micro<MR, NB>(a.x + m * a.ldx, a.ldx, a.w + b * 16 * a.K, a.K, acc);
  const Bf16Args e{0,      a.N, nullptr, nullptr, a.bias,
                   a.beta, a.y, a.ldy,   a.act,   /*exact_act=*/true};  // the float-sum store
  epilogue_bf16(e, acc, NB * 16, m, m + MR, b * 16, std::min(a.N, (b + NB) * 16));
}

template <int MR, int NB>
void bf16_tile(const Bf16Args& a, int64_t m, int64_t b) {
  alignas(64) float acc[MR * NB * 16];
  bf16_micro<MR, NB>(a.xb + m * a.Kp, a.Kp, a.w + b * 16 * a.Kp, a.Kp / 2, acc);
  epilogue_bf16(a, acc, NB * 16, m, m + MR, b * 16, std::min(a.N, (b + NB) * 16));
}

// Dispatch on the (MR, NB) of a remainder tile.
template <typename Args, template <int, int> class K>
void tiles(const Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; b += kNB) {
    const int64_t nb = std::min<int64_t>(kNB, b1 - b);
    for (int64_t m = m0; m < m1; m += kMR) {
      const int64_t mr = std::min<int64_t>(kMR, m1 - m);
      K<0, 0>::run(a, m, b, static_cast<int>(mr), static_cast<int>(nb));
    }
  }
}

// Runtime (rows, column groups) -> the compile-time tile<MR, NB> of one kernel family; `Tile::run<MR, NB>`
// calls it. The drivers take K<0, 0>::run(args, m, b, mr, nb).
template <class Tile, class Args>
struct TileDispatch {
  template <int MR>
  static void nb(const Args& a, int64_t m, int64_t b, int n) {
    switch (n) {
      case 4:
        return Tile::template run<MR, 4>(a, m, b);
      case 3:
        return Tile::template run<MR, 3>(a, m, b);
      case 2:
        return Tile::template run<MR, 2>(a, m, b);
      default:
        return Tile::template run<MR, 1>(a, m, b);
    }
  }
  static void run(const Args& a, int64_t m, int64_t b, int mr, int n) {
    switch (mr) {
      case 6:
        return nb<6>(a, m, b, n);
      case 5:
        return nb<5>(a, m, b, n);
      case 4:
        return nb<4>(a, m, b, n);
      case 3:
        return nb<3>(a, m, b, n);
      case 2:
        return nb<2>(a, m, b, n);
      default:
        return nb<1>(a, m, b, n);
    }
  }
};

struct I8Tile {
  template <int MR, int NB>
  static void run(const I8Args& a, int64_t m, int64_t b) {
    i8_tile<MR, NB>(a, m, b);
  }
};
struct Bf16Tile {
  template <int MR, int NB>
  static void run(const Bf16Args& a, int64_t m, int64_t b) {
    bf16_tile<MR, NB>(a, m, b);
  }
};
struct F32Tile {
  template <int MR, int NB>
  static void run(const F32Args& a, int64_t m, int64_t b) {
    f32_tile<MR, NB>(a, m, b);
  }
};
template <int, int>
struct I8K : TileDispatch<I8Tile, I8Args> {};
template <int, int>
struct Bf16K : TileDispatch<Bf16Tile, Bf16Args> {};
template <int, int>
struct F32K : TileDispatch<F32Tile, F32Args> {};

}  // namespace

void quantize_rows_u8(const float* x, int64_t ldx, int64_t K, int64_t Kp, int64_t m0, int64_t m1, uint8_t* xq,
                      float* xs, int32_t* xzp) {
  for (int64_t m = m0; m < m1; ++m) {
    const float* xr = x + m * ldx;
    // the range always includes 0; two (min, max) pairs so the chains overlap
    __m512 mn = _mm512_set1_ps(0.f), mx = mn, mn2 = mn, mx2 = mn;
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      const __m512 v = _mm512_loadu_ps(xr + k), v2 = _mm512_loadu_ps(xr + k + 16);
      mn = _mm512_min_ps(mn, v);
      mx = _mm512_max_ps(mx, v);
      mn2 = _mm512_min_ps(mn2, v2);
      mx2 = _mm512_max_ps(mx2, v2);
    }
    for (; k < K; k += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(tail_mask(K - k), xr + k);  // zeros past K: range has 0
      mn = _mm512_min_ps(mn, v);
      mx = _mm512_max_ps(mx, v);
    }
    const RowQuant r =
        row_quant(_mm512_reduce_min_ps(_mm512_min_ps(mn, mn2)), _mm512_reduce_max_ps(_mm512_max_ps(mx, mx2)));
    xs[m] = r.scale;
    xzp[m] = r.zp;
    const __m512 inv = _mm512_set1_ps(r.inv), zp = _mm512_set1_ps(static_cast<float>(r.zp));
    const __m512i lo = _mm512_setzero_si512();
    uint8_t* q = xq + m * Kp;
    // round(x * inv + zp) (one fma rounding, then nearest even), max 0, then vpmovusdb saturates at 255.
    // (register-form vpmovusdb and a plain 16-byte store: the memory form is slow on AMD cores)
    for (k = 0; k + 16 <= K; k += 16) {
      const __m512i iv =
          _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_loadu_ps(xr + k), inv, zp)), lo);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtusepi32_epi8(iv));
    }
    if (k < K) {
      const __mmask16 msk = tail_mask(K - k);
      const __m512 v = _mm512_maskz_loadu_ps(msk, xr + k);
      const __m512i iv = _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_fmadd_ps(v, inv, zp)), lo);
      _mm512_mask_cvtusepi32_storeu_epi8(q + k, msk, iv);
    }
    for (k = K; k < Kp; ++k) q[k] = 0;
  }
}

int64_t quantize_weight_i8(const float* w, int64_t rows, int64_t cols, int64_t ld, int8_t* q, float* scales) {
  const __m512 fmax = _mm512_set1_ps(std::numeric_limits<float>::max());
  for (int64_t o = 0; o < rows; ++o) {
    const float* r = w + o * ld;
    // amax over |w| (max of non-NaN values: the twin's `a > amax ? a : amax`); any |w| > FLT_MAX or NaN
    // (the unordered compare) marks the row non-finite.
    __m512 amax = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (int64_t k = 0; k < cols; k += 16) {
      const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(cols - k), r + k));
      bad |= _mm512_cmp_ps_mask(a, fmax, _CMP_NLE_UQ);
      amax = _mm512_max_ps(amax, a);
    }
    if (bad) return o;
    const float am = _mm512_reduce_max_ps(amax);
    int8_t* qo = q + o * cols;
    if (am == 0.f) {
      scales[o] = 1.f;
      std::memset(qo, 0, static_cast<size_t>(cols));
      continue;
    }
    const float s = am / 127.f;
    scales[o] = s;
    // nearbyint(w / s) (an IEEE divide, then round to nearest even), clamped to [-127, 127]: the twin's bits.
    const __m512 sv = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
    for (int64_t k = 0; k < cols; k += 16) {
      const __mmask16 msk = tail_mask(cols - k);
      __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(msk, r + k), sv),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      _mm_mask_storeu_epi8(qo + k, msk, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
    }
  }
  return -1;
}

void rows_to_bf16(const float* x, int64_t ldx, int64_t K, int64_t Kp, int64_t m0, int64_t m1, uint16_t* xb) {
  for (int64_t m = m0; m < m1; ++m) {
    const float* xr = x + m * ldx;
    uint16_t* o = xb + m * Kp;
    for (int64_t k = 0; k < K; k += 16) {
      const __mmask16 msk = tail_mask(K - k);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(msk, xr + k));
      _mm256_mask_storeu_epi16(o + k, msk, (__m256i)h);
    }
    for (int64_t k = K; k < Kp; ++k) o[k] = 0;
  }
}

namespace {
// 32 floats (lo: columns 0-15, hi: 16-31) -> 32 bf16 (nearest even), as 16 words of pairs.
inline __m512 pairs_bf16(__m512 lo, __m512 hi) {
  return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}
}  // namespace

void attn_scores_bf16(const float* q, const float* k, int64_t ld_in, int64_t L, int64_t D, float scale,
                      float* S, uint16_t* buf) {
  uint16_t* qb = buf;                         // (L, D)
  uint16_t* kt = qb + attn_bf16_part(L * D);  // (ceil(L/64), D/2, 64, 2): K^T as a bf16 weight
  rows_to_bf16(q, ld_in, D, D, 0, L, qb);
  // K^T packed: word (pair of d) s of key j at kt + ((j / 64) * (D / 2) + s) * 128 + (j % 64) * 2, i.e. a
  // 16 x 16 word transpose per 16 keys x 32 d; keys past L (to the next 16) are zero.
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < L; j0 += 16) {
    const int64_t nj = std::min<int64_t>(16, L - j0);
    float* dst = reinterpret_cast<float*>(kt + (j0 / 64) * (D / 2) * 128 + (j0 % 64) * 2);
    for (int64_t d0 = 0; d0 < D; d0 += 32) {
      __m512 r[16];
      for (int64_t i = 0; i < 16; ++i) {
        const float* kr = k + (j0 + i) * ld_in + d0;
        r[i] = i < nj ? pairs_bf16(_mm512_mul_ps(sc, _mm512_loadu_ps(kr)),
                                   _mm512_mul_ps(sc, _mm512_loadu_ps(kr + 16)))
                      : _mm512_setzero_ps();
      }
      detail::avx512_math::transpose16_store(r, dst + (d0 / 2) * 64,
                                             64);  // word rows s = d0/2 .. d0/2 + 15, 64 words apart
    }
  }
  const Bf16Args a{D, L, qb, kt, nullptr, 0.f, S, L, Act::Identity, false};
  gemm_bf16(a, 0, L, 0, (L + 15) / 16);
}

void attn_pv_bf16(const float* P, int64_t L, const float* v, int64_t ld_in, int64_t D, float* out,
                  int64_t ld_out, uint16_t* buf) {
  const int64_t Lp = L + (L & 1), Lg = (L + 63) / 64 * 64;
  uint16_t* pb = buf + attn_bf16_part(L * D) + attn_bf16_part(Lg * D);  // (L, Lp)
  uint16_t* vp = pb + attn_bf16_part(L * Lp);  // (ceil(D/64), Lp/2, 64, 2): V as a bf16 weight
  rows_to_bf16(P, L, L, Lp, 0, L, pb);
  // V packed: rows j, j+1 interleaved per column, (column d, row j) at vp + ((d / 64) * (Lp / 2) + j / 2) *
  // 128
  // + (d % 64) * 2 + j % 2; a missing row L (odd L) is zero.
  const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38,
                                      6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
  for (int64_t j = 0; j < L; j += 2) {
    const float* v0 = v + j * ld_in;
    const float* v1 = v0 + ld_in;
    const bool two = j + 1 < L;
    for (int64_t d = 0; d < D; d += 32) {
      const __m512i a =
          _mm512_castps_si512(pairs_bf16(_mm512_loadu_ps(v0 + d), _mm512_loadu_ps(v0 + d + 16)));
      const __m512i b =
          two ? _mm512_castps_si512(pairs_bf16(_mm512_loadu_ps(v1 + d), _mm512_loadu_ps(v1 + d + 16)))
              : _mm512_setzero_si512();
      uint16_t* dst = vp + ((d / 64) * (Lp / 2) + j / 2) * 128 + (d % 64) * 2;
      _mm512_storeu_si512(dst, _mm512_permutex2var_epi16(a, lo, b));
      _mm512_storeu_si512(dst + 32, _mm512_permutex2var_epi16(a, hi, b));
    }
  }
  const Bf16Args a{Lp, D, pb, vp, nullptr, 0.f, out, ld_out, Act::Identity, false};
  gemm_bf16(a, 0, L, 0, D / 16);
}

void gemm_i8(const I8Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
  tiles<I8Args, I8K>(a, m0, m1, b0, b1);
}

void gemm_bf16(const Bf16Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
  tiles<Bf16Args, Bf16K>(a, m0, m1, b0, b1);
}

void gemm_f32(const F32Args& a, int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
  tiles<F32Args, F32K>(a, m0, m1, b0, b1);
}

}  // namespace tern::detail::lowp::avx512
