// Topic classification: scores, threshold tuning, training / evaluation / prediction (social/topics.h).
#include "social/topics.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "infer/annotate.h"
#include "infer/predictor.h"
#include "infer/record_reader.h"
#include "infer/writer.h"
#include "tensor/check.h"
#include "train/dataset.h"
#include "weights/model_file.h"

namespace tern::social {

using json = nlohmann::json;

const char* const kThresholdsKey = "topic_thresholds";

const std::vector<std::string>& tweet_topic_labels() {
  static const std::vector<std::string> v = {"arts_&_culture",
                                             "business_&_entrepreneurs",
                                             "celebrity_&_pop_culture",
                                             "diaries_&_daily_life",
                                             "family",
                                             "fashion_&_style",
                                             "film_tv_&_video",
                                             "fitness_&_health",
                                             "food_&_dining",
                                             "gaming",
                                             "learning_&_educational",
                                             "music",
                                             "news_&_social_concern",
                                             "other_hobbies",
                                             "relationships",
                                             "science_&_technology",
                                             "sports",
                                             "travel_&_adventure",
                                             "youth_&_student_life"};
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// Scores and thresholds

namespace {

double ratio(int64_t a, int64_t b) {
  return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
}

double f1_of(int64_t tp, int64_t fp, int64_t fn) {
  const int64_t d = 2 * tp + fp + fn;
  return d > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(d) : 0.0;
}

void check_sizes(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N, int64_t L) {
  TERN_CHECK(N >= 0 && L >= 1, "topic scores: N = " << N << ", L = " << L);
  TERN_CHECK(static_cast<int64_t>(gold.size()) == N * L,
             "topic scores: gold has " << gold.size() << " values, expected N x L = " << N * L);
  TERN_CHECK(static_cast<int64_t>(probs.size()) == N * L,
             "topic scores: probs has " << probs.size() << " values, expected N x L = " << N * L);
}

// Counts of class c at threshold t.
void class_counts(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N, int64_t L,
                  int64_t c, double t, int64_t& tp, int64_t& fp, int64_t& fn) {
  tp = fp = fn = 0;
  for (int64_t i = 0; i < N; ++i) {
    const bool g = gold[i * L + c] >= 0.5f;
    const bool p = static_cast<double>(probs[i * L + c]) >= t;
    tp += g && p;
    fp += !g && p;
    fn += g && !p;
  }
}

}  // namespace

TopicScores score_topics(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                         int64_t L, const std::vector<double>& thresholds) {
  check_sizes(gold, probs, N, L);
  TERN_CHECK(static_cast<int64_t>(thresholds.size()) == L,
             "topic scores: " << thresholds.size() << " thresholds for " << L << " classes");
  TopicScores s;
  s.tp.assign(L, 0), s.fp.assign(L, 0), s.fn.assign(L, 0), s.support.assign(L, 0);
  s.precision.assign(L, 0), s.recall.assign(L, 0), s.f1.assign(L, 0);
  int64_t TP = 0, FP = 0, FN = 0;
  double sum_f1 = 0;
  for (int64_t c = 0; c < L; ++c) {
    class_counts(gold, probs, N, L, c, thresholds[c], s.tp[c], s.fp[c], s.fn[c]);
    s.support[c] = s.tp[c] + s.fn[c];
    s.precision[c] = ratio(s.tp[c], s.tp[c] + s.fp[c]);
    s.recall[c] = ratio(s.tp[c], s.tp[c] + s.fn[c]);
    s.f1[c] = f1_of(s.tp[c], s.fp[c], s.fn[c]);
    sum_f1 += s.f1[c];
    TP += s.tp[c], FP += s.fp[c], FN += s.fn[c];
  }
  s.macro_f1 = sum_f1 / static_cast<double>(L);
  s.micro_precision = ratio(TP, TP + FP);
  s.micro_recall = ratio(TP, TP + FN);
  s.micro_f1 = f1_of(TP, FP, FN);
  return s;
}

TopicScores score_topics(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                         int64_t L, double threshold) {
  return score_topics(gold, probs, N, L, std::vector<double>(std::max<int64_t>(L, 0), threshold));
}

std::vector<double> threshold_grid(double step) {
  TERN_CHECK(step > 0 && step < 1, "threshold grid step " << step << " is outside (0, 1)");
  std::vector<double> v;
  // k * step computed from the integer k (no accumulated rounding), rounded to 1e-9 so 0.07 prints as 0.07.
  for (int64_t k = 1;; ++k) {
    const double t = std::round(static_cast<double>(k) * step * 1e9) / 1e9;
    if (t >= 1.0 - 1e-12) break;
    v.push_back(t);
  }
  return v;
}

size_t pick_plateau_middle(const std::vector<double>& values) {
  TERN_CHECK(!values.empty(), "pick_plateau_middle: no values");
  const double best = *std::max_element(values.begin(), values.end());
  size_t first = 0;
  while (values[first] < best - 1e-12) ++first;
  size_t last = first;
  while (last + 1 < values.size() && values[last + 1] >= best - 1e-12) ++last;
  return first + (last - first) / 2;
}

Thresholds tune_thresholds(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                           int64_t L, const TuneOptions& opt) {
  check_sizes(gold, probs, N, L);
  const std::vector<double> cand = opt.candidates.empty() ? threshold_grid(0.01) : opt.candidates;
  for (size_t i = 0; i < cand.size(); ++i) {
    TERN_CHECK(cand[i] >= 0 && cand[i] <= 1, "threshold candidate " << cand[i] << " is outside [0, 1]");
    TERN_CHECK(i == 0 || cand[i] > cand[i - 1], "threshold candidates must be strictly ascending");
  }
  TERN_CHECK(opt.min_positives >= 1, "min_positives must be >= 1, got " << opt.min_positives);
  Thresholds t;
  t.rows = N;
  // Global: macro-F1 over all classes at each candidate.
  std::vector<double> macro(cand.size());
  for (size_t k = 0; k < cand.size(); ++k) macro[k] = score_topics(gold, probs, N, L, cand[k]).macro_f1;
  t.global = cand[pick_plateau_middle(macro)];
  // Per class: that class's F1.
  t.per_class.assign(L, t.global);
  t.tuned.assign(L, false);
  std::vector<double> f1(cand.size());
  for (int64_t c = 0; c < L; ++c) {
    int64_t pos = 0;
    for (int64_t i = 0; i < N; ++i) pos += gold[i * L + c] >= 0.5f;
    if (pos < opt.min_positives) continue;
    for (size_t k = 0; k < cand.size(); ++k) {
      int64_t tp, fp, fn;
      class_counts(gold, probs, N, L, c, cand[k], tp, fp, fn);
      f1[k] = f1_of(tp, fp, fn);
    }
    t.per_class[c] = cand[pick_plateau_middle(f1)];
    t.tuned[c] = true;
  }
  t.global_macro_f1 = score_topics(gold, probs, N, L, t.global).macro_f1;
  t.per_class_macro_f1 = score_topics(gold, probs, N, L, t.per_class).macro_f1;
  return t;
}

std::string thresholds_json(const Thresholds& t, const std::vector<std::string>& labels,
                            const std::string& tuned_on) {
  TERN_CHECK(t.per_class.size() == labels.size() && t.tuned.size() == labels.size(),
             "thresholds: " << t.per_class.size() << " thresholds for " << labels.size() << " labels");
  json pc = json::object(), tuned = json::array();
  for (size_t c = 0; c < labels.size(); ++c) {
    pc[labels[c]] = t.per_class[c];
    if (t.tuned[c]) tuned.push_back(labels[c]);
  }
  json j = {{"rule", "prob >= threshold"},
            {"default", 0.5},
            {"global", t.global},
            {"per_class", pc},
            {"tuned", tuned},
            {"tuned_on", tuned_on},
            {"rows", t.rows},
            {"global_macro_f1", t.global_macro_f1},
            {"per_class_macro_f1", t.per_class_macro_f1}};
  return j.dump();
}

Thresholds thresholds_from_json(const std::string& text, const std::vector<std::string>& labels,
                                const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    TERN_FAIL(where << ": metadata " << kThresholdsKey << " is not JSON: " << e.what());
  }
  auto number_in_range = [&](const json& v, const std::string& what) {
    if (!v.is_number())
      TERN_FAIL(where << ": metadata " << kThresholdsKey << ": " << what << " is not a number");
    const double x = v.get<double>();
    if (!(x >= 0 && x <= 1))
      TERN_FAIL(where << ": metadata " << kThresholdsKey << ": " << what << " = " << x
                      << " is outside [0, 1]");
    return x;
  };
  if (!j.is_object() || !j.contains("global") || !j.contains("per_class") || !j["per_class"].is_object())
    TERN_FAIL(where << ": metadata " << kThresholdsKey << " needs 'global' and a 'per_class' object");
  Thresholds t;
  t.global = number_in_range(j["global"], "global");
  for (const auto& l : labels) {
    if (!j["per_class"].contains(l))
      TERN_FAIL(where << ": metadata " << kThresholdsKey << ": no threshold for label '" << l << "'");
    t.per_class.push_back(number_in_range(j["per_class"][l], "per_class." + l));
  }
  t.tuned.assign(labels.size(), false);
  if (j.contains("tuned") && j["tuned"].is_array())
    for (const auto& v : j["tuned"])
      for (size_t c = 0; c < labels.size(); ++c)
        if (v.is_string() && v.get<std::string>() == labels[c]) t.tuned[c] = true;
  t.rows = j.value("rows", int64_t{0});
  t.global_macro_f1 = j.value("global_macro_f1", 0.0);
  t.per_class_macro_f1 = j.value("per_class_macro_f1", 0.0);
  return t;
}

ThresholdChoice ThresholdChoice::parse(const std::string& s) {
  ThresholdChoice c;
  if (s == "per-class") return c;
  if (s == "global") {
    c.kind = Kind::Global;
    return c;
  }
  c.kind = Kind::Fixed;
  if (s == "default") return c;
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end || !(x >= 0 && x <= 1))
    TERN_FAIL("--thresholds: '" << s << "' is not per-class, global, default or a number in [0, 1]");
  c.value = x;
  return c;
}

