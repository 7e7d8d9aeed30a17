// tern train: fine-tune an encoder + sequence-classification head on labelled texts (docs/training.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "tensor/check.h"
#include "train/trainer.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Fine-tunes a tern model (from tern convert) with a sequence-classification head on labelled texts.\n"
    "Validates every epoch, keeps the best epoch's model in --out (weights + config with labels +\n"
    "tokenizer + metadata 'training' with the recipe and per-epoch metrics + optimizer state for --resume).\n"
    "\n"
    "DATA: TweetEval <split>_text.txt[.gz] (+ <split>_labels.txt[.gz]) or its prefix <dir>/<split>; .csv\n"
    "(RFC 4180), .tsv (no quoting unless --quoting rfc4180) or .jsonl, any of them .gz.";

// "a,b,,c" -> {"a", "b", "", "c"}; "" -> {}.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty() || !out.empty()) out.push_back(cur);
  return out;
}

bool is_uint(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// The whole string as a number (strtod), or nullopt.
std::optional<double> to_number(const std::string& s) {
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end != 0) return std::nullopt;
  return x;
}

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

// The CLI's reporter: notes and the progress bar on stderr, one summary line per epoch and the best
// epoch's metrics on stdout.
class Reporter : public train::TrainReporter {
 public:
  Reporter(bool progress, std::string out_path)
      : progress_(progress), tty_(isatty(2)), out_path_(std::move(out_path)) {}

  void note(const std::string& m) override { std::fprintf(stderr, "tern train: %s\n", m.c_str()); }

  void data_loaded(const train::DataReport& r) override {
    if (r.skipped)
      std::fprintf(stderr, "tern train: %s: skipped %lld bad rows, e.g. %s\n", r.path.c_str(),
                   static_cast<long long>(r.skipped), r.first_skip_reason.c_str());
    std::fprintf(stderr, "tern train: %s %s: %zu rows (read + tokenised in %.1f s)\n", r.split.c_str(),
                 r.path.c_str(), r.rows, r.seconds);
  }

  void plan(const train::PlanReport& p) override {
    std::fprintf(
        stderr,
        "tern train: %lld rows, %lld labels, %lld steps (%lld per epoch, warm-up %lld), %.2fM of %.2fM "
        "parameters trainable, %d threads\n",
        static_cast<long long>(p.rows), static_cast<long long>(p.labels),
        static_cast<long long>(p.total_steps), static_cast<long long>(p.steps_per_epoch),
        static_cast<long long>(p.warmup_steps), p.trainable_params / 1e6, p.params / 1e6, p.threads);
  }

  void epoch_begin(int64_t epoch, int64_t epochs, int64_t batches) override {
    label_ = "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs);
    total_ = batches;
    t0_ = now_s();
    last_ = 0;
    last_decile_ = -1;
  }

