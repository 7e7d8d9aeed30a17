// Engagement prediction: ridge (Eigen), losses, and the small MLP / transformer networks with forward and
// backward side by side (checked against finite differences in tests/social/test_engagement_net.cpp).
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

#include "social/engagement.h"
#include "tensor/check.h"

namespace tern::social::eng {

using MatR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapR = Eigen::Map<MatR>;
using CMapR = Eigen::Map<const MatR>;
using VecF = Eigen::Matrix<float, Eigen::Dynamic, 1>;
using CMapV = Eigen::Map<const VecF>;
using MapV = Eigen::Map<VecF>;

// ---- Ridge ----

RidgeFit fit_ridge(const float* X, int64_t N, int64_t F, const double* y, double lambda) {
  TERN_CHECK(N > 0 && F > 0, "ridge: empty system (" << N << " x " << F << ")");
  TERN_CHECK(lambda >= 0, "ridge: lambda " << lambda << " < 0");
  Eigen::MatrixXd A = Eigen::Map<const MatR>(X, N, F).cast<double>();
  Eigen::Map<const Eigen::VectorXd> yv(y, N);
  Eigen::RowVectorXd mx = A.colwise().mean();
  double my = yv.mean();
  A.rowwise() -= mx;
  Eigen::MatrixXd G = A.transpose() * A;
  G.diagonal().array() += lambda;
  Eigen::VectorXd rhs = A.transpose() * (yv.array() - my).matrix();
  Eigen::VectorXd w = G.ldlt().solve(rhs);
  if (!w.allFinite()) {  // singular with lambda 0: the minimum-norm solution
    w = A.completeOrthogonalDecomposition().solve((yv.array() - my).matrix());
  }
  RidgeFit r;
  r.w.assign(w.data(), w.data() + F);
  r.b = my - mx.dot(w);
  return r;
}

// ---- Losses ----

Loss loss_from_name(const std::string& s) {
  if (s == "mse") return Loss::Mse;
  if (s == "mae") return Loss::Mae;
  if (s == "huber") return Loss::Huber;
  if (s == "quantile") return Loss::Quantile;
  TERN_FAIL("--loss '" << s << "': expected mse, mae, huber or quantile");
}

double loss_value(Loss l, double p, double z, double param, double* grad) {
  double r = p - z;
  double v = 0, g = 0;
  switch (l) {
    case Loss::Mse:
      v = r * r;
      g = 2 * r;
      break;
    case Loss::Mae:
      v = std::fabs(r);
      g = r > 0 ? 1 : r < 0 ? -1 : 0;
      break;
    case Loss::Huber:  // torch.nn.HuberLoss(delta = param)
      if (std::fabs(r) <= param) {
        v = 0.5 * r * r;
        g = r;
      } else {
        v = param * (std::fabs(r) - 0.5 * param);
        g = r > 0 ? param : -param;
      }
      break;
    case Loss::Quantile: {  // pinball loss at tau = param: tau * (z - p) above, (1 - tau) * (p - z) below
      double e = z - p;
      v = e >= 0 ? param * e : (param - 1) * e;
      g = e > 0 ? -param : e < 0 ? 1 - param : 0;
      break;
    }
  }
  if (grad) *grad = g;
  return v;
}

// ---- Networks ----

namespace {
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
double uniform(uint64_t& s) {
  return static_cast<double>(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}
}  // namespace

struct TfCache {
  // Per layer l: input H[l] (T, d); Q, K, V, A (T, T), C, H1 (after attention), Z (FFN pre-activation).
  std::vector<MatR> H, Q, K, V, A, C, H1, Z;
  MatR U;                       // the sample's tokens (T, F)
  const float* skip = nullptr;  // the linear path's input (S)
};

int64_t Net::add(const std::string& name, std::vector<int64_t> shape, double init_scale, uint64_t& rng) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  int64_t off = static_cast<int64_t>(p_.size());
  for (int64_t i = 0; i < n; ++i) p_.push_back(static_cast<float>((2 * uniform(rng) - 1) * init_scale));
  slices_.push_back({name, {off, shape}});
  off_[name] = off;
  return off;
}

Net::Net(Kind kind, int64_t F, int64_t hidden, int64_t T, int layers, uint64_t seed, int64_t skip_dim)
    : kind_(kind),
      F_(F),
      H_(hidden),
      T_(kind == Kind::Mlp ? 1 : T),
      S_(kind == Kind::Mlp || skip_dim < 0 ? F : skip_dim),
      L_(layers),
      seed_(seed) {
  TERN_CHECK(F > 0 && hidden >= 2 && T_ >= 1 && layers >= 1,
             "network sizes: F " << F << ", hidden " << hidden << ", T " << T << ", layers " << layers);
  uint64_t rng = seed * 0x2545F4914F6CDD1Dull + 17;
  auto lin = [&](const std::string& n, int64_t out, int64_t in, bool bias = true) {
    double s = 1.0 / std::sqrt(static_cast<double>(in));  // torch.nn.Linear's default bound
    add(n + ".w", {out, in}, s, rng);
    if (bias) add(n + ".b", {out}, s, rng);
  };
  if (kind_ == Kind::Mlp) {
    lin("l1", H_, F_);
    lin("l2", H_ / 2, H_);
    lin("out", 1, H_ / 2);
  } else {
    const int64_t d = H_;
    lin("comp", d, F_);
    for (int l = 0; l < L_; ++l) {
      std::string p = "layer" + std::to_string(l);
      lin(p + ".q", d, d, false);
      lin(p + ".k", d, d, false);
      lin(p + ".v", d, d, false);
      lin(p + ".o", d, d);
      lin(p + ".ffn1", 2 * d, d);
      lin(p + ".ffn2", d, 2 * d);
    }
    lin("out", 1, d);
  }
  // The linear path: out += skip . x (the tweet's own input row); zero at initialisation.
  add("skip.w", {S_}, 0.0, rng);
  g_.assign(p_.size(), 0.f);
}

float* Net::param(const std::string& name) {
  auto it = off_.find(name);
  TERN_CHECK(it != off_.end(), "network has no parameter '" << name << "'");
  return p_.data() + it->second;
}

void Net::set_output_bias(float b) {
  p_[static_cast<size_t>(off_.at("out.b"))] = b;
}

nlohmann::json Net::config() const {
  return {{"kind", kind_ == Kind::Mlp ? "mlp" : "transformer"},
          {"input_dim", F_},
          {"hidden", H_},
          {"tokens", T_},
          {"layers", L_},
          {"skip_dim", S_},
          {"seed", seed_}};
}

Net Net::from_config(const nlohmann::json& c) {
  std::string k = c.at("kind").get<std::string>();
  TERN_CHECK(k == "mlp" || k == "transformer", "network kind '" << k << "'");
  return Net(k == "mlp" ? Kind::Mlp : Kind::Transformer, c.at("input_dim").get<int64_t>(),
             c.at("hidden").get<int64_t>(), c.at("tokens").get<int64_t>(), c.at("layers").get<int>(),
             c.at("seed").get<uint64_t>(), c.value("skip_dim", int64_t{-1}));
}

namespace {
// Sinusoidal positional encoding (Vaswani et al.): PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos.
MatR positions(int64_t T, int64_t d) {
  MatR pe(T, d);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < d; ++i) {
      double a = static_cast<double>(t) / std::pow(10000.0, static_cast<double>(2 * (i / 2)) / d);
      pe(t, i) = static_cast<float>(i % 2 ? std::cos(a) : std::sin(a));
    }
  return pe;
}
}  // namespace

