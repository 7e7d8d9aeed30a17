// PackedWeight (tensor/packed_weight.h): every precision against its reference twin and against the exact
// fp32 product, the quantisers against hand-computed values, the CPU-support error, threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/kernels_ref.h"
#include "tensor/packed_weight.h"
#include "tests/util/test_util.h"

namespace tern::detail {
bool lowp_cpu_supports(Precision p);
bool set_lowp_cpu_disabled(bool off);
int64_t set_lowp_dnnl_min_m(Precision p, int64_t m);
}  // namespace tern::detail

using namespace tern;

namespace {

using tern::test::randn;

// The exact product in double with bias and beta: (M, N) ld ldy, and sum_k |x w| per element (for bounds).
void exact(const std::vector<float>& w, int64_t N, int64_t K, int64_t ldw, const std::vector<float>& x,
           int64_t M, int64_t ldx, const float* bias, float beta, const std::vector<float>& y0, int64_t ldy,
           std::vector<double>& out, std::vector<double>& absum) {
  out.assign(M * ldy, 0);
  absum.assign(M * ldy, 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        s += double(x[m * ldx + k]) * w[n * ldw + k];
        a += std::fabs(double(x[m * ldx + k]) * w[n * ldw + k]);
      }
      if (bias) s += bias[n], a += std::fabs(bias[n]);
      s += double(beta) * y0[m * ldy + n];
      a += std::fabs(double(beta) * y0[m * ldy + n]);
      out[m * ldy + n] = s;
      absum[m * ldy + n] = a;
    }
}

struct Case {
  int64_t M, N, K;
};
// Odd sizes (K = 100, N = 37), the micro-kernel's edges (M = 1, 3, 17, 64, 65; N not a multiple of 16 or 64),
// BERT-mini weight shapes, and M x K large enough for several row chunks of the tiling (700 x 1024: 4 chunks
// for int8, 8 for bf16, 15 for fp32) with a partial last column group (N = 70).
const Case kCases[] = {{1, 37, 100},   {3, 37, 100},   {17, 37, 100},   {1, 256, 256},
                       {17, 768, 256}, {64, 48, 256},  {65, 1024, 256}, {300, 256, 99},
                       {5, 3, 1},      {7, 260, 1024}, {700, 70, 1024}};

bool supported(Precision p) {
  return detail::lowp_cpu_supports(p);
}

class EachPrecision : public ::testing::TestWithParam<Precision> {
 protected:
  void SetUp() override {
    if (!supported(GetParam()))
      GTEST_SKIP() << "this CPU lacks the instructions " << precision_name(GetParam()) << " needs";
  }
};

std::string name_of(const ::testing::TestParamInfo<Precision>& i) {
  return precision_name(i.param);
}

}  // namespace

TEST(Precision, NamesAndParse) {
  EXPECT_STREQ(precision_name(Precision::F32), "fp32");
  EXPECT_STREQ(precision_name(Precision::BF16), "bf16");
  EXPECT_STREQ(precision_name(Precision::I8), "int8");
  EXPECT_EQ(parse_precision("fp32"), Precision::F32);
  EXPECT_EQ(parse_precision("float32"), Precision::F32);
  EXPECT_EQ(parse_precision("bf16"), Precision::BF16);
  EXPECT_EQ(parse_precision("bfloat16"), Precision::BF16);
  EXPECT_EQ(parse_precision("int8"), Precision::I8);
  try {
    parse_precision("fp16");
    FAIL() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'fp16'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos) << e.what();
  }
  EXPECT_NE(precision_description(Precision::I8).find("int8"), std::string::npos);
  EXPECT_NE(precision_description(Precision::BF16).find("bf16"), std::string::npos);
}

