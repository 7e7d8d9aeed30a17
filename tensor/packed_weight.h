// Reduced-precision (bf16, int8) and prepacked fp32 inference GEMMs for a Linear layer's weight.
//
// A PackedWeight holds W (rows = out, cols = in; torch.nn.Linear layout) prepared ONCE for the GEMM of its
// precision, and computes y (M, rows) = x (M, cols) W^T (+ bias) + beta * y:
//   fp32: W copied as is; the product is tern::sgemm's (tensor/gemm.h: tern's AVX-512 kernel at small M,
//         oneDNN's sgemm above), so the bits are those of the fp32 path.
//   bf16: W rounded to bfloat16 (round to nearest even) and packed in the vdpbf16ps layout
//         (pairs of inputs x 64 output channels, tensor/lowp_impl.h); x rounded to bf16 per call; fp32
//         accumulation.
//   int8: W quantised symmetric per output channel, scale[o] = max_i |W[o, i]| / 127, q = round(W / scale)
//         (nearest even; a zero row has q = 0 and scale 1), packed in the vpdpbusd layout
//         (quads of inputs x 64 output channels). x is quantised per call, ASYMMETRIC u8 PER ROW:
//         lo = min(0, min_k x), hi = max(0, max_k x), s = (hi - lo) / 255 (1 when hi == lo),
//         zp = round(-lo / s), q = clamp(round(x * (1 / s) + zp), 0, 255)  (one fma rounding, nearest even);
//         int32 accumulation, y = s * scale[o] * (sum_k q_x q_w - zp * sum_k q_w) (+ bias) + beta * y.
// Which kernel runs for which shape: precision_description().
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/kernels.h"

namespace tern {

enum class Precision : uint8_t { F32, BF16, I8 };
const char* precision_name(Precision p);  // "fp32", "bf16", "int8"
// "fp32" | "float32", "bf16" | "bfloat16", "int8"; anything else throws naming the value and the choices.
Precision parse_precision(const std::string& s);
// Throws tern::Error (a std::runtime_error) when this CPU lacks what `p` needs (bf16: AVX512-BF16; int8:
// AVX512-VNNI), naming the instruction and the CPU's relevant features. With TERN_PRECISION_FORCE_REF=1 in
// the environment it does not throw, and PackedWeight::gemm runs the reference twin instead (slow; tests).
void require_precision(Precision p);
// One line naming the kernels that run for p.
std::string precision_description(Precision p);

class PackedWeight {
 public:
  PackedWeight();  // empty
  ~PackedWeight();
  PackedWeight(PackedWeight&&) noexcept;
  PackedWeight& operator=(PackedWeight&&) noexcept;

  // From float32 W (rows, cols) with leading dimension ld >= cols.
  static PackedWeight from_f32(Precision p, const float* w, int64_t rows, int64_t cols, int64_t ld);
  // From an int8 model file's tensors: q (rows, cols) row-major, scales (rows) (w = scales[o] * q[o, i]).
  static PackedWeight from_i8(const int8_t* q, const float* scales, int64_t rows, int64_t cols);

  // y (M, rows) = x (M, cols) W^T (+ bias (rows) when non-null) + beta * y  (beta == 0 overwrites y).
  //   x: (M, cols) leading dimension ldx >= cols; y: (M, rows) leading dimension ldy >= rows.
  // act: y = act(x W^T + bias), applied in the kernels' store while the tile is in registers (the
  // elementwise kernels' AVX-512 formulas, tensor/simd_math_avx512.h; bf16 / int8 compute GELU (erf) with
  // the short gelu_erf16_lowp, |error| <= 6e-6 + 3.1e-5 |x|, because their output feeds the next bf16 / int8
  // GEMM); needs beta == 0. Uses omp_get_max_threads() threads; one when called inside an OpenMP parallel
  // region.
  void gemm(int64_t M, const float* x, int64_t ldx, const float* bias, float beta, float* y, int64_t ldy,
            Act act = Act::Identity) const;

  Precision precision() const;
  int64_t rows() const;
  int64_t cols() const;
  bool empty() const;
  size_t bytes() const;  // memory held
  // The kernel gemm() runs for M rows, e.g. "tern avx512-vnni u8s8 6x64" or "oneDNN matmul
  // brg:avx512_core_vnni".
  std::string kernel(int64_t M) const;

  // I8 only: the int8 values (rows, cols) row-major and the scales, unpacked.
  void export_i8(std::vector<int8_t>& q, std::vector<float>& scales) const;

  struct Impl;

 private:
  explicit PackedWeight(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Symmetric per-output-channel int8 of w (rows, cols) ld into q (rows, cols) row-major and scales (rows): the
// AVX-512 kernel where the CPU runs int8 (bit-equal to its twin ref::quantize_weight_i8), else the twin.
// Throws naming the first output channel that holds a non-finite value.
void quantize_weight_i8(const float* w, int64_t rows, int64_t cols, int64_t ld, int8_t* q, float* scales);

namespace detail {
// Whether this CPU runs `p`'s kernels (false for bf16 / int8 while tests pretend it lacks them).
bool lowp_cpu_supports(Precision p);
}  // namespace detail

namespace ref {
// The reference twin: the same quantisation / rounding as PackedWeight, plain loops.
//   w: (rows, cols) ld; x: (M, cols) ldx; y: (M, rows) ldy; bias: (rows) or null.
void packed_weight_gemm(Precision p, const float* w, int64_t rows, int64_t cols, int64_t ld, int64_t M,
                        const float* x, int64_t ldx, const float* bias, float beta, float* y, int64_t ldy,
                        Act act = Act::Identity);
// The pieces the twin is made of (tests check them against hand-computed values).
uint16_t f32_to_bf16(
    float v);  // nearest even; NaN stays NaN; denormal inputs become signed zero (as vcvtneps2bf16)
float bf16_to_f32(uint16_t b);
// Symmetric per-output-channel int8: q (rows, cols) row-major, scales (rows).
void quantize_weight_i8(const float* w, int64_t rows, int64_t cols, int64_t ld, int8_t* q, float* scales);
// Asymmetric u8 of one row of n values: q (n), returns the scale, sets *zp.
float quantize_row_u8(const float* x, int64_t n, uint8_t* q, int32_t* zp);
// The int8 product from already quantised weights q (rows, cols) row-major and scales (rows).
void gemm_i8_quantized(const int8_t* q, const float* scales, int64_t rows, int64_t cols, int64_t M,
                       const float* x, int64_t ldx, const float* bias, float beta, float* y, int64_t ldy,
                       Act act = Act::Identity);
}  // namespace ref

}  // namespace tern
