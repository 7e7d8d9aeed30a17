#include "nn/config.h"

#include <nlohmann/json.hpp>

#include "tensor/check.h"

namespace tern {

using json = nlohmann::json;

const char* problem_type_name(ProblemType p) {
  switch (p) {
    case ProblemType::Unspecified:
      return "unspecified";
    case ProblemType::SingleLabel:
      return "single_label_classification";
    case ProblemType::MultiLabel:
      return "multi_label_classification";
    case ProblemType::Regression:
      return "regression";
  }
  return "?";
}

ProblemType problem_type_from_name(const std::string& s) {
  if (s == "single_label_classification" || s == "single") return ProblemType::SingleLabel;
  if (s == "multi_label_classification" || s == "multi") return ProblemType::MultiLabel;
  if (s == "regression") return ProblemType::Regression;
  TERN_FAIL("unsupported problem_type '"
            << s
            << "' (expected single_label_classification, multi_label_classification "
               "or regression)");
}

namespace {

// Integer key with a default; checks range so absurd sizes never reach an allocation.
int64_t get_int(const json& j, const std::string& key, int64_t dflt, int64_t lo, int64_t hi,
                const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  const json& v = j[key];
  TERN_CHECK(v.is_number_integer(),
             src << ": config key '" << key << "' must be an integer, got " << v.dump());
  int64_t x = v.get<int64_t>();
  TERN_CHECK(x >= lo && x <= hi,
             src << ": config key '" << key << "' = " << x << " out of range [" << lo << ", " << hi << "]");
  return x;
}

double get_num(const json& j, const std::string& key, double dflt, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  TERN_CHECK(j[key].is_number(),
             src << ": config key '" << key << "' must be a number, got " << j[key].dump());
  return j[key].get<double>();
}

std::string get_str(const json& j, const std::string& key, const std::string& dflt, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  TERN_CHECK(j[key].is_string(),
             src << ": config key '" << key << "' must be a string, got " << j[key].dump());
  return j[key].get<std::string>();
}

bool get_bool(const json& j, const std::string& key, bool dflt, const std::string& src) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  TERN_CHECK(j[key].is_boolean(),
             src << ": config key '" << key << "' must be true or false, got " << j[key].dump());
  return j[key].get<bool>();
}

}  // namespace