// One transformer sample: x (T, F) tokens, mask (T). Fills the cache when given; returns the output.
void Net::sample_forward(const float* x, const float* mask, float* out, TfCache* c) const {
  const int64_t T = T_, d = H_;
  auto P = [&](const std::string& n) { return p_.data() + off_.at(n); };
  TfCache local;
  TfCache& k = c ? *c : local;
  k.U = CMapR(x, T, F_);
  k.skip = x + T * F_;
  k.H.resize(L_ + 1);
  k.Q.resize(L_);
  k.K.resize(L_);
  k.V.resize(L_);
  k.A.resize(L_);
  k.C.resize(L_);
  k.H1.resize(L_);
  k.Z.resize(L_);
  static thread_local MatR pe;
  if (pe.rows() != T || pe.cols() != d) pe = positions(T, d);
  k.H[0] = k.U * CMapR(P("comp.w"), d, F_).transpose();
  k.H[0].rowwise() += CMapV(P("comp.b"), d).transpose();
  k.H[0] += pe;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int l = 0; l < L_; ++l) {
    std::string p = "layer" + std::to_string(l);
    const MatR& Hl = k.H[l];
    k.Q[l] = Hl * CMapR(P(p + ".q.w"), d, d).transpose();
    k.K[l] = Hl * CMapR(P(p + ".k.w"), d, d).transpose();
    k.V[l] = Hl * CMapR(P(p + ".v.w"), d, d).transpose();
    MatR S = (k.Q[l] * k.K[l].transpose()) * scale;
    for (int64_t i = 0; i < T; ++i) {
      float mx = -1e30f;
      for (int64_t j = 0; j < T; ++j) {
        if (mask[j] <= 0) S(i, j) = -1e30f;
        mx = std::max(mx, S(i, j));
      }
      float sum = 0;
      for (int64_t j = 0; j < T; ++j) {
        float e = mask[j] > 0 ? std::exp(S(i, j) - mx) : 0.f;
        S(i, j) = e;
        sum += e;
      }
      for (int64_t j = 0; j < T; ++j) S(i, j) = sum > 0 ? S(i, j) / sum : 0.f;
    }
    k.A[l] = S;
    k.C[l] = k.A[l] * k.V[l];
    k.H1[l] = Hl + k.C[l] * CMapR(P(p + ".o.w"), d, d).transpose();
    k.H1[l].rowwise() += CMapV(P(p + ".o.b"), d).transpose();
    k.Z[l] = k.H1[l] * CMapR(P(p + ".ffn1.w"), 2 * d, d).transpose();
    k.Z[l].rowwise() += CMapV(P(p + ".ffn1.b"), 2 * d).transpose();
    MatR R = k.Z[l].cwiseMax(0.f);
    k.H[l + 1] = k.H1[l] + R * CMapR(P(p + ".ffn2.w"), d, 2 * d).transpose();
    k.H[l + 1].rowwise() += CMapV(P(p + ".ffn2.b"), d).transpose();
  }
  *out = k.H[L_].row(T - 1).dot(CMapV(P("out.w"), d).transpose()) + P("out.b")[0] +
         CMapV(k.skip, S_).dot(CMapV(P("skip.w"), S_));
}

