#include "train/losses.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tensor/check.h"

namespace tern::train {

const char* loss_name(LossKind k) {
  switch (k) {
    case LossKind::CrossEntropy:
      return "ce";
    case LossKind::BceWithLogits:
      return "bce";
    case LossKind::Mse:
      return "mse";
    case LossKind::Mae:
      return "mae";
    case LossKind::Huber:
      return "huber";
    case LossKind::Quantile:
      return "quantile";
  }
  return "?";
}

LossKind loss_from_name(const std::string& s) {
  if (s == "ce" || s == "cross_entropy") return LossKind::CrossEntropy;
  if (s == "bce" || s == "bce_with_logits") return LossKind::BceWithLogits;
  if (s == "mse") return LossKind::Mse;
  if (s == "mae" || s == "l1") return LossKind::Mae;
  if (s == "huber") return LossKind::Huber;
  if (s == "quantile" || s == "pinball") return LossKind::Quantile;
  TERN_FAIL("unknown loss '" << s << "' (ce, bce, mse, mae, huber, quantile)");
}

// torch.nn.CrossEntropyLoss, reduction='mean' (aten/src/ATen/native/LossNLL.cpp,
// cross_entropy_loss_label_smoothing). With log-probabilities lp = log_softmax(z), weight w, smoothing e,
// C classes and the non-ignored rows i with targets y_i:
//   W    = sum_i w[y_i]                                   (the weighted-mean denominator of nll_loss)
//   nll  = sum_i w[y_i] * -lp[i, y_i] / W
//   smth = sum_i sum_c w[c] * -lp[i, c] / W               (torch divides the smoothing term by W too)
//   loss = (1 - e) * nll + (e / C) * smth
// d(-lp[i, k]) / dz[i, c] = p[i, c] - [c == k], hence
//   d loss / dz[i, c] = ((1 - e) * w[y_i] * (p[i, c] - [c == y_i]) + (e / C) * (p[i, c] * sum_k w[k] - w[c]))
//   / W
double cross_entropy(const float* z, const float* targets, int64_t B, int64_t L, const float* w, float e,
                     int64_t ignore_index, float* dz) {
  TERN_CHECK(L >= 1 && B >= 0, "cross_entropy: bad shape (" << B << ", " << L << ")");
  TERN_CHECK(e >= 0.f && e <= 1.f, "cross_entropy: label_smoothing must be in [0, 1], got " << e);
  double sum_w = 0;  // sum_k w[k]
  for (int64_t c = 0; c < L; ++c) sum_w += w ? w[c] : 1.0;
  double W = 0, nll = 0, smooth = 0;
  std::vector<double> lp(static_cast<size_t>(L));
  if (dz) std::fill(dz, dz + B * L, 0.f);
  for (int64_t i = 0; i < B; ++i) {
    const double t = targets[i];
    const int64_t y = static_cast<int64_t>(t);
    if (y == ignore_index) continue;
    TERN_CHECK(t == static_cast<double>(y) && y >= 0 && y < L,
               "cross_entropy: target " << t << " of row " << i << " is not a class id in [0, " << L << ")");
    const float* zi = z + i * L;
    double mx = zi[0];
    for (int64_t c = 1; c < L; ++c) mx = std::max(mx, static_cast<double>(zi[c]));
    double se = 0;
    for (int64_t c = 0; c < L; ++c) se += std::exp(zi[c] - mx);
    const double lse = mx + std::log(se);
    for (int64_t c = 0; c < L; ++c) lp[c] = zi[c] - lse;
    const double wy = w ? w[y] : 1.0;
    W += wy;
    nll += wy * -lp[y];
    for (int64_t c = 0; c < L; ++c) smooth += (w ? w[c] : 1.0) * -lp[c];
  }
  if (W == 0) return std::nan("");  // torch: 0/0 = nan when every row is ignored
  if (dz) {
    for (int64_t i = 0; i < B; ++i) {
      const int64_t y = static_cast<int64_t>(targets[i]);
      if (y == ignore_index) continue;
      const float* zi = z + i * L;
      double mx = zi[0];
      for (int64_t c = 1; c < L; ++c) mx = std::max(mx, static_cast<double>(zi[c]));
      double se = 0;
      for (int64_t c = 0; c < L; ++c) se += std::exp(zi[c] - mx);
      const double wy = w ? w[y] : 1.0;
      for (int64_t c = 0; c < L; ++c) {
        const double p = std::exp(zi[c] - mx) / se;
        const double wc = w ? w[c] : 1.0;
        const double g = (1.0 - e) * wy * (p - (c == y ? 1.0 : 0.0)) + (e / L) * (p * sum_w - wc);
        dz[i * L + c] = static_cast<float>(g / W);
      }
    }
  }
  return (1.0 - e) * nll / W + (e / L) * smooth / W;
}

// torch.nn.BCEWithLogitsLoss(weight), reduction='mean' over all B * L elements, in its stable form
//   l = w * (max(z, 0) - z * y + log(1 + exp(-|z|))),   dl/dz = w * (sigmoid(z) - y).
double bce_with_logits(const float* z, const float* y, int64_t B, int64_t L, const float* w, float* dz) {
  const int64_t n = B * L;
  TERN_CHECK(n > 0, "bce_with_logits: empty input");
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double zi = z[i], yi = y[i], wi = w ? w[i % L] : 1.0;
    s += wi * (std::max(zi, 0.0) - zi * yi + std::log1p(std::exp(-std::fabs(zi))));
    if (dz) {
      const double sig = zi >= 0 ? 1.0 / (1.0 + std::exp(-zi)) : std::exp(zi) / (1.0 + std::exp(zi));
      dz[i] = static_cast<float>(wi * (sig - yi) / n);
    }
  }
  return s / n;
}

