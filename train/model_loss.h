// A model's training loss as Hugging Face computes it in forward(labels=...), and its gradient into the
// parameter arena: the code path of `tern grad` and of the fixture tests.
#pragma once
#include <string>

#include "nn/model.h"
#include "train/losses.h"

namespace tern::train {

// HF's problem_type resolution (BertForSequenceClassification.forward): the config's problem_type when
// set; else regression when num_labels == 1, single-label when the labels are integers, multi-label
// otherwise.
ProblemType resolve_problem_type(const ModelConfig& cfg, const Tensor& labels);

// The loss HF uses for a problem type: CrossEntropyLoss, BCEWithLogitsLoss, MSELoss (reduction 'mean').
LossKind hf_loss_kind(ProblemType p);

// Labels (B) int or (B, L) float as the float targets loss_forward_backward() takes for `kind`.
std::vector<float> targets_from_labels(const Tensor& labels, LossKind kind, int64_t B, int64_t L);

struct Inputs {
  Tensor input_ids, attention_mask, token_type_ids;  // int64 (B, T); mask / types may be undefined
};

// forward_train (dropout as given) + the loss + backward: accumulates d loss / d parameter into the
// model's arena (pack() it first) and returns the loss. Each loss's gradient is multiplied by `grad_scale`
// (gradient accumulation: 1 / micro-batches). `logits_out`, when given, receives the logits (B, L).
double loss_and_backward(Model& m, const Inputs& in, const std::vector<float>& targets,
                         const LossOptions& loss, const Dropout& dropout = {}, float grad_scale = 1.f,
                         Tensor* logits_out = nullptr);

// The loss of the headless fixture `bert_model` (reference.h5 attribute train/loss_definition):
//   loss = sum(last_hidden_state * attention_mask[..., None] * w1) / sum(attention_mask)
//        + sum(pooler_output * w2) / batch
// w1, w2: (C). d loss / d last_hidden_state and d loss / d pooler_output go to Model::backward.
double projection_loss_and_backward(Model& m, const Inputs& in, const Tensor& w1, const Tensor& w2);

// A batch for `tern grad` / the fixture tests, from an HDF5 file: int64 (B, T) input_ids, attention_mask,
// optional token_type_ids at the root or in the group inputs/; `labels` at the root or in inputs/ (int
// (B) class ids, float (B, L) multi-hot or regression targets); for a model without a head, the
// projection weights w1, w2 of projection_loss_and_backward(): datasets train/synthetic_loss_w1 and
// train/synthetic_loss_w2 (as in the fixtures' reference.h5) or loss_w1 / loss_w2 at the root.
struct GradBatch {
  Inputs in;
  Tensor labels;
  Tensor proj_w1, proj_w2;
};
GradBatch read_grad_batch(const std::string& path);

// The loss of `m` on `b` as HF defines it (the head's loss for its problem type, or the projection loss
// of a headless model), dropout off; gradients accumulate into the arena. Returns the loss.
double model_loss_and_backward(Model& m, const GradBatch& b);

// The Hugging Face name of a parameter: as stored, except that a model without a head (BertModel,
// RobertaModel, DistilBertModel) names its parameters without the "bert." / "roberta." / ... prefix.
std::string hf_param_name(const Model& m, const std::string& name);

// Index of the arena slice of parameter `name` (error when absent).
const ParamSlice& arena_slice(const ParamArena& a, const std::string& name);

}  // namespace tern::train
