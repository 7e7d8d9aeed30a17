// Fast kernels against their reference twins (both ISA builds), and a few hand-computed values.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/check.h"
#include "tensor/dtype.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/kernels_ref.h"
#include "tensor/packed_weight.h"
#include "tensor/weight.h"
#include "tests/util/test_util.h"

namespace tern::detail {
bool set_kernels_avx512(bool on);
int64_t set_gemm_small_m_limit(int64_t m);
}  // namespace tern::detail

using namespace tern;

namespace {

using tern::test::randn;

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0.f;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Runs the test body once per available ISA build.
class BothIsas : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!detail::set_kernels_avx512(GetParam())) GTEST_SKIP() << "this CPU has no AVX-512";
  }
  void TearDown() override { detail::set_kernels_avx512(true); }
};

}  // namespace

TEST(Gemm, HandComputed) {
  // [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
  float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4] = {1, 1, 1, 1};
  sgemm(false, false, 2, 2, 2, 1.f, A, 2, B, 2, 0.f, C, 2);
  EXPECT_EQ(C[0], 19.f);
  EXPECT_EQ(C[1], 22.f);
  EXPECT_EQ(C[2], 43.f);
  EXPECT_EQ(C[3], 50.f);
  // A^T B with beta = 1 accumulates: A^T = [[1, 3], [2, 4]] -> [[26, 30], [38, 44]] + previous C.
  sgemm(true, false, 2, 2, 2, 1.f, A, 2, B, 2, 1.f, C, 2);
  EXPECT_EQ(C[0], 19.f + 26.f);
  EXPECT_EQ(C[3], 50.f + 44.f);
}

TEST(Gemm, AllBackendsMatchReferenceAllTransposes) {
  const int64_t M = 37, N = 53, K = 29;
  auto A = randn(M * K, 1), B = randn(K * N, 2), C0 = randn(M * N, 3);
  for (GemmBackend be : {GemmBackend::Dnnl, GemmBackend::OpenBlas, GemmBackend::Reference}) {
    set_gemm_backend(be);
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        std::vector<float> c = C0, r = C0;
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        sgemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 0.25f, c.data(), N);
        ref::sgemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 0.25f, r.data(), N);
        EXPECT_LT(max_abs_diff(c, r), 2e-5f) << gemm_description() << " ta=" << ta << " tb=" << tb;
      }
  }
  set_gemm_backend(GemmBackend::Dnnl);
  EXPECT_NE(gemm_description().find("oneDNN"), std::string::npos);
}

// The AVX-512 small-M kernel (A B^T, tensor/gemm_small_avx512.cpp) against the reference loop: every M / N
// remainder of its 4 x 4 blocks, K tails (masked loads), strided operands, alpha / beta, one and two threads,
// and beta = 0 overwriting NaN (BLAS semantics).
TEST(Gemm, SmallMKernelMatchesReference) {
  if (!detail::set_kernels_avx512(true)) GTEST_SKIP() << "no AVX-512 on this CPU";
  set_gemm_backend(GemmBackend::Dnnl);
  const int64_t saved = detail::set_gemm_small_m_limit(1 << 20);
  for (int64_t M : {1, 2, 3, 4, 5, 7, 16, 33})
    for (int64_t N : {1, 3, 4, 6, 13, 130})
      for (int64_t K : {16, 17, 31, 64, 250}) {
        const int64_t lda = K + 3, ldb = K + 5, ldc = N + 2;
        auto A = randn(M * lda, 11), B = randn(N * ldb, 12), C0 = randn(M * ldc, 13);
        for (float beta : {0.f, 0.75f}) {
          std::vector<float> c = C0, r = C0;
          if (beta == 0.f) c.assign(c.size(), NAN);
          sgemm(false, true, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, beta, c.data(), ldc);
          ref::sgemm(false, true, M, N, K, 1.5f, A.data(), lda, B.data(), ldb, beta, r.data(), ldc);
          float worst = 0.f;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
              worst = std::max(worst, std::fabs(c[i * ldc + j] - r[i * ldc + j]));
          EXPECT_LT(worst, 1e-4f * std::sqrt(float(K)))
              << "M=" << M << " N=" << N << " K=" << K << " beta=" << beta;
          // Padding columns of C are not touched.
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = N; j < ldc; ++j) {
              if (beta == 0.f)
                EXPECT_TRUE(std::isnan(c[i * ldc + j]));
              else
                EXPECT_EQ(c[i * ldc + j], C0[i * ldc + j]);
            }
        }
      }
  EXPECT_NE(gemm_description().find("AVX-512 A*B^T"), std::string::npos) << gemm_description();
  detail::set_gemm_small_m_limit(saved);
}