std::string ThresholdChoice::name() const {
  if (kind == Kind::PerClass) return "per-class";
  if (kind == Kind::Global) return "global";
  std::string out;
  infer::append_float(out, static_cast<float>(value));
  return out;
}

std::vector<double> resolve_thresholds(const ThresholdChoice& c, const std::optional<Thresholds>& stored,
                                       int64_t L, const std::string& model_path) {
  if (c.kind == ThresholdChoice::Kind::Fixed) return std::vector<double>(L, c.value);
  if (!stored)
    TERN_FAIL(model_path << ": no tuned thresholds in the metadata (" << kThresholdsKey
                         << "; made by tern topics train); use --thresholds default or a number");
  if (c.kind == ThresholdChoice::Kind::Global) return std::vector<double>(L, stored->global);
  return stored->per_class;
}

// ---------------------------------------------------------------------------------------------------------
// Data

namespace {

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The one file in `dir` whose name ends with one of `suffixes`; "" when none; an error when several.
std::string find_suffix(const std::string& dir, const std::vector<std::string>& suffixes) {
  DIR* d = ::opendir(dir.c_str());
  TERN_CHECK(d, dir << ": cannot open the data folder");
  std::vector<std::string> hits;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    for (const auto& s : suffixes)
      if (n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0 && is_file(dir + "/" + n))
        hits.push_back(dir + "/" + n);
  }
  ::closedir(d);
  std::sort(hits.begin(), hits.end());
  if (hits.size() > 1) {
    std::string all;
    for (const auto& h : hits) all += (all.empty() ? "" : ", ") + h;
    TERN_FAIL(dir << ": several files match *" << suffixes.front() << " (" << all
                  << "); name the file with --train / --val / --test");
  }
  return hits.empty() ? std::string() : hits.front();
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<float> sigmoid_all(const std::vector<float>& logits) {
  std::vector<float> p(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    p[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(logits[i]))));
  return p;
}

