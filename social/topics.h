// Topic classification (`tern topics`): multi-label TweetTopic classes (tweet_topicXL), fine-tuned with
// train::Trainer, with decision thresholds tuned on the validation set (one global threshold and one per
// class), stored in the model file's metadata and applied at prediction time (docs/social-models.md).
//
// A label is predicted when its probability sigmoid(logit) >= its threshold (tern infer's rule at 0.5).
// F1 follows scikit-learn with zero_division = 0: a class without gold positives and without predictions
// has F1 0; macro-F1 is the mean over all L classes.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace tern::social {

// The 19 TweetTopic labels in index order, as the tweet_topicXL JSONL fields name them
// ("arts_&_culture", ..., "youth_&_student_life"; ../shared/data/tweet_topicXL/label_mapping.json).
const std::vector<std::string>& tweet_topic_labels();

// ---- Scores and threshold tuning (pure functions of gold labels and probabilities) ----

// Per-class counts and scores of multi-label predictions.
struct TopicScores {
  std::vector<int64_t> tp, fp, fn, support;   // per class; support = gold positives
  std::vector<double> precision, recall, f1;  // per class, zero_division = 0
  double macro_f1 = 0;                        // mean F1 over all classes
  double micro_f1 = 0, micro_precision = 0, micro_recall = 0;
};

// gold: (N, L) 0/1; probs: (N, L) in [0, 1]; thresholds: (L) per class. Throws on size mismatches.
TopicScores score_topics(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                         int64_t L, const std::vector<double>& thresholds);
// The same with one threshold for every class.
TopicScores score_topics(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                         int64_t L, double threshold);

// Candidate thresholds step, 2 step, ... below 1 (step 0.01: 0.01 ... 0.99). step in (0, 1).
std::vector<double> threshold_grid(double step = 0.01);

struct TuneOptions {
  std::vector<double> candidates;  // ascending; empty: threshold_grid(0.01)
  // A class with fewer gold positives than this in the tuning set keeps the global threshold (with none,
  // every threshold gives F1 0 and nothing can be learnt). >= 1.
  int64_t min_positives = 1;
};

struct Thresholds {
  double global = 0.5;
  std::vector<double> per_class;  // (L); untuned classes hold `global`
  std::vector<bool> tuned;        // (L) whether per_class[c] was tuned on that class's own F1
  double global_macro_f1 = 0;     // on the tuning set, at `global`
  double per_class_macro_f1 = 0;  // on the tuning set, at `per_class`
  int64_t rows = 0;               // rows of the tuning set
};

// The global threshold maximises macro-F1 over all classes; each per-class threshold maximises that
// class's F1. Ties: the maximum is often reached on a run of neighbouring candidates (a plateau between
// two probabilities); the middle of the first (lowest) such run is taken, the lower one of two middles.
Thresholds tune_thresholds(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                           int64_t L, const TuneOptions& opt = {});

// The index in `values` chosen by the rule above: the middle of the first maximal run (values equal to
// the maximum within 1e-12). Exposed for tests.
size_t pick_plateau_middle(const std::vector<double>& values);

// The model-file metadata key holding the thresholds and its JSON:
// {"rule": "prob >= threshold", "global": g, "per_class": {label: t, ...}, "tuned": [label, ...],
//  "tuned_on": path, "rows": n, "default": 0.5, "global_macro_f1": .., "per_class_macro_f1": ..}
extern const char* const kThresholdsKey;  // "topic_thresholds"
std::string thresholds_json(const Thresholds& t, const std::vector<std::string>& labels,
                            const std::string& tuned_on);
// Parses thresholds_json's output for `labels`; throws tern::Error naming `where` on anything wrong
// (a missing label, a threshold outside [0, 1]).
Thresholds thresholds_from_json(const std::string& json, const std::vector<std::string>& labels,
                                const std::string& where);