// gemm_weight on float32 weights: the bits of sgemm(false, true, ...) (both the small-M kernel's shapes and
// oneDNN's), strided x / W / y, beta; against the reference loop; bfloat16 / int8 fail naming the type.
TEST(Gemm, WeightGemmFloat32IsSgemmAndMatchesReference) {
  set_gemm_backend(GemmBackend::Dnnl);
  for (int64_t M : {1, 5, 64, 300}) {
    const int64_t out = 48, in = 40, ldx = in + 3, ldw = in + 1, ldy = out + 2;
    auto x = randn(M * ldx, 21), w = randn(out * ldw, 22), y0 = randn(M * ldy, 23);
    for (float beta : {0.f, 1.f}) {
      std::vector<float> y = y0, s = y0, r = y0;
      gemm_weight(M, x.data(), ldx, WeightRef::f32(w.data(), out, in, ldw), beta, y.data(), ldy);
      sgemm(false, true, M, out, in, 1.f, x.data(), ldx, w.data(), ldw, beta, s.data(), ldy);
      ref::sgemm(false, true, M, out, in, 1.f, x.data(), ldx, w.data(), ldw, beta, r.data(), ldy);
      EXPECT_EQ(0, std::memcmp(y.data(), s.data(), y.size() * sizeof(float)))
          << "M=" << M << " beta=" << beta;
      EXPECT_LT(max_abs_diff(y, r), 1e-4f) << "M=" << M << " beta=" << beta;
    }
  }
  // Hand-computed: x = [1, 2], W = [[1, 0], [3, -1], [0.5, 2]] -> y = [1, 1, 4.5]
  const float x[2] = {1, 2}, W[6] = {1, 0, 3, -1, 0.5f, 2};
  float y[3] = {9, 9, 9};
  gemm_weight(1, x, 2, WeightRef::f32(W, 3, 2, 2), 0.f, y, 3);
  EXPECT_EQ(y[0], 1.f);
  EXPECT_EQ(y[1], 1.f);
  EXPECT_EQ(y[2], 4.5f);
  // Not implemented yet: a clear error, never a silent float32 read of other bytes.
  const uint16_t wb[6] = {};
  const int8_t wq[6] = {};
  const float sc[3] = {1, 1, 1};
  for (const WeightRef& w : {WeightRef::bf16(wb, 3, 2, 2), WeightRef::i8(wq, sc, 3, 2, 2)}) {
    try {
      gemm_weight(1, x, 2, w, 0.f, y, 3);
      ADD_FAILURE() << weight_type_name(w.type) << " weights were multiplied";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(weight_type_name(w.type)) +
                                           " weights (3, 2) are not implemented"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(gemm_weight(1, x, 2, WeightRef::f32(nullptr, 3, 2, 2), 0.f, y, 3), Error);
  EXPECT_THROW(gemm_weight(1, x, 2, WeightRef{WeightType::F32, W, 3, 2, 2, sc}, 0.f, y, 3), Error);
}

TEST(Gemm, BatchedMatchesLoop) {
  const int64_t M = 8, N = 5, K = 16, batch = 7;
  auto A = randn(batch * M * K, 4), B = randn(batch * K * N, 5);
  std::vector<float> C(batch * M * N), R(batch * M * N);
  sgemm_batched(false, false, M, N, K, 1.f, A.data(), K, M * K, B.data(), N, K * N, 0.f, C.data(), N, M * N,
                batch);
  for (int64_t i = 0; i < batch; ++i)
    ref::sgemm(false, false, M, N, K, 1.f, A.data() + i * M * K, K, B.data() + i * K * N, N, 0.f,
               R.data() + i * M * N, N);
  EXPECT_LT(max_abs_diff(C, R), 1e-5f);
}

TEST_P(BothIsas, ActivationsMatchReference) {
  // Values across the range where each formula changes regime, incl. large |x| and a ragged tail.
  std::vector<float> x = randn(1000 + 7, 6, 3.f);
  for (float v : {-20.f, -10.f, -5.5f, -3.f, -1e-3f, 0.f, 1e-3f, 3.f, 5.5f, 10.f, 20.f, 80.f, -80.f})
    x.push_back(v);
  for (Act a : {Act::Identity, Act::GeluErf, Act::GeluTanh, Act::QuickGelu, Act::Relu, Act::Silu, Act::Tanh,
                Act::Sigmoid, Act::Mish}) {
    std::vector<float> y(x.size()), r(x.size());
    act_forward(x.data(), y.data(), static_cast<int64_t>(x.size()), a);
    for (size_t i = 0; i < x.size(); ++i) r[i] = ref::act(x[i], a);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(y[i], r[i], 2e-6f + 4e-7f * std::fabs(r[i]))
          << act_name(a) << " at x=" << x[i] << " (" << kernels_isa() << ")";
  }
}

TEST(Activations, HandComputed) {
  EXPECT_NEAR(ref::act(1.f, Act::GeluErf), 0.8413447f, 1e-6f);
  EXPECT_NEAR(ref::act(-1.f, Act::GeluErf), -0.1586553f, 1e-6f);
  EXPECT_NEAR(ref::act(1.f, Act::GeluTanh), 0.8411920f, 1e-6f);
  EXPECT_NEAR(ref::act(2.f, Act::Silu), 1.7615942f, 1e-6f);
  EXPECT_EQ(ref::act(-3.f, Act::Relu), 0.f);
  EXPECT_THROW(act_from_name("swiglu"), Error);
  EXPECT_EQ(act_from_name("gelu_new"), Act::GeluTanh);
}

TEST_P(BothIsas, BiasActMatchesReference) {
  const int64_t R = 9, C = 37;
  auto x = randn(R * C, 7), bias = randn(C, 8);
  for (Act a : {Act::GeluErf, Act::Relu, Act::Identity}) {
    std::vector<float> y = x, r = x;
    bias_act(y.data(), bias.data(), R, C, a);
    ref::bias_act(r.data(), bias.data(), R, C, a);
    EXPECT_LT(max_abs_diff(y, r), 3e-6f) << act_name(a);
  }
}

TEST_P(BothIsas, LayerNormMatchesReference) {
  for (int64_t C : {1, 7, 16, 32, 33, 768}) {
    const int64_t R = 5;
    auto x = randn(R * C, 9, 2.f), g = randn(C, 10), b = randn(C, 11);
    for (auto& v : x) v += 3.f;  // non-zero mean
    std::vector<float> y(R * C), r(R * C), mean(R), rstd(R);
    layer_norm(x.data(), g.data(), b.data(), y.data(), R, C, 1e-12f, mean.data(), rstd.data());
    ref::layer_norm(x.data(), g.data(), b.data(), r.data(), R, C, 1e-12f);
    EXPECT_LT(max_abs_diff(y, r), 1e-5f) << "C=" << C;
    // The fused residual variant equals LN(x + bias + residual).
    auto res = randn(R * C, 12), bias = randn(C, 13);
    std::vector<float> xin = x, sum(R * C), y2(R * C);
    for (int64_t i = 0; i < R * C; ++i) sum[i] = x[i] + bias[i % C] + res[i];
    add_bias_residual_layer_norm(xin.data(), bias.data(), res.data(), g.data(), b.data(), y2.data(), R, C,
                                 1e-5f);
    ref::layer_norm(sum.data(), g.data(), b.data(), r.data(), R, C, 1e-5f);
    EXPECT_LT(max_abs_diff(y2, r), 1e-5f) << "C=" << C;
    EXPECT_LT(max_abs_diff(xin, sum), 1e-6f);
  }
}

TEST(LayerNorm, HandComputed) {
  // x = [1, 2, 3, 4]: mean 2.5, var 1.25 -> (x - 2.5) / sqrt(1.25)
  float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 2}, b[4] = {0, 0, 0, 1}, y[4];
  layer_norm(x, g, b, y, 1, 4, 0.f);
  EXPECT_NEAR(y[0], -1.3416408f, 1e-6f);
  EXPECT_NEAR(y[3], 2.f * 1.3416408f + 1.f, 1e-6f);
}

TEST_P(BothIsas, SoftmaxMatchesReferenceWithMask) {
  const int64_t R = 6, C = 41;
  auto x = randn(R * C, 14, 4.f);
  std::vector<float> mask(C, 0.f);
  for (int64_t c = 30; c < C; ++c) mask[c] = -FLT_MAX;
  std::vector<float> y = x, r = x;
  softmax_rows(y.data(), R, C, mask.data());
  ref::softmax_rows(r.data(), R, C, mask.data());
  EXPECT_LT(max_abs_diff(y, r), 1e-6f);
  for (int64_t c = 30; c < C; ++c) EXPECT_EQ(y[c], 0.f);
  // All keys masked: uniform, as HF's additive finfo.min mask gives.
  std::vector<float> all(C, -FLT_MAX), z(C, 1.f);
  softmax_rows(z.data(), 1, C, all.data());
  for (float v : z) EXPECT_NEAR(v, 1.f / C, 1e-7f);
}

TEST(Softmax, HandComputed) {
  float x[3] = {0.f, std::log(2.f), std::log(5.f)};  // exp: 1, 2, 5 -> /8
  softmax_rows(x, 1, 3, nullptr);
  EXPECT_NEAR(x[0], 0.125f, 1e-7f);
  EXPECT_NEAR(x[1], 0.25f, 1e-7f);
  EXPECT_NEAR(x[2], 0.625f, 1e-7f);
}

TEST_P(BothIsas, AttentionMatchesReference) {
  const int64_t B = 3, T = 11, H = 4, D = 8, C = H * D, ld = 3 * C;  // q, k, v interleaved in one buffer
  auto qkv = randn(B * T * ld, 15);
  std::vector<float> mask(B * T, 0.f);
  for (int64_t t = 7; t < T; ++t) mask[1 * T + t] = -FLT_MAX;  // batch 1 padded after 7
  std::vector<float> out(B * T * C), r(B * T * C), probs(B * H * T * T);
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  attention(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, mask.data(), B, T, H, D, scale, out.data(), C,
            probs.data());
  ref::attention(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, mask.data(), B, T, H, D, scale, r.data(),
                 C);
  EXPECT_LT(max_abs_diff(out, r), 2e-6f);
  // Without the probs cache (scratch path) the result is the same.
  std::vector<float> out2(B * T * C);
  attention(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, mask.data(), B, T, H, D, scale, out2.data(),
            C);
  EXPECT_EQ(max_abs_diff(out, out2), 0.f);
  // Padded keys get zero probability.
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i) EXPECT_EQ(probs[((1 * H + h) * T + i) * T + 9], 0.f);
}