// Gold labels and model probabilities of a labelled file.
struct Scored {
  std::vector<float> gold, probs;
  int64_t N = 0;
};

Scored score_file(const std::shared_ptr<const infer::InferModel>& model, const std::string& path,
                  const std::vector<std::string>& labels, const std::string& text_field, int64_t batch_size) {
  train::LabelSpec spec{train::Task::Multi, labels, static_cast<int64_t>(labels.size())};
  train::ReadOptions ro;
  ro.text_field = text_field;
  const train::Dataset d = train::read_dataset(path, spec, ro);
  Scored s;
  s.N = static_cast<int64_t>(d.size());
  TERN_CHECK(s.N > 0, path << ": no rows");
  s.gold = d.targets;
  infer::PredictOptions po;
  po.batch_size = batch_size;
  infer::Predictor pred({model}, po);
  s.probs = sigmoid_all(pred.predict(d.texts).at(0).logits);
  TERN_CHECK(s.probs.size() == s.gold.size(), path << ": the model gives "
                                                   << s.probs.size() / std::max<size_t>(1, d.size())
                                                   << " outputs per row for " << labels.size() << " labels");
  return s;
}

std::optional<Thresholds> stored_thresholds(const infer::ModelInfo& info) {
  auto it = info.metadata.find(kThresholdsKey);
  if (it == info.metadata.end()) return std::nullopt;
  return thresholds_from_json(it->second, info.labels, info.path);
}

