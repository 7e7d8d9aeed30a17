// Every backward kernel against central finite differences of its forward twin:
// loss = sum(forward(x) * r) for a fixed random r, d loss / d x_i ~ (loss(x + h e_i) - loss(x - h e_i)) / 2h.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/kernels_ref.h"
#include "tests/util/test_util.h"

using namespace tern;

namespace {

using tern::test::randn;

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Compares `analytic` (d loss / d x) with central differences of loss(x) at every element of x.
void expect_fd(std::vector<float> x, const std::function<double(const std::vector<float>&)>& loss,
               const std::vector<float>& analytic, const char* what, float h = 1e-2f, float tol = 2e-3f) {
  ASSERT_EQ(x.size(), analytic.size());
  float scale = 0;
  for (float g : analytic) scale = std::max(scale, std::fabs(g));
  for (size_t i = 0; i < x.size(); ++i) {
    const float x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss(x);
    x[i] = x0 - h;
    const double lm = loss(x);
    x[i] = x0;
    const double fd = (lp - lm) / (2.0 * h);
    ASSERT_NEAR(analytic[i], fd, tol * std::max(1.f, scale)) << what << " element " << i;
  }
}

}  // namespace

TEST(BackwardFd, Activations) {
  for (Act a : {Act::GeluErf, Act::GeluTanh, Act::QuickGelu, Act::Silu, Act::Tanh, Act::Sigmoid, Act::Mish,
                Act::Identity}) {
    // Stay away from 0 for ReLU-like kinks; GELU etc. are smooth everywhere.
    std::vector<float> x = randn(257, 1, 2.f), r = randn(257, 2);
    std::vector<float> dx(x.size());
    act_backward(x.data(), r.data(), dx.data(), static_cast<int64_t>(x.size()), a);
    auto loss = [&](const std::vector<float>& xx) {
      std::vector<float> y(xx.size());
      for (size_t i = 0; i < xx.size(); ++i) y[i] = ref::act(xx[i], a);
      return dot(y, r);
    };
    expect_fd(x, loss, dx, act_name(a), 1e-3f, 2e-3f);
  }
  // ReLU: exact 0 / 1.
  float x[3] = {-1.f, 0.5f, 2.f}, dy[3] = {3.f, 3.f, 3.f}, dx[3];
  act_backward(x, dy, dx, 3, Act::Relu);
  EXPECT_EQ(dx[0], 0.f);
  EXPECT_EQ(dx[1], 3.f);
}

TEST(BackwardFd, TanhFromOutputAndBias) {
  std::vector<float> x = randn(50, 3), r = randn(50, 4), y(50), dx(50);
  for (int i = 0; i < 50; ++i) y[i] = std::tanh(x[i]);
  tanh_backward_from_output(y.data(), r.data(), dx.data(), 50);
  expect_fd(
      x,
      [&](const std::vector<float>& xx) {
        double s = 0;
        for (int i = 0; i < 50; ++i) s += std::tanh(static_cast<double>(xx[i])) * r[i];
        return s;
      },
      dx, "tanh", 1e-3f);
  // bias_backward = column sums, accumulated.
  float dy[6] = {1, 2, 3, 4, 5, 6}, db[3] = {10, 0, 0};
  bias_backward(dy, db, 2, 3);
  EXPECT_EQ(db[0], 15.f);
  EXPECT_EQ(db[2], 9.f);
}

TEST(BackwardFd, LayerNorm) {
  const int64_t R = 3, C = 19;
  std::vector<float> x = randn(R * C, 5, 1.5f), g = randn(C, 6), b = randn(C, 7), r = randn(R * C, 8);
  std::vector<float> y(R * C), mean(R), rstd(R);
  layer_norm(x.data(), g.data(), b.data(), y.data(), R, C, 1e-5f, mean.data(), rstd.data());
  std::vector<float> dx(R * C), dg(C, 0.f), dbeta(C, 0.f);
  layer_norm_backward(r.data(), x.data(), mean.data(), rstd.data(), g.data(), dx.data(), dg.data(),
                      dbeta.data(), R, C);
  auto fwd = [&](const std::vector<float>& xx, const std::vector<float>& gg, const std::vector<float>& bb) {
    std::vector<float> yy(R * C);
    ref::layer_norm(xx.data(), gg.data(), bb.data(), yy.data(), R, C, 1e-5f);
    return dot(yy, r);
  };
  expect_fd(
      x, [&](const std::vector<float>& xx) { return fwd(xx, g, b); }, dx, "layer_norm dx", 1e-2f, 3e-3f);
  expect_fd(
      g, [&](const std::vector<float>& gg) { return fwd(x, gg, b); }, dg, "layer_norm dgamma");
  expect_fd(
      b, [&](const std::vector<float>& bb) { return fwd(x, g, bb); }, dbeta, "layer_norm dbeta");
}

