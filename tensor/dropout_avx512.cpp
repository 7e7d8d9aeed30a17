// AVX-512 dropout (tensor/kernels.h, DropoutMask): the same splitmix64 hash as DropoutMask::keep, 8 indices
// per zmm (vpmullq), so the masks are bit for bit the scalar ones (tests/tensor/test_backward_kernels).
//
// Compiled alone with -mavx512f -mavx512dq -mfma; kernels_backward.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include <cstdint>

#include "tensor/kernels_impl.h"

namespace tern::detail::avx512 {

namespace {

inline __m512i mix8(__m512i z) {
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                         _mm512_set1_epi64(static_cast<long long>(0xBF58476D1CE4E5B9ull)));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                         _mm512_set1_epi64(static_cast<long long>(0x94D049BB133111EBull)));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

}  // namespace

void dropout_range(float* x, int64_t i0, int64_t i1, uint64_t base, uint64_t thr, float scale) {
  constexpr uint64_t kIdx = 0xD1B54A32D192ED03ull;  // DropoutMask::keep's index multiplier
  const __m512i vbase = _mm512_set1_epi64(static_cast<long long>(base));
  const __m512i vthr = _mm512_set1_epi64(static_cast<long long>(thr));
  const __m512i step = _mm512_set1_epi64(static_cast<long long>(16 * kIdx));  // i * kIdx mod 2^64, advanced
  const __m512 s = _mm512_set1_ps(scale);
  __m512i lo =
      _mm512_mullo_epi64(_mm512_add_epi64(_mm512_set1_epi64(i0), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7)),
                         _mm512_set1_epi64(static_cast<long long>(kIdx)));
  __m512i hi = _mm512_add_epi64(lo, _mm512_set1_epi64(static_cast<long long>(8 * kIdx)));
  for (int64_t i = i0; i < i1; i += 16) {
    // keep iff the hash's high 32 bits >= thr
    const __mmask8 k0 =
        _mm512_cmpge_epu64_mask(_mm512_srli_epi64(mix8(_mm512_xor_si512(vbase, lo)), 32), vthr);
    const __mmask8 k1 =
        _mm512_cmpge_epu64_mask(_mm512_srli_epi64(mix8(_mm512_xor_si512(vbase, hi)), 32), vthr);
    const __mmask16 keep = static_cast<__mmask16>(k0 | (static_cast<unsigned>(k1) << 8));
    const int64_t n = i1 - i;
    const __mmask16 in = n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
    _mm512_mask_storeu_ps(x + i, in, _mm512_maskz_mul_ps(keep, _mm512_maskz_loadu_ps(in, x + i), s));
    lo = _mm512_add_epi64(lo, step);
    hi = _mm512_add_epi64(hi, step);
  }
}

}  // namespace tern::detail::avx512