void Net::forward(const float* x, const float* mask, int64_t B, float* out) const {
  auto P = [&](const std::string& n) { return p_.data() + off_.at(n); };
  if (kind_ == Kind::Mlp) {
    const int64_t H2 = H_ / 2;
    MatR a1 = CMapR(x, B, F_) * CMapR(P("l1.w"), H_, F_).transpose();
    a1.rowwise() += CMapV(P("l1.b"), H_).transpose();
    a1 = a1.cwiseMax(0.f);
    MatR a2 = a1 * CMapR(P("l2.w"), H2, H_).transpose();
    a2.rowwise() += CMapV(P("l2.b"), H2).transpose();
    a2 = a2.cwiseMax(0.f);
    VecF o = a2 * CMapV(P("out.w"), H2) + CMapR(x, B, F_) * CMapV(P("skip.w"), F_);
    for (int64_t i = 0; i < B; ++i) out[i] = o[i] + P("out.b")[0];
    return;
  }
  for (int64_t b = 0; b < B; ++b) sample_forward(x + b * sample_size(), mask + b * T_, out + b, nullptr);
}

void Net::backward(const float* x, const float* mask, int64_t B, const float* dout) {
  auto P = [&](const std::string& n) { return p_.data() + off_.at(n); };
  auto G = [&](const std::string& n) { return g_.data() + off_.at(n); };
  if (kind_ == Kind::Mlp) {
    const int64_t H2 = H_ / 2;
    CMapR X(x, B, F_);
    MatR z1 = X * CMapR(P("l1.w"), H_, F_).transpose();
    z1.rowwise() += CMapV(P("l1.b"), H_).transpose();
    MatR a1 = z1.cwiseMax(0.f);
    MatR z2 = a1 * CMapR(P("l2.w"), H2, H_).transpose();
    z2.rowwise() += CMapV(P("l2.b"), H2).transpose();
    MatR a2 = z2.cwiseMax(0.f);
    CMapV dy(dout, B);
    // out = a2 . w3 + b3
    MapV(G("out.w"), H2) += a2.transpose() * dy;
    G("out.b")[0] += dy.sum();
    MapV(G("skip.w"), F_) += X.transpose() * dy;
    MatR d2 = dy * CMapV(P("out.w"), H2).transpose();
    d2 = d2.cwiseProduct((z2.array() > 0).cast<float>().matrix());
    MapR(G("l2.w"), H2, H_) += d2.transpose() * a1;
    MapV(G("l2.b"), H2) += d2.colwise().sum().transpose();
    MatR d1 = d2 * CMapR(P("l2.w"), H2, H_);
    d1 = d1.cwiseProduct((z1.array() > 0).cast<float>().matrix());
    MapR(G("l1.w"), H_, F_) += d1.transpose() * X;
    MapV(G("l1.b"), H_) += d1.colwise().sum().transpose();
    return;
  }
  const int64_t T = T_, d = H_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  TfCache k;
  for (int64_t b = 0; b < B; ++b) {
    float o;
    const float* mk = mask + b * T;
    sample_forward(x + b * sample_size(), mk, &o, &k);
    const float dy = dout[b];
    MatR dH = MatR::Zero(T, d);
    dH.row(T - 1) = dy * CMapV(P("out.w"), d).transpose();
    MapV(G("out.w"), d) += dy * k.H[L_].row(T - 1).transpose();
    G("out.b")[0] += dy;
    MapV(G("skip.w"), S_) += dy * CMapV(k.skip, S_);
    for (int l = L_ - 1; l >= 0; --l) {
      std::string p = "layer" + std::to_string(l);
      // H[l+1] = H1 + relu(Z) W2^T + b2
      MatR R = k.Z[l].cwiseMax(0.f);
      MapR(G(p + ".ffn2.w"), d, 2 * d) += dH.transpose() * R;
      MapV(G(p + ".ffn2.b"), d) += dH.colwise().sum().transpose();
      MatR dZ =
          (dH * CMapR(P(p + ".ffn2.w"), d, 2 * d)).cwiseProduct((k.Z[l].array() > 0).cast<float>().matrix());
      MapR(G(p + ".ffn1.w"), 2 * d, d) += dZ.transpose() * k.H1[l];
      MapV(G(p + ".ffn1.b"), 2 * d) += dZ.colwise().sum().transpose();
      MatR dH1 = dH + dZ * CMapR(P(p + ".ffn1.w"), 2 * d, d);
      // H1 = H + C Wo^T + bo
      MapR(G(p + ".o.w"), d, d) += dH1.transpose() * k.C[l];
      MapV(G(p + ".o.b"), d) += dH1.colwise().sum().transpose();
      MatR dC = dH1 * CMapR(P(p + ".o.w"), d, d);
      // C = A V, A = softmax(Q K^T * scale + mask)
      MatR dA = dC * k.V[l].transpose();
      MatR dV = k.A[l].transpose() * dC;
      MatR dS(T, T);
      for (int64_t i = 0; i < T; ++i) {
        float dot = k.A[l].row(i).dot(dA.row(i));
        for (int64_t j = 0; j < T; ++j) dS(i, j) = k.A[l](i, j) * (dA(i, j) - dot) * scale;
      }
      MatR dQ = dS * k.K[l];
      MatR dK = dS.transpose() * k.Q[l];
      const MatR& Hl = k.H[l];
      MapR(G(p + ".q.w"), d, d) += dQ.transpose() * Hl;
      MapR(G(p + ".k.w"), d, d) += dK.transpose() * Hl;
      MapR(G(p + ".v.w"), d, d) += dV.transpose() * Hl;
      dH = dH1 + dQ * CMapR(P(p + ".q.w"), d, d) + dK * CMapR(P(p + ".k.w"), d, d) +
           dV * CMapR(P(p + ".v.w"), d, d);
    }
    // H[0] = U Wc^T + bc + PE
    MapR(G("comp.w"), d, F_) += dH.transpose() * k.U;
    MapV(G("comp.b"), d) += dH.colwise().sum().transpose();
  }
}

}  // namespace tern::social::eng