TEST(BackwardFd, AttentionWithMaskAndDropout) {
  const int64_t B = 2, T = 5, H = 2, D = 3, C = H * D;
  std::vector<float> q = randn(B * T * C, 9), k = randn(B * T * C, 10), v = randn(B * T * C, 11);
  std::vector<float> r = randn(B * T * C, 12), mask(B * T, 0.f);
  mask[1 * T + 4] = -FLT_MAX;
  mask[1 * T + 3] = -FLT_MAX;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  for (float p : {0.f, 0.3f}) {
    const DropoutMask drop{p, 42, 7};
    auto fwd = [&](const std::vector<float>& qq, const std::vector<float>& kk, const std::vector<float>& vv) {
      std::vector<float> out(B * T * C), probs(B * H * T * T);
      attention(qq.data(), kk.data(), vv.data(), C, mask.data(), B, T, H, D, scale, out.data(), C,
                probs.data(), &drop);
      return dot(out, r);
    };
    std::vector<float> out(B * T * C), probs(B * H * T * T), dq(B * T * C), dk(B * T * C), dv(B * T * C);
    attention(q.data(), k.data(), v.data(), C, mask.data(), B, T, H, D, scale, out.data(), C, probs.data(),
              &drop);
    attention_backward(q.data(), k.data(), v.data(), C, probs.data(), drop, r.data(), C, B, T, H, D, scale,
                       dq.data(), dk.data(), dv.data());
    expect_fd(
        q, [&](const std::vector<float>& x) { return fwd(x, k, v); }, dq, "attention dq", 1e-2f, 3e-3f);
    expect_fd(
        k, [&](const std::vector<float>& x) { return fwd(q, x, v); }, dk, "attention dk", 1e-2f, 3e-3f);
    expect_fd(
        v, [&](const std::vector<float>& x) { return fwd(q, k, x); }, dv, "attention dv", 1e-2f, 3e-3f);
  }
}

TEST(BackwardFd, EmbeddingScatterAdds) {
  float dout[6] = {1, 2, 3, 4, 5, 6}, table[6] = {0};
  int64_t ids[3] = {2, 0, 2};
  embedding_backward(ids, 3, dout, table, 2);
  EXPECT_EQ(table[0], 3.f);
  EXPECT_EQ(table[4], 1.f + 5.f);
  EXPECT_EQ(table[5], 2.f + 6.f);
  EXPECT_EQ(table[2], 0.f);
}

TEST(Dropout, DeterministicAndUnbiased) {
  DropoutMask m{0.25f, 123, 5};
  int64_t kept = 0;
  for (uint64_t i = 0; i < 100000; ++i) kept += m.keep(i);
  EXPECT_NEAR(kept / 100000.0, 0.75, 0.01);
  std::vector<float> a(1000, 1.f), b(1000, 1.f);
  dropout_apply(a.data(), 1000, m);
  dropout_apply(b.data(), 1000, m);
  EXPECT_EQ(a, b);
  for (float x : a) EXPECT_TRUE(x == 0.f || std::fabs(x - 1.f / 0.75f) < 1e-6f);
  DropoutMask other{0.25f, 124, 5};
  std::vector<float> c(1000, 1.f);
  dropout_apply(c.data(), 1000, other);
  EXPECT_NE(a, c);
}

// dropout_apply (the AVX-512 hash, tensor/dropout_avx512.cpp, where the CPU has it) gives bit for bit the
// mask of the reference DropoutMask::keep: ragged lengths around its 16 lanes, the threaded split, seeds and
// streams with high bits set, and rates whose threshold p * 2^32 sits next to hash values.
TEST(Dropout, ApplyMatchesKeepBitForBit) {
  for (float p : {1e-7f, 0.1f, 0.25f, 0.5f, 0.9f, 0.999f})
    for (int64_t N : {1, 15, 16, 17, 1000, 70001})
      for (uint64_t seed : {uint64_t{0}, uint64_t{123}, ~uint64_t{0} - 7}) {
        const DropoutMask m{p, seed, seed ^ 0x8000000000000005ull};
        auto x = tern::test::randn(static_cast<size_t>(N), static_cast<uint32_t>(N + seed));
        std::vector<float> want = x;
        for (int64_t i = 0; i < N; ++i)
          want[i] = m.keep(static_cast<uint64_t>(i)) ? want[i] * m.scale() : 0.f;
        dropout_apply(x.data(), N, m);
        ASSERT_EQ(x, want) << "p=" << p << " N=" << N << " seed=" << seed;
      }
}