TEST(Precision, RequireNamesTheMissingInstructions) {
  ::unsetenv("TERN_PRECISION_FORCE_REF");
  EXPECT_NO_THROW(require_precision(Precision::F32));
  const bool was = detail::set_lowp_cpu_disabled(true);
  try {
    require_precision(Precision::BF16);
    ADD_FAILURE() << "no throw";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--precision bf16 needs a CPU with AVX512-BF16 (vdpbf16ps)"), std::string::npos) << m;
    EXPECT_NE(m.find("this CPU has: "), std::string::npos) << m;
  }
  try {
    require_precision(Precision::I8);
    ADD_FAILURE() << "no throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--precision int8 needs a CPU with AVX512-VNNI (vpdpbusd)"),
              std::string::npos)
        << e.what();
  }
  const std::vector<float> w = randn(8 * 4, 1);
  EXPECT_THROW(PackedWeight::from_f32(Precision::I8, w.data(), 8, 4, 4), std::runtime_error);
  EXPECT_NO_THROW(PackedWeight::from_f32(Precision::F32, w.data(), 8, 4, 4));
  // TERN_PRECISION_FORCE_REF=1: the reference twin runs instead, giving the twin's bits.
  ::setenv("TERN_PRECISION_FORCE_REF", "1", 1);
  for (Precision p : {Precision::BF16, Precision::I8}) {
    EXPECT_NO_THROW(require_precision(p));
    const PackedWeight pw = PackedWeight::from_f32(p, w.data(), 8, 4, 4);
    EXPECT_NE(precision_description(p).find("reference twin"), std::string::npos);
    const std::vector<float> x = randn(3 * 4, 2);
    std::vector<float> y(3 * 8), r(3 * 8);
    pw.gemm(3, x.data(), 4, nullptr, 0.f, y.data(), 8);
    ref::packed_weight_gemm(p, w.data(), 8, 4, 4, 3, x.data(), 4, nullptr, 0.f, r.data(), 8);
    EXPECT_EQ(0, std::memcmp(y.data(), r.data(), y.size() * 4)) << precision_name(p);
  }
  ::unsetenv("TERN_PRECISION_FORCE_REF");
  detail::set_lowp_cpu_disabled(was);
}

TEST(Quantize, WeightHandComputed) {
  // Row 0: amax 127 -> scale 1; 2.5 -> 2 and -3.5 -> -4 (nearest even), 0.5 -> 0.
  // Row 1: all zero -> scale 1, q 0.  Row 2: amax 0.5 -> scale 0.5/127; -0.5 -> -127, 0.2 -> 50.8 -> 51.
  const float w[] = {127.f, 2.5f, -3.5f, 0.5f, 0.f, 0.f, 0.f, 0.f, -0.5f, 0.2f, 0.f, 0.5f};
  int8_t q[12];
  float s[3];
  ref::quantize_weight_i8(w, 3, 4, 4, q, s);
  EXPECT_EQ(s[0], 1.f);
  EXPECT_EQ(s[1], 1.f);
  EXPECT_EQ(s[2], 0.5f / 127.f);
  const int8_t want[] = {127, 2, -4, 0, 0, 0, 0, 0, -127, 51, 0, 127};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(q[i], want[i]) << i;
  // ld > cols reads only the first cols of each row.
  const float wl[] = {1.5f, -2.f, 99.f, 4.f, 0.f, 99.f};
  ref::quantize_weight_i8(wl, 2, 2, 3, q, s);
  EXPECT_EQ(s[0], 2.f / 127.f);
  EXPECT_EQ(s[1], 4.f / 127.f);
  EXPECT_EQ(q[0], 95);  // 1.5 / (2 / 127) = 95.25
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[2], 127);
  EXPECT_EQ(q[3], 0);
}

// A NaN or infinite weight is an error naming the output channel (a NaN used to slip past the max).
TEST(Quantize, NonFiniteWeightIsAnError) {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    std::vector<float> w = {0.5f, -1.f, 0.25f, 2.f, 1.f, bad, 0.f, 3.f};  // (2, 4): channel 1 is bad
    std::vector<int8_t> q(8);
    std::vector<float> sc(2);
    try {
      ref::quantize_weight_i8(w.data(), 2, 4, 4, q.data(), sc.data());
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("output channel 1"), std::string::npos) << e.what();
    }
    EXPECT_THROW(PackedWeight::from_f32(Precision::I8, w.data(), 2, 4, 4), Error);
    try {  // the AVX-512 kernel (where the CPU has it) names the same channel
      quantize_weight_i8(w.data(), 2, 4, 4, q.data(), sc.data());
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("output channel 1"), std::string::npos) << e.what();
    }
  }
}

