// tern eval --model M.h5 --input DATA: metrics of a fine-tuned model on labelled data, as JSON on stdout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "tensor/packed_weight.h"
#include "tensor/threads.h"
#include "train/trainer.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Runs a model with a classification / regression head on labelled data and prints its metrics as JSON\n"
    "on stdout: single-label accuracy, macro_f1, macro_recall, macro_precision and per-class P/R/F1;\n"
    "multi-label micro_f1 / macro_f1 (sigmoid > 0.5); regression mae, rmse, spearman (in target units: a\n"
    "target scaling used in training is inverted). DATA as for tern train. The task, labels, label fields,\n"
    "max length and tweet normalisation default to the model's config and training recipe.";

}  // namespace

int cmd_eval(int argc, char** argv) {
  CLI::App app("", "tern eval");
  app.footer(kAbout);
  init_app(app);
  std::string model_path, input, text_field, quoting = "auto", task_name;
  std::vector<std::string> label_fields;
  int max_length = 64, batch = 64, threads = 0;
  bool skip_bad_rows = false, normalize_flag = false;
  app.add_option("--model", model_path, "tern model with a head (.h5, from tern train)")
      ->type_name("FILE")
      ->required();
  app.add_option("--input", input, "labelled data (as for tern train)")->type_name("DATA")->required();
  const CLI::Option* text_field_opt =
      app.add_option("--text-field", text_field,
                     "column / key of the text (default: the training recipe's, else text)")
          ->type_name("F");
  app.add_option("--label-field", label_fields, "column / key of a label; repeatable (default: the recipe's)")
      ->type_name("F");
  add_switch(app, "--skip-bad-rows", skip_bad_rows, "skip (and count) malformed rows instead of failing");
  app.add_option("--quoting", quoting, "CSV / TSV quoting (auto: CSV rfc4180, TSV none)")
      ->type_name("Q")
      ->check(CLI::IsMember({"auto", "rfc4180", "none"}));
  const CLI::Option* task_opt =
      app.add_option("--task", task_name, "single|multi|regression: override the model's problem type")
          ->type_name("T");
  const CLI::Option* max_length_opt =
      app.add_option("--max-length", max_length, "tokens per text (default: the training recipe's, else 64)")
          ->type_name("N")
          ->check(CLI::Range(0, 1 << 20));
  add_switch(app, "--normalize-tweets", normalize_flag, "TweetEval preprocessing (default: as in training)");
  app.add_option("--batch-size", batch, "rows per forward pass")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20));
  std::string precision = "fp32";
  add_precision_option(app, precision);
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  const auto t0 = std::chrono::steady_clock::now();
  train::EvalOptions o;
  o.model_path = model_path;
  o.input_path = input;
  if (text_field_opt->count()) o.text_field = text_field;
  o.label_fields = label_fields;
  o.skip_bad_rows = skip_bad_rows;
  o.quoting = quoting == "auto"   ? train::Quoting::Auto
              : quoting == "none" ? train::Quoting::None
                                  : train::Quoting::Rfc4180;
  if (task_opt->count()) o.task = train::task_from_name(task_name);
  if (max_length_opt->count()) o.max_length = max_length;
  o.normalize_tweets = normalize_flag;
  o.batch_size = batch;
  o.precision = parse_precision(precision);
  const train::FileEvaluation ev = train::evaluate_file(o);
  if (ev.skipped)
    std::fprintf(stderr, "tern eval: skipped %lld bad rows, e.g. %s\n", static_cast<long long>(ev.skipped),
                 ev.first_skip_reason.c_str());
  std::printf("%s\n", ev.json.c_str());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "tern eval: %lld rows in %.1f s (%d threads)\n", static_cast<long long>(ev.rows), s,
               num_threads());
  return 0;
}

}  // namespace tern::cli
