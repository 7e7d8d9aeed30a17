// Engagement prediction: the train / evaluate / predict pipeline and the model file.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <numeric>
#include <unordered_map>

#include "infer/predictor.h"
#include "social/engagement.h"
#include "social/tweet.h"
#include "tensor/check.h"
#include "weights/model_file.h"

namespace tern::social::eng {

namespace {

constexpr const char* kFormat = "tern-engagement";

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double quantile_of(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

nlohmann::json table_to_json(const TableOptions& t) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& s : t.targets) targets.push_back({{"name", s.name}, {"columns", s.columns}});
  return {{"text_field", t.text_field},
          {"time_field", t.time_field},
          {"time_format", t.time_format},
          {"utc_offset_field", t.utc_offset_field},
          {"author_field", t.author_field},
          {"id_field", t.id_field},
          {"targets", targets},
          {"exclude_retweets", t.exclude_retweets}};
}

TableOptions table_from_json(const nlohmann::json& j) {
  TableOptions t;
  t.text_field = j.at("text_field");
  t.time_field = j.at("time_field");
  t.time_format = j.at("time_format");
  t.utc_offset_field = j.at("utc_offset_field");
  t.author_field = j.at("author_field");
  t.id_field = j.at("id_field");
  t.exclude_retweets = j.at("exclude_retweets");
  for (const auto& s : j.at("targets")) t.targets.push_back({s.at("name"), s.at("columns")});
  return t;
}

// Everything the models see for a set of rows.
struct Prepared {
  std::vector<Row> rows;
  RowCounts counts;
  int64_t F = 0;              // features per row (context + text)
  int64_t cdim = 0;           // of which context features (the first cdim)
  std::vector<float> X;       // (N, F), standardised once the statistics are known
  std::vector<int64_t> prev;  // (N, window): the author's previous rows, oldest first; -1 = none
};

void message(const Progress& p, const std::string& s) {
  if (p.message) p.message(s);
}

// text_features through the cache file of spec.cache (when given).
std::vector<float> cached_text_features(const std::vector<std::string>& texts, const TextFeatureSpec& spec,
                                        int64_t& dim, const Progress& progress) {
  if (spec.cache.empty()) return text_features(texts, spec, dim, progress.text_features);
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64 over texts, models and sizes
  auto mix = [&](const std::string& x) {
    for (unsigned char c : x) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const auto& t : texts) mix(t);
  mix(spec.encoder);
  for (const auto& e : spec.extra) mix(e);
  char key[32];
  std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(h));
  if (std::ifstream(spec.cache).good()) {
    try {
      ModelBundle b = load_model(spec.cache);
      auto cfg = nlohmann::json::parse(b.config_json);
      auto it = b.tensors.find("text_features");
      if (cfg.value("key", "") == key && it != b.tensors.end() && it->second.dim() == 2 &&
          it->second.size(0) == static_cast<int64_t>(texts.size())) {
        dim = it->second.size(1);
        message(progress, "text features from the cache " + spec.cache);
        return std::vector<float>(it->second.f32(), it->second.f32() + it->second.numel());
      }
      message(progress, "the cache " + spec.cache + " holds other texts or models: recomputing");
    } catch (const Error& e) {
      message(progress, std::string("the cache is not readable (") + e.what() + "): recomputing");
    }
  }
  std::vector<float> X = text_features(texts, spec, dim, progress.text_features);
  ModelBundle b;
  b.config_json = nlohmann::json{{"format", "tern-engagement-features"}, {"key", key}}.dump();
  b.tensors["text_features"] = Tensor::from_data(X.data(), {static_cast<int64_t>(texts.size()), dim});
  b.metadata["kind"] = "engagement-features";
  save_model(spec.cache, b);
  return X;
}