// The load-time quantiser (AVX-512 where the CPU runs int8) gives its twin's bits: shapes with tails, ld >
// cols, an all-zero channel, halfway values (nearest even) and large magnitudes.
TEST(Quantize, WeightKernelEqualsTwin) {
  if (!supported(Precision::I8)) GTEST_SKIP() << "this CPU lacks AVX512-VNNI";
  const int64_t shapes[][3] = {{1, 1, 1},   {3, 7, 9},      {5, 16, 16},
                               {9, 17, 20}, {37, 100, 100}, {64, 768, 770}};
  uint32_t seed = 7;
  for (const auto& sh : shapes) {
    const int64_t R = sh[0], K = sh[1], ld = sh[2];
    auto w = randn(R * ld, seed++);
    for (int64_t k = 0; k < K; ++k) w[k] = 0.f;  // channel 0 all zero
    if (R > 2) {
      for (int64_t k = 0; k < K; ++k) w[ld + k] = static_cast<float>(k % 9) - 4.f;  // amax 4: halfway values
      w[2 * ld] = 3.0e38f;                                                          // huge amax
    }
    std::vector<int8_t> q(R * K, 99), q2(R * K, 98);
    std::vector<float> s(R, -1.f), s2(R, -2.f);
    quantize_weight_i8(w.data(), R, K, ld, q.data(), s.data());
    ref::quantize_weight_i8(w.data(), R, K, ld, q2.data(), s2.data());
    EXPECT_EQ(q, q2) << R << "x" << K;
    EXPECT_EQ(0, std::memcmp(s.data(), s2.data(), s.size() * 4)) << R << "x" << K;
  }
}

TEST(Quantize, RowU8HandComputed) {
  // x = [-1, 0, 3]: range [-1, 3], s = 4/255, zp = round(255/4) = 64; q = [0, 64, 255].
  const float x[] = {-1.f, 0.f, 3.f};
  uint8_t q[3];
  int32_t zp = -1;
  EXPECT_EQ(ref::quantize_row_u8(x, 3, q, &zp), 4.f / 255.f);
  EXPECT_EQ(zp, 64);
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[1], 64);
  EXPECT_EQ(q[2], 255);
  // All positive: the range still includes 0 (zp = 0); [1, 4] -> s = 4/255, q = [round(63.75), 255].
  const float xp[] = {1.f, 4.f};
  EXPECT_EQ(ref::quantize_row_u8(xp, 2, q, &zp), 4.f / 255.f);
  EXPECT_EQ(zp, 0);
  EXPECT_EQ(q[0], 64);
  EXPECT_EQ(q[1], 255);
  // All negative: zp = 255; [-2, -0.5] -> s = 2/255, q = [0, round(-63.75) + 255] = [0, 191].
  const float xn[] = {-2.f, -0.5f};
  EXPECT_EQ(ref::quantize_row_u8(xn, 2, q, &zp), 2.f / 255.f);
  EXPECT_EQ(zp, 255);
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[1], 255 - 64);  // -0.5 * 127.5 = -63.75 -> -64
  // All zero: scale 1, zp 0, q 0.
  const float xz[] = {0.f, 0.f};
  EXPECT_EQ(ref::quantize_row_u8(xz, 2, q, &zp), 1.f);
  EXPECT_EQ(zp, 0);
  EXPECT_EQ(q[0], 0);
}

