// Encoder models and their sequence-classification heads, as Hugging Face builds them:
//   BertModel / BertForSequenceClassification       (transformers/models/bert/modeling_bert.py)
//   RobertaModel / RobertaForSequenceClassification (transformers/models/roberta/modeling_roberta.py)
//   DistilBertModel / DistilBertForSequenceClassification (transformers/models/distilbert/modeling_distilbert.py)
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/layers.h"
#include "nn/param.h"
#include "weights/model_file.h"

namespace tern {

struct ModelOutputs {
  // Views into the model's workspace (reused across calls, so no fresh memory is touched per batch):
  // valid until the next forward() / forward_train() of the same model; clone() to keep them.
  Tensor last_hidden_state;  // (B, T, C)
  Tensor pooler_output;      // (B, C), when the model has a pooler
  Tensor logits;             // (B, num_labels), when the model has a head
};

// Dropout probabilities of a training forward (HF: hidden_dropout_prob, attention_probs_dropout_prob,
// classifier_dropout / seq_classif_dropout). All zero = deterministic training forward.
struct Dropout {
  float hidden = 0.f;
  float attention = 0.f;
  float classifier = 0.f;
  float attn_output = -1.f;  // dropout after the attention output projection; < 0: same as hidden
  uint64_t seed = 0;  // masks are drawn from a counter-based generator: same seed and step = same masks
  uint64_t step = 0;
};

// All parameters in one contiguous arena (after Model::pack()): AdamW is one flat loop over it.
struct ParamSlice {
  Param* param;
  int64_t offset;  // in floats, into ParamArena::values / grads
  int64_t size;
};
struct ParamArena {
  float* values = nullptr;
  float* grads = nullptr;
  int64_t size = 0;
  std::vector<ParamSlice> slices;  // in model order
};

struct ModelOptions {
  BindOptions bind;            // init_missing: create a head / pooler the checkpoint lacks (training)
  bool force_head = false;     // put a sequence-classification head on an encoder checkpoint
  bool force_pooler = false;   // BERT: have a pooler even when the checkpoint has none (it is initialised)
};

class Model {
 public:
  // Builds from a config and a checkpoint's tensors (consumed). Fails naming the tensor on a missing,
  // unexpected or mis-shaped one. `source` names the checkpoint in messages.
  Model(const ModelConfig& cfg, TensorMap tensors, const std::string& source, const ModelOptions& opt = {});
  static std::unique_ptr<Model> from_bundle(ModelBundle& bundle, const std::string& source,
                                            const ModelOptions& opt = {});

  // input_ids, attention_mask: int64 (B, T); token_type_ids: int64 (B, T) or undefined (zeros).
  ModelOutputs forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids);

  // ---- Training ----
  // Moves every parameter into one arena (values + zeroed grads) and returns it; idempotent.
  ParamArena& pack();
  ParamArena& arena() { return arena_; }
  void zero_grad();
  // Freezing: `frozen_layers` = k freezes the embeddings and encoder layers 0..k-1; k < 0 freezes the
  // whole encoder (head-only training; the pooler counts as head). Frozen parameters get no gradient.
  void freeze(int64_t frozen_layers);
  bool is_trainable(const Param* p) const;
  // Forward that keeps, per layer, what backward needs; dropout as given.
  ModelOutputs forward_train(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids,
                             const Dropout& dropout = {});
  // Backward of the last forward_train: accumulates (+=) d loss / d parameter into the arena's grads.
  // d_logits: (B, num_labels) for a model with a head; d_last_hidden: (B, T, C); d_pooler: (B, C) for a
  // model with a pooler. Any may be null.
  void backward(const float* d_logits, const float* d_last_hidden, const float* d_pooler = nullptr);

  const ModelConfig& config() const { return cfg_; }
  ParamStore& params() { return ps_; }
  bool has_pooler() const { return pooler_.w != nullptr; }
  bool has_head() const { return cfg_.head == HeadKind::SequenceClassification; }
  // The name a parameter has in the checkpoint the model was built from: a bare encoder checkpoint
  // (BertModel.save_pretrained) has no "bert." prefix; tern's parameters always carry it.
  std::string checkpoint_name(const std::string& param_name) const;
  // Tensors of the checkpoint that were skipped (an unused MLM head) and parameters that were initialised.
  const std::vector<std::string>& skipped() const { return ps_.skipped(); }
  const std::vector<std::string>& initialised() const { return ps_.initialised(); }
  // Floating-point operations of one forward on (B, T) tokens (multiply-add = 2).
  double flops(int64_t B, int64_t T) const;

 private:
  // out = word[ids] + type[tti] + pos[pos_ids], then LayerNorm in place when `normalise`.
  void embed(const int64_t* ids, const int64_t* mask, const int64_t* tti, int64_t B, int64_t T, float* out,
             bool normalise = true);

  ModelConfig cfg_;
  bool bare_names_ = false;  // the checkpoint named the encoder's tensors without cfg_.prefix
  ParamStore ps_;
  Param* word_ = nullptr;
  Param* pos_ = nullptr;
  Param* type_ = nullptr;
  LayerNormP emb_ln_;
  std::vector<EncoderLayer> layers_;
  Linear pooler_;      // BERT / RoBERTa pooler (dense + tanh on the first token)
  Linear cls_dense_;   // RoBERTa classifier.dense / DistilBERT pre_classifier
  Linear cls_out_;     // BERT classifier / RoBERTa classifier.out_proj / DistilBERT classifier

  // Workspace, reused across calls.
  Buffer x0_, x1_, mask_add_, first_, pooled_, head_hidden_, logits_;
  std::vector<int64_t> pos_ids_;
  LayerCache cache_;

  // Training state.
  LayerDropout layer_dropout(int64_t i) const;
  Dropout drop_;
  int64_t B_ = 0, T_ = 0;
  Tensor ids_, tti_;
  Buffer emb_in_, emb_mean_, emb_rstd_, emb_out_, x0_head_, hh_head_, hd_head_;
  GradScratch gs_;
  Buffer d_first_, d_head_a_, d_head_b_;
  ParamArena arena_;
  Tensor arena_values_, arena_grads_;
  std::vector<LayerCache> train_caches_;
  bool train_ready_ = false;  // forward_train ran, backward may follow
};

}  // namespace tern
