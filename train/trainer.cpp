#include "train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <tuple>

#include "nn/config.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"
#include "train/metrics.h"
#include "train/optim.h"

namespace tern::train {

using nlohmann::json;

ConfigExtras config_extras(const std::string& config_json, Arch arch) {
  ConfigExtras x;
  json j;
  try {
    j = json::parse(config_json);
  } catch (const std::exception& e) {
    TERN_FAIL("config.json: " << e.what());
  }
  auto num = [&](const char* k, float fallback) {
    auto it = j.find(k);
    return it != j.end() && it->is_number() ? it->get<float>() : fallback;
  };
  if (arch == Arch::DistilBert) {
    x.hidden_dropout = num("dropout", 0.1f);
    x.attention_dropout = num("attention_dropout", 0.1f);
    x.classifier_dropout = num("seq_classif_dropout", 0.2f);
  } else {
    x.hidden_dropout = num("hidden_dropout_prob", 0.1f);
    x.attention_dropout = num("attention_probs_dropout_prob", 0.1f);
    // BertForSequenceClassification: classifier_dropout if not None else hidden_dropout_prob.
    x.classifier_dropout = num("classifier_dropout", x.hidden_dropout);
  }
  x.initializer_range = num("initializer_range", 0.02f);
  return x;
}

std::string seqcls_architecture(Arch a) {
  switch (a) {
    case Arch::Bert:
      return "BertForSequenceClassification";
    case Arch::Roberta:
      return "RobertaForSequenceClassification";
    case Arch::DistilBert:
      return "DistilBertForSequenceClassification";
  }
  return "";
}

Inputs make_batch(const Encoded& e, const int64_t* rows, int64_t n) {
  TERN_CHECK(n > 0, "make_batch: empty batch");
  const int64_t T = infer::batch_width(e, rows, n);
  Inputs in;
  in.input_ids = Tensor::empty({n, T}, DType::I64);
  in.attention_mask = Tensor::empty({n, T}, DType::I64);
  infer::pad_rows(e, rows, n, T, in.input_ids.i64(), in.attention_mask.i64());
  return in;
}

std::vector<float> predict_logits(Model& m, const Encoded& e, int64_t batch_size) {
  TERN_CHECK(m.has_head(), "predict: the model has no classification head");
  const int64_t N = static_cast<int64_t>(e.size()), L = m.config().num_labels;
  // Similar lengths together: less padding (results per row do not depend on the batch's padding).
  const std::vector<int64_t> order = infer::length_order(e);
  std::vector<float> out(static_cast<size_t>(N * L));
  for (int64_t r0 = 0; r0 < N; r0 += batch_size) {
    const int64_t n = std::min(batch_size, N - r0);
    Inputs in = make_batch(e, order.data() + r0, n);
    ModelOutputs o = m.forward(in.input_ids, in.attention_mask, Tensor());
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(&out[order[r0 + i] * L], o.logits.f32() + i * L, L * sizeof(float));
  }
  return out;
}

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Deterministic permutation of [0, n) for (seed, epoch): Fisher-Yates on a splitmix64 stream.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch + 1) * 0xD1B54A32D192ED03ull;
  auto next = [&]() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(next() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

ProblemType problem_of(Task t) {
  return t == Task::Single  ? ProblemType::SingleLabel
         : t == Task::Multi ? ProblemType::MultiLabel
                            : ProblemType::Regression;
}

// Names of the head's last layer (those whose shape depends on the number of labels).
std::vector<std::string> head_out_names(Arch a) {
  if (a == Arch::Roberta) return {"classifier.out_proj.weight", "classifier.out_proj.bias"};
  return {"classifier.weight", "classifier.bias"};
}

struct EvalResult {
  Evaluation eval;
  double loss = 0;
};

// Metrics (and mean loss) of `m` on a dataset; regression outputs are mapped back to target units.
EvalResult evaluate_model(Model& m, const Encoded& e, const Dataset& d, Task task, const LossOptions& lo,
                          const TargetScaler& scaler, int64_t batch, const std::vector<std::string>& names) {
  const int64_t N = static_cast<int64_t>(d.size()), L = m.config().num_labels;
  std::vector<float> out = predict_logits(m, e, batch);
  EvalResult r;
  std::vector<float> y = d.targets;
  if (task == Task::Regression) scaler.transform(y.data(), N);  // loss in the trained (scaled) units
  LossOptions l2 = lo;
  r.loss = loss_forward_backward(l2, out.data(), y.data(), N, L, nullptr);
  if (task == Task::Regression) scaler.inverse(out.data(), N);
  r.eval = evaluate(task_name(task), d.targets, out, N, L, names);
  return r;
}

}  // namespace

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::Accuracy:
      return "accuracy";
    case Metric::MacroF1:
      return "macro_f1";
    case Metric::MacroRecall:
      return "macro_recall";
    case Metric::MacroPrecision:
      return "macro_precision";
    case Metric::MicroF1:
      return "micro_f1";
    case Metric::Mae:
      return "mae";
    case Metric::Rmse:
      return "rmse";
    case Metric::Spearman:
      return "spearman";
    case Metric::Loss:
      return "loss";
  }
  return "";
}

