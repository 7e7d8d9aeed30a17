// Losses, target scaling, AdamW, the linear schedule and gradient clipping.
// Reference values: PyTorch 1.13.1 (Debian python3-torch), float64 for the losses, float32 for AdamW; the
// scripts are quoted next to each table. Gradients are also checked against central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <functional>
#include <random>
#include <vector>

#include "train/losses.h"
#include "train/optim.h"

using namespace tern;
using namespace tern::train;

namespace {

// torch: z = [[1,-.5,2],[.3,.2,-1],[-2,1.5,.5],[0,0,0]], y = [2,0,1,1], w = [.5,2,1.5]
const std::vector<float> kZ = {1.0f, -0.5f, 2.0f, 0.3f, 0.2f, -1.0f, -2.0f, 1.5f, 0.5f, 0.0f, 0.0f, 0.0f};
const std::vector<float> kY = {2, 0, 1, 1};
const std::vector<float> kW = {0.5f, 2.0f, 1.5f};
const std::vector<float> kT = {1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0};  // multi-hot targets
const std::vector<float> kR = {0.5f, -1.0f, 2.5f, 0.0f, 0.9f, -3.0f, -1.0f, 1.0f, 0.0f, 2.0f, -0.2f, 0.1f};

struct Ref {
  double loss;
  std::vector<double> grad;
};

void expect_ref(const LossOptions& o, const std::vector<float>& targets, const Ref& ref, const char* what) {
  std::vector<float> d(12);
  const double l = loss_forward_backward(o, kZ.data(), targets.data(), 4, 3, d.data());
  EXPECT_NEAR(l, ref.loss, 1e-6) << what;
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(d[i], ref.grad[i], 1e-6) << what << " grad " << i;
}

// Central differences in double of the loss (evaluated in float inputs, double accumulation).
void expect_fd(const LossOptions& o, const std::vector<float>& z0, const std::vector<float>& targets,
               int64_t B, int64_t L, const char* what) {
  std::vector<float> d(z0.size());
  loss_forward_backward(o, z0.data(), targets.data(), B, L, d.data());
  for (size_t i = 0; i < z0.size(); ++i) {
    const float h = 1e-3f;
    std::vector<float> zp = z0, zm = z0;
    zp[i] += h;
    zm[i] -= h;
    const double lp = loss_forward_backward(o, zp.data(), targets.data(), B, L, nullptr);
    const double lm = loss_forward_backward(o, zm.data(), targets.data(), B, L, nullptr);
    const double fd = (lp - lm) / (static_cast<double>(zp[i]) - zm[i]);
    EXPECT_NEAR(d[i], fd, 2e-5 + 1e-3 * std::fabs(fd)) << what << " element " << i;
  }
}

}  // namespace

TEST(Losses, CrossEntropyMatchesTorch) {
  LossOptions o;
  expect_ref(o, kY,
             {0.64584157004376,
              {0.06342904540875631, 0.01415293306011782, -0.0775819784688741, -0.13518254105506133,
               0.10389113309718807, 0.03129140795787326, 0.005399807594817429, -0.07118293100764153,
               0.06578312341282408, 0.08333333333333333, -0.16666666666666669, 0.08333333333333333}},
             "ce");
  o.class_weights = kW;  // weighted mean: divided by sum of w[y_i]
  expect_ref(o, kY,
             {0.6356311663694364,
              {0.06342904540875631, 0.01415293306011782, -0.0775819784688741, -0.04506084701835378,
               0.03463037769906269, 0.010430469319291086, 0.007199743459756572, -0.09491057467685537,
               0.08771083121709877, 0.1111111111111111, -0.2222222222222222, 0.1111111111111111}},
             "ce weighted");
  o.class_weights.clear();
  o.label_smoothing = 0.1f;
  expect_ref(o, kY,
             {0.7241749033770932,
              {0.05509571207542298, 0.005819599726784487, -0.06091531180220744, -0.11851587438839468,
               0.09555779976385474, 0.02295807462453993, -0.002933525738515904, -0.05451626434097487,
               0.05744979007949075, 0.075, -0.15000000000000002, 0.075}},
             "ce smoothing");
  o.class_weights = kW;
  o.label_smoothing = 0.2f;
  expect_ref(o, kY,
             {0.7444323233255509,
              {0.05646395551078395, -0.008383798785662576, -0.04808015672512134, -0.02119224046891615,
               0.023951614709861364, -0.0027593742409452184, 0.0011642050068839105, -0.06636098080950947,
               0.0651967758026255, 0.09814814814814812, -0.18518518518518517, 0.08703703703703701}},
             "ce weighted + smoothing");
  o.label_smoothing = 0.f;
  expect_ref(o, {2, -100, 1, 1},
             {0.6226778756631961,
              {0.06919532226409779, 0.015439563338310348, -0.0846348856024081, 0, 0, 0, 0.007854265592461716,
               -0.10353880873838768, 0.09568454314592593, 0.12121212121212122, -0.24242424242424243,
               0.12121212121212122}},
             "ce ignore_index");
}

