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
  // Fresh tensors (the model's workspace is reused across calls; these are copies out of it).
  Tensor last_hidden_state;  // (B, T, C)
  Tensor pooler_output;      // (B, C), when the model has a pooler
  Tensor logits;             // (B, num_labels), when the model has a head
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

  const ModelConfig& config() const { return cfg_; }
  ParamStore& params() { return ps_; }
  bool has_pooler() const { return pooler_.w != nullptr; }
  bool has_head() const { return cfg_.head == HeadKind::SequenceClassification; }
  // Tensors of the checkpoint that were skipped (an unused MLM head) and parameters that were initialised.
  const std::vector<std::string>& skipped() const { return ps_.skipped(); }
  const std::vector<std::string>& initialised() const { return ps_.initialised(); }
  // Floating-point operations of one forward on (B, T) tokens (multiply-add = 2).
  double flops(int64_t B, int64_t T) const;

 private:
  void embed(const int64_t* ids, const int64_t* mask, const int64_t* tti, int64_t B, int64_t T, float* out);

  ModelConfig cfg_;
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
};

}  // namespace tern