TEST(Quantize, Bf16HandComputed) {
  auto bits = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  };
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  EXPECT_EQ(ref::f32_to_bf16(1.f), 0x3F80);
  EXPECT_EQ(ref::f32_to_bf16(-2.f), 0xC000);
  EXPECT_EQ(ref::f32_to_bf16(from_bits(0x3F808000u)), 0x3F80);  // tie -> even (down)
  EXPECT_EQ(ref::f32_to_bf16(from_bits(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(ref::f32_to_bf16(from_bits(0x3F808001u)), 0x3F81);  // above the tie
  EXPECT_EQ(ref::f32_to_bf16(from_bits(0x00000001u)), 0x0000);  // denormal -> zero (as vcvtneps2bf16)
  EXPECT_EQ(ref::f32_to_bf16(from_bits(0x80400000u)), 0x8000);
  EXPECT_TRUE(std::isnan(ref::bf16_to_f32(ref::f32_to_bf16(std::nanf("")))));
  EXPECT_EQ(bits(ref::bf16_to_f32(0x3F82)), 0x3F820000u);
}

TEST_P(EachPrecision, MatchesTwinAndExactProduct) {
  const Precision p = GetParam();
  for (const Case& c : kCases) {
    const int64_t ldw = c.K + 5, ldx = c.K + 3, ldy = c.N + 2;
    const auto w = randn(c.N * ldw, 11 + c.K, 0.05f), x = randn(c.M * ldx, 7 + c.M), b = randn(c.N, 5);
    const auto y0 = randn(c.M * ldy, 3);
    for (int with_bias = 0; with_bias < 2; ++with_bias)
      for (float beta : {0.f, 1.f}) {
        SCOPED_TRACE(testing::Message() << precision_name(p) << " M=" << c.M << " N=" << c.N << " K=" << c.K
                                        << " bias=" << with_bias << " beta=" << beta);
        const float* bias = with_bias ? b.data() : nullptr;
        const PackedWeight pw = PackedWeight::from_f32(p, w.data(), c.N, c.K, ldw);
        ASSERT_EQ(pw.rows(), c.N);
        ASSERT_EQ(pw.cols(), c.K);
        ASSERT_EQ(pw.precision(), p);
        ASSERT_GT(pw.bytes(), 0u);
        std::vector<float> y = y0, r = y0;
        // NaN in y must not leak through beta = 0.
        if (beta == 0.f)
          for (int64_t m = 0; m < c.M; ++m)
            std::fill(y.begin() + m * ldy, y.begin() + m * ldy + c.N, std::nanf(""));
        pw.gemm(c.M, x.data(), ldx, bias, beta, y.data(), ldy);
        ref::packed_weight_gemm(p, w.data(), c.N, c.K, ldw, c.M, x.data(), ldx, bias, beta, r.data(), ldy);
        std::vector<double> e, absum;
        exact(w, c.N, c.K, ldw, x, c.M, ldx, bias, beta, y0, ldy, e, absum);
        double worst_twin = 0, worst_exact = 0;
        for (int64_t m = 0; m < c.M; ++m) {
          for (int64_t n = 0; n < c.N; ++n) {
            const int64_t i = m * ldy + n;
            ASSERT_TRUE(std::isfinite(y[i])) << "m=" << m << " n=" << n;
            const double a = absum[i] + 1e-30;
            worst_twin = std::max(worst_twin, std::fabs(double(y[i]) - r[i]) / a);
            worst_exact = std::max(worst_exact, std::fabs(double(y[i]) - e[i]) / a);
          }
          for (int64_t n = c.N; n < ldy; ++n) ASSERT_EQ(y[m * ldy + n], y0[m * ldy + n]) << "wrote past N";
        }
        // Bounds relative to sum_k |x_k w_k| (+ |bias| + |beta y|), the scale of an element's rounding error:
        //   fp32 vs twin (ref sgemm): 1e-5; bf16 vs twin (same bf16 inputs; fp32 vs double sums): 1e-5;
        //   int8 vs twin (identical quantisation, integer sums): one fp32 rounding, 1e-6.
        //   vs the exact fp32-input product: fp32 1e-5, bf16 (two 2^-9 roundings per product) 1e-2,
        //   int8 (x step range/255, w step amax/127 per element) 2e-2.
        const double tol_twin = p == Precision::I8 ? 1e-6 : 1e-5;
        const double tol_exact = p == Precision::F32 ? 1e-5 : p == Precision::BF16 ? 1e-2 : 2e-2;
        if (std::getenv("TERN_TEST_VERBOSE"))
          std::printf("%s M=%ld N=%ld K=%ld twin %.2e exact %.2e\n", precision_name(p), long(c.M), long(c.N),
                      long(c.K), worst_twin, worst_exact);
        EXPECT_LE(worst_twin, tol_twin);
        EXPECT_LE(worst_exact, tol_exact);
      }
  }
}

// An activation fused into the kernels' store gives the bits of the GEMM followed by the elementwise kernel
// (bias_act: the same 16-lane formulas on the same float32 values) -- except GELU before a bf16 / int8 GEMM,
// the short formula, checked against std::erf's GELU -- and agrees with the twin (GEMM twin, then ref::act)
// within the GEMM bound plus the activation's own error. Mish is not in the store (applied after).
TEST_P(EachPrecision, FusedActivationMatchesGemmThenElementwise) {
  const Precision p = GetParam();
  for (const Case& c : {Case{17, 1024, 256}, Case{65, 37, 100}, Case{300, 256, 99}, Case{1, 260, 1024}}) {
    const int64_t ldx = c.K + 3, ldy = c.N + 2;
    const auto w = randn(c.N * c.K, 61 + c.K, 0.08f), x = randn(c.M * ldx, 62 + c.M), b = randn(c.N, 63);
    const PackedWeight pw = PackedWeight::from_f32(p, w.data(), c.N, c.K, c.K);
    for (Act act : {Act::GeluErf, Act::GeluTanh, Act::Relu, Act::Silu, Act::Mish}) {
      SCOPED_TRACE(testing::Message() << precision_name(p) << " " << act_name(act) << " M=" << c.M
                                      << " N=" << c.N << " K=" << c.K);
      std::vector<float> fused(c.M * ldy, 7.f), twostep(c.M * ldy, 7.f), twin(c.M * ldy, 7.f);
      pw.gemm(c.M, x.data(), ldx, b.data(), 0.f, fused.data(), ldy, act);
      pw.gemm(c.M, x.data(), ldx, b.data(), 0.f, twostep.data(), ldy);
      if (act == Act::GeluErf && p != Precision::F32) {
        // bf16 / int8: the short GELU (error <= 6e-6 + 3.1e-5 |x|) on the same pre-activation values,
        // against GELU with std::erf; pre-activations here span about [-4, 4].
        double worst = 0, largest = 0;
        for (int64_t m = 0; m < c.M; ++m)
          for (int64_t n = 0; n < c.N; ++n) {
            const int64_t i = m * ldy + n;
            const double d = std::fabs(double(fused[i]) - ref::act(twostep[i], Act::GeluErf));
            largest = std::max(largest, d);
            // fit error 6e-6 + vrcp14ps's 2^-14 of erf and float32 rounding - proportional to x
            worst = std::max(worst, d - 3.1e-5 * std::fabs(twostep[i]));
          }
        EXPECT_LE(worst, 7e-6);
        EXPECT_GT(largest, 0.0) << "the short GELU should differ from the exact one somewhere";
        for (int64_t m = 0; m < c.M; ++m) bias_act(twostep.data() + m * ldy, nullptr, 1, c.N, act);
      } else {
        for (int64_t m = 0; m < c.M; ++m) bias_act(twostep.data() + m * ldy, nullptr, 1, c.N, act);
        ASSERT_EQ(0, std::memcmp(fused.data(), twostep.data(), fused.size() * 4));
      }
      ref::packed_weight_gemm(p, w.data(), c.N, c.K, c.K, c.M, x.data(), ldx, b.data(), 0.f, twin.data(), ldy,
                              act);
      std::vector<double> e, absum;
      exact(w, c.N, c.K, c.K, x, c.M, ldx, b.data(), 0.f, std::vector<float>(c.M * ldy), ldy, e, absum);
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = 0; n < c.N; ++n) {
          const int64_t i = m * ldy + n;
          // the GEMM bound (1e-5 of sum |x w|, activations' slopes <= 1.2) + the activation's error (1e-6
          // relative; the short GELU's 7e-6 + 3.1e-5 |x|)
          const double gelu = act == Act::GeluErf && p != Precision::F32 ? 3.1e-5 * std::fabs(twin[i]) : 0.0;
          ASSERT_NEAR(fused[i], twin[i], 1.2e-5 * absum[i] + 1e-6 * (std::fabs(twin[i]) + 1e-3) + 7e-6 + gelu)
              << "m=" << m << " n=" << n;
        }
      EXPECT_EQ(fused[c.N], 7.f) << "wrote past N";  // row 0's padding
    }
  }
  const PackedWeight pw = PackedWeight::from_f32(p, randn(4 * 4, 1).data(), 4, 4, 4);
  std::vector<float> x(4, 1.f), y(4, 0.f);
  EXPECT_THROW(pw.gemm(1, x.data(), 4, nullptr, 1.f, y.data(), 4, Act::GeluErf), Error);  // beta != 0
}

TEST_P(EachPrecision, ThreadCountAndConcurrentCallsGiveTheSameBits) {
  const Precision p = GetParam();
  const int64_t M = 403, N = 200, K = 1024;  // several row chunks, a partial last column group
  const auto w = randn(N * K, 21, 0.05f), x = randn(M * K, 22), b = randn(N, 23);
  const PackedWeight pw = PackedWeight::from_f32(p, w.data(), N, K, K);
  std::vector<float> one(M * N), many(M * N), t1(M * N), t2(M * N);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  pw.gemm(M, x.data(), K, b.data(), 0.f, one.data(), N);
  omp_set_num_threads(std::max(2, saved));
  pw.gemm(M, x.data(), K, b.data(), 0.f, many.data(), N);
  omp_set_num_threads(saved);
  EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * 4)) << "1 vs several OpenMP threads";
  std::thread a([&] {
    for (int i = 0; i < 5; ++i) pw.gemm(M, x.data(), K, b.data(), 0.f, t1.data(), N);
  });
  std::thread c([&] {
    for (int i = 0; i < 5; ++i) pw.gemm(M, x.data(), K, b.data(), 0.f, t2.data(), N);
  });
  a.join();
  c.join();
  EXPECT_EQ(0, std::memcmp(one.data(), t1.data(), one.size() * 4)) << "std::thread 1";
  EXPECT_EQ(0, std::memcmp(one.data(), t2.data(), one.size() * 4)) << "std::thread 2";
  // Inside a parallel region each call runs single-threaded and still gives the same bits.
  std::vector<float> in_par(2 * M * N);
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 2; ++i) pw.gemm(M, x.data(), K, b.data(), 0.f, in_par.data() + i * M * N, N);
  EXPECT_EQ(0, std::memcmp(one.data(), in_par.data(), one.size() * 4));
  EXPECT_EQ(0, std::memcmp(one.data(), in_par.data() + M * N, one.size() * 4));
}