Metric metric_from_name(const std::string& name) {
  for (Metric m : {Metric::Accuracy, Metric::MacroF1, Metric::MacroRecall, Metric::MacroPrecision,
                   Metric::MicroF1, Metric::Mae, Metric::Rmse, Metric::Spearman, Metric::Loss})
    if (name == metric_name(m)) return m;
  TERN_FAIL(
      "unknown metric '" << name
                         << "' (accuracy, macro_f1, macro_recall, macro_precision, micro_f1, mae, rmse, "
                            "spearman, loss)");
}

struct Trainer::State {
  TrainOptions o;
  TrainReporter quiet;
  TrainReporter* rep = nullptr;
  double t_start = 0;
  bool built = false, loaded = false, prepared = false, resumed = false, planned = false, finished = false;

  // build_model()
  bool resuming = false;
  std::string src;
  ModelBundle bundle;
  ConfigExtras extras;
  json state;  // training state of a resumed checkpoint
  std::vector<std::string> names;
  ReadOptions ro;
  LabelSpec spec;
  int64_t L = 0;
  std::string cfg_json;
  std::unique_ptr<Model> model;
  std::unique_ptr<tok::Tokenizer> tk;

  // load_data()
  Dataset train;
  Encoded train_enc;
  std::optional<std::pair<Dataset, Encoded>> val, test;
  int64_t N = 0, W = 1;
  TargetScaler scaler;
  std::vector<float> train_y;

  // prepare()
  LossOptions lo;
  std::string metric;
  bool higher = true;
  ParamArena* arena = nullptr;
  std::unique_ptr<AdamW> adam;
  int64_t n_trainable = 0, batches_per_epoch = 0, steps_per_epoch = 0, total_steps = 0, warmup = 0;
  LinearSchedule sched;
  Dropout drop;
  json recipe;

  // Progress.
  int64_t epoch = 0, step = 0, micro_step = 0, best_epoch = -1, bad_epochs = 0;
  double best_value = 0;
  json epochs_log = json::array();
  std::vector<float> ybuf;

  std::pair<Dataset, Encoded> load(const std::string& path, const char* what) {
    const double t0 = now_s();
    DataReport r;
    Dataset d = read_dataset(path, spec, ro);
    Encoded e = encode_texts(*tk, d.texts, o.max_length, o.normalize_tweets);
    r.split = what;
    r.path = path;
    r.rows = d.size();
    r.skipped = d.skipped;
    if (d.skipped) r.first_skip_reason = d.skip_reasons[0];
    r.seconds = now_s() - t0;
    rep->data_loaded(r);
    return std::make_pair(std::move(d), std::move(e));
  }

  EvalReport eval_on(const std::pair<Dataset, Encoded>& set) {
    EvalResult r =
        evaluate_model(*model, set.second, set.first, o.task, lo, scaler, o.eval_batch_size, names);
    EvalReport out;
    out.loss = r.loss;
    out.scalars = r.eval.scalars;
    json j = json::parse(r.eval.json);
    j["loss"] = r.loss;
    out.json = j.dump();
    return out;
  }
};

namespace {

// Wall times go to the reporter, not into checkpoints: the same run gives the same bytes.
json without_timings(json epochs) {
  for (auto& e : epochs)
    for (const char* k : {"seconds", "train_seconds", "tweets_per_s"}) e.erase(k);
  return epochs;
}

}  // namespace

