#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "tensor/check.h"

namespace tern::train {

namespace {
double safe_div(double a, double b) {
  return b > 0 ? a / b : 0.0;
}  // sklearn zero_division=0
double f1_of(double p, double r) {
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}
}  // namespace

ClassReport classification_report(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                                  int64_t L) {
  TERN_CHECK(gold.size() == pred.size(),
             "metrics: " << gold.size() << " gold labels, " << pred.size() << " predictions");
  TERN_CHECK(!gold.empty(), "metrics: no examples");
  std::vector<int64_t> tp(L, 0), gold_n(L, 0), pred_n(L, 0);
  int64_t correct = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    TERN_CHECK(gold[i] >= 0 && gold[i] < L && pred[i] >= 0 && pred[i] < L, "metrics: label out of range");
    ++gold_n[gold[i]];
    ++pred_n[pred[i]];
    if (gold[i] == pred[i]) ++tp[gold[i]], ++correct;
  }
  ClassReport r;
  r.support = gold_n;
  r.accuracy = static_cast<double>(correct) / gold.size();
  int64_t present = 0;
  for (int64_t c = 0; c < L; ++c) {
    const double p = safe_div(tp[c], pred_n[c]), rc = safe_div(tp[c], gold_n[c]);
    r.precision.push_back(p);
    r.recall.push_back(rc);
    r.f1.push_back(f1_of(p, rc));
    if (gold_n[c] + pred_n[c] == 0) continue;  // sklearn averages over labels seen in gold or predictions
    ++present;
    r.macro_precision += p;
    r.macro_recall += rc;
    r.macro_f1 += r.f1.back();
  }
  r.macro_precision /= present;
  r.macro_recall /= present;
  r.macro_f1 /= present;
  return r;
}

double mean_absolute_error(const std::vector<double>& g, const std::vector<double>& p) {
  TERN_CHECK(g.size() == p.size() && !g.empty(), "mae: size mismatch or empty");
  double s = 0;
  for (size_t i = 0; i < g.size(); ++i) s += std::fabs(g[i] - p[i]);
  return s / g.size();
}

double root_mean_squared_error(const std::vector<double>& g, const std::vector<double>& p) {
  TERN_CHECK(g.size() == p.size() && !g.empty(), "rmse: size mismatch or empty");
  double s = 0;
  for (size_t i = 0; i < g.size(); ++i) s += (g[i] - p[i]) * (g[i] - p[i]);
  return std::sqrt(s / g.size());
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && x[idx[j + 1]] == x[idx[i]]) ++j;
    const double rank = (i + j) / 2.0 + 1.0;  // mean of the 1-based ranks i+1 .. j+1
    for (size_t k = i; k <= j; ++k) r[idx[k]] = rank;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  TERN_CHECK(a.size() == b.size() && a.size() >= 2, "spearman: needs two series of equal length >= 2");
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n,
               mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return std::nan("");
  return sab / std::sqrt(saa * sbb);
}

MultiLabelReport multilabel_report(const std::vector<float>& gold, const std::vector<float>& logits,
                                   int64_t L, double threshold) {
  TERN_CHECK(gold.size() == logits.size() && L > 0 && gold.size() % L == 0, "multilabel metrics: bad sizes");
  const size_t N = gold.size() / L;
  // sigmoid(z) > t  <=>  z > log(t / (1 - t))
  const double zt = std::log(threshold / (1 - threshold));
  std::vector<int64_t> tp(L, 0), fp(L, 0), fn(L, 0);
  for (size_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < L; ++k) {
      const bool g = gold[i * L + k] > 0.5f, p = logits[i * L + k] > zt;
      tp[k] += g && p;
      fp[k] += !g && p;
      fn[k] += g && !p;
    }
  MultiLabelReport r;
  int64_t TP = 0, FP = 0, FN = 0;
  for (int64_t k = 0; k < L; ++k) {
    TP += tp[k], FP += fp[k], FN += fn[k];
    const double p = safe_div(tp[k], tp[k] + fp[k]), rc = safe_div(tp[k], tp[k] + fn[k]);
    r.f1.push_back(f1_of(p, rc));
    r.macro_f1 += r.f1.back();
  }
  r.macro_f1 /= L;
  r.micro_precision = safe_div(TP, TP + FP);
  r.micro_recall = safe_div(TP, TP + FN);
  r.micro_f1 = f1_of(r.micro_precision, r.micro_recall);
  return r;
}