// The oneDNN matmul alternative (off by default; the bench's --compare times it): the same quantised inputs
// and the same epilogue, so int8 gives the kernel's bits and bf16 agrees with the twin to fp32 summation
// order.
class LowPrecision : public EachPrecision {};

TEST_P(LowPrecision, OneDnnMatmulPathMatchesTwin) {
  const Precision p = GetParam();
  const int64_t old = detail::set_lowp_dnnl_min_m(p, 16);  // oneDNN from M = 16 on
  for (const Case& c : kCases) {
    SCOPED_TRACE(testing::Message() << precision_name(p) << " M=" << c.M << " N=" << c.N << " K=" << c.K);
    const int64_t ldx = c.K + 1, ldy = c.N + 3;
    const auto w = randn(c.N * c.K, 51, 0.05f), x = randn(c.M * ldx, 52), b = randn(c.N, 53);
    const auto y0 = randn(c.M * ldy, 54);
    const PackedWeight pw = PackedWeight::from_f32(p, w.data(), c.N, c.K, c.K);
    EXPECT_EQ(pw.kernel(c.M).rfind("oneDNN matmul", 0) == 0, c.M >= 16) << pw.kernel(c.M);
    std::vector<float> y = y0, r = y0, k = y0;
    pw.gemm(c.M, x.data(), ldx, b.data(), 1.f, y.data(), ldy);
    ref::packed_weight_gemm(p, w.data(), c.N, c.K, c.K, c.M, x.data(), ldx, b.data(), 1.f, r.data(), ldy);
    detail::set_lowp_dnnl_min_m(p, INT64_MAX);  // the same weight through tern's kernel
    pw.gemm(c.M, x.data(), ldx, b.data(), 1.f, k.data(), ldy);
    detail::set_lowp_dnnl_min_m(p, 16);
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < ldy; ++n) {
        const int64_t i = m * ldy + n;
        if (p == Precision::I8) {
          ASSERT_EQ(y[i], k[i]) << "m=" << m << " n=" << n;
        } else {
          ASSERT_NEAR(y[i], r[i], 1e-5 * (std::fabs(r[i]) + c.K * 0.05)) << "m=" << m << " n=" << n;
        }
      }
  }
  detail::set_lowp_dnnl_min_m(p, old);
}