// Which thresholds a prediction or evaluation uses.
struct ThresholdChoice {
  enum class Kind { PerClass, Global, Fixed };
  Kind kind = Kind::PerClass;
  double value = 0.5;  // Fixed
  // "per-class", "global", "default" (= 0.5) or a number in [0, 1]; throws otherwise.
  static ThresholdChoice parse(const std::string& s);
  std::string name() const;  // "per-class", "global", "0.5", ...
};
// The per-class thresholds a choice gives (Fixed: L copies; the others need stored thresholds).
std::vector<double> resolve_thresholds(const ThresholdChoice& c, const std::optional<Thresholds>& stored,
                                       int64_t L, const std::string& model_path);

// ---- The data: a tweet_topicXL language folder ----

struct TopicSplits {
  std::string train, val, test;  // test may be empty
};
// DIR holds <x>_train.jsonl, <x>_validation.jsonl (or <x>_val.jsonl) and optionally <x>_test.jsonl (any
// of them .gz); throws naming DIR and what is missing.
TopicSplits find_topic_splits(const std::string& dir);

// ---- Training: fine-tune, then tune thresholds on validation ----

struct TopicsTrainOptions {
  std::string model_path, data_dir, out_path;
  std::string train_path, val_path, test_path;  // override the files found in data_dir
  std::vector<std::string> labels;              // empty: tweet_topic_labels()
  std::string text_field = "text";
  int64_t max_length = 64, batch_size = 16, epochs = 20;
  double lr = 1e-4, warmup = 0.1, weight_decay = 0.01;
  uint64_t seed = 42;
  std::string metric = "loss";  // model selection on validation: loss | macro_f1 | micro_f1
  std::optional<int64_t> max_steps;
  int64_t early_stopping = 0;
  TuneOptions tune;
  std::string command_line;
};

struct TopicsTrainSummary {
  train::TrainSummary train;
  Thresholds thresholds;
  std::string thresholds_json;  // as stored in the model's metadata
  std::string val_json;         // the validation scores at 0.5 / global / per-class (topic_report_json)
  double seconds = 0;
};

// Trains (train::Trainer, multi-label BCE, best epoch by `metric` on validation) into out_path, predicts the
// validation set with the saved model (infer::Predictor, as tern infer does), tunes the thresholds and
// rewrites out_path with them in the metadata (kThresholdsKey) and without the optimizer state.
TopicsTrainSummary train_topics(const TopicsTrainOptions& o, train::TrainReporter* reporter = nullptr);

// ---- Evaluation ----

struct TopicsEvalOptions {
  std::string model_path, input_path;
  std::string text_field = "text";
  int64_t batch_size = 32;
  std::optional<int64_t> max_length;  // default: the model's
};

// JSON: {"model", "input", "n", "labels", "thresholds": {"default": 0.5, "global": g, "per_class": {..}},
// "scores": {"default": S, "global": S, "per_class": S}} where S = {"macro_f1", "micro_f1",
// "micro_precision", "micro_recall", "per_class": {label: {"precision", "recall", "f1", "support"}}}.
// Without stored thresholds only "default" is given.
std::string evaluate_topics(const TopicsEvalOptions& o);

// The "scores" object above for gold / probs and the three threshold settings.
std::string topic_report_json(const std::vector<float>& gold, const std::vector<float>& probs, int64_t N,
                              const std::vector<std::string>& labels, const std::optional<Thresholds>& t);

// ---- Prediction: records in, one JSON row per readable record out ----

struct TopicsPredictOptions {
  std::string model_path, input = "-", output = "-";
  std::string text_field;  // empty: tern infer's defaults (text, full_text, rawContent, ...)
  std::string id_field;    // empty: tern infer's defaults (id, id_str, ...), else the line number
  ThresholdChoice thresholds;
  std::string errors;  // bad rows as {"line", "reason"} JSONL; empty: stderr
  int64_t batch_size = 32, window = 1024;
};

struct TopicsPredictSummary {
  int64_t rows = 0, bad_rows = 0;
  std::string thresholds;  // the choice used
};

// Rows: {"id": ID, "labels": [label, ...], "probs": {label: p, ...}} in input order; labels are those with
// p >= threshold, in label order.
TopicsPredictSummary predict_topics(const TopicsPredictOptions& o);

}  // namespace tern::social
