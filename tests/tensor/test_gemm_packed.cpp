// tern's packed fp32 GEMM (tensor/gemm_packed_avx512.cpp) against its reference twin, the plain triple loop
// (ref::sgemm): every transposition, ragged M / N / K around the 6 x 64 tile, the 16 x 16 transposes and the
// blocking (small KC / NC so that a few hundred elements cross several blocks), strided operands, alpha /
// beta (beta = 0 overwriting NaN), one and two threads, and tern::sgemm's routing of the training shapes to
// it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/gemm_packed.h"
#include "tensor/kernels_impl.h"
#include "tensor/kernels_ref.h"
#include "tests/util/test_util.h"

using namespace tern;
using tern::test::randn;

namespace tern::detail {
int set_gemm_packed_mode(int mode);
}

namespace {

// max |c - r| / (1 + |r|) over the (M, N) block of two matrices with leading dimension ldc.
double worst_rel(const std::vector<float>& c, const std::vector<float>& r, int64_t M, int64_t N,
                 int64_t ldc) {
  double w = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double d = std::fabs(double(c[i * ldc + j]) - r[i * ldc + j]) / (1.0 + std::fabs(r[i * ldc + j]));
      w = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(w, d);
    }
  return w;
}

// Restores the default blocking when a test ends.
struct Blocking {
  Blocking(int64_t kc, int64_t nc) { detail::set_sgemm_packed_blocking(kc, nc, &kc_, &nc_); }
  ~Blocking() { detail::set_sgemm_packed_blocking(kc_, nc_); }
  int64_t kc_ = 0, nc_ = 0;
};

void check_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int64_t pad,
                int nt) {
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const auto A = randn((ta ? K : M) * lda, 1), B = randn((tb ? N : K) * ldb, 2);
  std::vector<float> c = randn(M * ldc, 3), r = c;
  if (beta == 0.f)  // BLAS: beta = 0 overwrites, NaN included
    for (size_t i = 0; i < c.size(); i += 3) c[i] = r[i] = std::numeric_limits<float>::quiet_NaN();
  detail::sgemm_packed(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, c.data(), ldc, nt);
  ref::sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, r.data(), ldc);
  EXPECT_LT(worst_rel(c, r, M, N, ldc), 2e-5)
      << "ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N << " K=" << K << " alpha=" << alpha
      << " beta=" << beta << " pad=" << pad << " threads=" << nt;
  // Padding between rows of C is not written.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < ldc; ++j)
      if (!(std::isnan(c[i * ldc + j]) && std::isnan(r[i * ldc + j])))
        ASSERT_EQ(c[i * ldc + j], r[i * ldc + j]) << "padding of row " << i << " written";
}

TEST(GemmPacked, MatchesReferenceEveryTransposeAndEdge) {
  if (!detail::kernels_use_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  Blocking small(32, 128);  // K > 32 and N > 128 cross blocks
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      for (int64_t M : {1, 5, 6, 7, 13, 48})
        for (int64_t N : {1, 15, 16, 17, 64, 65, 130})
          for (int64_t K : {1, 16, 17, 33, 70}) check_case(ta, tb, M, N, K, 1.f, 0.f, 0, 1);
      check_case(ta, tb, 37, 200, 45, 0.5f, 0.25f, 3, 1);
      check_case(ta, tb, 37, 200, 45, -1.5f, 1.f, 5, 2);
      check_case(ta, tb, 97, 131, 66, 1.f, 0.f, 1, 2);  // rows split between two threads
      check_case(ta, tb, 5, 300, 40, 1.f, 1.f, 0, 2);   // few rows: the columns are split
    }
}

TEST(GemmPacked, DefaultBlockingMatchesReference) {
  if (!detail::kernels_use_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) check_case(ta, tb, 133, 577, 301, 1.f, 0.f, 0, 2);
}

// K = 0: C = beta * C; an empty product leaves C alone.
TEST(GemmPacked, EmptyReduction) {
  if (!detail::kernels_use_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<float> c = {1.f, 2.f, std::numeric_limits<float>::quiet_NaN(), 4.f};
  detail::sgemm_packed(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2, 1);
  EXPECT_EQ(c[0], 0.5f);
  EXPECT_EQ(c[1], 1.f);
  EXPECT_TRUE(std::isnan(c[2]));
  detail::sgemm_packed(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.f, c.data(), 2, 1);
  EXPECT_EQ(c[2], 0.f);
}

// In mode 1 (TERN_GEMM_PACKED=1; the default is 0, oneDNN) tern::sgemm sends the training shapes (M, N, K >=
// 128) to the packed GEMM: its bits are the packed GEMM's, and with the packed path off the results agree to
// rounding.
TEST(GemmPacked, SgemmRoutesTrainingShapes) {
  if (!detail::kernels_use_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  set_gemm_backend(GemmBackend::Dnnl);
  const int64_t M = 160, N = 192, K = 288;
  const auto A = randn(M * K, 4), B = randn(K * N, 5);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t lda = ta ? M : K, ldb = tb ? K : N;
      std::vector<float> dflt(M * N), packed(M * N), off(M * N), r(M * N);
      const int old = detail::set_gemm_packed_mode(1);
      sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, dflt.data(), N);
      detail::sgemm_packed(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, packed.data(), N, 1);
      detail::set_gemm_packed_mode(0);
      sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, off.data(), N);
      detail::set_gemm_packed_mode(old);
      ref::sgemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, r.data(), N);
      EXPECT_EQ(dflt, packed) << "ta=" << ta << " tb=" << tb << ": mode 1's route is the packed GEMM";
      EXPECT_LT(worst_rel(off, r, M, N, N), 2e-5);
      EXPECT_LT(worst_rel(dflt, r, M, N, N), 2e-5);
    }
}

}  // namespace