Trainer::Trainer(TrainOptions options, TrainReporter* reporter) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.t_start = now_s();
  s.o = std::move(options);
  s.rep = reporter ? reporter : &s.quiet;
  const TrainOptions& o = s.o;
  TERN_CHECK(o.batch_size >= 1, "batch_size must be >= 1, got " << o.batch_size);
  TERN_CHECK(o.epochs >= 1, "epochs must be >= 1, got " << o.epochs);
  TERN_CHECK(o.grad_accum >= 1, "grad_accum must be >= 1, got " << o.grad_accum);
  TERN_CHECK(o.max_length >= 2, "max_length must be >= 2, got " << o.max_length);
  TERN_CHECK(o.eval_batch_size >= 1, "eval_batch_size must be >= 1, got " << o.eval_batch_size);
  TERN_CHECK(!o.out_path.empty(), "out_path is required");
  TERN_CHECK(!o.train_path.empty(), "train_path is required");
  TERN_CHECK(!o.model_path.empty() || !o.resume_path.empty(), "model_path is required (or resume_path)");
  TERN_CHECK(o.lr > 0, "lr must be > 0, got " << o.lr);
  TERN_CHECK(o.freeze_layers >= 0, "freeze_layers must be >= 0, got " << o.freeze_layers);
  TERN_CHECK(!(o.head_only && o.freeze_layers > 0), "head_only and freeze_layers exclude each other");
  TERN_CHECK(o.early_stopping >= 0, "early_stopping must be >= 0, got " << o.early_stopping);
  TERN_CHECK(!o.max_steps || *o.max_steps >= 1, "max_steps must be >= 1");
  TERN_CHECK(o.warmup.value >= 0 && o.warmup.value <= 1e15,
             "warmup: " << o.warmup.value << " is not a fraction or step count >= 0");
  TERN_CHECK(!o.dropout.all || (*o.dropout.all >= 0 && *o.dropout.all < 1),
             "dropout: a probability in [0, 1), got " << *o.dropout.all);
  TERN_CHECK(!o.label_count || o.labels.empty(), "labels and label_count: give one of them");
  TERN_CHECK(!o.label_count || (*o.label_count >= 1 && *o.label_count <= 1000000),
             "label_count: a class count must be in [1, 1000000], got " << *o.label_count);
  for (float w : o.class_weights.values)
    TERN_CHECK(w >= 0, "class_weights: " << w << " is not a weight >= 0");
  TERN_CHECK(!(o.class_weights.balanced && !o.class_weights.values.empty()),
             "class_weights: balanced or given values, not both");
}

Trainer::~Trainer() = default;

Model& Trainer::model() {
  TERN_CHECK(s_->built, "Trainer: build_model() first");
  return *s_->model;
}
const std::vector<std::string>& Trainer::labels() const {
  return s_->names;
}
int64_t Trainer::epochs_done() const {
  return s_->epoch;
}
int64_t Trainer::steps_done() const {
  return s_->step;
}

void Trainer::build_model() {
  State& s = *s_;
  const TrainOptions& c = s.o;
  TERN_CHECK(!s.built, "Trainer: build_model() was already called");
  // A fresh head on the checkpoint, or a training checkpoint to resume.
  s.resuming = !c.resume_path.empty();
  s.src = s.resuming ? c.resume_path : c.model_path;
  const std::string& src = s.src;
  s.bundle = load_model(src);
  ModelBundle& bundle = s.bundle;
  ModelConfig base = parse_config(bundle.config_json, src + " (config)");
  s.extras = config_extras(bundle.config_json, base.arch);
  if (s.resuming) {
    auto it = bundle.metadata.find("training");
    TERN_CHECK(it != bundle.metadata.end(),
               src << ": not a tern training checkpoint (no metadata 'training')");
    s.state = json::parse(it->second);
  }

  // Labels.
  std::vector<std::string>& names = s.names;
  names = c.labels;
  if (c.label_count)
    for (int64_t i = 0; i < *c.label_count; ++i) names.push_back("LABEL_" + std::to_string(i));
  s.ro = c.read;
  if (c.task == Task::Regression) {
    if (s.ro.label_fields.empty()) s.ro.label_fields = {"label"};
    if (names.empty()) names = s.ro.label_fields;
  }
  if (names.empty() && base.head == HeadKind::SequenceClassification && c.task != Task::Regression)
    names = base.labels;
  TERN_CHECK(!names.empty(), "labels: required (class names in id order, or their number)");
  s.L = static_cast<int64_t>(names.size());
  const int64_t L = s.L;
  TERN_CHECK(c.task != Task::Single || L >= 2, "a single-label task needs at least 2 labels");
  s.spec = LabelSpec{c.task, names, L};
  if (c.task == Task::Regression) s.spec.names.clear();

  s.cfg_json = s.resuming ? bundle.config_json
                          : config_with_head(bundle.config_json, seqcls_architecture(base.arch), names,
                                             problem_of(c.task));
  ModelConfig mc = parse_config(s.cfg_json, src + " (config with head)");
  TERN_CHECK(mc.num_labels == L,
             src << ": the checkpoint's head has " << mc.num_labels << " labels, the task " << L);
  if (!s.resuming) {
    for (const std::string& n : head_out_names(base.arch)) {
      auto it = bundle.tensors.find(n);
      if (it != bundle.tensors.end() && it->second.size(0) != L) {
        s.rep->note("note: " + n + " has " + std::to_string(it->second.size(0)) + " rows, the task has " +
                    std::to_string(L) + " labels: the head layer is re-initialised");
        bundle.tensors.erase(it);
      }
    }
  }
  ModelOptions mo;
  mo.force_head = true;
  mo.bind.init_missing = true;
  mo.bind.seed = c.seed;
  mo.bind.init_std = s.extras.initializer_range;
  s.model = std::make_unique<Model>(mc, std::move(bundle.tensors), src, mo);
  bundle.tensors.clear();
  for (const auto& n : s.model->initialised()) s.rep->note("initialised " + n);
  s.tk = std::make_unique<tok::Tokenizer>(tok::Tokenizer::from_files(bundle.tokenizer_files, src));
  s.built = true;
}

