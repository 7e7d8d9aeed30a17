// Backward of whole models against Hugging Face's gradients (tests/data/tiny, ../shared/fixtures/real-vocab),
// and a central-finite-difference check of the model backward on random weights.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "nn/model.h"
#include "tests/util/test_util.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"

using namespace tern;
namespace fs = std::filesystem;

namespace {

// The fixture losses (HF: mean over the batch). Returns the loss and writes d loss / d logits.
double fixture_loss(const std::string& problem, const Tensor& logits, const Tensor& labels, std::vector<float>& d) {
  const int64_t B = logits.size(0), L = logits.size(1);
  const float* z = logits.f32();
  d.assign(B * L, 0.f);
  double loss = 0;
  if (problem == "single_label_classification") {
    for (int64_t b = 0; b < B; ++b) {
      double mx = -1e30, s = 0;
      for (int64_t j = 0; j < L; ++j) mx = std::max(mx, static_cast<double>(z[b * L + j]));
      for (int64_t j = 0; j < L; ++j) s += std::exp(z[b * L + j] - mx);
      const int64_t y = labels.i64()[b];
      loss += -(z[b * L + y] - mx - std::log(s));
      for (int64_t j = 0; j < L; ++j) d[b * L + j] = static_cast<float>((std::exp(z[b * L + j] - mx) / s - (j == y)) / B);
    }
    return loss / B;
  }
  if (problem == "multi_label_classification") {
    for (int64_t i = 0; i < B * L; ++i) {
      const double x = z[i], y = labels.f32()[i];
      loss += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
      d[i] = static_cast<float>((1.0 / (1.0 + std::exp(-x)) - y) / (B * L));
    }
    return loss / (B * L);
  }
  // regression (MSE over all elements)
  for (int64_t i = 0; i < B * L; ++i) {
    const double r = z[i] - labels.f32()[i];
    loss += r * r;
    d[i] = static_cast<float>(2 * r / (B * L));
  }
  return loss / (B * L);
}

struct GradReport {
  double loss = 0, want_loss = 0;
  float worst = 0;  // max over tensors of max|diff| / max(1e-5, 1e-3 * max|want|): <= 1 passes
  std::string worst_name;
};

GradReport check_grads(const std::string& dir) {
  ModelBundle b = import_hf(dir);
  auto m = Model::from_bundle(b, dir);
  const std::string ref = dir + "/reference.h5";
  TensorMap in = read_h5_arrays(ref, std::vector<std::string>{"input_ids", "attention_mask"}, "inputs");
  TensorMap tti = read_h5_arrays(ref, std::vector<std::string>{"token_type_ids"}, "inputs", false);
  TensorMap train = read_h5_group(ref, "train");
  TensorMap grads = read_h5_group(ref, "grads");
  m->zero_grad();
  ModelOutputs o = m->forward_train(in["input_ids"], in["attention_mask"],
                                    tti.count("token_type_ids") ? tti["token_type_ids"] : Tensor());
  GradReport r;
  r.want_loss = train.at("loss").f32()[0];
  if (m->has_head()) {
    const std::string problem = problem_type_name(m->config().problem_type);
    TensorMap lab = read_h5_arrays(ref, std::vector<std::string>{"labels"}, "");
    Tensor labels = lab["labels"];
    if (problem != "single_label_classification" && labels.dtype() != DType::F32) labels = labels;  // ints as given
    std::vector<float> d;
    r.loss = fixture_loss(problem, o.logits, labels, d);
    m->backward(d.data(), nullptr);
  } else {
    // bert_model: loss = sum_{valid t} (h_t . w1) / #valid + mean_b (pooler_b . w2)
    const Tensor w1 = train.at("synthetic_loss_w1"), w2 = train.at("synthetic_loss_w2");
    const Tensor& mask = in["attention_mask"];
    const int64_t B = o.last_hidden_state.size(0), T = o.last_hidden_state.size(1), C = o.last_hidden_state.size(2);
    double valid = 0;
    for (int64_t i = 0; i < B * T; ++i) valid += mask.i64()[i];
    std::vector<float> dl(B * T * C, 0.f), dp(B * C);
    double loss = 0;
    for (int64_t i = 0; i < B * T; ++i) {
      if (!mask.i64()[i]) continue;
      for (int64_t c = 0; c < C; ++c) {
        loss += o.last_hidden_state.f32()[i * C + c] * w1.f32()[c] / valid;
        dl[i * C + c] = static_cast<float>(w1.f32()[c] / valid);
      }
    }
    for (int64_t bb = 0; bb < B; ++bb)
      for (int64_t c = 0; c < C; ++c) {
        loss += o.pooler_output.f32()[bb * C + c] * w2.f32()[c] / B;
        dp[bb * C + c] = w2.f32()[c] / B;
      }
    r.loss = loss;
    m->backward(nullptr, dl.data(), dp.data());
  }
  for (auto& [name, want] : grads) {
    std::string full = name;
    Param* p = m->params().find(full);
    if (!p) p = m->params().find(m->config().prefix + "." + name);  // bare BertModel names
    EXPECT_NE(p, nullptr) << "no parameter for gradient " << name;
    if (!p) continue;
    EXPECT_EQ(p->grad.shape(), want.shape()) << name;
    float mx = 0, diff = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      mx = std::max(mx, std::fabs(want.f32()[i]));
      diff = std::max(diff, std::fabs(want.f32()[i] - p->grad.f32()[i]));
    }
    const float ratio = diff / std::max(1e-5f, 1e-3f * mx);
    if (ratio > r.worst) {
      r.worst = ratio;
      r.worst_name = name;
    }
  }
  EXPECT_EQ(grads.size(), m->params().params().size()) << "a gradient for every parameter";
  std::printf("  %-45s loss %.7f (HF %.7f)  worst grad %.3f of tolerance (%s)\n", dir.c_str(), r.loss, r.want_loss,
              r.worst, r.worst_name.c_str());
  return r;
}

}  // namespace