INSTANTIATE_TEST_SUITE_P(All, EachPrecision,
                         ::testing::Values(Precision::F32, Precision::BF16, Precision::I8), name_of);
INSTANTIATE_TEST_SUITE_P(Low, LowPrecision, ::testing::Values(Precision::BF16, Precision::I8), name_of);

// F32 runs tern's prepacked kernel (summation order differs from sgemm's): within 1e-5 relative of the sgemm
// path; a weight built while the GEMM backend is not oneDNN (TERN_GEMM=ref|openblas) runs sgemm itself.
TEST(PackedWeightF32, SameAsSgemm) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(testing::Message() << "M=" << c.M << " N=" << c.N << " K=" << c.K);
    const auto w = randn(c.N * c.K, 31, 0.05f), x = randn(c.M * c.K, 32);
    const PackedWeight pw = PackedWeight::from_f32(Precision::F32, w.data(), c.N, c.K, c.K);
    std::vector<float> y(c.M * c.N), r(c.M * c.N), z(c.M * c.N);
    pw.gemm(c.M, x.data(), c.K, nullptr, 0.f, y.data(), c.N);
    sgemm(false, true, c.M, c.N, c.K, 1.f, x.data(), c.K, w.data(), c.K, 0.f, r.data(), c.N);
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_LE(std::fabs(y[i] - r[i]), 1e-5f * std::max(1.f, std::fabs(r[i]))) << "i=" << i;
    const GemmBackend prev = gemm_backend();
    set_gemm_backend(GemmBackend::Reference);
    const PackedWeight ps = PackedWeight::from_f32(Precision::F32, w.data(), c.N, c.K, c.K);
    EXPECT_EQ(ps.kernel(c.M), gemm_description());
    ps.gemm(c.M, x.data(), c.K, nullptr, 0.f, z.data(), c.N);
    ref::sgemm(false, true, c.M, c.N, c.K, 1.f, x.data(), c.K, w.data(), c.K, 0.f, r.data(), c.N);
    set_gemm_backend(prev);
    EXPECT_EQ(0, std::memcmp(z.data(), r.data(), z.size() * 4));
  }
}

