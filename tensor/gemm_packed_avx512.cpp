// tern's packed fp32 GEMM (tensor/gemm_packed.h): C (M, N) = alpha * op(A) op(B) + beta * C, row-major.
//
// Blocking, per thread (each thread owns a band of rows of C, or of columns when there are few rows):
//   for each reduction block k0 .. k0 + KC:
//     for each column block n0 .. n0 + NC:  pack op(B)[k block, n block] into Bp (KC x NC floats, ~L2):
//                                           panels of 64 columns, each (kc, 64) contiguous, zero-padded
//       for each 6-row panel of the band:   its op(A) rows (6 x kc) stay in L1
//         for each 64-column panel of Bp:   the 6 x 64 micro-kernel (24 zmm accumulators; per reduction
//                                           step 4 loads of Bp and 6 broadcasts of A), then C += / = the tile
// op(A) is not packed: the micro-kernel broadcasts straight from A, row-major (row i at A + i lda, step 1)
// or transposed (row i at A + i, step lda); only a ragged last panel of < 6 rows is copied into a padded
// buffer. op(B) = B^T (the Linear layer's W^T) is packed by 16 x 16 register transposes.
//
// Compiled alone with -mavx512f -mavx512dq -mfma; gemm.cpp calls it only when the CPU has them.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "tensor/gemm_packed.h"

namespace tern::detail {

namespace {

constexpr int64_t kMR = 6, kNR = 64;

std::atomic<int64_t> g_kc{256}, g_nc{512};

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// A growing 64-byte aligned scratch buffer per thread.
float* scratch(std::unique_ptr<float[], FreeDeleter>& buf, int64_t& cap, int64_t n) {
  if (n > cap) {
    const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
    buf.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    cap = n;
  }
  return buf.get();
}

inline __mmask16 mask_n(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

// 16 x 16 transpose of floats: out row j = column j of in (in rows at src + r * lds, out rows at dst + j *
// ldd).
inline void transpose16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
  for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + j * ldd, r[j]);
}

// Packs op(B)[k0 : k0 + kc, n0 : n0 + nc] into Bp: panel q (columns n0 + 64 q ..) at Bp + q * kc * 64,
// element (k, c) at [k * 64 + c]; columns past nc are zero.
void pack_b(bool tb, const float* B, int64_t ldb, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* Bp) {
  for (int64_t q = 0; q * kNR < nc; ++q) {
    float* P = Bp + q * kc * kNR;
    const int64_t c0 = n0 + q * kNR, w = std::min(kNR, nc - q * kNR);
    if (!tb) {  // op(B)(k, n) = B[k * ldb + n]: rows of 64 contiguous floats
      const float* src = B + k0 * ldb + c0;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t v = 0; v < kNR; v += 16)
          _mm512_store_ps(P + k * kNR + v, _mm512_maskz_loadu_ps(mask_n(w - v), src + k * ldb + v));
      continue;
    }
    // op(B)(k, n) = B[n * ldb + k]: transposes of 16 x 16 blocks (B rows c0 .., columns k0 ..).
    const float* src = B + c0 * ldb + k0;
    const int64_t w16 = w / 16 * 16, k16 = kc / 16 * 16;
    for (int64_t c = 0; c < w16; c += 16)
      for (int64_t k = 0; k < k16; k += 16) transpose16(src + c * ldb + k, ldb, P + k * kNR + c, kNR);
    for (int64_t k = k16; k < kc; ++k)
      for (int64_t c = 0; c < w16; ++c) P[k * kNR + c] = src[c * ldb + k];
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t c = w16; c < w; ++c) P[k * kNR + c] = src[c * ldb + k];
      for (int64_t c = w; c < kNR; ++c) P[k * kNR + c] = 0.f;
    }
  }
}

// Adds (or with first: beta-scales and adds) alpha * v to the masked 16 floats at c.
inline void update(float* c, __m512 v, __mmask16 m, float alpha, float beta, bool first) {
  if (alpha != 1.f) v = _mm512_mul_ps(v, _mm512_set1_ps(alpha));
  if (!first)
    v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), v);
  else if (beta != 0.f)
    v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c), v);
  _mm512_mask_storeu_ps(c, m, v);
}

#define TERN_PK_DECL(i) __m512 c##i##0 = z, c##i##1 = z, c##i##2 = z, c##i##3 = z
#define TERN_PK_ROW(i)                                        \
  do {                                                        \
    const __m512 av = _mm512_set1_ps(TA ? a[i] : a[i * lda]); \
    c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);               \
    c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);               \
    c##i##2 = _mm512_fmadd_ps(av, b2, c##i##2);               \
    c##i##3 = _mm512_fmadd_ps(av, b3, c##i##3);               \
  } while (0)
