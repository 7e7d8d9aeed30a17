// Fine-tuning behind `tern train` / `tern eval` (docs/training.md): data -> tokens -> batches, AdamW +
// linear schedule + clipping + accumulation, per-epoch validation, best checkpoint, resume. The Trainer
// takes typed options, runs in phases and reports through a TrainReporter; it prints nothing.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infer/batching.h"
#include "nn/model.h"
#include "tensor/packed_weight.h"
#include "train/dataset.h"
#include "train/losses.h"
#include "train/model_loss.h"
#include "weights/model_file.h"

namespace tern::tok {
class Tokenizer;
}

namespace tern::train {

// Dropout probabilities and init std of a Hugging Face config.json (hidden_dropout_prob,
// attention_probs_dropout_prob, classifier_dropout (null = hidden) / DistilBERT dropout, attention_dropout,
// seq_classif_dropout; initializer_range).
struct ConfigExtras {
  float hidden_dropout = 0.1f, attention_dropout = 0.1f, classifier_dropout = 0.1f;
  float initializer_range = 0.02f;
};
ConfigExtras config_extras(const std::string& config_json, Arch arch);

// "BertForSequenceClassification", "RobertaForSequenceClassification", "DistilBertForSequenceClassification".
std::string seqcls_architecture(Arch a);

// Token ids of a dataset (infer/batching.h): truncated to max_length (special tokens included), unpadded.
using infer::encode_texts;
using infer::Encoded;

// Rows `rows` of `e` padded to the longest of them (HF DataCollatorWithPadding, right padding).
Inputs make_batch(const Encoded& e, const int64_t* rows, int64_t n);

// Inference logits (N, L) of every row, in row order; batches of `batch_size` rows of similar length.
std::vector<float> predict_logits(Model& m, const Encoded& e, int64_t batch_size);

// ---- The Trainer: typed options, callable phases, a reporter for progress and metrics ----

// Warm-up of the linear schedule: a step count, or a fraction of the total steps (HF TrainingArguments:
// warmup_steps, else ceil(total * warmup_ratio)).
struct WarmupSpec {
  enum class Kind { Steps, Fraction };
  Kind kind = Kind::Steps;
  double value = 0;  // Steps: a count >= 0; Fraction: >= 0
  static WarmupSpec steps(int64_t n) { return {Kind::Steps, static_cast<double>(n)}; }
  static WarmupSpec fraction(double f) { return {Kind::Fraction, f}; }
};

// Dropout probabilities: those of the model's config.json (hidden / attention / classifier), or one
// probability in [0, 1) for all of them.
struct DropoutSpec {
  std::optional<float> all;  // nullopt: the config's
  static DropoutSpec from_config() { return {}; }
  static DropoutSpec everywhere(float p) { return {p}; }
};

// Class weights of the cross-entropy / BCE loss.
struct ClassWeights {
  bool balanced = false;      // sklearn compute_class_weight('balanced') on the training labels (single)
  std::vector<float> values;  // one weight >= 0 per label; empty and not balanced: none
};

// Model-selection metric on the validation data.
enum class Metric { Accuracy, MacroF1, MacroRecall, MacroPrecision, MicroF1, Mae, Rmse, Spearman, Loss };
const char* metric_name(Metric m);                 // "accuracy", "macro_f1", ..., "loss"
Metric metric_from_name(const std::string& name);  // throws tern::Error listing the names

using TargetScale = TargetScaler::Kind;

// Everything a fine-tuning run takes (docs/training.md; `tern train --help` for the CLI spelling).
// Errors name these fields ("warmup: ...").
struct TrainOptions {
  // Files. model_path: the model to fine-tune (not needed with resume_path); out_path: the best model.
  std::string model_path, train_path, val_path, test_path, out_path, save_last_path, resume_path;
  Task task = Task::Single;
  // Class names in id order; or label_count: LABEL_0 ... Both unset: the model's head labels
  // (classification) or the label fields (regression).
  std::vector<std::string> labels;
  std::optional<int64_t> label_count;
  ReadOptions read;
  bool normalize_tweets = false;
  int64_t max_length = 64, batch_size = 32, epochs = 3, grad_accum = 1, eval_batch_size = 64;
  double lr = 1e-4;
  WarmupSpec warmup;
  double weight_decay = 0.01;
  bool no_decay_bias_ln = false;
  uint64_t seed = 42;
  double clip = 1.0;  // <= 0: off
  int64_t freeze_layers = 0;
  bool head_only = false;
  DropoutSpec dropout;
  std::optional<LossKind> loss;  // nullopt: ce / bce / mse by task
  float huber_delta = 1.f, quantile_tau = 0.5f, label_smoothing = 0.f;
  ClassWeights class_weights;
  TargetScale target_scale = TargetScale::None;
  std::optional<Metric> metric;      // nullopt: macro_f1 / micro_f1 / mae by task
  int64_t early_stopping = 0;        // > 0: stop after that many epochs without improvement on val
  std::optional<int64_t> max_steps;  // stop after that many optimizer steps (smoke tests)
  std::string command_line;          // recorded in the checkpoint's recipe
};

// Metrics of the model on one labelled set: mean loss (in trained units) and the task's metrics.
struct EvalReport {
  double loss = 0;
  std::map<std::string, double> scalars;  // accuracy, macro_f1, ... (Evaluation::scalars)
  std::string json;                       // every metric (per class too) and "loss", a JSON object
};

struct DataReport {
  std::string split, path;  // split: "train", "val" or "test"
  size_t rows = 0;
  int64_t skipped = 0;            // bad rows skipped (ReadOptions::skip_bad_rows)
  std::string first_skip_reason;  // "file:line: why"
  double seconds = 0;             // read + tokenised
};

struct PlanReport {
  int64_t rows = 0, labels = 0, total_steps = 0, steps_per_epoch = 0, warmup_steps = 0;
  int64_t trainable_params = 0, params = 0;
  int threads = 0;
};

struct EpochReport {
  int64_t epoch = 0, epochs = 0;  // 1-based
  double train_loss = 0, tweets_per_s = 0, train_seconds = 0;
  int64_t steps = 0;  // optimizer steps so far
  std::optional<EvalReport> val, test;
  bool saved_best = false;  // the best so far (or no val): written to out_path
};

struct TrainSummary {
  int64_t best_epoch = 0;  // 1-based
  std::string metric;
  double seconds = 0;               // since the Trainer was made
  std::string val_json, test_json;  // the best epoch's metrics (empty: none)
};

// Progress and metrics as they happen; the library prints nothing. Every method has an empty default.
class TrainReporter {
 public:
  virtual ~TrainReporter() = default;
  // Facts worth a line: parameters initialised, a head layer re-initialised, resuming.
  virtual void note(const std::string& /*message*/) {}
  virtual void data_loaded(const DataReport& /*r*/) {}
  virtual void plan(const PlanReport& /*r*/) {}
  virtual void epoch_begin(int64_t /*epoch*/, int64_t /*epochs*/, int64_t /*batches*/) {}  // epoch 1-based
  // After each micro-batch: batches done in this epoch, rows seen, smoothed (EMA 0.98) loss.
  virtual void batch_done(int64_t /*batches_done*/, int64_t /*rows_seen*/, double /*smoothed_loss*/) {}
  virtual void epoch_end(const EpochReport& /*r*/) {}
  virtual void early_stopping(const std::string& /*metric*/, int64_t /*epochs_without_improvement*/) {}
  virtual void finished(const TrainSummary& /*s*/) {}  // not called when no epoch was kept
};

// Fine-tuning as phases: build_model(), load_data(), prepare(), resume() (no-op without resume_path),
// then run_epoch() until it returns false; evaluate() and save() between epochs; run() does all of it.
// Same options, seed and thread count: byte-identical checkpoints.
class Trainer {
 public:
  explicit Trainer(TrainOptions options, TrainReporter* reporter = nullptr);  // checks the options
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // The model (resume_path, else model_path) with a sequence-classification head for the labels (a
  // missing or mis-sized head layer is initialised with HF's init from the seed), and its tokenizer.
  void build_model();
  // Reads and tokenises train / val / test; fits the target scaling on the training targets.
  void load_data();
  // Loss, metric, freezing, AdamW, the schedule, dropout and the recipe recorded in checkpoints.
  void prepare();
  // Restores weights' optimizer state, step counters and the epoch log from resume_path.
  void resume();
  // One epoch: train, evaluate on val / test, save out_path when best (and save_last_path). Returns
  // whether another epoch follows (false after the last epoch, max_steps or early stopping).
  bool run_epoch();
  // The current model on the validation (test = false) or test data.
  EvalReport evaluate(bool test = false);
  // A self-contained checkpoint: weights, config with head, tokenizer, recipe and state, AdamW state.
  void save(const std::string& path);
  // All phases; the summary of the best epoch.
  TrainSummary run();

  Model& model();
  const std::vector<std::string>& labels() const;
  int64_t epochs_done() const;
  int64_t steps_done() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// ---- Evaluation of a fine-tuned model file (tern eval) ----

struct EvalOptions {
  std::string model_path, input_path;
  std::optional<std::string> text_field;  // nullopt: the training recipe's, else "text"
  std::vector<std::string> label_fields;  // empty: the training recipe's
  bool skip_bad_rows = false;
  Quoting quoting = Quoting::Auto;
  std::optional<Task> task;           // nullopt: the model's problem type
  std::optional<int64_t> max_length;  // nullopt: the training recipe's, else 64
  bool normalize_tweets = false;      // or as in training
  int64_t batch_size = 64;
  Precision precision = Precision::F32;  // the encoder's GEMMs (bf16 / int8 weights prepared at load)
};

struct FileEvaluation {
  std::string json;  // the metrics (per class too) with "model", "input", "task" (and "skipped_rows")
  int64_t rows = 0, skipped = 0;
  std::string first_skip_reason;
};
FileEvaluation evaluate_file(const EvalOptions& o);

}  // namespace tern::train
