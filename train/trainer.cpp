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

Encoded encode_texts(const tok::Tokenizer& tk, const std::vector<std::string>& texts, int64_t max_length,
                     bool normalize_tweets) {
  tok::EncodeOptions eo;
  eo.max_length = static_cast<size_t>(std::max<int64_t>(0, max_length));
  eo.normalize_tweets = normalize_tweets;
  std::vector<tok::Encoding> enc = tk.encode_batch(texts, eo, {}, num_threads());
  Encoded e;
  e.pad_id = tk.pad_id();
  e.ids.reserve(enc.size());
  for (auto& x : enc) e.ids.push_back(std::move(x.ids));
  return e;
}

Inputs make_batch(const Encoded& e, const int64_t* rows, int64_t n) {
  TERN_CHECK(n > 0, "make_batch: empty batch");
  int64_t T = 1;
  for (int64_t i = 0; i < n; ++i) T = std::max<int64_t>(T, static_cast<int64_t>(e.ids[rows[i]].size()));
  Inputs in;
  in.input_ids = Tensor::empty({n, T}, DType::I64);
  in.attention_mask = Tensor::zeros({n, T}, DType::I64);
  int64_t* ids = in.input_ids.i64();
  int64_t* mask = in.attention_mask.i64();
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = e.ids[rows[i]];
    for (int64_t t = 0; t < T; ++t) {
      const bool real = t < static_cast<int64_t>(r.size());
      ids[i * T + t] = real ? r[t] : e.pad_id;
      mask[i * T + t] = real;
    }
  }
  return in;
}

std::vector<float> predict_logits(Model& m, const Encoded& e, int64_t batch_size) {
  TERN_CHECK(m.has_head(), "predict: the model has no classification head");
  const int64_t N = static_cast<int64_t>(e.size()), L = m.config().num_labels;
  std::vector<int64_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  // Similar lengths together: less padding (results per row do not depend on the batch's padding).
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return e.ids[a].size() < e.ids[b].size(); });
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

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) s = 0;
  char b[32];
  const long t = std::lround(s);
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm%02lds", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  return b;
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

class Progress {
 public:
  Progress(bool on, int64_t total, std::string label)
      : on_(on), tty_(isatty(2)), total_(total), label_(std::move(label)), t0_(now_s()) {}
  void update(int64_t done, int64_t items, double loss) {
    if (!on_) return;
    const double t = now_s();
    const bool last = done == total_;
    if (tty_ ? (t - last_ < 0.25 && !last) : (done * 10 / total_ == last_decile_ && !last)) return;
    last_ = t;
    last_decile_ = done * 10 / total_;
    const double rate = items / std::max(1e-9, t - t0_);
    const double eta = (t - t0_) / std::max<int64_t>(1, done) * (total_ - done);
    const int width = 24, fill = static_cast<int>(width * done / std::max<int64_t>(1, total_));
    std::string bar(fill, '#');
    bar += std::string(width - fill, '.');
    std::fprintf(stderr, "%s%s [%s] %lld/%lld loss %.4f  %.0f tweets/s  ETA %s%s", tty_ ? "\r" : "",
                 label_.c_str(), bar.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                 loss, rate, hms(eta).c_str(), tty_ ? (last ? "\n" : "\x1b[K") : "\n");
    std::fflush(stderr);
  }

 private:
  bool on_, tty_;
  int64_t total_;
  std::string label_;
  double t0_, last_ = 0;
  int64_t last_decile_ = -1;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty() || !out.empty()) out.push_back(cur);
  return out;
}

