// Encoder models and their sequence-classification heads, as Hugging Face builds them:
//   BertModel / BertForSequenceClassification       (transformers/models/bert/modeling_bert.py)
//   RobertaModel / RobertaForSequenceClassification (transformers/models/roberta/modeling_roberta.py)
//   DistilBertModel / DistilBertForSequenceClassification
//   (transformers/models/distilbert/modeling_distilbert.py)
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/heads.h"
#include "nn/layers.h"
#include "nn/param.h"
#include "weights/model_file.h"

namespace tern {

struct ModelOutputs {
  // Views into the runner's (or Model's) workspace, reused across calls so that no fresh memory is touched
  // per batch: valid until the next forward of the same runner (Model: the next forward() resp.
  // forward_train()); clone() to keep them.
  Tensor last_hidden_state;         // (B, T, C)
  Tensor pooler_output;             // (B, C), when the model has a pooler
  Tensor logits;                    // (B, num_labels) of the first head, when the model has a head
  std::vector<Tensor> head_logits;  // (B, num_outputs of head k) per head, in LoadedModel::heads() order
};

// A packed variable-length batch (inference): B sequences back to back, no padding. Every token-wise op
// runs on the N = offsets[B] real tokens; attention runs per sequence.
struct PackedInput {
  const int64_t* ids = nullptr;      // (N) token ids
  const int64_t* offsets = nullptr;  // (B + 1) sequence b = rows [offsets[b], offsets[b+1]), offsets[0] = 0
  const int64_t* token_type_ids = nullptr;  // (N), or null: zeros
  int64_t B = 0;
  // Only the first token's final hidden state is read (the pooler, the heads, CLS pooling): the last layer
  // computes it alone (K and V for every token, the rest for B rows), and last_hidden_state is (B, C).
  bool first_token_only = false;
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

// An extra head of a multi-task model (the config's own head is "classifier"): its parameters are named
// after it (see make_head in nn/heads.h) and initialised when the checkpoint lacks them and
// bind.init_missing allows it.
struct HeadSpec {
  std::string name;
  int64_t num_outputs = 1;  // classes, or regression targets
  ProblemType problem_type = ProblemType::Unspecified;
};

struct ModelOptions {
  BindOptions bind;           // init_missing: create a head / pooler the checkpoint lacks (training)
  bool force_head = false;    // put a sequence-classification head on an encoder checkpoint
  bool force_pooler = false;  // BERT: have a pooler even when the checkpoint has none (it is initialised)
  std::vector<HeadSpec> extra_heads;  // more heads on the same encoder, after the config's own
  // Inference precision of the encoder layers' weight GEMMs (EncoderLayer::set_precision): bf16 / int8
  // prepare the weights at load and fail here when the CPU lacks the instructions. The embeddings,
  // LayerNorm, softmax, pooler and heads stay fp32. Training needs fp32. A checkpoint with int8-stored
  // encoder weights (tern convert --quantize int8) needs I8 here (an error naming it otherwise).
  Precision precision = Precision::F32;
  // Inference only: prepare the encoder layers' weights for their GEMMs at load in every precision (fp32
  // too: tern's prepacked kernel) and free the parameters' own copies; a float16-stored word-embedding
  // table stays float16 (peak memory). Such a model cannot be trained.
  bool prepare_inference = false;
};

// The seed of a training step's dropout masks (each mask adds its own stream).
uint64_t dropout_seed(const Dropout& d);

// Everything one forward writes, reused across calls (fresh memory is slow to touch). A ModelRunner owns
// one for inference; Model (training) owns one for its training forward, which also keeps there what
// backward needs. Views returned by a forward point into it.
struct Workspace {
  Buffer x0, x1;                 // (B, T, C) hidden states, ping-pong between layers (inference)
  Buffer mask_add;               // (B, T) additive key mask
  std::vector<int64_t> pos_ids;  // (B, T) position ids
  Buffer first, pooled;          // (B, C) first token's hidden state, pooler output
  LayerCache layer;              // one layer's scratch, shared by all layers (inference)
  std::vector<HeadCache> heads;  // per head (its logits (B, L) included)
  // Training: what backward needs.
  bool train = false;  // the last forward was a training forward
  Dropout drop;
  int64_t B = 0, T = 0;
  Tensor ids, tti;                             // int64 (B, T) copies of the inputs
  Buffer emb_in, emb_mean, emb_rstd, emb_out;  // (B*T, C), (B*T), (B*T), (B*T, C): embedding LayerNorm
  std::vector<LayerCache> layers;              // per layer
  GradScratch gs;
  Buffer d_first, d_pooled, d_head;  // (B, C) gradient scratch
};

// ---- Weights vs workspace ----
// LoadedModel: the immutable part of a model: config, weights (ParamStore), the layers and heads that
//   address them, plus what a deployment needs next to them (tokenizer files, metadata of the model file).
//   Build it once and share it read-only, as std::shared_ptr<const LoadedModel>, between any number of
//   workers: nothing in a const LoadedModel changes during a forward.
// ModelRunner: one worker's view of a LoadedModel: owns the reusable buffers (Workspace) and returns
//   outputs that are views into them, valid until its next forward. One runner per thread; two runners on
//   the same LoadedModel may run at the same time and give the same bits as one.
// Model: the training API (train/, bench/): a LoadedModel it may change (the parameter arena, freezing,
//   gradients) plus a workspace for inference and one for the training forward / backward.
//
//   auto lm = tern::load_model_shared("model.h5");          // or LoadedModel::from_bundle(bundle, source)
//   tern::ModelRunner r(lm);
//   tern::ModelOutputs out = r.forward(ids, mask, tti);     // out.last_hidden_state (B, T, C), out.logits
class LoadedModel {
 public:
  // Builds from a config and a checkpoint's tensors (consumed). Fails naming the tensor on a missing,
  // unexpected or mis-shaped one. `source` names the checkpoint in messages.
  LoadedModel(const ModelConfig& cfg, TensorMap tensors, const std::string& source,
              const ModelOptions& opt = {});
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;
  // The bundle's tensors are consumed; its tokenizer files and metadata are kept (tokenizer_files(),
  // metadata()).
  static std::shared_ptr<const LoadedModel> from_bundle(ModelBundle& bundle, const std::string& source,
                                                        const ModelOptions& opt = {});