TEST(Backward, TinyFixturesMatchHfGradients) {
  for (const char* name : {"bert_model", "bert_seqcls_multi19", "bert_seqcls_regr1", "bert_seqcls_single3",
                           "distilbert_seqcls6", "roberta_seqcls3"}) {
    GradReport r = check_grads(std::string("tests/data/tiny/") + name);
    EXPECT_NEAR(r.loss, r.want_loss, 1e-5) << name;
    EXPECT_LE(r.worst, 1.f) << name << ": " << r.worst_name;
  }
}

TEST(Backward, RealVocabFixturesMatchHfGradients) {
  const std::string root = "../shared/fixtures/real-vocab";
  if (!fs::exists(root)) GTEST_SKIP() << root << " not found: ../shared is absent";
  for (const auto& e : fs::directory_iterator(root)) {
    GradReport r = check_grads(e.path().string());
    EXPECT_NEAR(r.loss, r.want_loss, 1e-5) << e.path();
    EXPECT_LE(r.worst, 1.f) << e.path() << ": " << r.worst_name;
  }
}

namespace {

const char* kTinyConfigs[] = {
    R"({"model_type": "bert", "architectures": ["BertForSequenceClassification"], "vocab_size": 40, "hidden_size": 8,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 12, "max_position_embeddings": 16,
        "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "num_labels": 3})",
    R"({"model_type": "roberta", "architectures": ["RobertaForSequenceClassification"], "vocab_size": 40,
        "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 12,
        "max_position_embeddings": 18, "type_vocab_size": 1, "pad_token_id": 1, "hidden_act": "gelu_new",
        "layer_norm_eps": 1e-5, "num_labels": 2})",
    R"({"model_type": "distilbert", "architectures": ["DistilBertForSequenceClassification"], "vocab_size": 40,
        "dim": 8, "n_layers": 2, "n_heads": 2, "hidden_dim": 12, "max_position_embeddings": 16,
        "activation": "gelu", "num_labels": 2})"};

}  // namespace

