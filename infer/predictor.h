// Batched prediction: a loaded model for inference (weights, config, tokenizer, label scheme, shared
// read-only by every worker) and a per-worker Predictor that tokenises texts, batches them by length and
// returns logits / probabilities / embeddings in input order. The JSON / CSV rows of `tern infer` and the
// Python module's dicts are made here, once.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infer/batching.h"
#include "tensor/packed_weight.h"

namespace tern::tok {
class Tokenizer;
}

namespace tern::infer {

enum class OutputKind { Single, Multi, Regression, Encoder };  // Encoder: no head (embeddings only)
enum class Pool { None, Cls, Mean };
Pool pool_from_name(const std::string& s);  // cls | mean
const char* output_kind_name(OutputKind k);

struct ModelInfo {
  std::string name;  // metadata "name", else the file name without .h5
  std::string path;  // the file it was loaded from
  OutputKind kind = OutputKind::Single;
  std::vector<std::string> labels;  // class (or target) names in logit order
  bool normalize_tweets = false;    // what the model was trained with (metadata)
  int64_t max_length = 128;         // tokens per text incl. special tokens (trained length, else positions)
  int64_t hidden = 0;
  // Multi-label: a label is on when its probability >= its threshold: the per-class thresholds tuned on
  // validation that `tern topics train` stored (metadata topic_thresholds.per_class), else 0.5 each.
  std::vector<float> thresholds;
  std::map<std::string, std::string> metadata;
};

// Where shipped models are looked up by short name, in order: $TERN_MODEL_PATH (':'-separated folders),
// the source tree's weights/models (a build-tree binary), <prefix>/share/tern/models (installed).
std::vector<std::string> model_search_path();
// The shipped default model's short name ("sentiment").
const char* default_model_name();
// A path to a .h5 file, or a shipped model's short name -> the file's path; throws listing what exists.
std::string resolve_model(const std::string& name_or_path);
// Shipped models found on the search path: short name -> path.
std::map<std::string, std::string> shipped_models();

class InferModel {
 public:
  struct Options {
    std::optional<bool> normalize_tweets;  // default: what the model was trained with
    std::optional<int64_t> max_length;     // default: ModelInfo::max_length
    // Encoder GEMMs in fp32, bf16 or int8 (weights prepared at load; fails on a CPU without the
    // instructions). The head and every normalisation stay fp32. Default: int8 for a model file with
    // int8-stored weights (tern convert --quantize int8; it runs in nothing else), else fp32.
    std::optional<Precision> precision;
  };
  // Loads a tern model file or a shipped model's short name (resolve_model). Throws tern::Error naming
  // the file on a bad model.
  static std::shared_ptr<const InferModel> load(const std::string& name_or_path, const Options& opt);
  static std::shared_ptr<const InferModel> load(const std::string& name_or_path);
  // A multi-task model file (nn/multi_head.h: one encoder, heads listed in its metadata "heads") as one
  // InferModel per head, named after the head and sharing the weights: a Predictor runs the encoder once
  // per batch for all of them. Any other model: {load()}. (infer/multi_head_infer.cpp)
  static std::vector<std::shared_ptr<const InferModel>> load_heads(const std::string& name_or_path,
                                                                   const Options& opt);
  static std::vector<std::shared_ptr<const InferModel>> load_heads(const std::string& name_or_path) {
    return load_heads(name_or_path, Options());
  }
  ~InferModel();

  const ModelInfo& info() const { return info_; }
  const tok::Tokenizer& tokenizer() const { return *tok_; }
  // Models with the same key tokenise the same way (same tokenizer files, normalisation and length).
  const std::string& tokenizer_key() const { return tok_key_; }
  int32_t pad_id() const;
  struct Weights;  // the loaded weights and config (nn/), shared by every Predictor

 private:
  InferModel() = default;
  ModelInfo info_;
  std::shared_ptr<const tok::Tokenizer> tok_;
  std::string tok_key_;
  std::shared_ptr<const Weights> weights_;
  std::vector<double> scale_center_, scale_scale_;  // regression target scaling (inverse applied)
  int scale_kind_ = 0;                              // 0 none, 1 log1p, 2 robust
  int64_t head_ = -1;  // load_heads(): index into LoadedModel::heads(); -1: the config's own head
  friend class Predictor;
};

// Outputs of one model for N texts, in input order.
struct ModelResult {
  std::vector<float> logits;      // (N, L) raw head outputs (regression: after inverse target scaling)
  std::vector<float> embeddings;  // (N, C) when a pool was asked for
};

struct PredictOptions {
  int64_t batch_size = 32;
  // A batch also ends before its real tokens pass this many (a longer text still makes its own batch);
  // 0: rows only. Batches of length-sorted tweets vary from a few hundred tokens to a few thousand; a
  // cap keeps a batch's activations in the core's L2 cache (docs/results.md, issue 13: batch token cap).
  int64_t batch_tokens = 256;
  Pool pool = Pool::None;    // embeddings of every model
  int tokenize_threads = 0;  // 0: tern's thread count
  // Batches run in parallel, one per worker thread (each single-threaded: no synchronisation inside a
  // batch), instead of one batch at a time on all threads. 0: tern's thread count; 1: one batch at a time
  // with the kernels' own threads.
  int workers = 0;
};

// Owns the reusable buffers of a runner per model and worker. Not thread-safe; make one per thread (the
// InferModels are shared). Batches are packed (no padding) and length-sorted; with several workers each
// thread runs whole batches.
class Predictor {
 public:
  Predictor(std::vector<std::shared_ptr<const InferModel>> models, const PredictOptions& opt = {});
  ~Predictor();
  const std::vector<std::shared_ptr<const InferModel>>& models() const { return models_; }

  // Tokenises once per distinct tokenizer: result[g] for tokenizer group g (group_of(model)).
  std::vector<Encoded> encode(const std::vector<std::string>& texts) const;
  size_t group_of(size_t model) const { return group_[model]; }
  // Runs every model on encoded texts (length-sorted batches; results in input order).
  std::vector<ModelResult> run(const std::vector<Encoded>& enc);
  // encode + run.
  std::vector<ModelResult> predict(const std::vector<std::string>& texts);

 private:
  std::vector<std::shared_ptr<const InferModel>> models_;
  std::vector<size_t> group_;        // model -> tokenizer group
  std::vector<size_t> group_model_;  // group -> first model using it
  PredictOptions opt_;
  struct Runners;
  std::unique_ptr<Runners> runners_;
};

// ---- Rows (the output of tern infer and of the Python module) ----

// Probabilities of one row's logits: softmax (single-label), sigmoid (multi-label), none (regression).
std::vector<float> probabilities(const ModelInfo& m, const float* logits);

// Appends the members of one model's prediction for one row to a JSON object being written, without the
// braces: "label":"positive","probs":{...}[,"logits":[...]]. Floats print in their shortest round-trip
// form.
void append_prediction_json(std::string& out, const ModelInfo& m, const float* logits, bool with_logits);
// CSV columns of one model (prefix "" for a single model, else "NAME."), and one row's cells.
std::vector<std::string> prediction_csv_columns(const ModelInfo& m, bool with_logits,
                                                const std::string& prefix);
void append_prediction_csv(std::string& out, const ModelInfo& m, const float* logits, bool with_logits);

// Shortest text that reads back as the same float32.
void append_float(std::string& out, float v);
// A JSON string literal (quotes and escapes), and a CSV cell (quoted when needed).
void append_json_string(std::string& out, const std::string& s);
void append_csv_cell(std::string& out, const std::string& s);

}  // namespace tern::infer
