// config.json parsing and parameter binding errors.
#include <gtest/gtest.h>

#include <string>

#include "nn/model.h"

using namespace tern;

namespace {

const std::string kBert = R"({"model_type": "bert", "architectures": ["BertForSequenceClassification"],
  "vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
  "max_position_embeddings": 16, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
  "id2label": {"0": "neg", "1": "neu", "2": "pos"}, "problem_type": "single_label_classification"})";

std::string with(const std::string& base, const std::string& key, const std::string& value) {
  // Replace or add a top-level key (test configs are flat).
  std::string s = base;
  const std::string k = "\"" + key + "\":";
  size_t p = s.find(k);
  if (p == std::string::npos) return s.substr(0, s.size() - 1) + ", " + k + " " + value + "}";
  size_t e = s.find_first_of(",}", s.find_first_not_of(' ', p + k.size()) + 1);
  if (s[s.find_first_not_of(' ', p + k.size())] == '{') e = s.find('}', p) + 1;
  return s.substr(0, p) + k + " " + value + s.substr(e);
}

std::string error_of(const std::string& json) {
  try {
    parse_config(json, "test.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, ParsesBertClassifier) {
  ModelConfig c = parse_config(kBert, "test.json");
  EXPECT_EQ(c.arch, Arch::Bert);
  EXPECT_EQ(c.head, HeadKind::SequenceClassification);
  EXPECT_TRUE(c.pooler);
  EXPECT_EQ(c.num_labels, 3);
  EXPECT_EQ(c.labels[2], "pos");
  EXPECT_EQ(c.head_dim(), 4);
  EXPECT_EQ(c.problem_type, ProblemType::SingleLabel);
}

TEST(Config, UnsupportedValuesNameTheKey) {
  EXPECT_NE(error_of(with(kBert, "hidden_act", "\"swiglu\"")).find("hidden_act"), std::string::npos);
  EXPECT_NE(
      error_of(with(kBert, "position_embedding_type", "\"relative_key\"")).find("position_embedding_type"),
      std::string::npos);
  EXPECT_NE(error_of(with(kBert, "model_type", "\"gpt2\"")).find("model_type"), std::string::npos);
  EXPECT_NE(error_of(with(kBert, "is_decoder", "true")).find("is_decoder"), std::string::npos);
  EXPECT_NE(error_of(with(kBert, "architectures", "[\"BertForQuestionAnswering\"]")).find("architectures"),
            std::string::npos);
  EXPECT_NE(error_of(with(kBert, "problem_type", "\"ranking\"")).find("problem_type"), std::string::npos);
}

TEST(Config, AbsurdSizesAreRejectedBeforeAllocation) {
  EXPECT_NE(error_of(with(kBert, "hidden_size", "-8")).find("hidden_size"), std::string::npos);
  EXPECT_NE(error_of(with(kBert, "vocab_size", "100000000000")).find("vocab_size"), std::string::npos);
  EXPECT_NE(error_of(with(kBert, "num_attention_heads", "3")).find("multiple"), std::string::npos);
  EXPECT_NE(error_of(with(kBert, "hidden_size", "\"big\"")).find("hidden_size"), std::string::npos);
  EXPECT_NE(error_of("{not json").find("not valid JSON"), std::string::npos);
  // Each size in range, the product absurd: 16M x 65536 embeddings.
  EXPECT_NE(error_of(with(with(kBert, "vocab_size", "16000000"), "hidden_size", "65536"))
                .find("billion parameters"),
            std::string::npos);
}

TEST(Config, DistilBertKeys) {
  ModelConfig c =
      parse_config(R"({"model_type": "distilbert", "architectures": ["DistilBertModel"], "dim": 16,
    "n_layers": 2, "n_heads": 4, "hidden_dim": 32, "activation": "relu", "vocab_size": 10})",
                   "d.json");
  EXPECT_EQ(c.arch, Arch::DistilBert);
  EXPECT_EQ(c.hidden, 16);
  EXPECT_EQ(c.act, Act::Relu);
  EXPECT_FALSE(c.pooler);
  EXPECT_EQ(c.prefix, "distilbert");
  // Any HF activation name (modeling_distilbert.py uses get_activation(config.activation)).
  const std::string gelu_new = R"({"model_type": "distilbert", "dim": 16, "n_layers": 1, "n_heads": 4,
    "hidden_dim": 32, "activation": "gelu_new", "vocab_size": 10})";
  EXPECT_EQ(parse_config(gelu_new, "d.json").act, Act::GeluTanh);
  const std::string e = error_of(with(gelu_new, "activation", "\"bogus\""));
  EXPECT_NE(e.find("'activation'"), std::string::npos) << e;
  EXPECT_NE(e.find("bogus"), std::string::npos) << e;
}