  // The one forward of the engine, inference and training alike. input_ids, attention_mask: int64 (B, T);
  // token_type_ids: int64 (B, T) or undefined (zeros). train non-null: apply that dropout and keep in `ws`
  // what backward needs (only Model trains: its backward changes the parameters' gradients).
  ModelOutputs forward(Workspace& ws, const Tensor& input_ids, const Tensor& attention_mask,
                       const Tensor& token_type_ids, const Dropout* train = nullptr) const;

  // Inference on a packed batch: last_hidden_state is (N, C) (row offsets[b] is sequence b's first token;
  // (B, C), row b, with in.first_token_only and prepared weights);
  // pooler_output, logits and head_logits are (B, ...) as for forward(). Same values as forward() on the
  // padded batch, up to float rounding.
  ModelOutputs forward_packed(Workspace& ws, const PackedInput& in) const;

  const ModelConfig& config() const { return cfg_; }
  const std::string& source() const { return source_; }
  const std::vector<std::string>& labels() const { return cfg_.labels; }  // id2label in id order
  Precision precision() const { return precision_; }
  bool prepared() const { return prepared_; }  // encoder weights prepared for inference (ModelOptions)
  bool has_pooler() const { return pooler_ != nullptr; }
  bool has_head() const { return !heads_.empty(); }
  // Heads in order: [0] is the config's own ("classifier"), then ModelOptions::extra_heads.
  const std::vector<std::unique_ptr<Head>>& heads() const { return heads_; }
  int64_t head_index(const std::string& name) const;  // -1 when absent
  const ParamStore& params() const { return ps_; }
  // Tokenizer files and metadata of the bundle it was built from (empty when built from tensors).
  const std::map<std::string, std::string>& tokenizer_files() const { return tokenizer_files_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The name a parameter has in the checkpoint the model was built from: a bare encoder checkpoint
  // (BertModel.save_pretrained) has no "bert." prefix; tern's parameters always carry it.
  std::string checkpoint_name(const std::string& param_name) const;
  // Tensors of the checkpoint that were skipped (an unused MLM head) and parameters that were initialised.
  const std::vector<std::string>& skipped() const { return ps_.skipped(); }
  const std::vector<std::string>& initialised() const { return ps_.initialised(); }
  // Floating-point operations of one forward on (B, T) tokens (multiply-add = 2).
  double flops(int64_t B, int64_t T) const;

 private:
  friend class Model;  // training changes the parameters (arena, freezing, gradients)
  void prepare_layers(int64_t i0, int64_t i1, Precision p, bool release);
  // out (B*T, C) = word[ids] + type[tti] + pos[pos_ids], position ids into ws.pos_ids (no LayerNorm).
  void embed(Workspace& ws, const int64_t* ids, const int64_t* tti, int64_t B, int64_t T, float* out) const;
  void embed_rows(const int64_t* ids, const int64_t* tti, int64_t N, const int64_t* pos_ids,
                  float* out) const;
  // The pooler and the heads on ws.first (B, C); fills out's pooler_output, logits, head_logits.
  void pool_and_heads(Workspace& ws, int64_t B, const Dropout* train, ModelOutputs& out) const;
  LayerDropout layer_dropout(const Dropout& d, int64_t i) const;
  HeadDropout head_dropout(const Dropout& d, size_t k) const;
  // Backward of the training forward that filled `ws`; d_logits: one per head (null: no gradient).
  void backward(Workspace& ws, const std::vector<const float*>& d_logits, const float* d_last_hidden,
                const float* d_pooler);

  ModelConfig cfg_;
  std::string source_;
  bool bare_names_ = false;  // the checkpoint named the encoder's tensors without cfg_.prefix
  Precision precision_ = Precision::F32;
  bool prepared_ = false;
  ParamStore ps_;
  Param* word_ = nullptr;
  // Inference-only model (ModelOptions::prepare_inference) from a float16-stored table: the word embeddings
  // stay float16 here (word_ has no float value); rows are converted as they are gathered (same bits).
  Tensor word_f16_;
  Param* pos_ = nullptr;
  Param* type_ = nullptr;
  LayerNormP emb_ln_;
  std::vector<EncoderLayer> layers_;
  std::unique_ptr<Pooler> pooler_;            // BERT / RoBERTa pooler (dense + tanh on the first token)
  std::vector<std::unique_ptr<Head>> heads_;  // sequence-classification / regression heads
  std::map<std::string, std::string> tokenizer_files_, metadata_;
};

// Reads a tern model file (.h5) and builds a shareable LoadedModel from it.
std::shared_ptr<const LoadedModel> load_model_shared(const std::string& path, const LoadOptions& load = {},
                                                     const ModelOptions& opt = {});

// A per-worker runner: see the comment above LoadedModel.
class ModelRunner {
 public:
  explicit ModelRunner(std::shared_ptr<const LoadedModel> model);
  // input_ids, attention_mask: int64 (B, T); token_type_ids: int64 (B, T) or undefined (zeros).
  // The outputs are views into this runner's buffers, valid until its next forward(); clone() to keep them.
  ModelOutputs forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids);
  // A packed variable-length batch (see PackedInput); outputs as LoadedModel::forward_packed.
  ModelOutputs forward_packed(const PackedInput& in);
  // Sizes the buffers forward_packed uses for a batch of up to `tokens` tokens in `B` sequences, exactly
  // (a caller that knows its largest batch ahead, e.g. one length-sorted window, calls it first: the
  // buffers are then allocated once instead of growing batch by batch; peak memory).
  void reserve_packed(int64_t tokens, int64_t B);
  const LoadedModel& model() const { return *model_; }
  const std::shared_ptr<const LoadedModel>& shared_model() const { return model_; }