void Trainer::load_data() {
  State& s = *s_;
  const TrainOptions& c = s.o;
  TERN_CHECK(s.built && !s.loaded, "Trainer: load_data() comes once, after build_model()");
  std::tie(s.train, s.train_enc) = s.load(c.train_path, "train");
  if (!c.val_path.empty()) s.val = s.load(c.val_path, "val");
  if (!c.test_path.empty()) s.test = s.load(c.test_path, "test");
  s.N = static_cast<int64_t>(s.train.size());
  s.W = s.train.width;

  // Target scaling (regression), fitted on the training targets.
  s.scaler = TargetScaler(c.target_scale);
  TERN_CHECK(c.task == Task::Regression || s.scaler.kind() == TargetScaler::Kind::None,
             "target_scale applies to regression only");
  if (s.resuming && s.state.contains("target_scaling")) {
    s.scaler = TargetScaler::from_json(s.state["target_scaling"].dump());
  } else {
    s.scaler.fit(s.train.targets, s.W);
  }
  s.train_y = s.train.targets;
  if (c.task == Task::Regression) s.scaler.transform(s.train_y.data(), s.N);
  s.loaded = true;
}

void Trainer::prepare() {
  State& s = *s_;
  const TrainOptions& c = s.o;
  TERN_CHECK(s.loaded && !s.prepared, "Trainer: prepare() comes once, after load_data()");
  const int64_t L = s.L;

  // Loss.
  LossOptions& lo = s.lo;
  lo.kind = c.loss                   ? *c.loss
            : c.task == Task::Single ? LossKind::CrossEntropy
            : c.task == Task::Multi  ? LossKind::BceWithLogits
                                     : LossKind::Mse;
  const bool ok_combo = (c.task == Task::Single) == (lo.kind == LossKind::CrossEntropy) &&
                        (c.task == Task::Multi) == (lo.kind == LossKind::BceWithLogits);
  TERN_CHECK(ok_combo, "loss " << loss_name(lo.kind) << " does not fit task " << task_name(c.task)
                               << " (single: ce; multi: bce; regression: mse, mae, huber, quantile)");
  lo.label_smoothing = c.label_smoothing;
  lo.huber_delta = c.huber_delta;
  lo.quantile_tau = c.quantile_tau;
  if (c.class_weights.balanced) {
    TERN_CHECK(c.task == Task::Single, "class_weights: balanced is for single-label tasks");
    std::vector<int64_t> ys(s.train_y.begin(), s.train_y.end());
    lo.class_weights = balanced_class_weights(ys, L);
  } else if (!c.class_weights.values.empty()) {
    lo.class_weights = c.class_weights.values;
    TERN_CHECK(static_cast<int64_t>(lo.class_weights.size()) == L,
               "class_weights: " << lo.class_weights.size() << " weights for " << L << " labels");
  }
  TERN_CHECK(lo.class_weights.empty() || c.task != Task::Regression, "class_weights are for classification");

  // Selection metric.
  s.metric = c.metric                 ? metric_name(*c.metric)
             : c.task == Task::Single ? "macro_f1"
             : c.task == Task::Multi  ? "micro_f1"
                                      : "mae";
  {
    static const std::vector<std::string> cls = {"accuracy", "macro_f1", "macro_recall", "macro_precision",
                                                 "loss"};
    static const std::vector<std::string> ml = {"micro_f1", "macro_f1", "loss"};
    static const std::vector<std::string> rg = {"mae", "rmse", "spearman", "loss"};
    const auto& ok = c.task == Task::Single ? cls : c.task == Task::Multi ? ml : rg;
    TERN_CHECK(std::find(ok.begin(), ok.end(), s.metric) != ok.end(),
               "metric " << s.metric << " is not a metric of task " << task_name(c.task));
  }
  s.higher = metric_higher_is_better(s.metric);
  s.best_value = s.higher ? -INFINITY : INFINITY;

  // Optimisation.
  Model& model = *s.model;
  s.arena = &model.pack();
  if (c.head_only)
    model.freeze(-1);
  else if (c.freeze_layers > 0)
    model.freeze(c.freeze_layers);
  std::vector<bool> trainable;
  for (const ParamSlice& sl : s.arena->slices) {
    trainable.push_back(model.is_trainable(sl.param));
    if (trainable.back()) s.n_trainable += sl.size;
  }
  AdamWOptions ao;
  ao.weight_decay = c.weight_decay;
  ao.exclude_no_decay = c.no_decay_bias_ln;
  s.adam = std::make_unique<AdamW>(*s.arena, ao, trainable);

  s.batches_per_epoch = (s.N + c.batch_size - 1) / c.batch_size;
  s.steps_per_epoch = (s.batches_per_epoch + c.grad_accum - 1) / c.grad_accum;
  s.total_steps = s.steps_per_epoch * c.epochs;
  // HF TrainingArguments: warmup_steps, else ceil(total * warmup_ratio).
  s.warmup = c.warmup.kind == WarmupSpec::Kind::Fraction
                 ? static_cast<int64_t>(std::ceil(s.total_steps * c.warmup.value))
                 : static_cast<int64_t>(c.warmup.value);
  s.sched = LinearSchedule{c.lr, s.warmup, s.total_steps};

  Dropout& drop = s.drop;
  if (!c.dropout.all) {
    drop.hidden = s.extras.hidden_dropout;
    drop.attention = s.extras.attention_dropout;
    drop.classifier = s.extras.classifier_dropout;
  } else {
    drop.hidden = drop.attention = drop.classifier = *c.dropout.all;
  }
  drop.seed = c.seed;

  // The recipe recorded in every checkpoint.
  s.recipe = {
      {"model", c.model_path},
      {"train", c.train_path},
      {"val", c.val_path},
      {"test", c.test_path},
      {"task", task_name(c.task)},
      {"labels", s.names},
      {"text_field", s.ro.text_field},
      {"label_fields", s.ro.label_fields},
      {"max_length", c.max_length},
      {"batch_size", c.batch_size},
      {"grad_accum", c.grad_accum},
      {"epochs", c.epochs},
      {"lr", c.lr},
      {"warmup_steps", s.warmup},
      {"total_steps", s.total_steps},
      {"schedule", "linear warm-up then linear decay to 0 (HF get_linear_schedule_with_warmup)"},
      {"optimizer",
       {{"name", "AdamW"},
        {"betas", {ao.beta1, ao.beta2}},
        {"eps", ao.eps},
        {"weight_decay", ao.weight_decay},
        {"no_decay_bias_ln", ao.exclude_no_decay}}},
      {"clip_grad_norm", c.clip},
      {"dropout", {{"hidden", drop.hidden}, {"attention", drop.attention}, {"classifier", drop.classifier}}},
      {"freeze_layers", c.head_only ? -1 : c.freeze_layers},
      {"loss", loss_name(lo.kind)},
      {"label_smoothing", lo.label_smoothing},
      {"class_weights", lo.class_weights},
      {"huber_delta", lo.huber_delta},
      {"quantile_tau", lo.quantile_tau},
      {"target_scale", TargetScaler::kind_name(s.scaler.kind())},
      {"metric", s.metric},
      {"early_stopping", c.early_stopping},
      {"normalize_tweets", c.normalize_tweets},
      {"seed", c.seed},
      {"threads", num_threads()},
      {"command", c.command_line}};
  s.bundle.metadata.erase("training");
  s.prepared = true;
}

