// tern topics train | eval | predict: multi-label TweetTopic classification with tuned thresholds
// (social/topics.h, docs/social-models.md).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "infer/writer.h"
#include "social/topics.h"
#include "tensor/check.h"

namespace tern::cli {

namespace {

const char* kUsage =
    "usage: tern topics <train|eval|predict> [options]   (tern topics <sub> --help)\n"
    "  train    fine-tune a multi-label topic model (19 TweetTopic classes) and tune its thresholds on\n"
    "           the validation set (one global, one per class), stored in the model's metadata\n"
    "  eval     macro-F1 and per-class F1 at 0.5, the global and the per-class thresholds (JSON)\n"
    "  predict  JSONL / CSV / text in -> JSONL rows {id, labels, probs} with the tuned thresholds\n";

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Notes and one line per epoch on stderr (the JSON summary goes to stdout).
class Reporter : public train::TrainReporter {
 public:
  void note(const std::string& m) override { std::fprintf(stderr, "tern topics train: %s\n", m.c_str()); }
  void data_loaded(const train::DataReport& r) override {
    std::fprintf(stderr, "tern topics train: %s %s: %zu rows\n", r.split.c_str(), r.path.c_str(), r.rows);
  }
  void plan(const train::PlanReport& p) override {
    std::fprintf(stderr, "tern topics train: %lld rows, %lld labels, %lld steps (warm-up %lld), %d threads\n",
                 static_cast<long long>(p.rows), static_cast<long long>(p.labels),
                 static_cast<long long>(p.total_steps), static_cast<long long>(p.warmup_steps), p.threads);
  }
  void epoch_end(const train::EpochReport& r) override {
    std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(r.epochs);
    char buf[128];
    std::snprintf(buf, sizeof buf, "  train_loss %.4f  %.0f tweets/s", r.train_loss, r.tweets_per_s);
    line += buf;
    auto show = [&](const char* tag, const train::EvalReport& e) {
      std::snprintf(buf, sizeof buf, "  %s loss %.4f", tag, e.loss);
      line += buf;
      for (const auto& [k, v] : e.scalars) {
        if (k != "macro_f1" && k != "micro_f1") continue;
        std::snprintf(buf, sizeof buf, " %s@0.5 %.4f", k.c_str(), v);
        line += buf;
      }
    };
    if (r.val) show("val", *r.val);
    if (r.test) show("test", *r.test);
    if (r.saved_best) line += "  (best, saved)";
    std::fprintf(stderr, "%s\n", line.c_str());
  }
};

int topics_train(int argc, char** argv) {
  CLI::App app("", "tern topics train");
  app.footer(
      "Fine-tunes --model (a tern model from tern convert, e.g. tweet-bert-mini) for multi-label topics\n"
      "(BCE, train::Trainer; best epoch by --metric on validation), then predicts the validation set with\n"
      "the best model, tunes one global threshold (max macro-F1) and one threshold per class (max F1 of\n"
      "the class; a class without validation positives keeps the global one) on a grid, and stores them in\n"
      "--out's metadata 'topic_thresholds'. DIR: a tweet_topicXL language folder (*_train.jsonl,\n"
      "*_validation.jsonl). The validation scores go to stdout as JSON.");
  init_app(app);
  social::TopicsTrainOptions o;
  int threads = 0;
  int64_t max_steps = 0;
  double grid_step = 0.01;
  std::string labels;
  app.add_option("--model", o.model_path, "pretrained tern model (.h5)")->type_name("FILE")->required();
  app.add_option("--data", o.data_dir, "tweet_topicXL language folder (data/en)")->type_name("DIR");
  app.add_option("--train", o.train_path, "training JSONL (overrides DIR's)")->type_name("FILE");
  app.add_option("--val", o.val_path, "validation JSONL: model selection and thresholds (overrides DIR's)")
      ->type_name("FILE");
  app.add_option("--test", o.test_path, "test JSONL: per-epoch test metrics (reported, never selected on)")
      ->type_name("FILE");
  app.add_option("--out", o.out_path, "the topic model (.h5)")->type_name("FILE")->required();
  app.add_option("--labels", labels, "label fields in id order (default: the 19 TweetTopic fields)")
      ->type_name("a,b,...");
  app.add_option("--text-field", o.text_field, "key of the text")->type_name("F");
  app.add_option("--max-length", o.max_length, "tokens per text incl. special tokens")
      ->type_name("N")
      ->check(CLI::Range(2, 1 << 20));
  app.add_option("--batch-size", o.batch_size, "")->type_name("N")->check(CLI::Range(1, 1 << 20));
  app.add_option("--epochs", o.epochs, "")->type_name("N")->check(CLI::Range(1, 1 << 20));
  app.add_option("--lr", o.lr, "peak learning rate")->type_name("LR")->check(CLI::Range(0.0, 1.0));
  app.add_option("--warmup", o.warmup, "warm-up fraction of the steps")
      ->type_name("F")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--weight-decay", o.weight_decay, "AdamW weight decay (not on biases / LayerNorm)")
      ->type_name("W");
  app.add_option("--seed", o.seed, "")->type_name("S");
  app.add_option("--metric", o.metric, "model selection on validation: loss|macro_f1|micro_f1")
      ->type_name("M");
  app.add_option("--early-stopping", o.early_stopping, "stop after P epochs without improvement (0: off)")
      ->type_name("P")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--max-steps", max_steps, "stop after N optimizer steps (0: no limit)")
      ->type_name("N")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--grid-step", grid_step, "threshold candidates step, 2 step, ... < 1")
      ->type_name("S")
      ->check(CLI::Range(0.001, 0.5));
  app.add_option("--min-positives", o.tune.min_positives,
                 "validation positives a class needs for its own threshold")
      ->type_name("K")
      ->check(CLI::Range(1, 1 << 20));
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  if (max_steps > 0) o.max_steps = max_steps;
  o.tune.candidates = social::threshold_grid(grid_step);
  if (!labels.empty()) {
    std::string cur;
    for (char ch : labels + ",") {
      if (ch != ',') {
        cur += ch;
        continue;
      }
      TERN_CHECK(!cur.empty(), "--labels: empty label name in '" << labels << "'");
      o.labels.push_back(cur);
      cur.clear();
    }
  }
  o.command_line = "tern topics";
  for (int i = 0; i < argc; ++i) o.command_line += " " + std::string(argv[i]);
  Reporter rep;
  const social::TopicsTrainSummary s = social::train_topics(o, &rep);
  nlohmann::json j = {{"out", o.out_path},
                      {"best_epoch", s.train.best_epoch},
                      {"metric", s.train.metric},
                      {"seconds", s.seconds},
                      {"thresholds", nlohmann::json::parse(s.thresholds_json)},
                      {"val", nlohmann::json::parse(s.val_json)}};
  std::printf("%s\n", j.dump().c_str());
  std::fprintf(stderr,
               "tern topics train: %s: val macro-F1 %.4f at 0.5, %.4f at global %.2f, %.4f per class "
               "(%lld val rows; %.1f s)\n",
               o.out_path.c_str(), j["val"]["default"]["macro_f1"].get<double>(),
               s.thresholds.global_macro_f1, s.thresholds.global, s.thresholds.per_class_macro_f1,
               static_cast<long long>(s.thresholds.rows), s.seconds);
  return 0;
}

int topics_eval(int argc, char** argv) {
  CLI::App app("", "tern topics eval");
  app.footer(
      "Scores a topic model on a labelled JSONL (one 0/1 field per label, e.g. tweet_topicXL's "
      "*_test.jsonl):\n"
      "macro-F1, micro-F1 and per-class precision / recall / F1 at 0.5 and at the model's global and\n"
      "per-class thresholds. JSON on stdout (and in --metrics-json).");
  init_app(app);
  social::TopicsEvalOptions o;
  std::string metrics_json;
  int threads = 0;
  int64_t max_length = 0;
  app.add_option("--model", o.model_path, "topic model (.h5, from tern topics train)")
      ->type_name("FILE")
      ->required();
  app.add_option("--data", o.input_path, "labelled JSONL (.gz too)")->type_name("FILE")->required();
  app.add_option("--text-field", o.text_field, "key of the text")->type_name("F");
  app.add_option("--batch-size", o.batch_size, "rows per forward pass")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-length", max_length, "tokens per text (0: the model's)")
      ->type_name("N")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--metrics-json", metrics_json, "also write the JSON to this file")->type_name("FILE");
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  if (max_length > 0) o.max_length = max_length;
  const double t0 = now_s();
  const std::string j = social::evaluate_topics(o);
  if (!metrics_json.empty()) infer::write_file_atomic(metrics_json, j + "\n");
  std::printf("%s\n", j.c_str());
  const auto p = nlohmann::json::parse(j);
  std::fprintf(stderr, "tern topics eval: %lld rows, macro-F1 %.4f at 0.5", static_cast<long long>(p["n"]),
               p["scores"]["default"]["macro_f1"].get<double>());
  if (p["scores"].contains("per_class"))
    std::fprintf(stderr, ", %.4f at the global threshold, %.4f per class",
                 p["scores"]["global"]["macro_f1"].get<double>(),
                 p["scores"]["per_class"]["macro_f1"].get<double>());
  std::fprintf(stderr, " (%.1f s)\n", now_s() - t0);
  return 0;
}

int topics_predict(int argc, char** argv) {
  CLI::App app("", "tern topics predict");
  app.footer(
      "Reads tweets (JSONL / CSV / TSV / text, gzip, '-' = stdin; tern infer's reader and text / id field\n"
      "defaults) and writes one JSON row per readable record in input order:\n"
      "{\"id\": ..., \"labels\": [topics with prob >= threshold], \"probs\": {topic: p, ...}}.\n"
      "Bad rows go to --errors (default stderr) as {\"line\", \"reason\"}; exit 3 when there were any.");
  init_app(app);
  social::TopicsPredictOptions o;
  std::string thresholds = "per-class";
  int threads = 0;
  app.add_option("--model", o.model_path, "topic model (.h5)")->type_name("FILE")->required();
  app.add_option("input", o.input, "tweets ('-' = stdin)")->type_name("INPUT")->required();
  app.add_option("output", o.output, "JSONL rows ('-' = stdout)")->type_name("OUTPUT");
  app.add_option("--thresholds", thresholds,
                 "per-class | global (tuned, from the model's metadata) | default (0.5) | a number")
      ->type_name("T");
  app.add_option("--text-field", o.text_field, "key of the text (default: text, full_text, rawContent, ...)")
      ->type_name("F");
  app.add_option("--id-field", o.id_field, "key of the id (default: id, id_str, ..., else the line number)")
      ->type_name("F");
  app.add_option("--errors", o.errors, "bad rows as JSONL (default: stderr)")->type_name("FILE");
  app.add_option("--batch-size", o.batch_size, "rows per forward pass")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20));
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  o.thresholds = social::ThresholdChoice::parse(thresholds);
  const double t0 = now_s();
  const social::TopicsPredictSummary s = social::predict_topics(o);
  std::fprintf(stderr, "tern topics predict: %lld rows, %lld bad rows, thresholds %s (%.1f s)\n",
               static_cast<long long>(s.rows), static_cast<long long>(s.bad_rows), s.thresholds.c_str(),
               now_s() - t0);
  return s.bad_rows ? 3 : 0;
}

}  // namespace

int cmd_topics(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "train") return topics_train(argc - 1, argv + 1);
  if (sub == "eval") return topics_eval(argc - 1, argv + 1);
  if (sub == "predict") return topics_predict(argc - 1, argv + 1);
  TERN_FAIL("unknown subcommand '" << sub << "' (train, eval or predict)");
}

}  // namespace tern::cli