Prepared prepare(const std::vector<std::string>& data, const TableOptions& table, int history, bool trend,
                 int window, bool text_models, const TextFeatureSpec& text, const Progress& progress) {
  Prepared p;
  p.rows = read_tables(data, table, p.counts, [&](const BadRow& b) {
    message(progress, "skipped " + b.file + ":" + std::to_string(b.line) + ": " + b.reason);
  });
  const int64_t N = static_cast<int64_t>(p.rows.size());
  message(progress, std::to_string(N) + " tweets of " + std::to_string(p.counts.read) +
                        " rows read: " + p.counts.to_json().dump());
  int64_t cdim = 0;
  std::vector<float> ctx = context_features(p.rows, history, cdim, nullptr, trend);
  int64_t tdim = 0;
  std::vector<float> txt;
  if (text_models && N > 0) {
    std::vector<std::string> texts;
    texts.reserve(static_cast<size_t>(N));
    for (const auto& r : p.rows) texts.push_back(r.text);
    auto t0 = std::chrono::steady_clock::now();
    txt = cached_text_features(texts, text, tdim, progress);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char b[128];
    std::snprintf(b, sizeof b, "text features: %lld x %lld in %.1f s", static_cast<long long>(N),
                  static_cast<long long>(tdim), s);
    message(progress, b);
  }
  p.F = cdim + tdim;
  p.cdim = cdim;
  p.X.resize(static_cast<size_t>(N * p.F));
  for (int64_t i = 0; i < N; ++i) {
    std::copy_n(&ctx[static_cast<size_t>(i * cdim)], cdim, &p.X[static_cast<size_t>(i * p.F)]);
    if (tdim)
      std::copy_n(&txt[static_cast<size_t>(i * tdim)], tdim, &p.X[static_cast<size_t>(i * p.F + cdim)]);
  }
  p.prev = previous_rows(p.rows, window);
  return p;
}

void standardise(std::vector<float>& X, int64_t N, int64_t F, const std::vector<double>& mean,
                 const std::vector<double>& sd) {
  for (int64_t i = 0; i < N; ++i)
    for (int64_t f = 0; f < F; ++f) {
      float& v = X[static_cast<size_t>(i * F + f)];
      v = static_cast<float>((v - mean[f]) / sd[f]);
    }
}

// Target scaling: z = (log1p(y) - center) / scale (log1p: center 0, scale 1).
struct Scaling {
  std::string kind = "log1p";
  double center = 0, scale = 1;
  double z(double y) const { return (std::log1p(std::max(0.0, y)) - center) / scale; }
  double y(double z) const { return std::max(0.0, std::expm1(std::min(40.0, z * scale + center))); }
};

// The state every model of a file shares.
struct Shared {
  int64_t F = 0, K = 0;
  int64_t tok = 0;  // features of a row inside a transformer token (the context features, or all F)
  int window = 8;
  std::vector<double> mean, sd;            // feature standardisation (training rows)
  std::vector<double> ytok_mean, ytok_sd;  // log1p targets inside transformer tokens
};

// Transformer tokens of rows idx: (B, window + 1, F + K + 1), mask (B, window + 1).
void make_tokens(const Prepared& p, const Shared& s, const std::vector<int64_t>& idx, std::vector<float>& x,
                 std::vector<float>& mask) {
  const int64_t T = s.window + 1, Ft = s.tok + s.K + 1, B = static_cast<int64_t>(idx.size());
  const int64_t per = T * Ft + s.F;  // tokens, then the tweet's full row for the linear path
  x.assign(static_cast<size_t>(B * per), 0.f);
  mask.assign(static_cast<size_t>(B * T), 0.f);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = idx[b];
    for (int64_t t = 0; t < T; ++t) {
      int64_t r = t < s.window ? p.prev[static_cast<size_t>(i * s.window + t)] : i;
      if (r < 0) continue;
      float* o = &x[static_cast<size_t>(b * per + t * Ft)];
      std::copy_n(&p.X[static_cast<size_t>(r * s.F)], s.tok, o);
      if (t < s.window) {
        for (int64_t k = 0; k < s.K; ++k) {
          double v = p.rows[r].y[k];
          o[s.tok + k] =
              std::isnan(v) ? 0.f : static_cast<float>((std::log1p(v) - s.ytok_mean[k]) / s.ytok_sd[k]);
        }
        o[s.tok + s.K] = 1.f;
      }
      mask[static_cast<size_t>(b * T + t)] = 1.f;
    }
    std::copy_n(&p.X[static_cast<size_t>(i * s.F)], s.F, &x[static_cast<size_t>(b * per + T * Ft)]);
  }
}

void make_rows(const Prepared& p, const Shared& s, const std::vector<int64_t>& idx, std::vector<float>& x) {
  x.resize(idx.size() * static_cast<size_t>(s.F));
  for (size_t b = 0; b < idx.size(); ++b)
    std::copy_n(&p.X[static_cast<size_t>(idx[b] * s.F)], s.F, &x[b * static_cast<size_t>(s.F)]);
}

std::vector<double> net_predict(const Net& net, const Prepared& p, const Shared& s,
                                const std::vector<int64_t>& idx) {
  std::vector<double> out;
  out.reserve(idx.size());
  std::vector<float> x, mask, o;
  for (size_t b0 = 0; b0 < idx.size(); b0 += 256) {
    std::vector<int64_t> part(idx.begin() + b0, idx.begin() + std::min(idx.size(), b0 + 256));
    if (net.kind() == Net::Kind::Mlp)
      make_rows(p, s, part, x);
    else
      make_tokens(p, s, part, x, mask);
    o.resize(part.size());
    net.forward(x.data(), mask.data(), static_cast<int64_t>(part.size()), o.data());
    for (float v : o) out.push_back(v);
  }
  return out;
}