// Packed sequences of lengths 5, 1, 12, 0, 7, 70 attend within themselves: each equals the reference
// attention of that sequence alone (B = 1, no mask). D = 64 (the AVX-512 P V fast path) and D = 24 (masked
// tail); 70 keys span two 64-key groups of the packed K^T (AVX-512 Q K^T path).
TEST_P(BothIsas, PackedAttentionMatchesReferencePerSequence) {
  for (const int64_t D : {64, 24}) {
    const int64_t H = 3, C = H * D, ld = 3 * C;
    const std::vector<int64_t> offsets = {0, 5, 6, 18, 18, 25, 95};
    const int64_t B = 6, N = offsets[B];
    auto qkv = randn(N * ld, 21);
    std::vector<float> out(N * C, -1.f), r(N * C, -2.f);
    std::vector<float> scratch(static_cast<size_t>(attention_packed_scratch(offsets.data(), B, D)));
    EXPECT_GE(scratch.size(), 12u * 12u);
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    attention_packed(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, offsets.data(), B, H, D, scale,
                     out.data(), C, scratch.data());
    for (int64_t b = 0; b < B; ++b) {
      const int64_t o = offsets[b], L = offsets[b + 1] - o;
      if (L == 0) continue;
      ref::attention(qkv.data() + o * ld, qkv.data() + o * ld + C, qkv.data() + o * ld + 2 * C, ld, nullptr,
                     1, L, H, D, scale, r.data() + o * C, C);
    }
    EXPECT_LT(max_abs_diff(out, r), 2e-6f) << "D=" << D;
  }
}

