// tern eval --model M.h5 --input DATA: metrics of a fine-tuned model on labelled data, as JSON on stdout.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/args.h"
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

const char* kHelp =
    "usage: tern eval --model M.h5 --input DATA [options]\n"
    "\n"
    "Runs a model with a classification / regression head on labelled data and prints its metrics as JSON\n"
    "on stdout: single-label accuracy, macro_f1, macro_recall, macro_precision and per-class P/R/F1;\n"
    "multi-label micro_f1 / macro_f1 (sigmoid > 0.5); regression mae, rmse, spearman (in target units: a\n"
    "target scaling used in training is inverted). DATA as for tern train. The task, labels, label fields,\n"
    "max length and tweet normalisation default to the model's config and training recipe.\n"
    "\n"
    "options:\n"
    "  --model FILE            tern model with a head (.h5, from tern train)\n"
    "  --input DATA            labelled data\n"
    "  --text-field F          --label-field F (repeatable)   --skip-bad-rows   --quoting auto|rfc4180|none\n"
    "  --task single|multi|regression   override the model's problem type\n"
    "  --max-length N          (default: the training recipe's, else 64)\n"
    "  --normalize-tweets      TweetEval preprocessing (default: as in training)\n"
    "  --batch-size N          rows per forward pass (default 64)\n"
    "  --threads N             threads (default: all cores)\n";

}  // namespace

int cmd_eval(int argc, char** argv) {
  using nlohmann::json;
  Args a(argc, argv,
         {"model", "input", "text-field", "label-field", "quoting", "task", "max-length", "batch-size",
          "threads"},
         {"skip-bad-rows", "normalize-tweets"});
  if (a.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string model_path = a.require("model"), input = a.require("input");
  apply_threads(a);
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
  if (auto t = a.get("task")) {
    task = train::task_from_name(*t);
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
  ro.text_field = a.get("text-field").value_or(recipe.value("text_field", std::string("text")));
  ro.label_fields = a.get_all("label-field");
  if (ro.label_fields.empty() && recipe.contains("label_fields"))
    ro.label_fields = recipe["label_fields"].get<std::vector<std::string>>();
  ro.skip_bad_rows = a.has("skip-bad-rows");
  const std::string q = a.get("quoting").value_or("auto");
  TERN_CHECK(q == "auto" || q == "rfc4180" || q == "none", "--quoting: auto, rfc4180 or none");
  ro.quoting = q == "auto"   ? train::Quoting::Auto
               : q == "none" ? train::Quoting::None
                             : train::Quoting::Rfc4180;
  train::LabelSpec spec{task, task == train::Task::Regression ? std::vector<std::string>{} : cfg.labels, L};
  train::Dataset d = train::read_dataset(input, spec, ro);
  if (d.skipped)
    std::fprintf(stderr, "tern eval: skipped %lld bad rows, e.g. %s\n", static_cast<long long>(d.skipped),
                 d.skip_reasons[0].c_str());
  const int64_t max_length = a.get_int("max-length", recipe.value("max_length", 64));
  const bool normalize = a.has("normalize-tweets") || recipe.value("normalize_tweets", false);
  const tok::Tokenizer tk = tok::Tokenizer::from_files(bundle.tokenizer_files, model_path);
  train::Encoded e = train::encode_texts(tk, d.texts, max_length, normalize);
  const int batch = a.get_int("batch-size", 64);
  TERN_CHECK(batch >= 1, "--batch-size must be >= 1");
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