struct FitReport {
  int epochs = 0, best_epoch = 0;
  double best_val = 0;
};

// Mini-batch AdamW on the loss of scaled targets; early stopping on the validation rows' log1p MAE (the
// parameters of the best epoch are kept). Without validation rows: a fixed number of epochs.
FitReport fit_net(Net& net, const Prepared& p, const Shared& s, const std::vector<int64_t>& fit,
                  const std::vector<int64_t>& val, const std::vector<double>& z, int64_t k, const Scaling& sc,
                  const EngageOptions& o, const RidgeFit* init, int fixed_epochs = -1) {
  FitReport rep;
  std::vector<float>& w = net.params();
  std::vector<float>& g = net.grad();
  std::vector<float> m(w.size(), 0.f), v(w.size(), 0.f), best = w;
  if (init) {  // start at the ridge solution: linear path = ridge, the network's own output 0
    float* skip = net.param("skip.w");
    for (size_t f = 0; f < init->w.size(); ++f) skip[f] = static_cast<float>(init->w[f]);
    float* ow = net.param("out.w");
    std::fill(ow, ow + (net.kind() == Net::Kind::Mlp ? net.hidden() / 2 : net.hidden()), 0.f);
    net.set_output_bias(static_cast<float>(init->b));
  } else {
    double zmean = 0;
    for (int64_t i : fit) zmean += z[i];
    net.set_output_bias(static_cast<float>(zmean / std::max<size_t>(1, fit.size())));
  }
  best = w;
  uint64_t rng = o.seed * 7919 + static_cast<uint64_t>(k);
  std::vector<int64_t> order = fit;
  std::vector<float> x, mask, out, dout;
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  int64_t step = 0;
  const int max_epochs = fixed_epochs >= 0 ? fixed_epochs : val.empty() ? std::min(o.epochs, 20) : o.epochs;
  double best_val = 1e300;
  int since = 0;
  std::vector<double> yv;
  for (int64_t i : val) yv.push_back(p.rows[i].y[k]);
  auto val_score = [&] {
    auto pz = net_predict(net, p, s, val);
    std::vector<double> py;
    for (double zz : pz) py.push_back(sc.y(zz));
    return mae_log1p(py, yv);
  };
  if (!val.empty()) best_val = val_score();  // epoch 0: the starting point is a candidate too
  for (int ep = 1; ep <= max_epochs; ++ep) {
    for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates with a seeded splitmix
      rng += 0x9E3779B97F4A7C15ull;
      uint64_t r = rng;
      r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9ull;
      r = (r ^ (r >> 27)) * 0x94D049BB133111EBull;
      r ^= r >> 31;
      std::swap(order[i - 1], order[r % i]);
    }
    for (size_t b0 = 0; b0 < order.size(); b0 += static_cast<size_t>(o.batch_size)) {
      std::vector<int64_t> part(
          order.begin() + b0, order.begin() + std::min(order.size(), b0 + static_cast<size_t>(o.batch_size)));
      const int64_t B = static_cast<int64_t>(part.size());
      if (net.kind() == Net::Kind::Mlp)
        make_rows(p, s, part, x);
      else
        make_tokens(p, s, part, x, mask);
      out.resize(B);
      net.forward(x.data(), mask.data(), B, out.data());
      dout.resize(B);
      for (int64_t b = 0; b < B; ++b) {
        double gr;
        loss_value(o.loss, out[b], z[part[b]], o.loss_param, &gr);
        dout[b] = static_cast<float>(gr / B);
      }
      std::fill(g.begin(), g.end(), 0.f);
      net.backward(x.data(), mask.data(), B, dout.data());
      ++step;
      const double c1 = 1 - std::pow(b1, step), c2 = 1 - std::pow(b2, step);
      for (size_t j = 0; j < w.size(); ++j) {
        w[j] *= static_cast<float>(1 - o.lr * o.weight_decay);
        m[j] = static_cast<float>(b1 * m[j] + (1 - b1) * g[j]);
        v[j] = static_cast<float>(b2 * v[j] + (1 - b2) * g[j] * g[j]);
        w[j] -= static_cast<float>(o.lr / c1 * m[j] / (std::sqrt(v[j] / c2) + eps));
      }
    }
    rep.epochs = ep;
    if (val.empty()) {
      best = w;
      rep.best_epoch = ep;
      continue;
    }
    double e = val_score();
    if (e < best_val - 1e-6) {
      best_val = e;
      best = w;
      rep.best_epoch = ep;
      since = 0;
    } else if (++since >= o.patience) {
      break;
    }
  }
  w = best;
  rep.best_val = val.empty() ? 0 : best_val;
  return rep;
}