// bf16 attention (models running bf16 / int8 GEMMs): against its twin (the same bf16 roundings, double
// sums) and, loosely, against fp32 attention. Odd lengths (a zero-padded V row), 70 keys (two 64-key
// groups), an empty sequence; D = 64 and 32. D = 24 is not a multiple of 32: fp32 attention, same bits.
TEST(PackedAttentionBf16, MatchesTwinAndFp32) {
  if (!detail::lowp_cpu_supports(Precision::BF16) || !detail::set_kernels_avx512(true))
    GTEST_SKIP() << "this CPU has no AVX512-BF16";
  for (const int64_t D : {64, 32, 24}) {
    const int64_t H = 2, C = H * D, ld = 3 * C;
    const std::vector<int64_t> offsets = {0, 5, 6, 19, 19, 26, 96};
    const int64_t B = 6, N = offsets[B];
    auto qkv = randn(N * ld, 23);
    std::vector<float> out(N * C, -1.f), f32(N * C, -3.f), twin(N * C, -2.f), exact(N * C, -4.f);
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    std::vector<float> scratch(static_cast<size_t>(attention_packed_scratch(offsets.data(), B, D, true)));
    attention_packed(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, offsets.data(), B, H, D, scale,
                     out.data(), C, scratch.data(), true);
    std::vector<float> scratch32(static_cast<size_t>(attention_packed_scratch(offsets.data(), B, D)));
    attention_packed(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, offsets.data(), B, H, D, scale,
                     f32.data(), C, scratch32.data());
    if (D % 32 != 0) {
      EXPECT_EQ(max_abs_diff(out, f32), 0.f) << "D=" << D;
      continue;
    }
    ref::attention_packed_bf16(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, offsets.data(), B, H, D,
                               scale, twin.data(), C);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t o = offsets[b], L = offsets[b + 1] - o;
      if (L > 0)
        ref::attention(qkv.data() + o * ld, qkv.data() + o * ld + C, qkv.data() + o * ld + 2 * C, ld, nullptr,
                       1, L, H, D, scale, exact.data() + o * C, C);
    }
    // vs the twin: the same bf16 inputs; the fp32 vs double sums of S can move a probability across a bf16
    // rounding boundary now and then (one bf16 step, 2^-8 relative, of one term): a few 1e-3 at most,
    // ~1e-6 on average.
    double mean = 0;
    for (size_t i = 0; i < out.size(); ++i) mean += std::fabs(out[i] - twin[i]);
    mean /= static_cast<double>(out.size());
    std::printf("  D=%lld: bf16 vs twin max %.3g mean %.3g, vs fp32 max %.3g\n", static_cast<long long>(D),
                max_abs_diff(out, twin), mean, max_abs_diff(out, exact));
    EXPECT_LT(max_abs_diff(out, twin), 5e-3f) << "D=" << D;
    EXPECT_LT(mean, 2e-5) << "D=" << D;
    // vs fp32 attention (unit-normal q, k, v): bf16's 2^-9 relative roundings
    EXPECT_LT(max_abs_diff(out, exact), 5e-2f) << "D=" << D;
    EXPECT_GT(max_abs_diff(out, exact), 0.f) << "D=" << D << ": the bf16 path did not run";
  }
}

