#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "tensor/tensor.h"

using namespace tern;

TEST(Tensor, EmptyIsAlignedAndContiguous) {
  Tensor t = Tensor::empty({3, 5, 7});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.numel(), 105);
  EXPECT_EQ(t.strides(), (Shape{35, 7, 1}));
  EXPECT_EQ(t.describe(), "float32 (3, 5, 7)");
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::empty({4, 6});
  for (int i = 0; i < 24; ++i) t.f32()[i] = static_cast<float>(i);
  Tensor s = t.slice(1, 2, 5);  // columns 2..4
  EXPECT_EQ(s.shape(), (Shape{4, 3}));
  EXPECT_FALSE(s.is_contiguous());
  Tensor c = s.contiguous();
  EXPECT_EQ(c.f32()[0], 2.f);
  EXPECT_EQ(c.f32()[3], 8.f);  // row 1, col 2
  Tensor r = t.select(0, 2);
  EXPECT_EQ(r.shape(), (Shape{6}));
  EXPECT_EQ(r.f32()[1], 13.f);
  Tensor tt = t.transpose(0, 1).contiguous();
  EXPECT_EQ(tt.shape(), (Shape{6, 4}));
  EXPECT_EQ(tt.f32()[1], 6.f);     // (0, 1) of the transpose = (1, 0) of t
  s.contiguous().f32()[0] = -1.f;  // a copy: t unchanged
  EXPECT_EQ(t.f32()[2], 2.f);
  t.slice(0, 1, 2).f32()[0] = 100.f;  // a view: t changes
  EXPECT_EQ(t.f32()[6], 100.f);
}

TEST(Tensor, ReshapeInfersAndChecks) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.reshape({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(t.reshape({5, -1}), Error);
  EXPECT_THROW(t.transpose(0, 1).reshape({24}), Error);
}

TEST(Tensor, BoundsAreChecked) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_THROW(t.slice(1, 2, 4), Error);
  EXPECT_THROW(t.select(0, 2), Error);
  EXPECT_THROW(t.size(2), Error);
  EXPECT_THROW(t.i64(), Error);                              // wrong dtype
  EXPECT_THROW(shape_numel({1LL << 40, 1LL << 40}), Error);  // overflow, before any allocation
  EXPECT_THROW(shape_numel({-1, 2}), Error);
}

TEST(Tensor, ViewOfStorageChecksSize) {
  auto st = Storage::allocate(100);
  EXPECT_NO_THROW(Tensor::view_of(st, 20, {20}, DType::F32));
  EXPECT_THROW(Tensor::view_of(st, 24, {20}, DType::F32), Error);
  EXPECT_THROW(Tensor::view_of(st, 2, {2}, DType::F32), Error);  // misaligned
}

TEST(DType, HalfConversionsKnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);             // rounds to Inf
  EXPECT_EQ(f32_to_f16(5.9604645e-08f), 0x0001);      // smallest subnormal
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);  // tie -> even (up)
  EXPECT_FLOAT_EQ(f16_to_f32(0x3555), 0.33325195f);
  EXPECT_FLOAT_EQ(f16_to_f32(0x0001), 5.9604645e-08f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  // Every half round-trips exactly.
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
  }
}

// The bulk conversion (F16C fast path on this CPU) against the scalar twin, bit for bit, on every half, at
// offsets that leave a scalar tail; the NaN chunks go through the twin (payloads kept).
TEST(DType, BulkHalfConversionMatchesScalarTwin) {
  std::vector<uint16_t> h(65536 + 7);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i * 40503u);  // a permutation mod 2^16
  for (size_t off : {size_t{0}, size_t{3}}) {
    std::vector<float> out(h.size() - off);
    convert_f16_to_f32(h.data() + off, out.data(), out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t a, b;
      const float r = f16_to_f32(h[i + off]);
      std::memcpy(&a, &out[i], 4);
      std::memcpy(&b, &r, 4);
      ASSERT_EQ(a, b) << "half 0x" << std::hex << h[i + off];
    }
  }
}

TEST(DType, BFloat16Conversions) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-1.0f), 0xbf80);
  EXPECT_FLOAT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_EQ(f32_to_bf16(3.14159265f), 0x4049);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), b);
  }
}

TEST(Tensor, ToConvertsDtypes) {
  float v[4] = {1.f, -0.5f, 65504.f, 1e-8f};
  Tensor t = Tensor::from_data(v, {4});
  Tensor h = t.to(DType::F16);
  EXPECT_EQ(h.dtype(), DType::F16);
  Tensor back = h.to(DType::F32);
  EXPECT_EQ(back.f32()[0], 1.f);
  EXPECT_EQ(back.f32()[1], -0.5f);
  EXPECT_EQ(back.f32()[2], 65504.f);
  EXPECT_EQ(back.f32()[3], 0.f);  // below half's smallest subnormal / 2
  int64_t ids[3] = {1, -2, 1LL << 40};
  Tensor i = Tensor::from_data(ids, {3});
  EXPECT_THROW(i.to(DType::I32), Error);  // 2^40 does not fit
}
