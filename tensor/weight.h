// Typed weight storage for the inference path: a non-owning view of a weight matrix in its stored type,
// with optional per-output-channel scales. Layers hand it to gemm_weight() (tensor/gemm.h), which dispatches
// on the type. float32 is implemented; bfloat16 and int8 (w[o, i] = scales[o] * q[o, i]) are declared so that
// layers and model files can carry them, and fail clearly in the GEMM until their kernels exist.
// Training keeps float32 parameters in its arena and views them as WeightType::F32.
#pragma once
#include <cstdint>

namespace tern {

enum class WeightType : uint8_t { F32, BF16, I8 };
const char* weight_type_name(WeightType t);  // "float32", "bfloat16", "int8"

// A (rows, cols) row-major matrix laid out as torch.nn.Linear.weight: rows = output channels (out),
// cols = input features (in), leading dimension ld >= cols (in elements).
struct WeightRef {
  WeightType type = WeightType::F32;
  const void* data = nullptr;  // (rows, ld) elements of `type`
  int64_t rows = 0, cols = 0, ld = 0;
  const float* scales = nullptr;  // (rows) per output channel: required for I8, null otherwise

  static WeightRef f32(const float* w, int64_t rows, int64_t cols, int64_t ld) {
    return WeightRef{WeightType::F32, w, rows, cols, ld, nullptr};
  }
  static WeightRef bf16(const uint16_t* w, int64_t rows, int64_t cols, int64_t ld) {
    return WeightRef{WeightType::BF16, w, rows, cols, ld, nullptr};
  }
  static WeightRef i8(const int8_t* w, const float* scales, int64_t rows, int64_t cols, int64_t ld) {
    return WeightRef{WeightType::I8, w, rows, cols, ld, scales};
  }
};

}  // namespace tern
