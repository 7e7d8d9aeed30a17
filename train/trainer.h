// Fine-tuning loop behind `tern train` / `tern eval` (docs/training.md): data -> tokens -> batches,
// AdamW + linear schedule + clipping + accumulation, per-epoch validation, best checkpoint, resume.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/model.h"
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

// Token ids of a dataset: truncated to max_length (special tokens included), unpadded.
struct Encoded {
  std::vector<std::vector<int32_t>> ids;
  int32_t pad_id = 0;
  size_t size() const { return ids.size(); }
};
Encoded encode_texts(const tok::Tokenizer& tk, const std::vector<std::string>& texts, int64_t max_length,
                     bool normalize_tweets);

// Rows `rows` of `e` padded to the longest of them (HF DataCollatorWithPadding, right padding).
Inputs make_batch(const Encoded& e, const int64_t* rows, int64_t n);

// Inference logits (N, L) of every row, in row order; batches of `batch_size` rows of similar length.
std::vector<float> predict_logits(Model& m, const Encoded& e, int64_t batch_size);

// Everything `tern train` takes (see the CLI help for meanings and defaults).
struct TrainConfig {
  std::string model_path, train_path, val_path, test_path, out_path, resume_path, save_last_path;
  Task task = Task::Single;
  std::vector<std::string> labels;
  int64_t max_length = 64, batch_size = 32, epochs = 3, grad_accum = 1, eval_batch_size = 64;
  double lr = 1e-4;
  std::string warmup = "0";  // fraction of the total steps (contains '.' or < 1) or a step count
  double weight_decay = 0.01;
  bool no_decay_bias_ln = false;
  uint64_t seed = 42;
  double clip = 1.0;  // <= 0: off
  int64_t freeze_layers = 0;
  bool head_only = false;
  std::string dropout = "default";  // "default" (the config's) or a probability for all dropouts
  std::string loss;                 // empty: the task's (ce / bce / mse)
  float huber_delta = 1.f, quantile_tau = 0.5f, label_smoothing = 0.f;
  std::string class_weights;  // "", "auto" or w1,w2,...
  std::string target_scale = "none";
  std::string metric;  // empty: macro_f1 / micro_f1 / mae by task
  int64_t early_stopping = 0;
  ReadOptions read;
  bool normalize_tweets = false;
  bool progress = true;
  int threads = 0;
  int64_t max_steps = 0;  // > 0: stop after that many optimizer steps (smoke tests)
  std::string command_line;
};

// Runs the whole training; returns 0. Progress on stderr, one summary line per epoch on stdout.
int run_training(const TrainConfig& cfg);

}  // namespace tern::train