// torch.nn.MSELoss: mean (p - y)^2, d/dp = 2 (p - y) / n.
double mse_loss(const float* p, const float* y, int64_t n, float* dp) {
  TERN_CHECK(n > 0, "mse_loss: empty input");
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(p[i]) - y[i];
    s += r * r;
    if (dp) dp[i] = static_cast<float>(2.0 * r / n);
  }
  return s / n;
}

// torch.nn.L1Loss: mean |p - y|, d/dp = sign(p - y) / n with sign(0) = 0 (torch's sgn).
double l1_loss(const float* p, const float* y, int64_t n, float* dp) {
  TERN_CHECK(n > 0, "l1_loss: empty input");
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(p[i]) - y[i];
    s += std::fabs(r);
    if (dp) dp[i] = static_cast<float>((r > 0 ? 1.0 : r < 0 ? -1.0 : 0.0) / n);
  }
  return s / n;
}

// torch.nn.HuberLoss(delta): r = p - y; l = 0.5 r^2 if |r| < delta else delta (|r| - 0.5 delta);
// d/dp = clamp(r, -delta, delta) / n (torch's huber_backward).
double huber_loss(const float* p, const float* y, int64_t n, float delta, float* dp) {
  TERN_CHECK(n > 0, "huber_loss: empty input");
  TERN_CHECK(delta > 0.f, "huber_loss: delta must be > 0, got " << delta);
  double s = 0;
  const double d = delta;
  for (int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(p[i]) - y[i], a = std::fabs(r);
    s += a < d ? 0.5 * r * r : d * (a - 0.5 * d);
    if (dp) dp[i] = static_cast<float>(std::clamp(r, -d, d) / n);
  }
  return s / n;
}

// Pinball loss (sklearn mean_pinball_loss): r = y - p; l = tau * r if r >= 0 else (tau - 1) * r;
// d/dp = -tau if r > 0, (1 - tau) if r < 0, and at r = 0 the subgradient 0.5 - tau (the mean of the two).
double quantile_loss(const float* p, const float* y, int64_t n, float tau, float* dp) {
  TERN_CHECK(n > 0, "quantile_loss: empty input");
  TERN_CHECK(tau > 0.f && tau < 1.f, "quantile_loss: tau must be in (0, 1), got " << tau);
  double s = 0;
  const double t = tau;
  for (int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(y[i]) - p[i];
    s += r >= 0 ? t * r : (t - 1.0) * r;
    if (dp) dp[i] = static_cast<float>((r > 0 ? -t : r < 0 ? 1.0 - t : 0.5 - t) / n);
  }
  return s / n;
}

double loss_forward_backward(const LossOptions& o, const float* z, const float* y, int64_t B, int64_t L,
                             float* dz) {
  const float* w = o.class_weights.empty() ? nullptr : o.class_weights.data();
  if (w)
    TERN_CHECK(static_cast<int64_t>(o.class_weights.size()) == L,
               "class weights: " << o.class_weights.size() << " given for " << L << " labels");
  switch (o.kind) {
    case LossKind::CrossEntropy:
      return cross_entropy(z, y, B, L, w, o.label_smoothing, o.ignore_index, dz);
    case LossKind::BceWithLogits:
      return bce_with_logits(z, y, B, L, w, dz);
    case LossKind::Mse:
      return mse_loss(z, y, B * L, dz);
    case LossKind::Mae:
      return l1_loss(z, y, B * L, dz);
    case LossKind::Huber:
      return huber_loss(z, y, B * L, o.huber_delta, dz);
    case LossKind::Quantile:
      return quantile_loss(z, y, B * L, o.quantile_tau, dz);
  }
  TERN_FAIL("loss_forward_backward: bad loss kind");
}

