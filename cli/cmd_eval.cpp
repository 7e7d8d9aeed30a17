// tern eval --model M.h5 --input DATA: metrics of a fine-tuned model on labelled data, as JSON on stdout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "nn/model.h"
#include "tensor/check.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"
#include "train/dataset.h"
#include "train/losses.h"
#include "train/metrics.h"
#include "train/trainer.h"
#include "weights/model_file.h"

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
  using nlohmann::json;
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
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  const auto t0 = std::chrono::steady_clock::now();
  ModelBundle bundle = load_model(model_path);
  json recipe = json::object();
  if (auto it = bundle.metadata.find("training"); it != bundle.metadata.end()) {
    json t = json::parse(it->second, nullptr, false);
    if (t.is_object() && t.contains("recipe")) recipe = t["recipe"];
  }
  train::TargetScaler scaler;
  if (auto it = bundle.metadata.find("target_scaling"); it != bundle.metadata.end())
    scaler = train::TargetScaler::from_json(it->second);
  auto model = Model::from_bundle(bundle, model_path);
  TERN_CHECK(model->has_head(), model_path
                                    << ": the model has no classification / regression head (train one "
                                       "with tern train)");
  const ModelConfig& cfg = model->config();
  train::Task task;
  if (task_opt->count()) {
    task = train::task_from_name(task_name);
  } else {
    const ProblemType p = cfg.problem_type != ProblemType::Unspecified ? cfg.problem_type
                          : cfg.num_labels == 1                        ? ProblemType::Regression
                                                                       : ProblemType::SingleLabel;
    task = p == ProblemType::SingleLabel  ? train::Task::Single
           : p == ProblemType::MultiLabel ? train::Task::Multi
                                          : train::Task::Regression;
  }
  const int64_t L = cfg.num_labels;
  train::ReadOptions ro;
  ro.text_field = text_field_opt->count() ? text_field : recipe.value("text_field", std::string("text"));
  ro.label_fields = label_fields;
  if (ro.label_fields.empty() && recipe.contains("label_fields"))
    ro.label_fields = recipe["label_fields"].get<std::vector<std::string>>();
  ro.skip_bad_rows = skip_bad_rows;
  ro.quoting = quoting == "auto"   ? train::Quoting::Auto
               : quoting == "none" ? train::Quoting::None
                                   : train::Quoting::Rfc4180;
  train::LabelSpec spec{task, task == train::Task::Regression ? std::vector<std::string>{} : cfg.labels, L};
  train::Dataset d = train::read_dataset(input, spec, ro);
  if (d.skipped)
    std::fprintf(stderr, "tern eval: skipped %lld bad rows, e.g. %s\n", static_cast<long long>(d.skipped),
                 d.skip_reasons[0].c_str());
  if (!max_length_opt->count()) max_length = recipe.value("max_length", 64);
  const bool normalize = normalize_flag || recipe.value("normalize_tweets", false);
  const tok::Tokenizer tk = tok::Tokenizer::from_files(bundle.tokenizer_files, model_path);
  train::Encoded e = train::encode_texts(tk, d.texts, max_length, normalize);
  std::vector<float> out = train::predict_logits(*model, e, batch);
  const int64_t N = static_cast<int64_t>(d.size());
  if (task == train::Task::Regression) scaler.inverse(out.data(), N);
  train::Evaluation ev = train::evaluate(train::task_name(task), d.targets, out, N, L, cfg.labels);
  json j = json::parse(ev.json);
  j["model"] = model_path;
  j["input"] = input;
  j["task"] = train::task_name(task);
  if (d.skipped) j["skipped_rows"] = d.skipped;
  std::printf("%s\n", j.dump(2).c_str());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "tern eval: %lld rows in %.1f s (%d threads)\n", static_cast<long long>(N), s,
               num_threads());
  return 0;
}

}  // namespace tern::cli