TEST(Losses, CrossEntropyByHand) {
  // Two classes, logits (0, 0): loss = log 2, grad = (p - onehot) / B.
  const float z[] = {0, 0, 0, 0};
  const float y[] = {0, 1};
  float d[4];
  EXPECT_NEAR(cross_entropy(z, y, 2, 2, nullptr, 0, -100, d), std::log(2.0), 1e-12);
  EXPECT_FLOAT_EQ(d[0], -0.25f);
  EXPECT_FLOAT_EQ(d[1], 0.25f);
  EXPECT_FLOAT_EQ(d[2], 0.25f);
  EXPECT_FLOAT_EQ(d[3], -0.25f);
  // A bad class id is an error naming the row.
  const float bad[] = {0, 2};
  EXPECT_THROW(cross_entropy(z, bad, 2, 2, nullptr, 0, -100, d), Error);
}

TEST(Losses, BceMatchesTorch) {
  LossOptions o;
  o.kind = LossKind::BceWithLogits;
  expect_ref(o, kT,
             {0.48015685824960924,
              {-0.02241178511416626, 0.03146172239984545, -0.009933576835176474, 0.04787020973430492,
               0.04581949977603983, 0.02241178511416626, 0.009933576835176462, -0.015202126983863029,
               -0.03146172239984545, -0.041666666666666664, -0.041666666666666664, 0.041666666666666664}},
             "bce");
  o.class_weights = kW;
  expect_ref(o, kT,
             {0.644876623412958,
              {-0.01120589255708313, 0.0629234447996909, -0.01490036525276471, 0.02393510486715246,
               0.09163899955207966, 0.03361767767124939, 0.004966788417588231, -0.030404253967726058,
               -0.04719258359976817, -0.020833333333333332, -0.08333333333333333, 0.0625}},
             "bce weighted");
  // Stable for large logits: log(1 + e^-50) ~ 2e-22.
  const float z[] = {50.f, -50.f};
  const float t[] = {1.f, 0.f};
  EXPECT_NEAR(bce_with_logits(z, t, 1, 2, nullptr, nullptr), 0.0, 1e-20);
}

TEST(Losses, RegressionMatchesTorch) {
  LossOptions o;
  o.kind = LossKind::Mse;
  expect_ref(o, kR,
             {0.9066666666666667,
              {0.08333333333333333, 0.08333333333333333, -0.08333333333333333, 0.049999999999999996,
               -0.11666666666666665, 0.3333333333333333, -0.16666666666666666, 0.08333333333333333,
               0.08333333333333333, -0.3333333333333333, 0.03333333333333333, -0.016666666666666666}},
             "mse");
  o.kind = LossKind::Mae;
  std::vector<double> g(12);
  const double s[] = {1, 1, -1, 1, -1, 1, -1, 1, 1, -1, 1, -1};
  for (int i = 0; i < 12; ++i) g[i] = s[i] / 12.0;
  expect_ref(o, kR, {0.7333333333333334, g}, "l1");
  o.kind = LossKind::Huber;
  o.huber_delta = 0.7f;
  expect_ref(o, kR,
             {0.30874999999999997,
              {0.041666666666666664, 0.041666666666666664, -0.041666666666666664, 0.024999999999999998,
               -0.05833333333333333, 0.05833333333333333, -0.05833333333333333, 0.041666666666666664,
               0.041666666666666664, -0.05833333333333333, 0.016666666666666666, -0.008333333333333333}},
             "huber");
}