// d (sum logits * r) / d parameter against central differences, with every dropout active (same masks in
// every forward: the masks depend on seed and step only).
TEST(Backward, FiniteDifferencesWithDropout) {
  for (const char* cfg : kTinyConfigs) {
    ModelOptions mo;
    mo.bind.init_everything = true;
    mo.bind.seed = 3;
    mo.bind.init_std = 0.5f;  // large weights: non-trivial gradients everywhere
    Model m(parse_config(cfg, "cfg"), {}, "random", mo);
    const int64_t B = 2, T = 6, L = m.config().num_labels;
    int64_t ids[B * T] = {0, 5, 9, 11, 3, 2, 0, 7, 8, 2, 1, 1};
    int64_t mask[B * T] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    int64_t tti[B * T] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0};
    const Tensor tids = Tensor::from_data(ids, {B, T}), tmask = Tensor::from_data(mask, {B, T});
    const Tensor ttti = m.config().type_vocab_size > 1 ? Tensor::from_data(tti, {B, T}) : Tensor();
    Dropout drop{0.1f, 0.1f, 0.1f, -1.f, 77, 3};
    std::vector<float> r = {0.3f, -1.2f, 0.8f, 0.5f, -0.4f, 1.1f};
    auto loss = [&]() {
      ModelOutputs o = m.forward_train(tids, tmask, ttti, drop);
      double s = 0;
      for (int64_t i = 0; i < B * L; ++i) s += o.logits.f32()[i] * r[i];
      return s;
    };
    m.zero_grad();
    loss();
    m.backward(r.data(), nullptr);
    int checked = 0;
    for (auto& p : m.params().params()) {
      const int64_t n = p.value.numel();
      for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
        float& w = p.value.f32()[i];
        const float w0 = w, h = 1e-2f;
        w = w0 + h;
        const double lp = loss();
        w = w0 - h;
        const double lm = loss();
        w = w0;
        const double fd = (lp - lm) / (2 * h);
        EXPECT_NEAR(p.grad.f32()[i], fd, 5e-3 * std::max(1.0, std::fabs(fd))) << cfg << "\n" << p.name << "[" << i << "]";
        ++checked;
      }
    }
    EXPECT_GT(checked, 60);
  }
}

TEST(Backward, FreezingStopsGradients) {
  ModelOptions mo;
  mo.bind.init_everything = true;
  Model m(parse_config(kTinyConfigs[0], "cfg"), {}, "random", mo);
  int64_t ids[4] = {0, 5, 9, 2}, mask[4] = {1, 1, 1, 1};
  std::vector<float> r = {1.f, 0.f, -1.f};
  for (int64_t k : {int64_t{-1}, int64_t{1}}) {
    m.freeze(k);
    m.zero_grad();
    m.forward_train(Tensor::from_data(ids, {1, 4}), Tensor::from_data(mask, {1, 4}), Tensor());
    m.backward(r.data(), nullptr);
    for (auto& p : m.params().params()) {
      double s = 0;
      for (int64_t i = 0; i < p.grad.numel(); ++i) s += std::fabs(p.grad.f32()[i]);
      const bool frozen = p.name.find("embeddings") != std::string::npos ||
                          (k < 0 && p.name.find("encoder") != std::string::npos) ||
                          p.name.find("encoder.layer.0.") != std::string::npos;
      if (frozen)
        EXPECT_EQ(s, 0.0) << "frozen " << p.name << " k=" << k;
      else
        EXPECT_GT(s, 0.0) << "trainable " << p.name << " k=" << k;
    }
  }
}