std::vector<float> balanced_class_weights(const std::vector<int64_t>& labels, int64_t L) {
  std::vector<int64_t> count(static_cast<size_t>(L), 0);
  for (int64_t y : labels) {
    TERN_CHECK(y >= 0 && y < L, "balanced_class_weights: label " << y << " not in [0, " << L << ")");
    ++count[y];
  }
  std::vector<float> w(static_cast<size_t>(L), 1.f);
  for (int64_t c = 0; c < L; ++c)
    if (count[c] > 0) w[c] = static_cast<float>(static_cast<double>(labels.size()) / (L * count[c]));
  return w;
}

// ---- Target scaling ----

double quantile_linear(std::vector<double> v, double q) {
  TERN_CHECK(!v.empty(), "quantile of an empty set");
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

TargetScaler::Kind TargetScaler::kind_from_name(const std::string& s) {
  if (s == "none") return Kind::None;
  if (s == "log1p") return Kind::Log1p;
  if (s == "robust") return Kind::Robust;
  TERN_FAIL("unknown target scaling '" << s << "' (none, log1p, robust)");
}

const char* TargetScaler::kind_name(Kind k) {
  return k == Kind::None ? "none" : k == Kind::Log1p ? "log1p" : "robust";
}

void TargetScaler::fit(const std::vector<float>& y, int64_t width) {
  TERN_CHECK(width >= 1 && static_cast<int64_t>(y.size()) % width == 0,
             "TargetScaler::fit: " << y.size() << " values for width " << width);
  width_ = width;
  center_.assign(width, 0.0);
  scale_.assign(width, 1.0);
  const int64_t n = static_cast<int64_t>(y.size()) / width;
  if (kind_ == Kind::Log1p) {
    for (int64_t i = 0; i < n * width; ++i)
      TERN_CHECK(y[i] > -1.f,
                 "log1p target scaling needs targets > -1, row " << i / width << " has " << y[i]);
  } else if (kind_ == Kind::Robust) {
    TERN_CHECK(n > 0, "robust target scaling: no training targets");
    for (int64_t c = 0; c < width; ++c) {
      std::vector<double> col(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) col[i] = y[i * width + c];
      center_[c] = quantile_linear(col, 0.5);
      const double iqr = quantile_linear(col, 0.75) - quantile_linear(col, 0.25);
      scale_[c] = iqr > 0 ? iqr : 1.0;  // sklearn's _handle_zeros_in_scale
    }
  }
}

void TargetScaler::transform(float* y, int64_t n) const {
  if (kind_ == Kind::None) return;
  for (int64_t i = 0; i < n * width_; ++i) {
    if (kind_ == Kind::Log1p) {
      TERN_CHECK(y[i] > -1.f, "log1p target scaling needs targets > -1, got " << y[i]);
      y[i] = static_cast<float>(std::log1p(static_cast<double>(y[i])));
    } else {
      const int64_t c = i % width_;
      y[i] = static_cast<float>((y[i] - center_[c]) / scale_[c]);
    }
  }
}

void TargetScaler::inverse(float* y, int64_t n) const {
  if (kind_ == Kind::None) return;
  for (int64_t i = 0; i < n * width_; ++i) {
    if (kind_ == Kind::Log1p) {
      y[i] = static_cast<float>(std::expm1(static_cast<double>(y[i])));
    } else {
      const int64_t c = i % width_;
      y[i] = static_cast<float>(y[i] * scale_[c] + center_[c]);
    }
  }
}

std::string TargetScaler::to_json() const {
  nlohmann::json j;
  j["kind"] = kind_name(kind_);
  j["width"] = width_;
  j["center"] = center_;
  j["scale"] = scale_;
  return j.dump();
}

TargetScaler TargetScaler::from_json(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    TargetScaler s(kind_from_name(j.at("kind").get<std::string>()));
    s.width_ = j.value("width", int64_t{0});
    s.center_ = j.value("center", std::vector<double>{});
    s.scale_ = j.value("scale", std::vector<double>{});
    TERN_CHECK(static_cast<int64_t>(s.center_.size()) == s.width_ && s.center_.size() == s.scale_.size(),
               "inconsistent sizes");
    return s;
  } catch (const std::exception& e) {
    TERN_FAIL("target scaling JSON: " << e.what());
  }
}

}  // namespace tern::train