TEST(PackedWeightI8, ExportAndFromI8RoundTrip) {
  if (!supported(Precision::I8)) GTEST_SKIP() << "this CPU lacks AVX512-VNNI";
  const int64_t N = 37, K = 100, M = 9;
  const auto w = randn(N * K, 41), x = randn(M * K, 42);
  const PackedWeight pw = PackedWeight::from_f32(Precision::I8, w.data(), N, K, K);
  std::vector<int8_t> q, q2(N * K);
  std::vector<float> s, s2(N);
  pw.export_i8(q, s);
  ref::quantize_weight_i8(w.data(), N, K, K, q2.data(), s2.data());
  EXPECT_EQ(q, q2);
  EXPECT_EQ(s, s2);
  const PackedWeight pq = PackedWeight::from_i8(q.data(), s.data(), N, K);
  std::vector<float> y1(M * N), y2(M * N);
  pw.gemm(M, x.data(), K, nullptr, 0.f, y1.data(), N);
  pq.gemm(M, x.data(), K, nullptr, 0.f, y2.data(), N);
  EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * 4));
  const PackedWeight f = PackedWeight::from_f32(Precision::F32, w.data(), N, K, K);
  EXPECT_THROW(f.export_i8(q, s), std::runtime_error);
}

TEST(PackedWeight, BadArguments) {
  const auto w = randn(8 * 4, 1);
  PackedWeight empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.bytes(), 0u);
  float y[8];
  EXPECT_THROW(empty.gemm(1, w.data(), 4, nullptr, 0.f, y, 8), std::runtime_error);
  const PackedWeight pw = PackedWeight::from_f32(Precision::F32, w.data(), 8, 4, 4);
  EXPECT_FALSE(pw.empty());
  EXPECT_THROW(pw.gemm(1, w.data(), 3, nullptr, 0.f, y, 8), std::runtime_error);                // ldx < cols
  EXPECT_THROW(pw.gemm(1, w.data(), 4, nullptr, 0.f, y, 7), std::runtime_error);                // ldy < rows
  EXPECT_THROW(PackedWeight::from_f32(Precision::F32, w.data(), 8, 4, 3), std::runtime_error);  // ld < cols
  const int8_t q[2] = {1, 2};
  const float bad[1] = {std::nanf("")};
  std::vector<float> wn = w;
  wn[5] = INFINITY;
  if (supported(Precision::I8)) {
    EXPECT_THROW(PackedWeight::from_i8(q, bad, 1, 2), std::runtime_error);
    EXPECT_THROW(PackedWeight::from_f32(Precision::I8, wn.data(), 8, 4, 4), std::runtime_error);
  }
  // Moves leave the source empty.
  PackedWeight moved = PackedWeight::from_f32(Precision::F32, w.data(), 8, 4, 4);
  PackedWeight to = std::move(moved);
  EXPECT_EQ(to.rows(), 8);
}