// A multi-task model: the config's head plus two extra heads (3 classes; a regression with 2 targets) on one
// encoder. Head 0 computes what the single-head model computes (bit for bit, dropout included); the
// gradient of sum_k sum(logits_k * r_k) through backward_heads matches central differences.
TEST(Backward, ExtraHeadsFiniteDifferences) {
  for (const char* cfg : kTinyConfigs) {
    ModelOptions mo;
    mo.bind.init_everything = true;
    mo.bind.seed = 5;
    mo.bind.init_std = 0.5f;
    Model single(parse_config(cfg, "cfg"), {}, "random", mo);
    mo.extra_heads = {{"sentiment", 3, ProblemType::SingleLabel}, {"engagement", 2, ProblemType::Regression}};
    Model m(parse_config(cfg, "cfg"), {}, "random", mo);
    ASSERT_EQ(m.loaded()->heads().size(), 3u);
    EXPECT_EQ(m.loaded()->head_index("engagement"), 2);
    EXPECT_EQ(m.loaded()->heads()[2]->problem_type(), ProblemType::Regression);
    const int64_t B = 2, T = 5;
    int64_t ids[B * T] = {0, 5, 9, 11, 2, 0, 7, 8, 2, 1};
    int64_t mask[B * T] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    const Tensor tids = Tensor::from_data(ids, {B, T}), tmask = Tensor::from_data(mask, {B, T});
    Dropout drop{0.1f, 0.1f, 0.2f, -1.f, 11, 2};
    {
      const Tensor a = single.forward_train(tids, tmask, Tensor(), drop).logits.clone();
      ModelOutputs o = m.forward_train(tids, tmask, Tensor(), drop);
      EXPECT_TRUE(test::bit_equal(a, o.logits)) << cfg;
      ASSERT_EQ(o.head_logits.size(), 3u);
      EXPECT_EQ(o.head_logits[1].shape(), (Shape{B, 3}));
      EXPECT_EQ(o.head_logits[2].shape(), (Shape{B, 2}));
      // Inference: the same three heads.
      ModelRunner r(m.loaded());
      ModelOutputs oi = r.forward(tids, tmask, Tensor());
      ASSERT_EQ(oi.head_logits.size(), 3u);
      EXPECT_EQ(oi.head_logits[2].shape(), (Shape{B, 2}));
    }
    std::vector<std::vector<float>> r(3);
    for (int k = 0; k < 3; ++k)
      for (int64_t i = 0; i < B * m.loaded()->heads()[k]->num_outputs(); ++i)
        r[k].push_back(0.7f * std::sin(1.3f * (i + 1) + k) + 0.1f * k);
    auto loss = [&]() {
      ModelOutputs o = m.forward_train(tids, tmask, Tensor(), drop);
      double s = 0;
      for (int k = 0; k < 3; ++k)
        for (size_t i = 0; i < r[k].size(); ++i) s += o.head_logits[k].f32()[i] * r[k][i];
      return s;
    };
    m.zero_grad();
    loss();
    m.backward_heads({r[0].data(), r[1].data(), r[2].data()}, nullptr);
    int checked = 0;
    for (auto& p : m.params().params()) {
      const int64_t n = p.value.numel();
      for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
        float& w = p.value.f32()[i];
        const float w0 = w, h = 1e-2f;
        w = w0 + h;
        const double lp = loss();
        w = w0 - h;
        const double lm = loss();
        w = w0;
        const double fd = (lp - lm) / (2 * h);
        EXPECT_NEAR(p.grad.f32()[i], fd, 5e-3 * std::max(1.0, std::fabs(fd))) << cfg << "\n" << p.name << "[" << i << "]";
        ++checked;
      }
    }
    EXPECT_GT(checked, 70);
    // The extra heads' parameters are named after them.
    EXPECT_NE(m.params().find(m.config().arch == Arch::Roberta ? "engagement.out_proj.weight" : "engagement.classifier.weight"),
              nullptr)
        << cfg;
  }
}