void Trainer::resume() {
  State& s = *s_;
  TERN_CHECK(s.prepared && !s.resumed && !s.planned, "Trainer: resume() comes once, after prepare()");
  s.resumed = true;
  if (!s.resuming) return;
  const std::string& src = s.src;
  const json& st = s.state.at("state");
  s.epoch = st.at("epochs_done").get<int64_t>();
  s.step = st.at("step").get<int64_t>();
  s.micro_step = st.at("micro_step").get<int64_t>();
  s.best_epoch = st.value("best_epoch", int64_t{-1});
  if (st.contains("best_value") && st["best_value"].is_number())
    s.best_value = st["best_value"].get<double>();
  s.bad_epochs = st.value("bad_epochs", int64_t{0});
  s.epochs_log = s.state.value("epochs", json::array());
  const int64_t old_total = s.state.at("recipe").value("total_steps", int64_t{0});
  TERN_CHECK(old_total == s.total_steps, "resume_path: the checkpoint was trained for "
                                             << old_total << " total steps, these options give "
                                             << s.total_steps
                                             << " (same data, batch_size, grad_accum and epochs are needed)");
  // Optimizer state.
  auto ex = [&](const std::string& k) -> const Tensor& {
    auto it = s.bundle.extra.find(k);
    TERN_CHECK(it != s.bundle.extra.end(), src << ": optimizer state '" << k << "' is missing");
    return it->second;
  };
  AdamW& adam = *s.adam;
  adam.set_steps(ex("adamw.step").to(DType::I64).i64()[0]);
  for (const ParamSlice& sl : s.arena->slices) {
    const Tensor m = ex("adamw.exp_avg." + sl.param->name).contiguous();
    const Tensor v = ex("adamw.exp_avg_sq." + sl.param->name).contiguous();
    TERN_CHECK(m.numel() == sl.size && v.numel() == sl.size,
               src << ": optimizer state of " << sl.param->name << " has the wrong size");
    std::memcpy(adam.m().data() + sl.offset, m.f32(), sl.size * sizeof(float));
    std::memcpy(adam.v().data() + sl.offset, v.f32(), sl.size * sizeof(float));
  }
  s.bundle.extra.clear();
  s.rep->note("resuming " + src + " after epoch " + std::to_string(s.epoch) + " (step " +
              std::to_string(s.step) + ")");
}