TEST(Losses, QuantileByHand) {
  // tau 0.9: under-prediction (r = y - p > 0) costs 0.9 r, over-prediction 0.1 |r|.
  const float p[] = {1.f, 3.f};
  const float y[] = {2.f, 1.f};
  float d[2];
  EXPECT_NEAR(quantile_loss(p, y, 2, 0.9f, d), (0.9 * 1 + 0.1 * 2) / 2, 1e-7);
  EXPECT_NEAR(d[0], -0.9 / 2, 1e-7);
  EXPECT_NEAR(d[1], 0.1 / 2, 1e-7);
  // tau 0.5 is half the L1 loss.
  EXPECT_NEAR(quantile_loss(p, y, 2, 0.5f, nullptr), 0.5 * l1_loss(p, y, 2, nullptr), 1e-7);
  EXPECT_THROW(quantile_loss(p, y, 2, 1.0f, nullptr), Error);
}

TEST(Losses, GradientsMatchFiniteDifferences) {
  std::mt19937 g(3);
  std::normal_distribution<float> nd(0.f, 1.5f);
  const int64_t B = 5, L = 4;
  std::vector<float> z(B * L), yreg(B * L), ybin(B * L), ycls(B);
  for (auto& v : z) v = nd(g);
  for (auto& v : yreg) v = nd(g);
  for (size_t i = 0; i < ybin.size(); ++i) ybin[i] = (i * 7 % 3) == 0;
  for (int64_t i = 0; i < B; ++i) ycls[i] = static_cast<float>(i % L);
  // Keep regression residuals away from the kinks (0 and +-delta) so differences are smooth.
  for (size_t i = 0; i < z.size(); ++i) {
    float r = z[i] - yreg[i];
    if (std::fabs(r) < 0.05f) z[i] += 0.2f;
    r = z[i] - yreg[i];
    if (std::fabs(std::fabs(r) - 1.0f) < 0.05f) z[i] += 0.2f;
  }
  LossOptions o;
  expect_fd(o, z, ycls, B, L, "ce");
  o.class_weights = {0.2f, 1.f, 3.f, 0.7f};
  o.label_smoothing = 0.15f;
  expect_fd(o, z, ycls, B, L, "ce weighted smoothed");
  o.kind = LossKind::BceWithLogits;
  expect_fd(o, z, ybin, B, L, "bce weighted");
  o.class_weights.clear();
  expect_fd(o, z, ybin, B, L, "bce");
  o.kind = LossKind::Mse;
  expect_fd(o, z, yreg, B, L, "mse");
  o.kind = LossKind::Mae;
  expect_fd(o, z, yreg, B, L, "mae");
  o.kind = LossKind::Huber;
  o.huber_delta = 1.0f;
  expect_fd(o, z, yreg, B, L, "huber");
  o.kind = LossKind::Quantile;
  o.quantile_tau = 0.8f;
  expect_fd(o, z, yreg, B, L, "quantile");
}

TEST(Losses, BalancedClassWeights) {
  // sklearn compute_class_weight('balanced', classes=[0,1,2], y=[0,0,0,1]) = [4/9, 4/3, (absent) 1]
  std::vector<float> w = balanced_class_weights({0, 0, 0, 1}, 3);
  EXPECT_NEAR(w[0], 4.0 / 9.0, 1e-6);
  EXPECT_NEAR(w[1], 4.0 / 3.0, 1e-6);
  EXPECT_NEAR(w[2], 1.0, 1e-6);
}

