// Multi-task fine-tuning ("one encoder, many heads"): one encoder, one single-label classification head
// per task, task-sampled batches, per-task loss weights, AdamW + linear schedule + clipping as the
// Trainer. The result is ONE model file (nn/multi_head.h: its metadata lists the heads) that
// load_multi_head_model() loads with every head.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/multi_head.h"
#include "train/dataset.h"

namespace tern::tok {
class Tokenizer;
}

namespace tern::train {

struct MultiTaskHead {
  std::string name;                 // head (and task) name; its parameters are "<name>.*"
  std::vector<std::string> labels;  // class names in id order
  Dataset train;                    // single-label: targets are class ids
  // Sampling: a batch comes from this head's data with probability sampling_weight / sum of weights
  // (equal weights = task-balanced sampling, whatever the tasks' sizes).
  double sampling_weight = 1;
  float loss_weight = 1.f;  // multiplies this head's mean loss (and its gradient)
};

struct MultiTaskOptions {
  std::string model_path;  // a tern model file: the encoder (a head it has is not used)
  int64_t max_length = 64, batch_size = 32;
  int64_t steps = 1000;  // optimizer steps (one batch each)
  double lr = 1e-4, warmup_fraction = 0.06, weight_decay = 0.01, clip = 1.0;
  bool no_decay_bias_ln = true;
  std::optional<float> dropout;  // nullopt: the config's probabilities
  uint64_t seed = 42;
  bool normalize_tweets = false;
  std::string command_line;  // recorded in the model file
};

// One row of a batch: head index and row of that head's training set.
struct TaskRow {
  size_t head = 0;
  int64_t row = 0;
};

class MultiTaskTrainer {
 public:
  // Builds the model (heads initialised with HF's init from the seed) and tokenises every head's data.
  MultiTaskTrainer(MultiTaskOptions o, std::vector<MultiTaskHead> heads);
  ~MultiTaskTrainer();
  MultiTaskTrainer(const MultiTaskTrainer&) = delete;
  MultiTaskTrainer& operator=(const MultiTaskTrainer&) = delete;

  // One optimizer step on `batch` (rows of one or several heads): each head with rows gets its mean
  // cross-entropy times loss_weight; heads without rows get no gradient and no update (not even weight
  // decay); the encoder is updated. Returns the summed weighted loss.
  double step(const std::vector<TaskRow>& batch);
  // The next sampled batch (a head drawn by sampling_weight, the next batch_size rows of its shuffled
  // data, reshuffled per pass) and step(). Returns the loss and sets `*head` to the head drawn.
  double train_step(size_t* head = nullptr);
  int64_t steps_done() const;
  double lr_at_next_step() const;

  // Logits (N, L of head k) of `texts` with head k, dropout off; batches of similar lengths.
  std::vector<float> predict(size_t head, const std::vector<std::string>& texts, int64_t batch_size = 64);
  // ONE model file: encoder + every head (metadata "heads"), tokenizer, recipe. No optimizer state.
  void save(const std::string& path, const std::map<std::string, std::string>& extra_metadata = {}) const;

  Model& model();
  const std::vector<MultiTaskHead>& heads() const;
  const std::vector<MultiHeadInfo>& head_infos() const;
  const tok::Tokenizer& tokenizer() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace tern::train
