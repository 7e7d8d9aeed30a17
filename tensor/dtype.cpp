#include "tensor/dtype.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

#include "tensor/check.h"

namespace tern {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F16:
      return 2;
    case DType::BF16:
      return 2;
    case DType::I32:
      return 4;
    case DType::I64:
      return 8;
    case DType::I8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "float32";
    case DType::F16:
      return "float16";
    case DType::BF16:
      return "bfloat16";
    case DType::I32:
      return "int32";
    case DType::I64:
      return "int64";
    case DType::I8:
      return "int8";
  }
  return "?";
}

DType dtype_from_name(const std::string& n) {
  if (n == "float32" || n == "f32" || n == "fp32") return DType::F32;
  if (n == "float16" || n == "f16" || n == "fp16") return DType::F16;
  if (n == "bfloat16" || n == "bf16") return DType::BF16;
  if (n == "int32" || n == "i32") return DType::I32;
  if (n == "int64" || n == "i64") return DType::I64;
  if (n == "int8" || n == "i8") return DType::I8;
  TERN_FAIL("unknown dtype '" << n << "' (expected float32, float16, bfloat16, int32, int64 or int8)");
}

static inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0) {
    if (man == 0) return float_of(sign);
    // Subnormal half: value = man * 2^-24.
    float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return float_of(sign | 0x7f800000u | (man << 13));  // Inf / NaN
  return float_of(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t u = bits_of(f);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t a = u & 0x7fffffff;
  if (a >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to >= 65520: Inf
  if (a < 0x38800000u) {
    // Result is subnormal (or zero): round(|f| / 2^-24) to nearest even.
    float v = float_of(a) * 16777216.0f;  // exact scaling by 2^24
    // nearbyint with default rounding = ties to even.
    uint32_t m = static_cast<uint32_t>(__builtin_nearbyintf(v));
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t mant_odd = (a >> 13) & 1;
  a += 0xfff + mant_odd;  // round to nearest even on the 13 dropped bits
  return static_cast<uint16_t>(sign | (((a >> 23) - 112) << 10) | ((a >> 13) & 0x3ff));
}

float bf16_to_f32(uint16_t b) {
  return float_of(static_cast<uint32_t>(b) << 16);
}

uint16_t f32_to_bf16(float f) {
  uint32_t u = bits_of(f);
  if ((u & 0x7fffffff) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

namespace {
// F16C: vcvtph2ps is exact for every half (subnormals included) and differs from f16_to_f32 only in NaN
// payloads (it sets the quiet bit), so a 16-value chunk holding a NaN goes through the scalar twin.
__attribute__((target("avx2,f16c"))) size_t convert_f16_to_f32_f16c(const uint16_t* src, float* dst,
                                                                    size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    // exponent all ones (Inf / NaN) and a non-zero mantissa: NaN
    const __m256i a = _mm256_and_si256(h, _mm256_set1_epi16(0x7fff));
    if (!_mm256_testz_si256(_mm256_cmpgt_epi16(a, _mm256_set1_epi16(0x7c00)), _mm256_set1_epi16(-1))) {
      for (size_t j = i; j < i + 16; ++j) dst[j] = f16_to_f32(src[j]);
      continue;
    }
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_castsi256_si128(h)));
    _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)));
  }
  return i;
}
}  // namespace

void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  // F16C by CPUID (leaf 1, ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
  static const bool fast = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
  }();
  size_t i = fast ? convert_f16_to_f32_f16c(src, dst, n) : 0;
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace tern