void Trainer::save(const std::string& path) {
  State& s = *s_;
  TERN_CHECK(s.prepared, "Trainer: prepare() before save()");
  ModelBundle out;
  out.config_json = s.cfg_json;
  out.tokenizer_files = s.bundle.tokenizer_files;
  out.metadata = s.bundle.metadata;
  out.metadata["created_by"] = "tern train";
  AdamW& adam = *s.adam;
  for (const ParamSlice& sl : s.arena->slices) {
    out.tensors[sl.param->name] = sl.param->value.clone();
    out.extra["adamw.exp_avg." + sl.param->name] =
        Tensor::from_data(adam.m().data() + sl.offset, sl.param->value.shape());
    out.extra["adamw.exp_avg_sq." + sl.param->name] =
        Tensor::from_data(adam.v().data() + sl.offset, sl.param->value.shape());
  }
  const int64_t st = adam.steps();
  out.extra["adamw.step"] = Tensor::from_data(&st, {1});
  json t = {{"recipe", s.recipe},
            {"epochs", without_timings(s.epochs_log)},
            {"seed", s.o.seed},
            {"best", {{"epoch", s.best_epoch + 1}, {"metric", s.metric}, {"value", s.best_value}}},
            {"state",
             {{"epochs_done", s.epoch},
              {"step", s.step},
              {"micro_step", s.micro_step},
              {"best_epoch", s.best_epoch},
              {"best_value", std::isfinite(s.best_value) ? json(s.best_value) : json()},
              {"bad_epochs", s.bad_epochs},
              {"rng", "shuffle: splitmix64(seed, epoch); dropout: counter-based (seed, micro_step)"}}},
            {"target_scaling", json::parse(s.scaler.to_json())}};
  out.metadata["training"] = t.dump();
  if (s.o.task == Task::Regression) out.metadata["target_scaling"] = s.scaler.to_json();
  save_model(path, out);
}

EvalReport Trainer::evaluate(bool test) {
  State& s = *s_;
  TERN_CHECK(s.prepared, "Trainer: prepare() before evaluate()");
  const auto& set = test ? s.test : s.val;
  TERN_CHECK(set, (test ? "test_path" : "val_path") << " was not given");
  return s.eval_on(*set);
}

