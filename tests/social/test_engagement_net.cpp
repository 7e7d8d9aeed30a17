// The engagement networks' backward against central finite differences of their forward (every
// parameter), for the MLP and for a two-layer transformer with a masked (absent) token.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "social/engagement.h"

namespace eng = tern::social::eng;

namespace {

// L = sum_b c_b * out_b, in double from the float forward.
double objective(const eng::Net& net, const std::vector<float>& x, const std::vector<float>& mask, int64_t B,
                 const std::vector<float>& c) {
  std::vector<float> out(B);
  net.forward(x.data(), mask.data(), B, out.data());
  double s = 0;
  for (int64_t b = 0; b < B; ++b) s += static_cast<double>(c[b]) * out[b];
  return s;
}

void check_gradients(eng::Net& net, int64_t B) {
  std::mt19937_64 g(42);
  std::normal_distribution<float> n(0.f, 1.f);
  const int64_t T = net.tokens();
  std::vector<float> x(static_cast<size_t>(B * net.sample_size())), mask(static_cast<size_t>(B * T), 1.f),
      c(B);
  for (auto& v : x) v = n(g);
  for (auto& v : c) v = n(g);
  if (T > 1) mask[0] = 0.f;  // sample 0's oldest token is absent
  // Larger parameters than the init so that attention is not uniform.
  for (auto& p : net.params()) p *= 2.f;
  std::fill(net.grad().begin(), net.grad().end(), 0.f);
  net.backward(x.data(), mask.data(), B, c.data());
  const std::vector<float> analytic = net.grad();
  int checked = 0, kinks = 0;
  double worst = 0;
  for (size_t i = 0; i < net.params().size(); ++i) {
    float& p = net.params()[i];
    const float p0 = p;
    const float h = 1e-2f * std::max(1.f, std::fabs(p0));
    p = p0 + h;
    double up = objective(net, x, mask, B, c);
    p = p0 - h;
    double down = objective(net, x, mask, B, c);
    p = p0 + h / 2;
    double up2 = objective(net, x, mask, B, c);
    p = p0 - h / 2;
    double down2 = objective(net, x, mask, B, c);
    p = p0;
    double fd = (up - down) / (2.0 * h), fd2 = (up2 - down2) / static_cast<double>(h);
    // A ReLU kink inside the step makes the two step sizes disagree: such parameters are not judged.
    if (std::fabs(fd - fd2) > 1e-2 * std::max(1.0, std::fabs(fd))) {
      ++kinks;
      continue;
    }
    // Richardson extrapolation of the two central differences cancels their O(h^2) error; what is left is
    // float32 rounding of the forward (worst 1.3e-3 here), far below the O(1) error of a wrong term.
    double rich = (4 * fd2 - fd) / 3;
    double err = std::fabs(analytic[i] - rich) / std::max(1.0, std::fabs(rich));
    worst = std::max(worst, err);
    EXPECT_LT(err, 5e-3) << "parameter " << i << ": analytic " << analytic[i] << ", finite difference "
                         << rich;
    ++checked;
  }
  EXPECT_GT(checked, static_cast<int>(0.9 * static_cast<double>(net.params().size())))
      << kinks << " parameters at ReLU kinks";
  // Gradients are not trivially zero.
  double norm = 0;
  for (float v : analytic) norm += std::fabs(v);
  EXPECT_GT(norm, 1e-3);
  std::printf("checked %d of %zu parameters, worst relative error %.2e\n", checked, net.params().size(),
              worst);
}

}  // namespace

TEST(EngagementNet, MlpBackwardMatchesFiniteDifferences) {
  eng::Net net(eng::Net::Kind::Mlp, 7, 8, 1, 1, 3);
  check_gradients(net, 5);
}

TEST(EngagementNet, TransformerBackwardMatchesFiniteDifferences) {
  eng::Net net(eng::Net::Kind::Transformer, 5, 4, 4, 2, 9, 6);  // a linear path of 6 after the tokens
  check_gradients(net, 3);
}

TEST(EngagementNet, MaskedTokensAreIgnored) {
  eng::Net net(eng::Net::Kind::Transformer, 3, 4, 3, 1, 1);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1}, mask = {0, 1, 1}, out(1), out2(1);
  net.forward(x.data(), mask.data(), 1, out.data());
  x[0] = x[1] = x[2] = 100.f;  // the absent token's values do not matter
  net.forward(x.data(), mask.data(), 1, out2.data());
  EXPECT_EQ(out[0], out2[0]);
  mask[0] = 1;  // but a present one does
  net.forward(x.data(), mask.data(), 1, out2.data());
  EXPECT_NE(out[0], out2[0]);
}

TEST(EngagementNet, ConfigRoundTrip) {
  eng::Net net(eng::Net::Kind::Transformer, 6, 8, 5, 2, 4, 7);
  eng::Net back = eng::Net::from_config(net.config());
  EXPECT_EQ(back.params(), net.params());  // same seed, same initial values
  EXPECT_EQ(back.slices().size(), net.slices().size());
  EXPECT_EQ(back.sample_size(), 5 * 6 + 7);
}