nlohmann::json score(const std::vector<double>& pred, const std::vector<double>& y) {
  return {{"mae_log1p", mae_log1p(pred, y)}, {"spearman", spearman(pred, y)}, {"mae", mae(pred, y)}};
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

// Predictions (counts) of every model in `cfg` for target k on rows idx.
std::map<std::string, std::vector<double>> predict_target(const nlohmann::json& mcfg,
                                                          const TensorMap& tensors, const std::string& tname,
                                                          const Prepared& p, const Shared& s, int64_t k,
                                                          const std::vector<int64_t>& idx) {
  std::map<std::string, std::vector<double>> out;
  Scaling sc;
  sc.kind = mcfg.at("scaling").at("kind");
  sc.center = mcfg.at("scaling").at("center");
  sc.scale = mcfg.at("scaling").at("scale");
  for (const auto& [name, m] : mcfg.at("models").items()) {
    std::vector<double> pr;
    if (name == "median_baseline") {
      double gmed = m.at("global");
      const auto& authors = m.at("authors");
      for (int64_t i : idx) {
        auto it = authors.find(p.rows[i].author);
        pr.push_back(it != authors.end() ? it->get<double>() : gmed);
      }
    } else if (name == "ridge") {
      std::vector<double> w = m.at("w");
      double b = m.at("b");
      TERN_CHECK(static_cast<int64_t>(w.size()) == s.F,
                 "ridge of '" << tname << "' has " << w.size() << " weights for " << s.F << " features");
      for (int64_t i : idx) {
        double zz = b;
        const float* x = &p.X[static_cast<size_t>(i * s.F)];
        for (int64_t f = 0; f < s.F; ++f) zz += w[f] * x[f];
        pr.push_back(sc.y(zz));
      }
    } else {
      Net net = Net::from_config(m.at("net"));
      for (const auto& [sname, sl] : net.slices()) {
        std::string key = tname + "." + name + "." + sname;
        auto it = tensors.find(key);
        TERN_CHECK(it != tensors.end(), "engagement model: tensor '" << key << "' missing");
        TERN_CHECK(it->second.numel() == shape_numel(sl.second),
                   "engagement model: tensor '" << key << "' has " << it->second.numel()
                                                << " values, expected " << shape_numel(sl.second));
        std::copy_n(it->second.f32(), it->second.numel(), net.params().data() + sl.first);
      }
      for (double zz : net_predict(net, p, s, idx)) pr.push_back(sc.y(zz));
    }
    out[name] = std::move(pr);
  }
  return out;
}

Shared shared_from(const nlohmann::json& cfg) {
  Shared s;
  s.F = cfg.at("features").at("dim");
  s.tok = cfg.at("features").at("token_dim");
  s.K = static_cast<int64_t>(cfg.at("table").at("targets").size());
  s.window = cfg.at("window");
  s.mean = cfg.at("features").at("mean").get<std::vector<double>>();
  s.sd = cfg.at("features").at("sd").get<std::vector<double>>();
  s.ytok_mean = cfg.at("ytok_mean").get<std::vector<double>>();
  s.ytok_sd = cfg.at("ytok_sd").get<std::vector<double>>();
  return s;
}

struct Loaded {
  nlohmann::json cfg;
  TensorMap tensors;
};

Loaded load_engagement(const std::string& path) {
  ModelBundle b = load_model(path);
  Loaded l;
  try {
    l.cfg = nlohmann::json::parse(b.config_json);
  } catch (const std::exception& e) {
    TERN_FAIL(path << ": not an engagement model (config_json: " << e.what() << ")");
  }
  if (!l.cfg.is_object() || l.cfg.value("format", "") != kFormat)
    TERN_FAIL(path << ": not an engagement model (tern engagement train writes them)");
  l.tensors = std::move(b.tensors);
  return l;
}

Prepared prepare_for_model(const nlohmann::json& cfg, const std::vector<std::string>& data,
                           const TableOptions* over, bool require_targets, const Progress& progress) {
  TableOptions t = over ? *over : table_from_json(cfg.at("table"));
  t.require_targets = require_targets;
  if (over) {  // the targets are the model's; the columns may be named anew
    TableOptions saved = table_from_json(cfg.at("table"));
    if (t.targets.empty()) t.targets = saved.targets;
    TERN_CHECK(t.targets.size() == saved.targets.size(), "--targets: the model predicts "
                                                             << saved.targets.size() << " targets, "
                                                             << t.targets.size() << " given");
    for (size_t k = 0; k < t.targets.size(); ++k)
      TERN_CHECK(t.targets[k].name == saved.targets[k].name,
                 "--targets: target " << k + 1 << " of the model is '" << saved.targets[k].name << "', not '"
                                      << t.targets[k].name << "'");
  }
  TextFeatureSpec text;
  bool text_models = cfg.at("text_models");
  if (text_models) {
    text.encoder = cfg.at("text").at("encoder");
    text.extra = cfg.at("text").at("extra").get<std::vector<std::string>>();
  }
  Shared s = shared_from(cfg);
  Prepared p = prepare(data, t, cfg.at("history"), cfg.value("trend_features", true), s.window, text_models,
                       text, progress);
  TERN_CHECK(p.F == s.F || p.rows.empty(),
             "engagement model: " << s.F << " features, the data gives " << p.F << " (another encoder?)");
  standardise(p.X, static_cast<int64_t>(p.rows.size()), p.F, s.mean, s.sd);
  return p;
}

}  // namespace