 private:
  std::shared_ptr<const LoadedModel> model_;
  Workspace ws_;
};

// The training API: a LoadedModel it owns and may change, plus its workspaces. forward() is the same
// inference path as ModelRunner's; forward_train() / backward() add the caches and the gradients.
class Model {
 public:
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
  ModelOutputs forward_train(const Tensor& input_ids, const Tensor& attention_mask,
                             const Tensor& token_type_ids, const Dropout& dropout = {});
  // Backward of the last forward_train: accumulates (+=) d loss / d parameter into the arena's grads.
  // d_logits: (B, num_labels) for a model with a head; d_last_hidden: (B, T, C); d_pooler: (B, C) for a
  // model with a pooler. Any may be null.
  void backward(const float* d_logits, const float* d_last_hidden, const float* d_pooler = nullptr);
  // The same for a multi-task model: d_logits[k] (B, num_outputs of head k) or null, per head.
  void backward_heads(const std::vector<const float*>& d_logits, const float* d_last_hidden,
                      const float* d_pooler = nullptr);

  const ModelConfig& config() const { return lm_->config(); }
  ParamStore& params() { return lm_->ps_; }
  bool has_pooler() const { return lm_->has_pooler(); }
  bool has_head() const { return lm_->has_head(); }
  std::string checkpoint_name(const std::string& param_name) const {
    return lm_->checkpoint_name(param_name);
  }
  const std::vector<std::string>& skipped() const { return lm_->skipped(); }
  const std::vector<std::string>& initialised() const { return lm_->initialised(); }
  double flops(int64_t B, int64_t T) const { return lm_->flops(B, T); }
  // The weights, for runners (inference workers). They share this model's parameters: a training step
  // changes what they compute, so share it once training is done.
  std::shared_ptr<const LoadedModel> loaded() const { return lm_; }

 private:
  std::shared_ptr<LoadedModel> lm_;
  Workspace ws_;        // inference
  Workspace train_ws_;  // training forward + what backward needs
  ParamArena arena_;
  Tensor arena_values_, arena_grads_;
};

}  // namespace tern
