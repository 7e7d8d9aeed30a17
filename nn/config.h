// Model configuration read from a Hugging Face config.json (BERT, RoBERTa, DistilBERT families).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/kernels.h"

namespace tern {

enum class Arch : uint8_t { Bert, Roberta, DistilBert };
// What sits on top of the encoder.
enum class HeadKind : uint8_t { None, SequenceClassification };
enum class ProblemType : uint8_t { Unspecified, SingleLabel, MultiLabel, Regression };

const char* problem_type_name(ProblemType p);              // HF spelling: "single_label_classification", ...
ProblemType problem_type_from_name(const std::string& s);  // also accepts single|multi|regression

struct ModelConfig {
  Arch arch = Arch::Bert;
  std::string model_type;    // "bert", "roberta", "distilbert", ...
  std::string architecture;  // architectures[0], e.g. "BertForSequenceClassification"
  std::string prefix;        // parameter-name prefix of the encoder: "bert", "roberta", "distilbert"
  HeadKind head = HeadKind::None;
  bool pooler =
      false;  // the architecture has a pooler (BertModel, BertForSequenceClassification, RobertaModel)
  bool mlm_head = false;  // a masked-LM checkpoint: its head tensors are skipped

  int64_t vocab_size = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0;
  int64_t max_positions = 0, type_vocab_size = 0, pad_token_id = 0;
  float layer_norm_eps = 1e-12f;
  Act act = Act::GeluErf;
  bool sinusoidal_positions = false;  // DistilBERT sinusoidal_pos_embds

  // Training defaults (HF: hidden_dropout_prob, attention_probs_dropout_prob, classifier_dropout or
  // hidden_dropout_prob; DistilBERT: dropout, attention_dropout, seq_classif_dropout) and init std.
  float hidden_dropout = 0.1f, attention_dropout = 0.1f, classifier_dropout = 0.1f;
  float initializer_range = 0.02f;

  int64_t num_labels = 0;
  std::vector<std::string> labels;  // id2label in id order
  ProblemType problem_type = ProblemType::Unspecified;

  int64_t head_dim() const { return hidden / heads; }
};

// Parses and validates; `source` names the file in error messages. An unsupported value of a key that
// changes the computation (hidden_act, position_embedding_type, is_decoder, ...) is an error naming it.
ModelConfig parse_config(const std::string& json_text, const std::string& source);

// Returns config.json text with the head fields set (architectures, id2label/label2id, num_labels,
// problem_type), keeping every other key as it was. Used when training puts a new head on an encoder.
std::string config_with_head(const std::string& json_text, const std::string& architecture,
                             const std::vector<std::string>& labels, ProblemType problem_type);

}  // namespace tern