std::shared_ptr<const infer::InferModel> load_multilabel(const std::string& path,
                                                         std::optional<int64_t> max_length = {}) {
  infer::InferModel::Options mo;
  mo.max_length = max_length;
  auto m = infer::InferModel::load(path, mo);
  TERN_CHECK(m->info().kind == infer::OutputKind::Multi, path << ": not a multi-label model (it is "
                                                              << infer::output_kind_name(m->info().kind)
                                                              << "); train one with tern topics train");
  return m;
}

json scores_json(const TopicScores& s, const std::vector<std::string>& labels) {
  json pc = json::object();
  for (size_t c = 0; c < labels.size(); ++c)
    pc[labels[c]] = {
        {"precision", s.precision[c]}, {"recall", s.recall[c]}, {"f1", s.f1[c]}, {"support", s.support[c]}};
  return {{"macro_f1", s.macro_f1},
          {"micro_f1", s.micro_f1},
          {"micro_precision", s.micro_precision},
          {"micro_recall", s.micro_recall},
          {"per_class", pc}};
}

json thresholds_used_json(const std::vector<std::string>& labels, const std::optional<Thresholds>& t) {
  json j = {{"default", 0.5}};
  if (t) {
    j["global"] = t->global;
    json pc = json::object();
    for (size_t c = 0; c < labels.size(); ++c) pc[labels[c]] = t->per_class[c];
    j["per_class"] = pc;
  }
  return j;
}

}  // namespace

TopicSplits find_topic_splits(const std::string& dir) {
  TopicSplits s;
  s.train = find_suffix(dir, {"_train.jsonl", "_train.jsonl.gz"});
  s.val = find_suffix(dir, {"_validation.jsonl", "_validation.jsonl.gz"});
  if (s.val.empty()) s.val = find_suffix(dir, {"_val.jsonl", "_val.jsonl.gz"});
  s.test = find_suffix(dir, {"_test.jsonl", "_test.jsonl.gz"});
  TERN_CHECK(!s.train.empty(),
             dir << ": no *_train.jsonl[.gz] (a tweet_topicXL language folder, e.g. data/en)");
  TERN_CHECK(!s.val.empty(), dir << ": no *_validation.jsonl[.gz] (the thresholds are tuned on it)");
  return s;
}