TEST(TargetScaling, RobustAndLog1p) {
  // numpy: median([1,2,3,4,100]) = 3; percentile 25 / 75 = 2 / 4 -> IQR 2.
  std::vector<float> y = {1, 2, 3, 4, 100};
  TargetScaler s(TargetScaler::Kind::Robust);
  s.fit(y, 1);
  EXPECT_DOUBLE_EQ(s.center()[0], 3.0);
  EXPECT_DOUBLE_EQ(s.scale()[0], 2.0);
  std::vector<float> t = y;
  s.transform(t.data(), 5);
  EXPECT_FLOAT_EQ(t[0], -1.f);
  EXPECT_FLOAT_EQ(t[4], 48.5f);
  s.inverse(t.data(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(t[i], y[i]);
  // Round trip through JSON.
  TargetScaler s2 = TargetScaler::from_json(s.to_json());
  EXPECT_EQ(s2.kind(), TargetScaler::Kind::Robust);
  EXPECT_DOUBLE_EQ(s2.center()[0], 3.0);
  // numpy.percentile([1,2,3,4], 25) = 1.75 (linear interpolation).
  EXPECT_DOUBLE_EQ(quantile_linear({4, 1, 3, 2}, 0.25), 1.75);
  // Two columns, constant column -> scale 1.
  TargetScaler s3(TargetScaler::Kind::Robust);
  s3.fit({1, 5, 2, 5, 3, 5}, 2);
  EXPECT_DOUBLE_EQ(s3.center()[1], 5.0);
  EXPECT_DOUBLE_EQ(s3.scale()[1], 1.0);

  TargetScaler l(TargetScaler::Kind::Log1p);
  std::vector<float> e = {0.f, 9.f, 99.f};
  l.fit(e, 1);
  l.transform(e.data(), 3);
  EXPECT_NEAR(e[1], std::log(10.0), 1e-6);
  l.inverse(e.data(), 3);
  EXPECT_NEAR(e[2], 99.f, 1e-4);
  std::vector<float> bad = {-2.f};
  EXPECT_THROW(l.fit(bad, 1), Error);
}

TEST(Schedule, LinearWarmupThenDecay) {
  // HF get_linear_schedule_with_warmup(warmup=5, total=50) at lr 1e-4, as the fine-tune fixture's
  // train/lr_before_step: 0, 2e-5, ..., 1e-4 at step 5, 9.7778e-5 at step 6, 2.2222e-6 at step 49.
  LinearSchedule s{1e-4, 5, 50};
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.0);
  EXPECT_NEAR(s.lr_at(1), 2e-5, 1e-18);
  EXPECT_NEAR(s.lr_at(5), 1e-4, 1e-18);
  EXPECT_NEAR(s.lr_at(6), 1e-4 * 44 / 45, 1e-18);
  EXPECT_NEAR(s.lr_at(49), 1e-4 / 45, 1e-18);
  EXPECT_DOUBLE_EQ(s.lr_at(50), 0.0);
  EXPECT_DOUBLE_EQ(s.lr_at(60), 0.0);  // max(0, ...)
  LinearSchedule none{1e-3, 0, 10};
  EXPECT_DOUBLE_EQ(none.lr_at(0), 1e-3);
  EXPECT_DOUBLE_EQ(none.lr_at(5), 5e-4);
}

namespace {

// A fake arena over two "parameters" w (4) and b (2, no_decay).
struct FakeArena {
  std::vector<float> values, grads;
  std::deque<Param> params;
  ParamArena a;
  FakeArena(std::vector<float> w, std::vector<float> b) {
    values = w;
    values.insert(values.end(), b.begin(), b.end());
    grads.assign(values.size(), 0.f);
    params.push_back(Param{"w", {}, {}, true, false});
    params.push_back(Param{"b", {}, {}, true, true});
    a.values = values.data();
    a.grads = grads.data();
    a.size = static_cast<int64_t>(values.size());
    a.slices = {{&params[0], 0, 4}, {&params[1], 4, 2}};
  }
};

}  // namespace

TEST(AdamW, MatchesTorchTwoGroups) {
  // torch 1.13.1, float32:
  //   w = [0.5,-1.25,2,0] (weight_decay 0.1), b = [0.1,-0.3] (weight_decay 0), AdamW(lr=0.05, foreach=False)
  //   loss = 0.5 * sum((w - c)^2) + sum(b^3), c = [0.3,-0.2,0.1,0.05]; 3 steps.
  const float want_w[3][4] = {
      {0.44749999046325684f, -1.193750023841858f, 1.940000057220459f, 0.049999989569187164f},
      {0.39621302485466003f, -1.1378719806671143f, 1.8803483247756958f, 0.08325289934873581f},
      {0.3473375141620636f, -1.0824311971664429f, 1.8210771083831787f, 0.08669418841600418f}};
  const float want_b[3][2] = {{0.05000001937150955f, -0.3499999940395355f},
                              {0.008470159024000168f, -0.39981940388679504f},
                              {-0.02385428547859192f, -0.44950130581855774f}};
  FakeArena f({0.5f, -1.25f, 2.0f, 0.0f}, {0.1f, -0.3f});
  AdamWOptions o;
  o.weight_decay = 0.1;
  o.exclude_no_decay = true;
  AdamW adam(f.a, o);
  const float c[4] = {0.3f, -0.2f, 0.1f, 0.05f};
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 4; ++i) f.grads[i] = f.values[i] - c[i];
    for (int i = 0; i < 2; ++i) f.grads[4 + i] = 3 * f.values[4 + i] * f.values[4 + i];
    adam.step(f.a, 0.05);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(f.values[i], want_w[k][i], 2e-7) << "step " << k << " w" << i;
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(f.values[4 + i], want_b[k][i], 2e-7) << "step " << k << " b" << i;
  }
  EXPECT_EQ(adam.steps(), 3);
}

