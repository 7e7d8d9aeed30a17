// Element types and the 16-bit float conversions used when loading weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tern {

enum class DType : uint8_t { F32, F16, BF16, I32, I64, I8 };  // I8: stored int8 weights (convert --quantize)

size_t dtype_size(DType t);
const char* dtype_name(DType t);                 // "float32", "float16", "bfloat16", "int32", "int64", "int8"
DType dtype_from_name(const std::string& name);  // throws tern::Error on an unknown name

// IEEE half <-> float (round to nearest even), bfloat16 <-> float (round to nearest even, NaN kept NaN).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);

// Bulk conversions (vectorised where the CPU allows).
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);

}  // namespace tern