// The first token of each sequence only (a model's last layer under PackedInput::first_token_only): row b
// equals the reference attention's row 0 of sequence b alone; an empty sequence gives zeros.
TEST_P(BothIsas, PackedAttentionFirstTokenMatchesReference) {
  const int64_t D = 64, H = 3, C = H * D, ld = 3 * C;
  const std::vector<int64_t> offsets = {0, 5, 6, 18, 18, 25, 95};
  const int64_t B = 6, N = offsets[B];
  auto qkv = randn(N * ld, 29);
  std::vector<float> out(B * C, -1.f), r(N * C, -2.f), want(B * C, 0.f);
  std::vector<float> scratch(static_cast<size_t>(attention_first_scratch(offsets.data(), B)));
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  attention_packed_first(qkv.data(), qkv.data() + C, qkv.data() + 2 * C, ld, offsets.data(), B, H, D, scale,
                         out.data(), C, scratch.data());
  for (int64_t b = 0; b < B; ++b) {
    const int64_t o = offsets[b], L = offsets[b + 1] - o;
    if (L == 0) continue;
    ref::attention(qkv.data() + o * ld, qkv.data() + o * ld + C, qkv.data() + o * ld + 2 * C, ld, nullptr, 1,
                   L, H, D, scale, r.data() + o * C, C);
    std::copy(r.begin() + o * C, r.begin() + (o + 1) * C, want.begin() + b * C);
  }
  EXPECT_LT(max_abs_diff(out, want), 2e-6f);
  for (int64_t c = 0; c < C; ++c) EXPECT_EQ(out[3 * C + c], 0.f);
}