#define TERN_PK_STORE(i)                                             \
  do {                                                               \
    if (i < mr) {                                                    \
      float* cr = C + i * ldc;                                       \
      update(cr, c##i##0, m0, alpha, beta, first);                   \
      if (nr > 16) update(cr + 16, c##i##1, m1, alpha, beta, first); \
      if (nr > 32) update(cr + 32, c##i##2, m2, alpha, beta, first); \
      if (nr > 48) update(cr + 48, c##i##3, m3, alpha, beta, first); \
    }                                                                \
  } while (0)

// The 6 x 64 tile: C[0:mr, 0:nr] (=|+=) alpha * sum_k a(i, k) Bp[k, :]. TA: a(i, k) = a[i + k * lda]
// (op(A) = A^T, or a padded copy); else a(i, k) = a[i * lda + k]. All 6 rows of a must be readable.
template <bool TA>
void micro(int64_t kc, const float* a, int64_t lda, const float* b, float* C, int64_t ldc, int64_t mr,
           int64_t nr, float alpha, float beta, bool first) {
  const __m512 z = _mm512_setzero_ps();
  TERN_PK_DECL(0);
  TERN_PK_DECL(1);
  TERN_PK_DECL(2);
  TERN_PK_DECL(3);
  TERN_PK_DECL(4);
  TERN_PK_DECL(5);
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32),
                 b3 = _mm512_load_ps(b + 48);
    TERN_PK_ROW(0);
    TERN_PK_ROW(1);
    TERN_PK_ROW(2);
    TERN_PK_ROW(3);
    TERN_PK_ROW(4);
    TERN_PK_ROW(5);
    b += kNR;
    a += TA ? lda : 1;
  }
  const __mmask16 m0 = mask_n(nr), m1 = mask_n(nr - 16), m2 = mask_n(nr - 32), m3 = mask_n(nr - 48);
  TERN_PK_STORE(0);
  TERN_PK_STORE(1);
  TERN_PK_STORE(2);
  TERN_PK_STORE(3);
  TERN_PK_STORE(4);
  TERN_PK_STORE(5);
}

#undef TERN_PK_DECL
#undef TERN_PK_ROW
#undef TERN_PK_STORE

struct Scratch {
  std::unique_ptr<float[], FreeDeleter> b, a;
  int64_t b_cap = 0, a_cap = 0;
};

// C[m0:m1, n0:n1] of the product, on this thread.
void band(bool ta, bool tb, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  static thread_local Scratch s;
  const int64_t KC = g_kc.load(std::memory_order_relaxed), NC = g_nc.load(std::memory_order_relaxed);
  float* Bp = scratch(s.b, s.b_cap, KC * ((std::min(NC, n1 - n0) + kNR - 1) / kNR * kNR));
  float* Ap = scratch(s.a, s.a_cap, KC * kMR);
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    const bool first = k0 == 0;
    for (int64_t nb = n0; nb < n1; nb += NC) {
      const int64_t nc = std::min(NC, n1 - nb);
      pack_b(tb, B, ldb, k0, kc, nb, nc, Bp);
      for (int64_t i = m0; i < m1; i += kMR) {
        const int64_t mr = std::min(kMR, m1 - i);
        float* Crow = C + i * ldc + nb;
        if (mr == kMR) {
          for (int64_t q = 0; q * kNR < nc; ++q) {
            const int64_t nr = std::min(kNR, nc - q * kNR);
            if (ta)
              micro<true>(kc, A + k0 * lda + i, lda, Bp + q * kc * kNR, Crow + q * kNR, ldc, mr, nr, alpha,
                          beta, first);
            else
              micro<false>(kc, A + i * lda + k0, lda, Bp + q * kc * kNR, Crow + q * kNR, ldc, mr, nr, alpha,
                           beta, first);
          }
          continue;
        }
        // A ragged last panel: a zero-padded copy (k, 6).
        for (int64_t k = 0; k < kc; ++k)
          for (int64_t r = 0; r < kMR; ++r)
            Ap[k * kMR + r] = r < mr ? (ta ? A[(k0 + k) * lda + i + r] : A[(i + r) * lda + k0 + k]) : 0.f;
        for (int64_t q = 0; q * kNR < nc; ++q) {
          const int64_t nr = std::min(kNR, nc - q * kNR);
          micro<true>(kc, Ap, kMR, Bp + q * kc * kNR, Crow + q * kNR, ldc, mr, nr, alpha, beta, first);
        }
      }
    }
  }
}

}  // namespace

void set_sgemm_packed_blocking(int64_t kc, int64_t nc, int64_t* old_kc, int64_t* old_nc) {
  if (old_kc) *old_kc = g_kc.load();
  if (old_nc) *old_nc = g_nc.load();
  if (kc > 0) g_kc = kc;
  if (nc > 0) g_nc = (nc + kNR - 1) / kNR * kNR;
}

void sgemm_packed(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, int nt) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (omp_in_parallel()) nt = 1;
  // Rows in bands of whole 6-row panels when every thread gets a few; else columns in 64-column panels.
  const int64_t panels_m = (M + kMR - 1) / kMR, panels_n = (N + kNR - 1) / kNR;
  const bool by_rows = panels_m >= 4 * nt || panels_m >= panels_n;
  nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nt, by_rows ? panels_m : panels_n)));
  auto run = [&](int t, int n) {
    const int64_t P = by_rows ? panels_m : panels_n, lo = P * t / n, hi = P * (t + 1) / n;
    if (lo >= hi) return;
    if (by_rows)
      band(ta, tb, lo * kMR, std::min(M, hi * kMR), 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
      band(ta, tb, 0, M, lo * kNR, std::min(N, hi * kNR), K, alpha, A, lda, B, ldb, beta, C, ldc);
  };
  if (nt == 1) {
    run(0, 1);
    return;
  }
#pragma omp parallel num_threads(nt)
  run(omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace tern::detail