TEST(AdamW, FirstStepByHand) {
  // Step 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps) after decay.
  FakeArena f({1.f, -2.f, 0.f, 4.f}, {1.f, 1.f});
  AdamWOptions o;
  o.weight_decay = 0.5;
  AdamW adam(f.a, o, {true, false});  // b frozen: untouched
  f.grads = {0.5f, -3.f, 0.f, 1e-3f, 7.f, 7.f};
  adam.step(f.a, 0.1);
  EXPECT_NEAR(f.values[0], 1.f * (1 - 0.05f) - 0.1f, 1e-6);
  EXPECT_NEAR(f.values[1], -2.f * (1 - 0.05f) + 0.1f, 1e-6);
  EXPECT_NEAR(f.values[2], 0.f, 1e-9);  // g = 0: m = 0, no move
  EXPECT_NEAR(f.values[3], 4.f * 0.95f - 0.1f * 1e-3f / (1e-3f + 1e-8f), 1e-6);
  EXPECT_EQ(f.values[4], 1.f);
  EXPECT_EQ(f.values[5], 1.f);
  EXPECT_EQ(adam.m()[4], 0.f);
}

TEST(Clip, GlobalNormAsTorch) {
  FakeArena f({3.f, 0.f, 0.f, 0.f}, {0.f, 4.f});
  f.grads = {3.f, 0.f, 0.f, 0.f, 0.f, 4.f};
  // Total norm 5; max_norm 1 -> scale 1 / (5 + 1e-6).
  EXPECT_NEAR(clip_grad_norm(f.a, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(f.grads[0], 3.f / (5.f + 1e-6f), 1e-7);
  EXPECT_NEAR(f.grads[5], 4.f / (5.f + 1e-6f), 1e-7);
  // Below max_norm: untouched.
  f.grads = {0.3f, 0.f, 0.f, 0.f, 0.f, 0.4f};
  EXPECT_NEAR(clip_grad_norm(f.a, 1.0), 0.5, 1e-6);
  EXPECT_EQ(f.grads[0], 0.3f);
  // max_norm <= 0 measures only.
  f.grads = {30.f, 0.f, 0.f, 0.f, 0.f, 40.f};
  EXPECT_NEAR(clip_grad_norm(f.a, 0.0), 50.0, 1e-5);
  EXPECT_EQ(f.grads[0], 30.f);
}