bool Trainer::run_epoch() {
  State& s = *s_;
  const TrainOptions& c = s.o;
  TERN_CHECK(s.prepared, "Trainer: prepare() (and resume()) before run_epoch()");
  if (!s.resumed) resume();
  if (!s.planned) {
    PlanReport p;
    p.rows = s.N;
    p.labels = s.L;
    p.total_steps = s.total_steps;
    p.steps_per_epoch = s.steps_per_epoch;
    p.warmup_steps = s.warmup;
    p.trainable_params = s.n_trainable;
    p.params = s.arena->size;
    p.threads = num_threads();
    s.rep->plan(p);
    s.planned = true;
  }
  if (s.finished || s.epoch >= c.epochs) return false;
  Model& model = *s.model;
  ParamArena& arena = *s.arena;
  const int64_t epoch = s.epoch, N = s.N, W = s.W, batches = s.batches_per_epoch;
  const double t0 = now_s();
  const std::vector<int64_t> perm = permutation(N, c.seed, epoch);
  s.rep->epoch_begin(epoch + 1, c.epochs, batches);
  double loss_sum = 0, recent = 0;
  int64_t seen = 0, loss_n = 0;
  bool stopped = false;
  model.zero_grad();
  for (int64_t bi = 0; bi < batches; ++bi) {
    const int64_t r0 = bi * c.batch_size, n = std::min(c.batch_size, N - r0);
    const int64_t group = bi / c.grad_accum;
    const int64_t group_size = std::min(c.grad_accum, batches - group * c.grad_accum);
    Inputs in = make_batch(s.train_enc, perm.data() + r0, n);
    const int64_t w = c.task == Task::Single ? 1 : W;
    s.ybuf.resize(static_cast<size_t>(n * w));
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(&s.ybuf[i * w], &s.train_y[perm[r0 + i] * w], w * sizeof(float));
    s.drop.step = static_cast<uint64_t>(s.micro_step);
    const double l = loss_and_backward(model, in, s.ybuf, s.lo, s.drop, 1.f / static_cast<float>(group_size));
    TERN_CHECK(std::isfinite(l), "training loss is " << l << " at epoch " << epoch + 1 << ", batch " << bi + 1
                                                     << " (lower lr?)");
    ++s.micro_step;
    loss_sum += l, ++loss_n, seen += n;
    recent = loss_n == 1 ? l : 0.98 * recent + 0.02 * l;
    if ((bi + 1) % c.grad_accum == 0 || bi + 1 == batches) {
      clip_grad_norm(arena, c.clip);
      s.adam->step(arena, s.sched.lr_at(s.step));
      model.zero_grad();
      ++s.step;
    }
    s.rep->batch_done(bi + 1, seen, recent);
    if (c.max_steps && s.step >= *c.max_steps) {
      stopped = true;
      break;
    }
  }
  const double train_s = now_s() - t0;
  EpochReport rep;
  rep.epoch = epoch + 1;
  rep.epochs = c.epochs;
  rep.train_loss = loss_sum / std::max<int64_t>(1, loss_n);
  rep.tweets_per_s = seen / std::max(1e-9, train_s);
  rep.train_seconds = train_s;
  rep.steps = s.step;
  json ep = {{"epoch", epoch + 1},       {"train_loss", rep.train_loss},
             {"steps", s.step},          {"lr_next", s.sched.lr_at(s.step)},
             {"train_seconds", train_s}, {"tweets_per_s", rep.tweets_per_s}};
  bool improved = false;
  if (s.val) {
    rep.val = s.eval_on(*s.val);
    ep["val"] = json::parse(rep.val->json);
    const double value = s.metric == "loss" ? rep.val->loss : rep.val->scalars.at(s.metric);
    improved = s.higher ? value > s.best_value : value < s.best_value;
    if (improved) {
      s.best_value = value;
      s.best_epoch = epoch;
      s.bad_epochs = 0;
    } else {
      ++s.bad_epochs;
    }
  } else {
    improved = true;  // no validation: the last epoch is the one kept
    s.best_epoch = epoch;
  }
  if (s.test) {
    rep.test = s.eval_on(*s.test);
    ep["test"] = json::parse(rep.test->json);
  }
  ep["seconds"] = now_s() - t0;
  s.epochs_log.push_back(ep);
  s.epoch = epoch + 1;
  if (improved) save(c.out_path);
  rep.saved_best = improved;
  if (!c.save_last_path.empty()) save(c.save_last_path);
  s.rep->epoch_end(rep);
  if (s.val && c.early_stopping > 0 && s.bad_epochs >= c.early_stopping) {
    s.rep->early_stopping(s.metric, s.bad_epochs);
    stopped = true;
  }
  s.finished = stopped || s.epoch >= c.epochs;
  return !s.finished;
}