std::vector<int64_t> previous_rows(const std::vector<Row>& rows, int window) {
  TERN_CHECK(window >= 1, "window must be >= 1, got " << window);
  const int64_t N = static_cast<int64_t>(rows.size());
  std::vector<int64_t> prev(static_cast<size_t>(N * window), -1);
  std::unordered_map<std::string, std::vector<int64_t>> seen;
  for (int64_t i = 0; i < N; ++i) {
    auto& v = seen[rows[i].author];
    int64_t n = std::min<int64_t>(window, static_cast<int64_t>(v.size()));
    for (int64_t j = 0; j < n; ++j)
      prev[static_cast<size_t>(i * window + window - n + j)] = v[v.size() - n + j];
    v.push_back(i);
  }
  return prev;
}

nlohmann::json train(const std::vector<std::string>& data, const EngageOptions& o, const std::string& out,
                     const Progress& progress) {
  auto t0 = std::chrono::steady_clock::now();
  TERN_CHECK(o.test_fraction > 0 && o.test_fraction < 1,
             "--test-fraction " << o.test_fraction << " must be in (0, 1)");
  TERN_CHECK(o.val_fraction >= 0 && o.val_fraction < 1,
             "--val-fraction " << o.val_fraction << " must be in [0, 1)");
  TERN_CHECK(o.window >= 1 && o.history >= 1, "--window and --history must be >= 1");
  for (const auto& m : o.models)
    TERN_CHECK(m == "median_baseline" || m == "ridge" || m == "mlp" || m == "transformer",
               "--models: unknown model '" << m << "' (median_baseline, ridge, mlp, transformer)");
  TextFeatureSpec text = o.text;
  if (o.text_models && text.encoder.empty()) text.encoder = infer::default_model_name();
  Prepared p = prepare(data, o.table, o.history, o.trend_features, o.window, o.text_models, text, progress);
  const int64_t N = static_cast<int64_t>(p.rows.size());
  if (N < 10)
    TERN_FAIL("engagement train: " << N << " usable tweets (of " << p.counts.read
                                   << " rows read); at least 10 are needed (see the skipped-row messages)");
  const int64_t n_test = std::max<int64_t>(1, std::llround(static_cast<double>(N) * o.test_fraction));
  const int64_t n_train = N - n_test;
  const int64_t n_val = n_train >= 40 ? std::max<int64_t>(5, std::llround(n_train * o.val_fraction)) : 0;
  const int64_t n_fit = n_train - n_val;
  Shared s;
  s.F = p.F;
  s.tok = o.token_text ? p.F : p.cdim;
  s.K = static_cast<int64_t>(o.table.targets.size());
  s.window = o.window;
  s.mean.assign(s.F, 0);
  s.sd.assign(s.F, 0);
  for (int64_t i = 0; i < n_train; ++i)
    for (int64_t f = 0; f < s.F; ++f) s.mean[f] += p.X[static_cast<size_t>(i * s.F + f)];
  for (auto& v : s.mean) v /= static_cast<double>(n_train);
  for (int64_t i = 0; i < n_train; ++i)
    for (int64_t f = 0; f < s.F; ++f) {
      double d = p.X[static_cast<size_t>(i * s.F + f)] - s.mean[f];
      s.sd[f] += d * d;
    }
  for (auto& v : s.sd) v = std::sqrt(v / static_cast<double>(n_train)) > 1e-8 ? std::sqrt(v / n_train) : 1.0;
  standardise(p.X, N, s.F, s.mean, s.sd);
  for (int64_t k = 0; k < s.K; ++k) {
    std::vector<double> l;
    for (int64_t i = 0; i < n_train; ++i) l.push_back(std::log1p(p.rows[i].y[k]));
    double m = std::accumulate(l.begin(), l.end(), 0.0) / static_cast<double>(l.size());
    double v = 0;
    for (double x : l) v += (x - m) * (x - m);
    v = std::sqrt(v / static_cast<double>(l.size()));
    s.ytok_mean.push_back(m);
    s.ytok_sd.push_back(v > 1e-8 ? v : 1.0);
  }
  std::vector<int64_t> train_idx(n_train), test_idx(n_test), fit_idx(n_fit), val_idx(n_val);
  std::iota(train_idx.begin(), train_idx.end(), 0);
  std::iota(test_idx.begin(), test_idx.end(), n_train);
  std::iota(fit_idx.begin(), fit_idx.end(), 0);
  std::iota(val_idx.begin(), val_idx.end(), n_fit);
  char line[256];
  std::snprintf(line, sizeof line, "split: %lld train (%lld fit + %lld validation), %lld test from %s",
                static_cast<long long>(n_train), static_cast<long long>(n_fit), static_cast<long long>(n_val),
                static_cast<long long>(n_test), format_time(p.rows[n_train].time).c_str());
  message(progress, line);

  nlohmann::json cfg;
  cfg["format"] = kFormat;
  cfg["version"] = 1;
  cfg["table"] = table_to_json(o.table);
  cfg["history"] = o.history;
  cfg["trend_features"] = o.trend_features;
  cfg["window"] = o.window;
  cfg["text_models"] = o.text_models;
  cfg["text"] = {{"encoder", text.encoder}, {"extra", text.extra}};
  cfg["features"] = {
      {"dim", s.F}, {"context_dim", p.cdim}, {"token_dim", s.tok}, {"mean", s.mean}, {"sd", s.sd}};
  cfg["ytok_mean"] = s.ytok_mean;
  cfg["ytok_sd"] = s.ytok_sd;
  cfg["options"] = {{"loss", o.loss == Loss::Mse     ? "mse"
                             : o.loss == Loss::Mae   ? "mae"
                             : o.loss == Loss::Huber ? "huber"
                                                     : "quantile"},
                    {"loss_param", o.loss_param},
                    {"scaling", o.scaling},
                    {"epochs", o.epochs},
                    {"patience", o.patience},
                    {"batch_size", o.batch_size},
                    {"lr", o.lr},
                    {"weight_decay", o.weight_decay},
                    {"hidden", o.hidden},
                    {"d_model", o.d_model},
                    {"layers", o.layers},
                    {"seed", o.seed},
                    {"test_fraction", o.test_fraction},
                    {"val_fraction", o.val_fraction}};
  TensorMap tensors;
  nlohmann::json metrics;
  metrics["split"] = {{"train", n_train}, {"test", n_test}, {"test_from", format_time(p.rows[n_train].time)}};
  metrics["targets"] = nlohmann::json::object();
  nlohmann::json targets_cfg = nlohmann::json::object();
  for (int64_t k = 0; k < s.K; ++k) {
    const std::string tname = o.table.targets[k].name;
    Scaling sc;
    sc.kind = o.scaling;
    std::vector<double> ltrain;
    for (int64_t i = 0; i < n_train; ++i) ltrain.push_back(std::log1p(p.rows[i].y[k]));
    if (o.scaling == "robust") {
      sc.center = median_of(ltrain);
      double iqr = quantile_of(ltrain, 0.75) - quantile_of(ltrain, 0.25);
      sc.scale = iqr > 1e-8 ? iqr / 1.349 : 1.0;
    } else {
      TERN_CHECK(o.scaling == "log1p", "--scaling '" << o.scaling << "': expected log1p or robust");
    }
    std::vector<double> z(static_cast<size_t>(N)), y_test;
    for (int64_t i = 0; i < N; ++i) z[i] = sc.z(p.rows[i].y[k]);
    for (int64_t i : test_idx) y_test.push_back(p.rows[i].y[k]);
    nlohmann::json tcfg;
    tcfg["scaling"] = {{"kind", sc.kind}, {"center", sc.center}, {"scale", sc.scale}};
    tcfg["models"] = nlohmann::json::object();
    auto want = [&](const char* m) {
      return std::find(o.models.begin(), o.models.end(), m) != o.models.end();
    };
    if (want("median_baseline")) {
      std::map<std::string, std::vector<double>> by;
      std::vector<double> all;
      for (int64_t i = 0; i < n_train; ++i) {
        by[p.rows[i].author].push_back(p.rows[i].y[k]);
        all.push_back(p.rows[i].y[k]);
      }
      nlohmann::json a = nlohmann::json::object();
      for (auto& [au, v] : by) a[au] = median_of(v);
      tcfg["models"]["median_baseline"] = {{"global", median_of(all)}, {"authors", a}};
    }
    // Ridge's lambda on the validation slice (also the networks' starting point, fit rows only).
    RidgeFit ridge_fit_rows, ridge_train_rows;
    bool need_nets = want("mlp") || want("transformer");
    if (want("ridge") || (need_nets && o.ridge_init)) {
      std::vector<double> zf(z.begin(), z.begin() + n_fit), best_l;
      double best_lambda = 10, best_e = 1e300;
      if (n_val > 0) {
        std::vector<double> yv;
        for (int64_t i : val_idx) yv.push_back(p.rows[i].y[k]);
        for (double lambda : {0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5}) {
          RidgeFit r = fit_ridge(p.X.data(), n_fit, s.F, zf.data(), lambda);
          std::vector<double> pv;
          for (int64_t i : val_idx) {
            double zz = r.b;
            for (int64_t f = 0; f < s.F; ++f) zz += r.w[f] * p.X[static_cast<size_t>(i * s.F + f)];
            pv.push_back(sc.y(zz));
          }
          double e = mae_log1p(pv, yv);
          if (e < best_e) {
            best_e = e;
            best_lambda = lambda;
          }
        }
      }
      if (need_nets && o.ridge_init)
        ridge_fit_rows = fit_ridge(p.X.data(), n_fit, s.F, zf.data(), best_lambda);
      std::vector<double> zt(z.begin(), z.begin() + n_train);
      ridge_train_rows = fit_ridge(p.X.data(), n_train, s.F, zt.data(), best_lambda);
      if (want("ridge")) {
        const RidgeFit& r = ridge_train_rows;
        tcfg["models"]["ridge"] = {{"lambda", best_lambda}, {"w", r.w}, {"b", r.b}};
        message(progress,
                tname + " ridge: lambda " + fmt(best_lambda) +
                    (n_val ? " (validation log1p MAE " + fmt(best_e) + ")" : " (no validation slice)"));
      }
    }
    for (const char* kind : {"mlp", "transformer"}) {
      if (!want(kind)) continue;
      bool mlp = std::string(kind) == "mlp";
      Net net(mlp ? Net::Kind::Mlp : Net::Kind::Transformer, mlp ? s.F : s.tok + s.K + 1,
              mlp ? o.hidden : o.d_model, o.window + 1, o.layers, o.seed + 101 * static_cast<uint64_t>(k),
              s.F);
      auto t1 = std::chrono::steady_clock::now();
      FitReport fr = fit_net(net, p, s, n_val ? fit_idx : train_idx, val_idx, z, k, sc, o,
                             o.ridge_init ? &ridge_fit_rows : nullptr);
      if (n_val && o.refit) {
        // The validation slice is the most recent training period: refit on every training row for the
        // number of epochs early stopping chose (from a fresh initialisation, ridge of all training rows).
        Net again(net.kind(), net.input_dim(), net.hidden(), net.tokens(), o.layers,
                  o.seed + 101 * static_cast<uint64_t>(k), net.skip_dim());
        fit_net(again, p, s, train_idx, {}, z, k, sc, o, o.ridge_init ? &ridge_train_rows : nullptr,
                fr.best_epoch);
        net = std::move(again);
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      tcfg["models"][kind] = {{"net", net.config()},
                              {"epochs_run", fr.epochs},
                              {"best_epoch", fr.best_epoch},
                              {"val_mae_log1p", fr.best_val}};
      for (const auto& [sname, sl] : net.slices())
        tensors[tname + "." + kind + "." + sname] =
            Tensor::from_data(net.params().data() + sl.first, sl.second);
      message(progress, tname + " " + kind + ": " + std::to_string(fr.epochs) + " epochs, best " +
                            std::to_string(fr.best_epoch) +
                            (n_val ? " (validation log1p MAE " + fmt(fr.best_val) + ")" : "") + ", " +
                            fmt(secs) + " s");
    }
    targets_cfg[tname] = tcfg;
    auto preds = predict_target(tcfg, tensors, tname, p, s, k, test_idx);
    nlohmann::json tm = nlohmann::json::object();
    for (const auto& [name, pr] : preds) tm[name] = score(pr, y_test);
    metrics["targets"][tname] = tm;
  }
  cfg["targets"] = targets_cfg;
  metrics["rows"] = p.counts.to_json();
  cfg["metrics"] = metrics;
  if (!out.empty()) {
    ModelBundle b;
    b.config_json = cfg.dump();
    b.tensors = std::move(tensors);
    b.metadata["kind"] = "engagement";
    b.metadata["created_by"] = "tern engagement train";
    save_model(out, b);
    message(progress, "saved " + out);
  }
  char wall[64];
  std::snprintf(wall, sizeof wall, "%.1f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  message(progress, std::string("wall time ") + wall + " s");
  return metrics;
}

nlohmann::json evaluate(const std::string& model, const std::vector<std::string>& data,
                        const TableOptions* over, const Progress& progress) {
  auto t0 = std::chrono::steady_clock::now();
  Loaded l = load_engagement(model);
  Prepared p = prepare_for_model(l.cfg, data, over, true, progress);
  const int64_t N = static_cast<int64_t>(p.rows.size());
  if (N < 1) TERN_FAIL("engagement eval: no usable tweets (of " << p.counts.read << " rows read)");
  Shared s = shared_from(l.cfg);
  std::vector<int64_t> idx(N);
  std::iota(idx.begin(), idx.end(), 0);
  nlohmann::json metrics;
  metrics["split"] = {{"train", 0}, {"test", N}, {"test_from", format_time(p.rows[0].time)}};
  metrics["targets"] = nlohmann::json::object();
  const auto& tl = l.cfg.at("table").at("targets");
  for (int64_t k = 0; k < s.K; ++k) {
    std::string tname = tl[k].at("name");
    std::vector<double> y;
    for (const auto& r : p.rows) y.push_back(r.y[k]);
    auto preds = predict_target(l.cfg.at("targets").at(tname), l.tensors, tname, p, s, k, idx);
    nlohmann::json tm = nlohmann::json::object();
    for (const auto& [name, pr] : preds) tm[name] = score(pr, y);
    metrics["targets"][tname] = tm;
  }
  metrics["rows"] = p.counts.to_json();
  char wall[64];
  std::snprintf(wall, sizeof wall, "%.1f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  message(progress, std::string("wall time ") + wall + " s");
  return metrics;
}

nlohmann::json predict(const std::string& model, const std::vector<std::string>& data,
                       const TableOptions* over, const std::string& out_jsonl, const std::string& use_model,
                       const Progress& progress) {
  Loaded l = load_engagement(model);
  Prepared p = prepare_for_model(l.cfg, data, over, false, progress);
  const int64_t N = static_cast<int64_t>(p.rows.size());
  Shared s = shared_from(l.cfg);
  std::vector<int64_t> idx(N);
  std::iota(idx.begin(), idx.end(), 0);
  const auto& tl = l.cfg.at("table").at("targets");
  std::vector<std::map<std::string, std::vector<double>>> preds;
  for (int64_t k = 0; k < s.K; ++k) {
    std::string tname = tl[k].at("name");
    preds.push_back(N ? predict_target(l.cfg.at("targets").at(tname), l.tensors, tname, p, s, k, idx)
                      : std::map<std::string, std::vector<double>>{});
    if (!use_model.empty() && N)
      TERN_CHECK(preds.back().count(use_model),
                 "--use '" << use_model << "': the model has no such model for '" << tname << "'");
  }
  std::string tmp = out_jsonl == "-" ? "" : out_jsonl + ".tmp";
  std::ofstream f;
  if (!tmp.empty()) {
    f.open(tmp, std::ios::binary);
    if (!f) TERN_FAIL(out_jsonl << ": cannot write");
  }
  std::ostream& os = tmp.empty() ? static_cast<std::ostream&>(std::cout) : f;
  for (int64_t i = 0; i < N; ++i) {
    nlohmann::json row;
    row["id"] = p.rows[i].id;
    row["time"] = format_time(p.rows[i].time);
    if (!p.rows[i].author.empty()) row["author"] = p.rows[i].author;
    for (int64_t k = 0; k < s.K; ++k) {
      std::string tname = tl[k].at("name");
      if (!use_model.empty()) {
        row[tname] = std::llround(std::min(preds[k].at(use_model)[i], 9e18));
      } else {
        nlohmann::json m = nlohmann::json::object();
        for (const auto& [name, v] : preds[k]) m[name] = std::llround(std::min(v[i], 9e18));
        row[tname] = m;
      }
    }
    os << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  if (!tmp.empty()) {
    f.close();
    if (!f) TERN_FAIL(out_jsonl << ": write failed");
    if (std::rename(tmp.c_str(), out_jsonl.c_str()) != 0) TERN_FAIL(out_jsonl << ": cannot rename " << tmp);
  }
  return p.counts.to_json();
}

}  // namespace tern::social::eng