bool is_uint(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
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

int run_training(const TrainConfig& c) {
  const double t_start = now_s();
  TERN_CHECK(c.batch_size >= 1 && c.epochs >= 1 && c.grad_accum >= 1 && c.max_length >= 2,
             "--batch-size, --epochs, --grad-accum must be >= 1 and --max-length >= 2");
  TERN_CHECK(!c.out_path.empty(), "--out is required");
  TERN_CHECK(c.lr > 0, "--lr must be > 0");

  // ---- Model (a fresh head on the checkpoint, or a training checkpoint to resume) ----
  const bool resuming = !c.resume_path.empty();
  const std::string src = resuming ? c.resume_path : c.model_path;
  TERN_CHECK(!src.empty(), "--model is required");
  ModelBundle bundle = load_model(src);
  ModelConfig base = parse_config(bundle.config_json, src + " (config)");
  const ConfigExtras extras = config_extras(bundle.config_json, base.arch);
  json state;  // training state of a resumed checkpoint
  if (resuming) {
    auto it = bundle.metadata.find("training");
    TERN_CHECK(it != bundle.metadata.end(),
               src << ": not a tern training checkpoint (no metadata 'training')");
    state = json::parse(it->second);
  }

  // Labels.
  std::vector<std::string> names = c.labels;
  if (names.size() == 1 && is_uint(names[0]) && c.task != Task::Regression) {
    TERN_CHECK(names[0].size() <= 7 && std::stoll(names[0]) >= 1 && std::stoll(names[0]) <= 1000000,
               "--labels " << names[0] << ": a class count must be in [1, 1000000]");
    const int64_t n = std::stoll(names[0]);
    names.clear();
    for (int64_t i = 0; i < n; ++i) names.push_back("LABEL_" + std::to_string(i));
  }
  ReadOptions ro = c.read;
  if (c.task == Task::Regression) {
    if (ro.label_fields.empty()) ro.label_fields = {"label"};
    if (names.empty()) names = ro.label_fields;
  }
  if (names.empty() && base.head == HeadKind::SequenceClassification && c.task != Task::Regression)
    names = base.labels;
  TERN_CHECK(!names.empty(), "--labels is required (class names in id order, or their number)");
  const int64_t L = static_cast<int64_t>(names.size());
  TERN_CHECK(c.task != Task::Single || L >= 2, "a single-label task needs at least 2 labels");
  LabelSpec spec{c.task, names, L};
  if (c.task == Task::Regression) spec.names.clear();

  std::string cfg_json = resuming ? bundle.config_json
                                  : config_with_head(bundle.config_json, seqcls_architecture(base.arch),
                                                     names, problem_of(c.task));
  ModelConfig mc = parse_config(cfg_json, src + " (config with head)");
  TERN_CHECK(mc.num_labels == L,
             src << ": the checkpoint's head has " << mc.num_labels << " labels, the task " << L);
  if (!resuming) {
    for (const std::string& n : head_out_names(base.arch)) {
      auto it = bundle.tensors.find(n);
      if (it != bundle.tensors.end() && it->second.size(0) != L) {
        std::fprintf(stderr,
                     "tern train: note: %s has %lld rows, the task has %lld labels: the head layer is "
                     "re-initialised\n",
                     n.c_str(), static_cast<long long>(it->second.size(0)), static_cast<long long>(L));
        bundle.tensors.erase(it);
      }
    }
  }
  ModelOptions mo;
  mo.force_head = true;
  mo.bind.init_missing = true;
  mo.bind.seed = c.seed;
  mo.bind.init_std = extras.initializer_range;
  Model model(mc, std::move(bundle.tensors), src, mo);
  bundle.tensors.clear();
  for (const auto& n : model.initialised()) std::fprintf(stderr, "tern train: initialised %s\n", n.c_str());
  const tok::Tokenizer tk = tok::Tokenizer::from_files(bundle.tokenizer_files, src);

  // ---- Data ----
  auto load = [&](const std::string& path, const char* what) {
    const double t0 = now_s();
    Dataset d = read_dataset(path, spec, ro);
    if (d.skipped) {
      std::fprintf(stderr, "tern train: %s: skipped %lld bad rows, e.g. %s\n", path.c_str(),
                   static_cast<long long>(d.skipped), d.skip_reasons[0].c_str());
    }
    Encoded e = encode_texts(tk, d.texts, c.max_length, c.normalize_tweets);
    std::fprintf(stderr, "tern train: %s %s: %zu rows (read + tokenised in %.1f s)\n", what, path.c_str(),
                 d.size(), now_s() - t0);
    return std::make_pair(std::move(d), std::move(e));
  };
  TERN_CHECK(!c.train_path.empty(), "--train is required");
  auto [train, train_enc] = load(c.train_path, "train");
  std::optional<std::pair<Dataset, Encoded>> val, test;
  if (!c.val_path.empty()) val = load(c.val_path, "val");
  if (!c.test_path.empty()) test = load(c.test_path, "test");
  const int64_t N = static_cast<int64_t>(train.size());
  const int64_t W = train.width;

  // Target scaling (regression), fitted on the training targets.
  TargetScaler scaler(TargetScaler::kind_from_name(c.target_scale));
  TERN_CHECK(c.task == Task::Regression || scaler.kind() == TargetScaler::Kind::None,
             "--target-scale applies to regression only");
  if (resuming && state.contains("target_scaling")) {
    scaler = TargetScaler::from_json(state["target_scaling"].dump());
  } else {
    scaler.fit(train.targets, W);
  }
  std::vector<float> train_y = train.targets;
  if (c.task == Task::Regression) scaler.transform(train_y.data(), N);

  // ---- Loss ----
  LossOptions lo;
  const std::string loss_name_s = !c.loss.empty()          ? c.loss
                                  : c.task == Task::Single ? "ce"
                                  : c.task == Task::Multi  ? "bce"
                                                           : "mse";
  lo.kind = loss_from_name(loss_name_s);
  const bool ok_combo = (c.task == Task::Single) == (lo.kind == LossKind::CrossEntropy) &&
                        (c.task == Task::Multi) == (lo.kind == LossKind::BceWithLogits);
  TERN_CHECK(ok_combo, "--loss " << loss_name_s << " does not fit --task " << task_name(c.task)
                                 << " (single: ce; multi: bce; regression: mse, mae, huber, quantile)");
  lo.label_smoothing = c.label_smoothing;
  lo.huber_delta = c.huber_delta;
  lo.quantile_tau = c.quantile_tau;
  if (c.class_weights == "auto") {
    TERN_CHECK(c.task == Task::Single, "--class-weights auto is for single-label tasks");
    std::vector<int64_t> ys(train_y.begin(), train_y.end());
    lo.class_weights = balanced_class_weights(ys, L);
  } else if (!c.class_weights.empty()) {
    for (const auto& s : split_list(c.class_weights)) {
      char* end = nullptr;
      const double w = std::strtod(s.c_str(), &end);
      TERN_CHECK(end && *end == 0 && !s.empty() && w >= 0,
                 "--class-weights: '" << s << "' is not a weight >= 0");
      lo.class_weights.push_back(static_cast<float>(w));
    }
    TERN_CHECK(static_cast<int64_t>(lo.class_weights.size()) == L,
               "--class-weights: " << lo.class_weights.size() << " weights for " << L << " labels");
  }
  TERN_CHECK(lo.class_weights.empty() || c.task != Task::Regression, "--class-weights is for classification");

  std::string metric = c.metric;
  if (metric.empty())
    metric = c.task == Task::Single ? "macro_f1" : c.task == Task::Multi ? "micro_f1" : "mae";
  {
    static const std::vector<std::string> cls = {"accuracy", "macro_f1", "macro_recall", "macro_precision",
                                                 "loss"};
    static const std::vector<std::string> ml = {"micro_f1", "macro_f1", "loss"};
    static const std::vector<std::string> rg = {"mae", "rmse", "spearman", "loss"};
    const auto& ok = c.task == Task::Single ? cls : c.task == Task::Multi ? ml : rg;
    TERN_CHECK(std::find(ok.begin(), ok.end(), metric) != ok.end(),
               "--metric " << metric << " is not a metric of task " << task_name(c.task));
  }
  const bool higher = metric_higher_is_better(metric);

  // ---- Optimisation ----
  ParamArena& arena = model.pack();
  if (c.head_only)
    model.freeze(-1);
  else if (c.freeze_layers > 0)
    model.freeze(c.freeze_layers);
  std::vector<bool> trainable;
  int64_t n_trainable = 0;
  for (const ParamSlice& s : arena.slices) {
    trainable.push_back(model.is_trainable(s.param));
    if (trainable.back()) n_trainable += s.size;
  }
  AdamWOptions ao;
  ao.weight_decay = c.weight_decay;
  ao.exclude_no_decay = c.no_decay_bias_ln;
  AdamW adam(arena, ao, trainable);

  const int64_t batches_per_epoch = (N + c.batch_size - 1) / c.batch_size;
  const int64_t steps_per_epoch = (batches_per_epoch + c.grad_accum - 1) / c.grad_accum;
  const int64_t total_steps = steps_per_epoch * c.epochs;
  int64_t warmup = 0;
  {
    char* end = nullptr;
    const double w = std::strtod(c.warmup.c_str(), &end);
    TERN_CHECK(end && *end == 0 && !c.warmup.empty() && w >= 0 && w <= 1e15,
               "--warmup: '" << c.warmup << "' is not a fraction or step count");
    const bool fraction = c.warmup.find('.') != std::string::npos || w < 1;
    // HF TrainingArguments: warmup_steps, else ceil(total * warmup_ratio).
    warmup = fraction ? static_cast<int64_t>(std::ceil(total_steps * w)) : static_cast<int64_t>(w);
  }
  LinearSchedule sched{c.lr, warmup, total_steps};

  Dropout drop;
  if (c.dropout == "default") {
    drop.hidden = extras.hidden_dropout;
    drop.attention = extras.attention_dropout;
    drop.classifier = extras.classifier_dropout;
  } else {
    char* end = nullptr;
    const double p = std::strtod(c.dropout.c_str(), &end);
    TERN_CHECK(end && *end == 0 && p >= 0 && p < 1, "--dropout: 'default' or a probability in [0, 1)");
    drop.hidden = drop.attention = drop.classifier = static_cast<float>(p);
  }
  drop.seed = c.seed;

  // ---- Recipe and state ----
  json recipe = {
      {"model", c.model_path},
      {"train", c.train_path},
      {"val", c.val_path},
      {"test", c.test_path},
      {"task", task_name(c.task)},
      {"labels", names},
      {"text_field", ro.text_field},
      {"label_fields", ro.label_fields},
      {"max_length", c.max_length},
      {"batch_size", c.batch_size},
      {"grad_accum", c.grad_accum},
      {"epochs", c.epochs},
      {"lr", c.lr},
      {"warmup_steps", warmup},
      {"total_steps", total_steps},
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
      {"target_scale", TargetScaler::kind_name(scaler.kind())},
      {"metric", metric},
      {"early_stopping", c.early_stopping},
      {"normalize_tweets", c.normalize_tweets},
      {"seed", c.seed},
      {"threads", num_threads()},
      {"command", c.command_line}};
  int64_t start_epoch = 0, step = 0, micro_step = 0, best_epoch = -1, bad_epochs = 0;
  double best_value = higher ? -INFINITY : INFINITY;
  json epochs_log = json::array();
  if (resuming) {
    const json& st = state.at("state");
    start_epoch = st.at("epochs_done").get<int64_t>();
    step = st.at("step").get<int64_t>();
    micro_step = st.at("micro_step").get<int64_t>();
    best_epoch = st.value("best_epoch", int64_t{-1});
    if (st.contains("best_value") && st["best_value"].is_number())
      best_value = st["best_value"].get<double>();
    bad_epochs = st.value("bad_epochs", int64_t{0});
    epochs_log = state.value("epochs", json::array());
    const int64_t old_total = state.at("recipe").value("total_steps", int64_t{0});
    TERN_CHECK(old_total == total_steps,
               "--resume: the checkpoint was trained for "
                   << old_total << " total steps, this command gives " << total_steps
                   << " (same data, --batch-size, --grad-accum and --epochs are needed)");
    // Optimizer state.
    auto ex = [&](const std::string& k) -> const Tensor& {
      auto it = bundle.extra.find(k);
      TERN_CHECK(it != bundle.extra.end(), src << ": optimizer state '" << k << "' is missing");
      return it->second;
    };
    adam.set_steps(ex("adamw.step").to(DType::I64).i64()[0]);
    for (const ParamSlice& s : arena.slices) {
      const Tensor m = ex("adamw.exp_avg." + s.param->name).contiguous();
      const Tensor v = ex("adamw.exp_avg_sq." + s.param->name).contiguous();
      TERN_CHECK(m.numel() == s.size && v.numel() == s.size,
                 src << ": optimizer state of " << s.param->name << " has the wrong size");
      std::memcpy(adam.m().data() + s.offset, m.f32(), s.size * sizeof(float));
      std::memcpy(adam.v().data() + s.offset, v.f32(), s.size * sizeof(float));
    }
    std::fprintf(stderr, "tern train: resuming %s after epoch %lld (step %lld)\n", src.c_str(),
                 static_cast<long long>(start_epoch), static_cast<long long>(step));
  }
  bundle.extra.clear();
  bundle.metadata.erase("training");

  // Checkpoint = weights + config with head + tokenizer + metadata + optimizer state.
  // Wall times go to stdout / stderr, not into checkpoints: the same run gives the same bytes.
  auto without_timings = [](json epochs) {
    for (auto& e : epochs)
      for (const char* k : {"seconds", "train_seconds", "tweets_per_s"}) e.erase(k);
    return epochs;
  };
  auto save = [&](const std::string& path, int64_t epochs_done) {
    ModelBundle out;
    out.config_json = cfg_json;
    out.tokenizer_files = bundle.tokenizer_files;
    out.metadata = bundle.metadata;
    out.metadata["created_by"] = "tern train";
    for (const ParamSlice& s : arena.slices) {
      out.tensors[s.param->name] = s.param->value.clone();
      out.extra["adamw.exp_avg." + s.param->name] =
          Tensor::from_data(adam.m().data() + s.offset, s.param->value.shape());
      out.extra["adamw.exp_avg_sq." + s.param->name] =
          Tensor::from_data(adam.v().data() + s.offset, s.param->value.shape());
    }
    const int64_t st = adam.steps();
    out.extra["adamw.step"] = Tensor::from_data(&st, {1});
    json t = {{"recipe", recipe},
              {"epochs", without_timings(epochs_log)},
              {"seed", c.seed},
              {"best", {{"epoch", best_epoch + 1}, {"metric", metric}, {"value", best_value}}},
              {"state",
               {{"epochs_done", epochs_done},
                {"step", step},
                {"micro_step", micro_step},
                {"best_epoch", best_epoch},
                {"best_value", std::isfinite(best_value) ? json(best_value) : json()},
                {"bad_epochs", bad_epochs},
                {"rng", "shuffle: splitmix64(seed, epoch); dropout: counter-based (seed, micro_step)"}}},
              {"target_scaling", json::parse(scaler.to_json())}};
    out.metadata["training"] = t.dump();
    if (c.task == Task::Regression) out.metadata["target_scaling"] = scaler.to_json();
    save_model(path, out);
  };

  std::fprintf(
      stderr,
      "tern train: %lld rows, %lld labels, %lld steps (%lld per epoch, warm-up %lld), %.2fM of %.2fM "
      "parameters trainable, %d threads\n",
      static_cast<long long>(N), static_cast<long long>(L), static_cast<long long>(total_steps),
      static_cast<long long>(steps_per_epoch), static_cast<long long>(warmup), n_trainable / 1e6,
      arena.size / 1e6, num_threads());

  std::vector<float> ybuf;
  bool stopped = false;
  for (int64_t epoch = start_epoch; epoch < c.epochs && !stopped; ++epoch) {
    const double t0 = now_s();
    const std::vector<int64_t> perm = permutation(N, c.seed, epoch);
    Progress prog(c.progress, batches_per_epoch,
                  "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs));
    double loss_sum = 0, recent = 0;
    int64_t seen = 0, loss_n = 0;
    model.zero_grad();
    for (int64_t bi = 0; bi < batches_per_epoch; ++bi) {
      const int64_t r0 = bi * c.batch_size, n = std::min(c.batch_size, N - r0);
      const int64_t group = bi / c.grad_accum;
      const int64_t group_size = std::min(c.grad_accum, batches_per_epoch - group * c.grad_accum);
      Inputs in = make_batch(train_enc, perm.data() + r0, n);
      const int64_t w = c.task == Task::Single ? 1 : W;
      ybuf.resize(static_cast<size_t>(n * w));
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(&ybuf[i * w], &train_y[perm[r0 + i] * w], w * sizeof(float));
      drop.step = static_cast<uint64_t>(micro_step);
      const double l = loss_and_backward(model, in, ybuf, lo, drop, 1.f / static_cast<float>(group_size));
      TERN_CHECK(std::isfinite(l), "training loss is " << l << " at epoch " << epoch + 1 << ", batch "
                                                       << bi + 1 << " (lower --lr?)");
      ++micro_step;
      loss_sum += l, ++loss_n, seen += n;
      recent = loss_n == 1 ? l : 0.98 * recent + 0.02 * l;
      if ((bi + 1) % c.grad_accum == 0 || bi + 1 == batches_per_epoch) {
        clip_grad_norm(arena, c.clip);
        adam.step(arena, sched.lr_at(step));
        model.zero_grad();
        ++step;
      }
      prog.update(bi + 1, seen, recent);
      if (c.max_steps > 0 && step >= c.max_steps) {
        stopped = true;
        break;
      }
    }
    const double train_s = now_s() - t0;
    json ep = {{"epoch", epoch + 1},
               {"train_loss", loss_sum / std::max<int64_t>(1, loss_n)},
               {"steps", step},
               {"lr_next", sched.lr_at(step)},
               {"train_seconds", train_s},
               {"tweets_per_s", seen / std::max(1e-9, train_s)}};
    std::string line = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs);
    char buf[256];
    std::snprintf(buf, sizeof buf, "  train_loss %.4f  %.0f tweets/s  %s", ep["train_loss"].get<double>(),
                  ep["tweets_per_s"].get<double>(), hms(train_s).c_str());
    line += buf;
    bool improved = false;
    auto show = [&](const char* tag, const EvalResult& r) {
      std::string s = std::string("  ") + tag;
      std::snprintf(buf, sizeof buf, " loss %.4f", r.loss);
      s += buf;
      for (const auto& [k, v] : r.eval.scalars) {
        if (k == "macro_precision" || k == "micro_precision" || k == "micro_recall") continue;
        std::snprintf(buf, sizeof buf, " %s %.4f", k.c_str(), v);
        s += buf;
      }
      return s;
    };
    if (val) {
      EvalResult r =
          evaluate_model(model, val->second, val->first, c.task, lo, scaler, c.eval_batch_size, names);
      json vj = json::parse(r.eval.json);
      vj["loss"] = r.loss;
      ep["val"] = vj;
      const double value = metric == "loss" ? r.loss : r.eval.scalars.at(metric);
      improved = higher ? value > best_value : value < best_value;
      if (improved) {
        best_value = value;
        best_epoch = epoch;
        bad_epochs = 0;
      } else {
        ++bad_epochs;
      }
      line += show("val", r);
    } else {
      improved = true;  // no validation: the last epoch is the one kept
      best_epoch = epoch;
    }
    if (test) {
      EvalResult r =
          evaluate_model(model, test->second, test->first, c.task, lo, scaler, c.eval_batch_size, names);
      json tj = json::parse(r.eval.json);
      tj["loss"] = r.loss;
      ep["test"] = tj;
      line += show("test", r);
    }
    ep["seconds"] = now_s() - t0;
    epochs_log.push_back(ep);
    if (improved) {
      save(c.out_path, epoch + 1);
      line += "  (best, saved)";
    }
    if (!c.save_last_path.empty()) save(c.save_last_path, epoch + 1);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (val && c.early_stopping > 0 && bad_epochs >= c.early_stopping) {
      std::printf("early stopping: no improvement of val %s for %lld epochs\n", metric.c_str(),
                  static_cast<long long>(bad_epochs));
      break;
    }
  }
  // Summary: the best epoch's metrics.
  if (best_epoch >= 0 && best_epoch < static_cast<int64_t>(epochs_log.size()) + start_epoch) {
    json best;
    for (const auto& e : epochs_log)
      if (e["epoch"].get<int64_t>() == best_epoch + 1) best = e;
    json summary = {{"best_epoch", best_epoch + 1},
                    {"metric", metric},
                    {"out", c.out_path},
                    {"seconds", now_s() - t_start}};
    if (best.contains("val")) summary["val"] = best["val"];
    if (best.contains("test")) summary["test"] = best["test"];
    std::printf("best: %s\n", summary.dump().c_str());
  }
  return 0;
}

}  // namespace tern::train