std::string topic_report_json(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                              const std::vector<std::string>& labels, const std::optional<Thresholds>& t) {
  const int64_t L = static_cast<int64_t>(labels.size());
  json j = {{"default", scores_json(score_topics(gold, probs, N, L, 0.5), labels)}};
  if (t) {
    j["global"] = scores_json(score_topics(gold, probs, N, L, t->global), labels);
    j["per_class"] = scores_json(score_topics(gold, probs, N, L, t->per_class), labels);
  }
  return j.dump();
}

// ---------------------------------------------------------------------------------------------------------
// Training

TopicsTrainSummary train_topics(const TopicsTrainOptions& o, train::TrainReporter* reporter) {
  const double t0 = now_s();
  TERN_CHECK(!o.model_path.empty(), "--model: required");
  TERN_CHECK(!o.out_path.empty(), "--out: required");
  TopicSplits sp;
  if (!o.data_dir.empty()) sp = find_topic_splits(o.data_dir);
  if (!o.train_path.empty()) sp.train = o.train_path;
  if (!o.val_path.empty()) sp.val = o.val_path;
  if (!o.test_path.empty()) sp.test = o.test_path;
  TERN_CHECK(!sp.train.empty() && !sp.val.empty(),
             "training and validation data are required (--data DIR, or --train and --val)");
  TERN_CHECK(o.metric == "loss" || o.metric == "macro_f1" || o.metric == "micro_f1",
             "--metric: '" << o.metric << "' is not loss, macro_f1 or micro_f1");

  train::TrainOptions c;
  c.model_path = o.model_path;
  c.train_path = sp.train;
  c.val_path = sp.val;
  c.test_path = o.test_path;  // per-epoch test metrics only when asked for explicitly
  c.out_path = o.out_path;
  c.task = train::Task::Multi;
  c.labels = o.labels.empty() ? tweet_topic_labels() : o.labels;
  c.read.text_field = o.text_field;
  c.max_length = o.max_length;
  c.batch_size = o.batch_size;
  c.epochs = o.epochs;
  c.lr = o.lr;
  c.warmup = train::WarmupSpec::fraction(o.warmup);
  c.weight_decay = o.weight_decay;
  c.no_decay_bias_ln = true;
  c.seed = o.seed;
  c.metric = train::metric_from_name(o.metric);
  c.max_steps = o.max_steps;
  c.early_stopping = o.early_stopping;
  c.command_line = o.command_line;

  TopicsTrainSummary out;
  {
    train::Trainer trainer(c, reporter);
    out.train = trainer.run();
  }

  // Thresholds from the saved best model's validation probabilities, computed as tern infer computes them.
  auto model = load_multilabel(o.out_path);
  const std::vector<std::string> labels = model->info().labels;  // a copy: the model is released below
  const Scored val = score_file(model, sp.val, labels, o.text_field, 32);
  out.thresholds = tune_thresholds(val.gold, val.probs, val.N, static_cast<int64_t>(labels.size()), o.tune);
  out.val_json = topic_report_json(val.gold, val.probs, val.N, labels, out.thresholds);
  model.reset();

  LoadOptions lo;
  lo.map_file = false;
  ModelBundle b = load_model(o.out_path, lo);
  b.extra.clear();  // the optimizer state: this file is for prediction
  out.thresholds_json = thresholds_json(out.thresholds, labels, sp.val);
  b.metadata[kThresholdsKey] = out.thresholds_json;
  b.metadata["created_by"] = "tern topics train";
  save_model(o.out_path, b);
  out.seconds = now_s() - t0;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

std::string evaluate_topics(const TopicsEvalOptions& o) {
  TERN_CHECK(!o.model_path.empty(), "--model: required");
  TERN_CHECK(!o.input_path.empty(), "--data: required");
  auto model = load_multilabel(o.model_path, o.max_length);
  const infer::ModelInfo& info = model->info();
  const std::optional<Thresholds> t = stored_thresholds(info);
  const Scored s = score_file(model, o.input_path, info.labels, o.text_field, o.batch_size);
  json j = {{"model", info.path},
            {"input", o.input_path},
            {"n", s.N},
            {"labels", info.labels},
            {"max_length", info.max_length},
            {"thresholds", thresholds_used_json(info.labels, t)},
            {"scores", json::parse(topic_report_json(s.gold, s.probs, s.N, info.labels, t))}};
  return j.dump();
}

// ---------------------------------------------------------------------------------------------------------
// Prediction

TopicsPredictSummary predict_topics(const TopicsPredictOptions& o) {
  TERN_CHECK(!o.model_path.empty(), "--model: required");
  TERN_CHECK(o.batch_size >= 1 && o.window >= 1, "batch size and window must be >= 1");
  auto model = load_multilabel(o.model_path);
  const infer::ModelInfo& info = model->info();
  const int64_t L = static_cast<int64_t>(info.labels.size());
  const std::vector<double> th = resolve_thresholds(o.thresholds, stored_thresholds(info), L, info.path);

  infer::RecordReader reader(o.input);
  infer::LineWriter out(o.output, infer::LineWriter::Mode::Truncate);
  infer::LineWriter err;
  if (!o.errors.empty() && o.errors != "-")
    err = infer::LineWriter(o.errors, infer::LineWriter::Mode::Truncate);
  infer::PredictOptions po;
  po.batch_size = o.batch_size;
  infer::Predictor pred({model}, po);

  TopicsPredictSummary sum;
  sum.thresholds = o.thresholds.name();
  std::vector<std::string> texts, ids;
  std::string bad;
  auto flush = [&] {
    if (!bad.empty()) {
      if (err.is_open())
        err.write(bad);
      else
        std::fputs(bad.c_str(), stderr);
      bad.clear();
    }
    if (texts.empty()) return;
    const std::vector<float> p = sigmoid_all(pred.predict(texts).at(0).logits);
    std::string buf;
    for (size_t i = 0; i < texts.size(); ++i) {
      const float* pi = p.data() + i * L;
      buf += "{\"id\":" + ids[i] + ",\"labels\":[";
      bool first = true;
      for (int64_t c = 0; c < L; ++c)
        if (static_cast<double>(pi[c]) >= th[c]) {
          if (!first) buf += ',';
          first = false;
          infer::append_json_string(buf, info.labels[c]);
        }
      buf += "],\"probs\":{";
      for (int64_t c = 0; c < L; ++c) {
        if (c) buf += ',';
        infer::append_json_string(buf, info.labels[c]);
        buf += ':';
        infer::append_float(buf, pi[c]);
      }
      buf += "}}\n";
    }
    out.write(buf);
    sum.rows += static_cast<int64_t>(texts.size());
    texts.clear();
    ids.clear();
  };
  auto bad_row = [&](int64_t line, const std::string& why) {
    json j = {{"line", line}, {"reason", why}};
    bad += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    ++sum.bad_rows;
  };

  infer::Record r;
  while (reader.next(r)) {
    if (!r.error.empty()) {
      bad_row(r.line, r.error);
      continue;
    }
    const json& j = r.json();
    const std::string tf =
        o.text_field.empty() ? infer::first_present_field(j, infer::default_text_fields()) : o.text_field;
    const json* t = tf.empty() ? nullptr : infer::find_field(j, tf);
    if (!t || !t->is_string()) {
      bad_row(r.line, !t ? (o.text_field.empty() ? std::string("no text field")
                                                 : "no text field '" + o.text_field + "'")
                         : "text field '" + tf + "' is not a string");
      continue;
    }
    const std::string idf =
        o.id_field.empty() ? infer::first_present_field(j, infer::default_id_fields()) : o.id_field;
    const json* id = idf.empty() ? nullptr : infer::find_field(j, idf);
    if (!id && !o.id_field.empty()) {
      bad_row(r.line, "no id field '" + o.id_field + "'");
      continue;
    }
    ids.push_back(id && !id->is_null() ? id->dump(-1, ' ', false, json::error_handler_t::replace)
                                       : std::to_string(r.line));
    texts.push_back(t->get<std::string>());
    if (static_cast<int64_t>(texts.size()) == o.window) flush();
  }
  flush();
  out.close();
  if (err.is_open()) err.close();
  return sum;
}

}  // namespace tern::social