  // The progress bar: redrawn at most 4 times a second on a terminal, at each tenth of the epoch else.
  void batch_done(int64_t done, int64_t items, double loss) override {
    if (!progress_) return;
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

  void epoch_end(const train::EpochReport& r) override {
    std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(r.epochs);
    char buf[256];
    std::snprintf(buf, sizeof buf, "  train_loss %.4f  %.0f tweets/s  %s", r.train_loss, r.tweets_per_s,
                  hms(r.train_seconds).c_str());
    line += buf;
    auto show = [&](const char* tag, const train::EvalReport& e) {
      std::string s = std::string("  ") + tag;
      std::snprintf(buf, sizeof buf, " loss %.4f", e.loss);
      s += buf;
      for (const auto& [k, v] : e.scalars) {
        if (k == "macro_precision" || k == "micro_precision" || k == "micro_recall") continue;
        std::snprintf(buf, sizeof buf, " %s %.4f", k.c_str(), v);
        s += buf;
      }
      return s;
    };
    if (r.val) line += show("val", *r.val);
    if (r.test) line += show("test", *r.test);
    if (r.saved_best) line += "  (best, saved)";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  void early_stopping(const std::string& metric, int64_t epochs) override {
    std::printf("early stopping: no improvement of val %s for %lld epochs\n", metric.c_str(),
                static_cast<long long>(epochs));
  }

  void finished(const train::TrainSummary& s) override {
    nlohmann::json summary = {
        {"best_epoch", s.best_epoch}, {"metric", s.metric}, {"out", out_path_}, {"seconds", s.seconds}};
    if (!s.val_json.empty()) summary["val"] = nlohmann::json::parse(s.val_json);
    if (!s.test_json.empty()) summary["test"] = nlohmann::json::parse(s.test_json);
    std::printf("best: %s\n", summary.dump().c_str());
  }

 private:
  bool progress_, tty_;
  std::string out_path_;
  std::string label_;
  int64_t total_ = 1, last_decile_ = -1;
  double t0_ = 0, last_ = 0;
};

}  // namespace

int cmd_train(int argc, char** argv) {
  CLI::App app("", "tern train");
  app.footer(kAbout);
  init_app(app);
  train::TrainOptions c;
  std::string task = "single", labels, quoting = "auto", seed = "42", loss, class_weights,
              target_scale = "none", warmup = "0", dropout = "default", metric;
  int64_t max_steps = 0;
  int threads = 0;
  bool no_progress = false;

  const char* g = "data";
  app.add_option("--model", c.model_path, "tern model to fine-tune (.h5; not needed with --resume)")
      ->type_name("FILE")
      ->group(g);
  app.add_option("--train", c.train_path, "training data")->type_name("DATA")->required()->group(g);
  app.add_option("--val", c.val_path,
                 "validation data: metrics every epoch, best-epoch selection, early stopping")
      ->type_name("DATA")
      ->group(g);
  app.add_option("--test", c.test_path, "test data: metrics every epoch (reported, never used for selection)")
      ->type_name("DATA")
      ->group(g);
  app.add_option("--text-field", c.read.text_field, "column / key of the text")->type_name("F")->group(g);
  app.add_option(
         "--label-field", c.read.label_fields,
         "column / key of the label; repeat for multi-label (one 0/1 field per label) or multi-target "
         "regression (default label; multi with --labels: the names)")
      ->type_name("F")
      ->group(g);
  add_switch(app, "--skip-bad-rows", c.read.skip_bad_rows,
             "skip (and count) malformed rows instead of failing on the first")
      ->group(g);
  app.add_option("--quoting", quoting, "CSV / TSV quoting (auto: CSV rfc4180, TSV none)")
      ->type_name("auto|rfc4180|none")
      ->check(CLI::IsMember({"auto", "rfc4180", "none"}).description(""))
      ->group(g);
  add_switch(app, "--normalize-tweets", c.normalize_tweets,
             "TweetEval preprocessing (@handle -> @user, http... -> http) before tokenizing")
      ->group(g);

  g = "task";
  app.add_option("--task", task, "single|multi|regression")->type_name("T")->group(g);
  app.add_option(
         "--labels", labels,
         "class names in id order (labels in the data: ids or these names), or their number; default: "
         "the model's head labels; regression: the label fields")
      ->type_name("a,b,c")
      ->group(g);
  app.add_option("--loss", loss, "ce|bce|mse|mae|huber|quantile (default: ce / bce / mse by task)")
      ->type_name("L")
      ->group(g);
  app.add_option("--huber-delta", c.huber_delta, "Huber loss delta")->type_name("D")->group(g);
  app.add_option("--quantile-tau", c.quantile_tau, "quantile (pinball) loss tau")
      ->type_name("T")
      ->check(CLI::Range(0.0, 1.0))
      ->group(g);
  app.add_option("--label-smoothing", c.label_smoothing, "cross-entropy label smoothing")
      ->type_name("X")
      ->check(CLI::Range(0.0, 1.0))
      ->group(g);
  app.add_option("--class-weights", class_weights,
                 "cross-entropy / BCE class weights: auto (sklearn 'balanced') or w1,w2,...")
      ->type_name("auto|W,...")
      ->group(g);
  app.add_option("--target-scale", target_scale,
                 "regression target scaling, inverted for metrics: none|log1p|robust")
      ->type_name("S")
      ->group(g);

  g = "optimisation";
  app.add_option("--max-length", c.max_length, "tokens per text incl. special tokens")
      ->type_name("N")
      ->check(CLI::Range(2, 1 << 20))
      ->group(g);
  app.add_option("--batch-size", c.batch_size, "rows per micro-batch")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--grad-accum", c.grad_accum, "micro-batches per optimizer step")
      ->type_name("K")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--epochs", c.epochs, "")->type_name("N")->check(CLI::Range(1, 1 << 20))->group(g);
  app.add_option("--lr", c.lr, "peak learning rate")->type_name("LR")->group(g);
  app.add_option("--warmup", warmup, "warm-up: a fraction of the steps (0.06) or a step count (100)")
      ->type_name("X")
      ->group(g);
  app.add_option("--weight-decay", c.weight_decay, "AdamW decoupled weight decay")->type_name("W")->group(g);
  add_switch(app, "--no-decay-bias-ln", c.no_decay_bias_ln,
             "no weight decay for biases and LayerNorm weights (HF Trainer grouping)")
      ->group(g);
  app.add_option("--clip", c.clip, "clip the global gradient norm at C (0: off)")->type_name("C")->group(g);
  const CLI::Option* freeze_opt = app.add_option("--freeze-layers", c.freeze_layers,
                                                 "freeze the embeddings and the first K encoder layers")
                                      ->type_name("K")
                                      ->check(CLI::Range(0, 1 << 20))
                                      ->group(g);
  add_switch(app, "--head-only", c.head_only, "freeze the whole encoder")->group(g);
  app.add_option("--dropout", dropout, "the config's dropout probabilities (default), or P for all")
      ->type_name("default|P")
      ->group(g);
  app.add_option("--seed", seed, "init of new parameters, shuffling, dropout")->type_name("S")->group(g);
  add_threads_option(app, threads);
  app.get_option("--threads")->group(g);

  g = "selection and output";
  app.add_option(
         "--metric", metric,
         "accuracy|macro_f1|macro_recall|micro_f1|mae|rmse|spearman|loss (on val; default: macro_f1 / "
         "micro_f1 / mae by task)")
      ->type_name("M")
      ->group(g);
  app.add_option("--early-stopping", c.early_stopping,
                 "stop after P epochs without improvement of the val metric (0: off)")
      ->type_name("P")
      ->check(CLI::Range(0, 1 << 20))
      ->group(g);
  app.add_option("--out", c.out_path, "best model (.h5)")->type_name("FILE")->required()->group(g);
  app.add_option("--save-last", c.save_last_path, "also save the state after every epoch (for --resume)")
      ->type_name("FILE")
      ->group(g);
  app.add_option("--resume", c.resume_path,
                 "continue a run from a checkpoint of --out / --save-last (same options)")
      ->type_name("CKPT")
      ->group(g);
  app.add_option("--eval-batch-size", c.eval_batch_size, "rows per forward pass in evaluation")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--max-steps", max_steps, "stop after N optimizer steps (0: no limit)")
      ->type_name("N")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  add_switch(app, "--no-progress", no_progress, "no progress bar on stderr")->group(g);

  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  for (int i = 0; i < argc; ++i) c.command_line += (i ? " " : "tern ") + std::string(argv[i]);
  TERN_CHECK(!c.resume_path.empty() || !c.model_path.empty(), "missing required option --model (see --help)");
  TERN_CHECK(!(c.head_only && freeze_opt->count()), "give --head-only or --freeze-layers, not both");
  c.task = train::task_from_name(task);
  if (app.count("--labels")) {
    const std::vector<std::string> names = split_list(labels);
    TERN_CHECK(!names.empty(), "--labels: empty label name in ''");
    for (const std::string& n : names)
      TERN_CHECK(!n.empty(), "--labels: empty label name in '" << labels << "'");
    if (names.size() == 1 && is_uint(names[0]) && c.task != train::Task::Regression) {
      const int64_t n = names[0].size() <= 7 ? std::stoll(names[0]) : 0;
      TERN_CHECK(n >= 1 && n <= 1000000,
                 "--labels " << names[0] << ": a class count must be in [1, 1000000]");
      c.label_count = n;
    } else {
      c.labels = names;
    }
  }
  c.read.quoting = quoting == "auto"   ? train::Quoting::Auto
                   : quoting == "none" ? train::Quoting::None
                                       : train::Quoting::Rfc4180;
  {
    char* end = nullptr;
    c.seed = std::strtoull(seed.c_str(), &end, 10);
    TERN_CHECK(!seed.empty() && seed[0] != '-' && end && *end == 0,
               "--seed needs an integer >= 0, got '" << seed << "'");
  }
  if (!loss.empty()) c.loss = train::loss_from_name(loss);
  if (class_weights == "auto") {
    c.class_weights.balanced = true;
  } else if (!class_weights.empty()) {
    for (const std::string& w : split_list(class_weights)) {
      const std::optional<double> x = to_number(w);
      TERN_CHECK(x && *x >= 0, "--class-weights: '" << w << "' is not a weight >= 0");
      c.class_weights.values.push_back(static_cast<float>(*x));
    }
  }
  c.target_scale = train::TargetScaler::kind_from_name(target_scale);
  {
    // A fraction of the steps (with a '.' or below 1) or a step count.
    const std::optional<double> w = to_number(warmup);
    TERN_CHECK(w && *w >= 0 && *w <= 1e15, "--warmup: '" << warmup << "' is not a fraction or step count");
    c.warmup = warmup.find('.') != std::string::npos || *w < 1
                   ? train::WarmupSpec::fraction(*w)
                   : train::WarmupSpec::steps(static_cast<int64_t>(*w));
  }
  if (dropout != "default") {
    const std::optional<double> p = to_number(dropout);
    TERN_CHECK(p && *p >= 0 && *p < 1, "--dropout: 'default' or a probability in [0, 1)");
    c.dropout = train::DropoutSpec::everywhere(static_cast<float>(*p));
  }
  if (!metric.empty()) c.metric = train::metric_from_name(metric);
  if (max_steps > 0) c.max_steps = max_steps;
  Reporter reporter(!no_progress, c.out_path);
  train::Trainer trainer(std::move(c), &reporter);
  trainer.run();
  return 0;
}

}  // namespace tern::cli