bool metric_higher_is_better(const std::string& m) {
  return !(m == "mae" || m == "rmse" || m == "loss");
}

Evaluation evaluate(const std::string& task, const std::vector<float>& targets, const std::vector<float>& out,
                    int64_t N, int64_t L, const std::vector<std::string>& names) {
  Evaluation e;
  nlohmann::json j;
  j["n"] = N;
  auto name_of = [&](int64_t k) {
    return k < static_cast<int64_t>(names.size()) ? names[k] : std::to_string(k);
  };
  TERN_CHECK(static_cast<int64_t>(out.size()) == N * L,
             "evaluate: " << out.size() << " outputs for " << N << " x " << L);
  if (task == "single") {
    TERN_CHECK(static_cast<int64_t>(targets.size()) == N,
               "evaluate: " << targets.size() << " targets for " << N);
    std::vector<int64_t> gold(N), pred(N);
    for (int64_t i = 0; i < N; ++i) {
      gold[i] = static_cast<int64_t>(targets[i]);
      const float* z = out.data() + i * L;
      pred[i] = std::max_element(z, z + L) - z;  // first maximum, as torch.argmax / numpy.argmax
    }
    ClassReport r = classification_report(gold, pred, L);
    e.scalars = {{"accuracy", r.accuracy},
                 {"macro_f1", r.macro_f1},
                 {"macro_recall", r.macro_recall},
                 {"macro_precision", r.macro_precision}};
    nlohmann::json pc = nlohmann::json::object();
    for (int64_t k = 0; k < L; ++k)
      pc[name_of(k)] = {
          {"precision", r.precision[k]}, {"recall", r.recall[k]}, {"f1", r.f1[k]}, {"support", r.support[k]}};
    j["per_class"] = pc;
  } else if (task == "multi") {
    TERN_CHECK(static_cast<int64_t>(targets.size()) == N * L, "evaluate: targets size");
    MultiLabelReport r = multilabel_report(targets, out, L);
    e.scalars = {{"micro_f1", r.micro_f1},
                 {"macro_f1", r.macro_f1},
                 {"micro_precision", r.micro_precision},
                 {"micro_recall", r.micro_recall}};
    nlohmann::json pc = nlohmann::json::object();
    for (int64_t k = 0; k < L; ++k) pc[name_of(k)] = {{"f1", r.f1[k]}};
    j["per_label"] = pc;
  } else if (task == "regression") {
    TERN_CHECK(static_cast<int64_t>(targets.size()) == N * L, "evaluate: targets size");
    // Per target, averaged over targets (one target: the plain figures).
    double mae = 0, rmse = 0, rho = 0;
    nlohmann::json pt = nlohmann::json::array();
    for (int64_t k = 0; k < L; ++k) {
      std::vector<double> g(N), p(N);
      for (int64_t i = 0; i < N; ++i) g[i] = targets[i * L + k], p[i] = out[i * L + k];
      const double a = mean_absolute_error(g, p), b = root_mean_squared_error(g, p);
      const double c = N >= 2 ? spearman(g, p) : std::nan("");
      mae += a / L, rmse += b / L, rho += c / L;
      pt.push_back(
          {{"mae", a}, {"rmse", b}, {"spearman", std::isnan(c) ? nlohmann::json() : nlohmann::json(c)}});
    }
    e.scalars = {{"mae", mae}, {"rmse", rmse}, {"spearman", rho}};
    if (L > 1) j["per_target"] = pt;
  } else {
    TERN_FAIL("evaluate: unknown task " << task);
  }
  for (const auto& [k, v] : e.scalars) j[k] = std::isnan(v) ? nlohmann::json() : nlohmann::json(v);
  e.json = j.dump();
  return e;
}

}  // namespace tern::train
