// The TweetEval suite (Barbieri et al. 2020, arXiv 2010.12421; cardiffnlp/tweeteval): fine-tune and score
// the seven tasks with their official metrics, one model per task (stance: one per target, as TweetEval
// does) and / or one multi-task model (one encoder, one head per task; train/multitask.h).
//   emoji, emotion, hate, offensive: macro-F1; sentiment: macro-averaged recall; irony: F1 of class 1
//   (irony); stance: (F1(against) + F1(favor)) / 2 over the five targets' test predictions pooled;
//   ALL: the unweighted mean of the seven.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tern::social {

enum class TweetEvalMetric { MacroF1, MacroRecall, F1Class1, StanceFavorAgainst };
const char* tweeteval_metric_name(TweetEvalMetric m);  // "macro_f1", "macro_recall", "f1_irony", ...

// The official score of predictions `pred` against `gold` (class ids in [0, L)), as TweetEval's
// evaluation_script.py computes it with sklearn (per-class F1 with zero_division 0; macro over the
// classes present in gold or predictions). Stance: L = 3 with 0 none, 1 against, 2 favor.
double tweeteval_score(TweetEvalMetric m, const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                       int64_t L);

struct TweetEvalTask {
  std::string name;                 // emoji, emotion, hate, irony, offensive, sentiment, stance
  std::vector<std::string> labels;  // class names in id order (mapping.txt)
  TweetEvalMetric metric;
  std::vector<std::string> targets;  // stance: abortion, atheism, climate, feminist, hillary; else empty
};
// The seven tasks in TweetEval's order.
const std::vector<TweetEvalTask>& tweeteval_tasks();

// The compute budget of a run (this is a capped-budget benchmark, recorded with the results):
// a (sub)task with more than `examples` training rows trains 1 epoch on a seeded random subset of
// `examples` rows; a smaller one trains round(examples / rows) epochs (1 .. max_epochs) on all its rows.
struct TweetEvalBudget {
  int64_t examples = 3200;
  int64_t max_epochs = 3;
  int64_t multitask_steps = 800;  // optimizer steps (batches) of the multi-task run
};

struct TweetEvalOptions {
  std::string model_path;          // the pretrained checkpoint (tern .h5)
  std::string data_dir;            // ../shared/data/tweeteval
  std::string out_dir;             // models/, predictions/, results.json, results.md
  std::vector<std::string> tasks;  // empty: all seven
  bool single = true;              // one model per task
  bool multitask = false;          // one model with a head per task
  // Tasks whose single-task model is not trained but taken from a file (e.g. sentiment = the shipped
  // default, trained from the same checkpoint): task -> model file. "multitask" -> a multi-task model file
  // to score instead of training one (with multitask).
  std::map<std::string, std::string> reuse;
  std::map<std::string, float> loss_weights;  // multi-task: per task (default 1)
  TweetEvalBudget budget;
  int64_t max_length = 64, batch_size = 32, eval_batch_size = 64;
  double lr = 1e-4, warmup_fraction = 0.06, weight_decay = 0.01;
  uint64_t seed = 42;
  std::string command_line;
};

struct TweetEvalTaskResult {
  std::string task, metric;
  double score = 0;
  std::map<std::string, double> sub;  // stance: per target's own favor/against score (not official)
  int64_t train_rows = 0;             // rows of the training set(s) used (after the cap)
  int64_t examples = 0;               // training examples seen (rows x epochs / steps x batch)
  int64_t test_rows = 0;
  double seconds = 0;
  std::string model;  // file(s) of the model, ';'-separated for stance
  std::string note;   // e.g. "reused weights/models/sentiment.h5"
};

struct TweetEvalResults {
  std::string checkpoint;
  std::vector<TweetEvalTaskResult> single, multi;  // in task order; empty when not run
  double all_single = -1, all_multi = -1;          // < 0: not every task was run
  double single_seconds = 0, multi_seconds = 0;
  std::string json, markdown;  // what results.json / results.md hold
};

// Runs the suite. `log` (may be empty) receives progress lines. Writes out_dir/models/*.h5,
// out_dir/predictions/<task>[_<target>][.multi].txt (one predicted label id per test line),
// out_dir/results.json and out_dir/results.md (rewritten after every task, so a cut-off run keeps what it
// finished).
TweetEvalResults run_tweeteval(const TweetEvalOptions& o,
                               const std::function<void(const std::string&)>& log = {});

}  // namespace tern::social