namespace {

// A random-weight model of kBert's shape, then its tensors as a checkpoint.
TensorMap checkpoint_of(const std::string& cfg) {
  ModelOptions mo;
  mo.bind.init_everything = true;
  Model m(parse_config(cfg, "c"), {}, "random", mo);
  TensorMap t;
  for (auto& p : m.params().params()) t[p.name] = p.value;
  return t;
}

std::string bind_error(const std::string& cfg, TensorMap t, bool init_missing = false) {
  ModelOptions mo;
  mo.bind.init_missing = init_missing;
  try {
    Model m(parse_config(cfg, "c"), std::move(t), "ckpt.safetensors", mo);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Binding, CompleteCheckpointLoads) {
  EXPECT_EQ(bind_error(kBert, checkpoint_of(kBert)), "");
}

TEST(Binding, MissingTensorIsNamed) {
  TensorMap t = checkpoint_of(kBert);
  t.erase("bert.encoder.layer.0.attention.self.key.bias");
  const std::string e = bind_error(kBert, t);
  EXPECT_NE(e.find("missing tensor bert.encoder.layer.0.attention.self.key.bias (8,)"), std::string::npos)
      << e;
  EXPECT_NE(e.find("ckpt.safetensors"), std::string::npos) << e;
}

TEST(Binding, WrongShapeGivesExpectedAndActual) {
  TensorMap t = checkpoint_of(kBert);
  t["bert.encoder.layer.0.intermediate.dense.weight"] = Tensor::zeros({8, 16});
  const std::string e = bind_error(kBert, t);
  EXPECT_NE(e.find("bert.encoder.layer.0.intermediate.dense.weight has shape (8, 16), expected (16, 8)"),
            std::string::npos)
      << e;
}

TEST(Binding, UnexpectedTensorIsAnError) {
  TensorMap t = checkpoint_of(kBert);
  t["bert.encoder.layer.1.output.dense.weight"] = Tensor::zeros({8, 16});  // a layer the config does not have
  const std::string e = bind_error(kBert, t);
  EXPECT_NE(e.find("unexpected tensor"), std::string::npos) << e;
  EXPECT_NE(e.find("bert.encoder.layer.1.output.dense.weight"), std::string::npos) << e;
}

TEST(Binding, WrongDtypeIsAnError) {
  TensorMap t = checkpoint_of(kBert);
  t["classifier.bias"] = Tensor::zeros({3}, DType::I64);
  EXPECT_NE(bind_error(kBert, t).find("classifier.bias has dtype int64"), std::string::npos);
}

TEST(Binding, MissingHeadIsReportedOrInitialised) {
  TensorMap t = checkpoint_of(kBert);
  t.erase("classifier.weight");
  t.erase("classifier.bias");
  EXPECT_NE(bind_error(kBert, t).find("missing tensor classifier.weight"), std::string::npos);
  ModelOptions mo;
  mo.bind.init_missing = true;
  Model m(parse_config(kBert, "c"), t, "ckpt", mo);
  EXPECT_EQ(m.initialised(), (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
}

TEST(Binding, MaskedLmHeadIsSkipped) {
  const std::string mlm = with(kBert, "architectures", "[\"BertForMaskedLM\"]");
  TensorMap t = checkpoint_of(mlm);
  t["cls.predictions.bias"] = Tensor::zeros({50});
  t["cls.predictions.transform.dense.weight"] = Tensor::zeros({8, 8});
  Model m(parse_config(mlm, "c"), t, "ckpt");
  EXPECT_EQ(m.skipped().size(), 2u);
  EXPECT_FALSE(m.has_pooler());
  EXPECT_FALSE(m.has_head());
}

TEST(Binding, Float16TensorsAreConverted) {
  TensorMap t = checkpoint_of(kBert);
  for (auto& [name, v] : t) v = v.to(DType::F16);
  Model m(parse_config(kBert, "c"), t, "ckpt");
  EXPECT_EQ(m.params().find("classifier.weight")->value.dtype(), DType::F32);
}

TEST(Forward, RobertaPositionsSkipPadding) {
  // RoBERTa positions count non-pad tokens from pad + 1; left padding must therefore not shift them.
  const std::string cfg = R"({"model_type": "roberta", "architectures": ["RobertaModel"], "vocab_size": 30,
    "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
    "max_position_embeddings": 12, "type_vocab_size": 1, "pad_token_id": 1, "layer_norm_eps": 1e-5})";
  ModelOptions mo;
  mo.bind.init_everything = true;
  Model m(parse_config(cfg, "c"), {}, "random", mo);
  int64_t a[4] = {0, 5, 6, 2}, b[6] = {1, 1, 0, 5, 6, 2}, ma[4] = {1, 1, 1, 1}, mb[6] = {0, 0, 1, 1, 1, 1};
  ModelOutputs oa = m.forward(Tensor::from_data(a, {1, 4}), Tensor::from_data(ma, {1, 4}), Tensor());
  oa.last_hidden_state = oa.last_hidden_state.clone();  // outputs are views into the workspace
  ModelOutputs ob = m.forward(Tensor::from_data(b, {1, 6}), Tensor::from_data(mb, {1, 6}), Tensor());
  for (int t = 0; t < 4; ++t)
    for (int c = 0; c < 8; ++c)
      EXPECT_NEAR(oa.last_hidden_state.f32()[t * 8 + c], ob.last_hidden_state.f32()[(t + 2) * 8 + c], 1e-5f);
  // 11 tokens need position 12 = max_position_embeddings: a clear error.
  int64_t long_ids[11], long_mask[11];
  for (int i = 0; i < 11; ++i) long_ids[i] = 5, long_mask[i] = 1;
  EXPECT_THROW(
      m.forward(Tensor::from_data(long_ids, {1, 11}), Tensor::from_data(long_mask, {1, 11}), Tensor()),
      Error);
}