ModelConfig parse_config(const std::string& text, const std::string& src) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    TERN_FAIL(src << ": config is not valid JSON: " << e.what());
  }
  TERN_CHECK(j.is_object(), src << ": config must be a JSON object");
  ModelConfig c;
  c.model_type = get_str(j, "model_type", "", src);
  TERN_CHECK(!c.model_type.empty(), src << ": config has no 'model_type'");
  const int64_t kMaxDim = 1 << 16, kMaxVocab = 1 << 24;

  if (c.model_type == "bert" || c.model_type == "roberta" || c.model_type == "xlm-roberta" ||
      c.model_type == "camembert") {
    const bool roberta = c.model_type != "bert";
    c.arch = roberta ? Arch::Roberta : Arch::Bert;
    c.prefix = roberta ? "roberta" : "bert";
    c.vocab_size = get_int(j, "vocab_size", roberta ? 50265 : 30522, 1, kMaxVocab, src);
    c.hidden = get_int(j, "hidden_size", 768, 1, kMaxDim, src);
    c.layers = get_int(j, "num_hidden_layers", 12, 0, 1024, src);
    c.heads = get_int(j, "num_attention_heads", 12, 1, kMaxDim, src);
    c.intermediate = get_int(j, "intermediate_size", 3072, 1, 1 << 20, src);
    c.max_positions = get_int(j, "max_position_embeddings", 512, 1, 1 << 20, src);
    c.type_vocab_size = get_int(j, "type_vocab_size", 2, 0, 1 << 16, src);
    c.pad_token_id = get_int(j, "pad_token_id", roberta ? 1 : 0, 0, c.vocab_size - 1, src);
    c.layer_norm_eps = static_cast<float>(get_num(j, "layer_norm_eps", 1e-12, src));
    const json& ha = j.contains("hidden_act") ? j["hidden_act"] : json("gelu");
    TERN_CHECK(ha.is_string(), src << ": config key 'hidden_act' must be a string, got " << ha.dump());
    try {
      c.act = act_from_name(ha.get<std::string>());
    } catch (const Error& e) {
      TERN_FAIL(src << ": config key 'hidden_act': " << e.what());
    }
    c.hidden_dropout = static_cast<float>(get_num(j, "hidden_dropout_prob", 0.1, src));
    c.attention_dropout = static_cast<float>(get_num(j, "attention_probs_dropout_prob", 0.1, src));
    c.classifier_dropout = static_cast<float>(get_num(j, "classifier_dropout", c.hidden_dropout, src));
    const std::string pet = get_str(j, "position_embedding_type", "absolute", src);
    TERN_CHECK(pet == "absolute", src << ": config key 'position_embedding_type' = '" << pet
                                      << "' is not supported (only 'absolute')");
    TERN_CHECK(!get_bool(j, "is_decoder", false, src),
               src << ": config key 'is_decoder' = true is not supported");
    TERN_CHECK(!get_bool(j, "add_cross_attention", false, src),
               src << ": config key 'add_cross_attention' = true is not supported");
  } else if (c.model_type == "distilbert") {
    c.arch = Arch::DistilBert;
    c.prefix = "distilbert";
    c.vocab_size = get_int(j, "vocab_size", 30522, 1, kMaxVocab, src);
    c.hidden = get_int(j, "dim", 768, 1, kMaxDim, src);
    c.layers = get_int(j, "n_layers", 6, 0, 1024, src);
    c.heads = get_int(j, "n_heads", 12, 1, kMaxDim, src);
    c.intermediate = get_int(j, "hidden_dim", 3072, 1, 1 << 20, src);
    c.max_positions = get_int(j, "max_position_embeddings", 512, 1, 1 << 20, src);
    c.type_vocab_size = 0;
    c.pad_token_id = get_int(j, "pad_token_id", 0, 0, c.vocab_size - 1, src);
    c.layer_norm_eps = 1e-12f;  // fixed in modeling_distilbert.py
    // modeling_distilbert.py FFN: get_activation(config.activation), any ACT2FN name.
    const std::string a = get_str(j, "activation", "gelu", src);
    try {
      c.act = act_from_name(a);
    } catch (const Error& e) {
      TERN_FAIL(src << ": config key 'activation': " << e.what());
    }
    c.sinusoidal_positions = get_bool(j, "sinusoidal_pos_embds", false, src);
    c.hidden_dropout = static_cast<float>(get_num(j, "dropout", 0.1, src));
    c.attention_dropout = static_cast<float>(get_num(j, "attention_dropout", 0.1, src));
    c.classifier_dropout = static_cast<float>(get_num(j, "seq_classif_dropout", 0.2, src));
  } else {
    TERN_FAIL(src << ": config key 'model_type' = '" << c.model_type
                  << "' is not supported (bert, roberta, xlm-roberta, camembert, distilbert)");
  }
  TERN_CHECK(c.hidden % c.heads == 0, src << ": hidden size " << c.hidden << " is not a multiple of the "
                                          << c.heads << " attention heads");
  c.initializer_range = static_cast<float>(get_num(j, "initializer_range", 0.02, src));
  // Each size is in range; their products must be too, before anything is allocated from them.
  const double params =
      static_cast<double>(c.vocab_size + c.max_positions + c.type_vocab_size) * c.hidden +
      static_cast<double>(c.layers) * (4.0 * c.hidden * c.hidden + 2.0 * c.hidden * c.intermediate);
  TERN_CHECK(params <= 4e9, src << ": the config describes a model of " << params / 1e9
                                << " billion parameters (vocab_size x hidden_size, layers x sizes): "
                                   "refusing (at most 4 billion)");
  for (float p : {c.hidden_dropout, c.attention_dropout, c.classifier_dropout})
    TERN_CHECK(p >= 0.f && p < 1.f, src << ": a dropout probability of " << p << " is out of range [0, 1)");
  TERN_CHECK(c.layer_norm_eps > 0.f && c.layer_norm_eps < 1.f,
             src << ": config key 'layer_norm_eps' = " << c.layer_norm_eps << " out of range");

  // Architecture -> head. The masked-LM head is not part of tern's models: its tensors are skipped.
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty()) {
    TERN_CHECK(j["architectures"][0].is_string(), src << ": config key 'architectures' must hold strings");
    c.architecture = j["architectures"][0].get<std::string>();
  }
  const std::string& a = c.architecture;
  auto ends_with = [&](const std::string& s) {
    return a.size() >= s.size() && a.compare(a.size() - s.size(), s.size(), s) == 0;
  };
  if (a.empty() || ends_with("Model")) {
    c.head = HeadKind::None;
    c.pooler = c.arch != Arch::DistilBert;
  } else if (ends_with("ForSequenceClassification")) {
    c.head = HeadKind::SequenceClassification;
    c.pooler = c.arch == Arch::Bert;
  } else if (ends_with("ForMaskedLM") || ends_with("ForPreTraining")) {
    c.head = HeadKind::None;
    c.pooler = false;
    c.mlm_head = true;
  } else {
    TERN_FAIL(src << ": config key 'architectures' = '" << a
                  << "' is not supported (*Model, *ForSequenceClassification, *ForMaskedLM)");
  }

  // Labels: id2label wins, then num_labels, then HF's default of 2.
  if (j.contains("id2label") && j["id2label"].is_object() && !j["id2label"].empty()) {
    const json& m = j["id2label"];
    c.labels.assign(m.size(), "");
    for (auto it = m.begin(); it != m.end(); ++it) {
      size_t pos = 0;
      long id = -1;
      try {
        id = std::stol(it.key(), &pos);
      } catch (...) {
      }
      TERN_CHECK(pos == it.key().size() && id >= 0 && static_cast<size_t>(id) < m.size(),
                 src << ": config id2label key '" << it.key() << "' is not an id in [0, " << m.size() << ")");
      TERN_CHECK(it.value().is_string(), src << ": config id2label[" << it.key() << "] must be a string");
      c.labels[id] = it.value().get<std::string>();
    }
    c.num_labels = static_cast<int64_t>(c.labels.size());
  } else {
    c.num_labels = get_int(j, "num_labels", 2, 1, 1 << 16, src);
    for (int64_t i = 0; i < c.num_labels; ++i) c.labels.push_back("LABEL_" + std::to_string(i));
  }
  const std::string pt = get_str(j, "problem_type", "", src);
  if (!pt.empty()) {
    try {
      c.problem_type = problem_type_from_name(pt);
    } catch (const Error& e) {
      TERN_FAIL(src << ": config key 'problem_type': " << e.what());
    }
  }
  return c;
}

std::string config_with_head(const std::string& text, const std::string& architecture,
                             const std::vector<std::string>& labels, ProblemType problem_type) {
  json j = json::parse(text);
  j["architectures"] = json::array({architecture});
  json id2label = json::object(), label2id = json::object();
  for (size_t i = 0; i < labels.size(); ++i) {
    id2label[std::to_string(i)] = labels[i];
    label2id[labels[i]] = i;
  }
  j["id2label"] = id2label;
  j["label2id"] = label2id;
  j.erase("num_labels");
  if (problem_type != ProblemType::Unspecified) j["problem_type"] = problem_type_name(problem_type);
  return j.dump(2);
}

}  // namespace tern