TEST_P(BothIsas, AttnPvHandComputed) {
  // P (2, 2) = [[0.25, 0.75], [1, 0]], V (2, 3) rows [1, 2, 3], [5, 6, 7] (stride 4), out stride 5.
  const float P[4] = {0.25f, 0.75f, 1.f, 0.f};
  const float V[8] = {1, 2, 3, 99, 5, 6, 7, 99};
  float out[10];
  for (float& x : out) x = -7.f;
  attn_pv(P, 2, V, 4, 3, out, 5);
  const float want[10] = {4, 5, 6, -7, -7, 1, 2, 3, -7, -7};
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(out[i], want[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(Isa, BothIsas, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "avx512" : "baseline"; });

TEST(Embedding, GatherAndRangeCheck) {
  float table[6] = {0, 1, 10, 11, 20, 21};  // (3, 2)
  int64_t ids[3] = {2, 0, 2};
  float out[6];
  embedding_gather(ids, 3, table, 3, 2, out);
  EXPECT_EQ(out[0], 20.f);
  EXPECT_EQ(out[3], 1.f);
  embedding_gather(ids, 3, table, 3, 2, out, true);
  EXPECT_EQ(out[0], 40.f);
  int64_t bad[1] = {3};
  EXPECT_THROW(embedding_gather(bad, 1, table, 3, 2, out), Error);
  float r[6];
  ref::embedding_gather(ids, 3, table, 3, 2, r);
  EXPECT_EQ(r[5], 21.f);
}

// The float16 gather (an inference-only model's word-embedding table) against gathering from the table
// converted to float32 as the loader converts it: bit-equal for every half bit pattern (subnormals, Inf and
// NaN payloads included), for a row width that is a multiple of 16 (the F16C path) and one that is not;
// the reference twin too.
TEST(Embedding, Float16GatherIsBitEqualToTheFloat32Table) {
  for (const int64_t C : {int64_t{16}, int64_t{24}}) {
    const int64_t V = (65536 + C - 1) / C;
    std::vector<uint16_t> half(static_cast<size_t>(V * C));
    for (size_t i = 0; i < half.size(); ++i) half[i] = static_cast<uint16_t>((i * 40503u) & 0xffffu);
    std::vector<float> table(half.size());
    convert_f16_to_f32(half.data(), table.data(), half.size());
    std::vector<int64_t> ids;
    for (int64_t v = V - 1; v >= 0; --v) ids.push_back(v);         // every row, in another order
    for (int64_t k = 0; k < 50; ++k) ids.push_back((k * 37) % V);  // and repeats
    const int64_t N = static_cast<int64_t>(ids.size());
    std::vector<float> want(static_cast<size_t>(N * C)), got(want.size(), -1.f), r(want.size(), -1.f);
    embedding_gather(ids.data(), N, table.data(), V, C, want.data());
    embedding_gather_f16(ids.data(), N, half.data(), V, C, got.data());
    ref::embedding_gather_f16(ids.data(), N, half.data(), V, C, r.data());
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "C = " << C;
    EXPECT_EQ(std::memcmp(want.data(), r.data(), want.size() * sizeof(float)), 0) << "C = " << C;
    int64_t bad[2] = {0, V};
    EXPECT_THROW(embedding_gather_f16(bad, 2, half.data(), V, C, got.data()), Error);
    EXPECT_THROW(ref::embedding_gather_f16(bad, 2, half.data(), V, C, got.data()), Error);
  }
}

// ctest runs this binary with OPENBLAS_CORETYPE=Haswell (as the machines' environment sets it): the GEMM
// path must still be oneDNN's AVX-512 JIT kernel on a CPU that has AVX-512.
TEST(Gemm, ReachesAvx512WhateverOpenBlasCoretypeSays) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "this CPU has no AVX-512";
  set_gemm_backend(GemmBackend::Dnnl);
  const std::string d = gemm_description();
  std::printf("  OPENBLAS_CORETYPE=%s -> gemm: %s, kernels: %s\n",
              getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)", d.c_str(),
              kernels_isa());
  EXPECT_NE(d.find("avx512"), std::string::npos) << d;
  EXPECT_STREQ(kernels_isa(), "avx512");
}