TrainSummary Trainer::run() {
  State& s = *s_;
  if (!s.built) build_model();
  if (!s.loaded) load_data();
  if (!s.prepared) prepare();
  if (!s.resumed) resume();
  while (run_epoch()) {
  }
  TrainSummary summary;
  summary.metric = s.metric;
  summary.best_epoch = s.best_epoch + 1;
  json best;
  for (const auto& e : s.epochs_log)
    if (e["epoch"].get<int64_t>() == s.best_epoch + 1) best = e;
  if (best.contains("val")) summary.val_json = best["val"].dump();
  if (best.contains("test")) summary.test_json = best["test"].dump();
  summary.seconds = now_s() - s.t_start;
  if (s.best_epoch >= 0) s.rep->finished(summary);
  return summary;
}

FileEvaluation evaluate_file(const EvalOptions& o) {
  TERN_CHECK(o.batch_size >= 1, "batch_size must be >= 1, got " << o.batch_size);
  const std::string& model_path = o.model_path;
  ModelBundle bundle = load_model(model_path);
  json recipe = json::object();
  if (auto it = bundle.metadata.find("training"); it != bundle.metadata.end()) {
    json t = json::parse(it->second, nullptr, false);
    if (t.is_object() && t.contains("recipe")) recipe = t["recipe"];
  }
  TargetScaler scaler;
  if (auto it = bundle.metadata.find("target_scaling"); it != bundle.metadata.end())
    scaler = TargetScaler::from_json(it->second);
  ModelOptions mo;
  mo.precision = o.precision;
  mo.prepare_inference = true;
  auto model = Model::from_bundle(bundle, model_path, mo);
  TERN_CHECK(model->has_head(), model_path
                                    << ": the model has no classification / regression head (train one "
                                       "with tern train)");
  const ModelConfig& cfg = model->config();
  Task task;
  if (o.task) {
    task = *o.task;
  } else {
    const ProblemType p = cfg.problem_type != ProblemType::Unspecified ? cfg.problem_type
                          : cfg.num_labels == 1                        ? ProblemType::Regression
                                                                       : ProblemType::SingleLabel;
    task = p == ProblemType::SingleLabel  ? Task::Single
           : p == ProblemType::MultiLabel ? Task::Multi
                                          : Task::Regression;
  }
  const int64_t L = cfg.num_labels;
  ReadOptions ro;
  ro.text_field = o.text_field ? *o.text_field : recipe.value("text_field", std::string("text"));
  ro.label_fields = o.label_fields;
  if (ro.label_fields.empty() && recipe.contains("label_fields"))
    ro.label_fields = recipe["label_fields"].get<std::vector<std::string>>();
  ro.skip_bad_rows = o.skip_bad_rows;
  ro.quoting = o.quoting;
  LabelSpec spec{task, task == Task::Regression ? std::vector<std::string>{} : cfg.labels, L};
  Dataset d = read_dataset(o.input_path, spec, ro);
  FileEvaluation r;
  r.skipped = d.skipped;
  if (d.skipped) r.first_skip_reason = d.skip_reasons[0];
  const int64_t max_length = o.max_length ? *o.max_length : recipe.value("max_length", 64);
  const bool normalize = o.normalize_tweets || recipe.value("normalize_tweets", false);
  const tok::Tokenizer tk = tok::Tokenizer::from_files(bundle.tokenizer_files, model_path);
  Encoded e = encode_texts(tk, d.texts, max_length, normalize);
  std::vector<float> out = predict_logits(*model, e, o.batch_size);
  const int64_t N = static_cast<int64_t>(d.size());
  if (task == Task::Regression) scaler.inverse(out.data(), N);
  Evaluation ev = evaluate(task_name(task), d.targets, out, N, L, cfg.labels);
  json j = json::parse(ev.json);
  j["model"] = model_path;
  j["input"] = o.input_path;
  j["task"] = task_name(task);
  if (d.skipped) j["skipped_rows"] = d.skipped;
  r.json = j.dump(2);
  r.rows = N;
  return r;
}

}  // namespace tern::train
