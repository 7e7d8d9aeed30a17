// tern engagement train | eval | predict: engagement prediction on tweet tables (docs/engagement.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "social/engagement.h"
#include "tensor/check.h"

namespace tern::cli {

namespace {

namespace eng = tern::social::eng;

struct TableFlags {
  std::string text_field, time_field, time_format, utc_offset_field, author_field, id_field, targets;
  bool exclude_retweets = false;
  ArchiveInputFlags input;
};

const char* kTableFlags[] = {"--text-field",   "--time-field", "--time-format", "--utc-offset-field",
                             "--author-field", "--id-field",   "--targets",     "--exclude-retweets",
                             "--format",       "--encoding",   "--invalid-utf8"};

void add_table_options(CLI::App& app, TableFlags& t, bool with_default_targets) {
  app.add_option("--text-field", t.text_field,
                 "text column / dotted JSON path (default: the first of text, full_text, tweet, rawContent, "
                 "content)");
  app.add_option("--time-field", t.time_field,
                 "time column (default: the first of created_at, date, timestamp, time, datetime)");
  app.add_option("--time-format", t.time_format,
                 "strptime-style format (%Y %m %d %H %M %S %y %b %a %z %Z %s); default: ISO 8601, "
                 "'YYYY-MM-DD HH:MM[:SS]', Twitter's 'Wed Oct 10 20:19:24 +0000 2018', epoch s / ms");
  app.add_option("--utc-offset-field", t.utc_offset_field,
                 "column with the UTC offset ('+0400') of naive local times (twint's CSV layout)");
  app.add_option("--author-field", t.author_field, "author column, when the table has several accounts");
  app.add_option("--id-field", t.id_field,
                 "id column for de-duplication (default: the first of id, id_str, tweet_id; the last row "
                 "read wins)");
  auto* o = app.add_option("--targets", t.targets,
                           "targets, NAME or NAME=COLUMN[|COLUMN...] (likes, retweets, replies, quotes know "
                           "their usual column names)");
  if (with_default_targets) t.targets = "likes,retweets,replies";
  (void)o;
  add_switch(app, "--exclude-retweets", t.exclude_retweets, "drop rows whose text starts with 'RT @'");
  add_archive_input_options(app, t.input);
}

eng::TableOptions table_options(const TableFlags& t) {
  eng::TableOptions o;
  o.text_field = t.text_field;
  o.time_field = t.time_field;
  o.time_format = t.time_format;
  o.utc_offset_field = t.utc_offset_field;
  o.author_field = t.author_field;
  o.id_field = t.id_field;
  if (!t.targets.empty()) o.targets = eng::parse_targets(t.targets);
  o.exclude_retweets = t.exclude_retweets;
  o.format = t.input.format;
  o.encoding = t.input.encoding;
  o.replace_invalid_utf8 = t.input.invalid_utf8 == "replace";
  return o;
}

bool any_table_flag(const CLI::App& app) {
  for (const char* f : kTableFlags)
    if (app.count(f)) return true;
  return false;
}

void write_json(const nlohmann::json& j, const std::string& path) {
  std::string s = j.dump(2) + "\n";
  if (path == "-") {
    std::fwrite(s.data(), 1, s.size(), stdout);
    return;
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << s;
    if (!f) TERN_FAIL(path << ": cannot write");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) TERN_FAIL(path << ": cannot rename " << tmp);
}

// Bad / skipped rows: to FILE as JSON lines ({"file", "line", "reason"}), else the first 5 to stderr.
struct RowLog {
  std::ofstream f;
  int64_t n = 0;
  bool quiet = false;
  explicit RowLog(const std::string& path, bool q) : quiet(q) {
    if (!path.empty()) {
      f.open(path, std::ios::binary);
      if (!f) TERN_FAIL(path << ": cannot write");
    }
  }
  void operator()(const std::string& msg) {
    if (msg.rfind("skipped ", 0) == 0) {
      ++n;
      if (f.is_open()) {
        nlohmann::json j = {{"row", msg.substr(8)}};
        f << j.dump() << '\n';
        return;
      }
      if (n > 5) {
        if (n == 6 && !quiet)
          std::fprintf(stderr, "tern engagement: more skipped rows not shown (--errors FILE)\n");
        return;
      }
    }
    if (!quiet) std::fprintf(stderr, "tern engagement: %s\n", msg.c_str());
  }
};

eng::Progress progress_of(RowLog& log) {
  eng::Progress p;
  p.message = [&log](const std::string& s) { log(s); };
  p.text_features = [&log](int64_t done, int64_t total) {
    if (!log.quiet)
      std::fprintf(stderr, "\rtern engagement: text features %lld / %lld", (long long)done, (long long)total);
    if (!log.quiet && done == total) std::fprintf(stderr, "\n");
  };
  return p;
}

void print_table(const nlohmann::json& m) {
  std::fprintf(stderr, "%-10s %-16s %10s %9s %12s\n", "target", "model", "mae_log1p", "spearman", "mae");
  for (const auto& [t, models] : m.at("targets").items())
    for (const auto& [name, s] : models.items())
      std::fprintf(stderr, "%-10s %-16s %10.4f %9.4f %12.1f\n", t.c_str(), name.c_str(),
                   s.at("mae_log1p").get<double>(), s.at("spearman").get<double>(),
                   s.at("mae").get<double>());
}

int run_train(int argc, char** argv) {
  CLI::App app{
      "Trains the engagement models (median baseline, ridge, MLP, transformer) on the earliest tweets "
      "and scores them on the latest (docs/engagement.md)",
      "tern engagement train"};
  init_app(app);
  std::vector<std::string> data;
  std::string out, metrics_json, errors, encoder, text_models = "all", loss = "huber", scaling = "log1p",
                                                  models = "median_baseline,ridge,mlp,transformer";
  TableFlags tf;
  eng::EngageOptions o;
  double loss_param = -1;
  bool no_text = false, quiet = false, no_ridge_init = false, no_refit = false, token_text = false,
       no_trend = false;
  int threads = 0;
  app.add_option("data", data, "tweet tables (CSV / TSV / JSONL, .gz ok)")->required();
  app.add_option("--out", out, "write every model into one .h5");
  app.add_option("--metrics-json", metrics_json, "write the metrics JSON to FILE (- = stdout)");
  app.add_option("--errors", errors,
                 "skipped / bad rows as JSON lines to FILE (default: the first 5 on stderr)");
  add_table_options(app, tf, true);
  app.add_option("--encoder", encoder,
                 "model whose mean-pooled embedding is a feature (path or shipped name; "
                 "default: the shipped default model)");
  app.add_option("--text-models", text_models,
                 "models whose probabilities are features: all (every shipped model), none, or NAME,NAME");
  app.add_option(
      "--features-cache", o.text.cache,
      "keep the embeddings / probabilities in FILE (.h5) and reuse them when texts and models match");
  add_switch(app, "--no-text-features", no_text, "no embedding and no probabilities (context features only)");
  app.add_option("--history", o.history, "previous tweets of the author in the history features")
      ->check(CLI::Range(1, 1000));
  app.add_option("--window", o.window, "previous tweets of the author as transformer tokens")
      ->check(CLI::Range(1, 256));
  app.add_option("--test-fraction", o.test_fraction, "latest share of the tweets held out for the test")
      ->check(CLI::Range(0.001, 0.999));
  app.add_option("--val-fraction", o.val_fraction,
                 "latest share of the training tweets for early stopping and ridge's lambda")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--models", models, "models to train (median_baseline, ridge, mlp, transformer)");
  app.add_option("--loss", loss, "mse | mae | huber | quantile")
      ->check(CLI::IsMember({"mse", "mae", "huber", "quantile"}));
  app.add_option("--loss-param", loss_param, "Huber delta (default 1) or quantile tau (default 0.5)");
  app.add_option("--scaling", scaling, "target scaling: log1p, or robust (log1p, centred by the median, IQR)")
      ->check(CLI::IsMember({"log1p", "robust"}));
  app.add_option("--epochs", o.epochs, "most epochs (early stopping on the validation slice)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--patience", o.patience, "epochs without a better validation score before stopping")
      ->check(CLI::Range(1, 10000));
  app.add_option("--batch-size", o.batch_size, "mini-batch size")->check(CLI::Range(1, 65536));
  app.add_option("--lr", o.lr, "AdamW learning rate")->check(CLI::Range(1e-7, 1.0));
  app.add_option("--weight-decay", o.weight_decay, "AdamW weight decay")->check(CLI::Range(0.0, 1.0));
  app.add_option("--hidden", o.hidden, "MLP hidden width")->check(CLI::Range(2, 4096));
  app.add_option("--d-model", o.d_model, "transformer width")->check(CLI::Range(2, 1024));
  app.add_option("--layers", o.layers, "transformer encoder layers")->check(CLI::Range(1, 8));
  app.add_option("--seed", o.seed, "initialisation and shuffling seed");
  add_switch(app, "--no-trend-features", no_trend,
             "leave out the author's number of previous tweets and days since the first one (positions on "
             "this data set's timeline)");
  add_switch(app, "--token-text", token_text,
             "transformer tokens carry the embedding and probabilities too (default: context features and "
             "engagement; the text reaches the transformer through its linear path)");
  add_switch(app, "--no-refit", no_refit,
             "keep the early-stopped networks (fit rows only) instead of retraining them on every training "
             "row for the chosen number of epochs");
  add_switch(app, "--no-ridge-init", no_ridge_init,
             "start the networks' linear path at zero, not at ridge's solution (fit rows)");
  add_switch(app, "-q", quiet, "no progress on stderr");
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  o.table = table_options(tf);
  o.text_models = !no_text;
  o.ridge_init = !no_ridge_init;
  o.refit = !no_refit;
  o.token_text = token_text;
  o.trend_features = !no_trend;
  o.text.encoder = encoder;
  if (o.text_models) {
    if (text_models == "all")
      o.text.extra = eng::default_extra_models(encoder);
    else if (text_models != "none") {
      std::string cur;
      for (char c : text_models + ",") {
        if (c == ',') {
          if (!cur.empty()) o.text.extra.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
    }
  }
  o.loss = eng::loss_from_name(loss);
  o.loss_param = loss_param > 0 ? loss_param : (o.loss == eng::Loss::Quantile ? 0.5 : 1.0);
  o.scaling = scaling;
  o.models.clear();
  {
    std::string cur;
    for (char c : models + ",") {
      if (c == ',') {
        if (!cur.empty()) o.models.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
  }
  RowLog log(errors, quiet);
  nlohmann::json m = eng::train(data, o, out, progress_of(log));
  if (!quiet) print_table(m);
  nlohmann::json printed = m;
  if (!metrics_json.empty()) write_json(m, metrics_json);
  if (metrics_json != "-") std::printf("%s\n", printed.dump().c_str());
  return 0;
}

int run_eval_or_predict(int argc, char** argv, bool is_predict) {
  CLI::App app{is_predict
                   ? "Predicts likes / retweets / replies for every tweet with a saved engagement model"
                   : "Scores a saved engagement model on new tweet tables (all rows are test rows)",
               is_predict ? "tern engagement predict" : "tern engagement eval"};
  init_app(app);
  std::vector<std::string> data, data2;
  std::string model, out = "-", metrics_json, errors, use;
  TableFlags tf;
  bool quiet = false;
  int threads = 0;
  app.add_option("--model", model, "engagement model (.h5 from tern engagement train)")->required();
  app.add_option("data", data, "tweet tables (CSV / TSV / JSONL, .gz ok)");
  app.add_option("--data", data2, "tweet tables (as the positional arguments)");
  if (is_predict) {
    app.add_option("--out", out, "JSONL output, one row per used tweet (- = stdout)");
    app.add_option("--use", use,
                   "one model's counts (median_baseline, ridge, mlp, transformer) instead of all");
  } else {
    app.add_option("--metrics-json", metrics_json, "write the metrics JSON to FILE (- = stdout)");
  }
  app.add_option("--errors", errors,
                 "skipped / bad rows as JSON lines to FILE (default: the first 5 on stderr)");
  add_table_options(app, tf, false);
  add_switch(app, "-q", quiet, "no progress on stderr");
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  data.insert(data.end(), data2.begin(), data2.end());
  if (data.empty()) TERN_FAIL("no data: give tables as arguments or with --data");
  eng::TableOptions t = table_options(tf);
  const eng::TableOptions* over = any_table_flag(app) ? &t : nullptr;
  RowLog log(errors, quiet);
  if (is_predict) {
    nlohmann::json c = eng::predict(model, data, over, out, use, progress_of(log));
    if (!quiet) std::fprintf(stderr, "tern engagement predict: %s\n", c.dump().c_str());
    return 0;
  }
  nlohmann::json m = eng::evaluate(model, data, over, progress_of(log));
  if (!quiet) print_table(m);
  if (!metrics_json.empty()) write_json(m, metrics_json);
  if (metrics_json != "-") std::printf("%s\n", m.dump().c_str());
  return 0;
}

}  // namespace

int cmd_engagement(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::FILE* f = argc < 2 ? stderr : stdout;
    std::fprintf(f,
                 "usage: tern engagement train|eval|predict [options]   (tern engagement <sub> --help)\n\n"
                 "  train    train the median baseline, ridge, MLP and transformer on the earliest tweets,\n"
                 "           score them on the latest, save them in one .h5\n"
                 "  eval     score a saved model on new tables (same metrics JSON)\n"
                 "  predict  one JSONL row per tweet with the predicted counts\n");
    return argc < 2 ? 2 : 0;
  }
  std::string sub = argv[1];
  if (sub == "train") return run_train(argc - 1, argv + 1);
  if (sub == "eval") return run_eval_or_predict(argc - 1, argv + 1, false);
  if (sub == "predict") return run_eval_or_predict(argc - 1, argv + 1, true);
  TERN_FAIL("unknown subcommand '" << sub << "' (train, eval, predict)");
}

}  // namespace tern::cli
