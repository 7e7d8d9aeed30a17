// Whole models against Hugging Face reference outputs (transformers 5.17, see tests/data/PROVENANCE.txt):
// tiny fixtures from tests/data/tiny, real-vocab ones from ../shared/fixtures (skipped when absent).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "nn/model.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"

using namespace tern;
namespace fs = std::filesystem;

namespace {

struct Diff {
  float lhs = 0, pooler = 0, logits = 0;
};

// Max |a - b| over the rows r of (B, T, C) with mask[b, t] = 1 (padding positions are not compared).
float masked_max_diff(const Tensor& a, const Tensor& b, const Tensor& mask) {
  EXPECT_EQ(a.shape(), b.shape());
  const int64_t BT = mask.numel(), C = a.numel() / BT;
  float m = 0;
  for (int64_t r = 0; r < BT; ++r) {
    if (!mask.i64()[r]) continue;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, std::fabs(a.f32()[r * C + c] - b.f32()[r * C + c]));
  }
  return m;
}

float max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.f32()[i] - b.f32()[i]));
  return m;
}

Diff check_fixture(const std::string& dir, const std::string& checkpoint) {
  ModelBundle b = import_hf(checkpoint);
  auto m = Model::from_bundle(b, checkpoint);
  const std::string ref = dir + "/reference.h5";
  TensorMap in = read_h5_arrays(ref, std::vector<std::string>{"input_ids", "attention_mask"}, "inputs");
  TensorMap tti = read_h5_arrays(ref, std::vector<std::string>{"token_type_ids"}, "inputs", false);
  if (tti.count("token_type_ids")) in["token_type_ids"] = tti["token_type_ids"];
  TensorMap want = read_h5_arrays(
      ref, std::vector<std::string>{"last_hidden_state", "pooler_output", "logits"}, "outputs", false);
  ModelOutputs o = m->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]);
  Diff d;
  d.lhs = masked_max_diff(o.last_hidden_state, want.at("last_hidden_state"), in["attention_mask"]);
  EXPECT_EQ(m->has_pooler(), want.count("pooler_output") > 0) << dir;
  if (m->has_pooler() && want.count("pooler_output"))
    d.pooler = max_diff(o.pooler_output, want.at("pooler_output"));
  EXPECT_EQ(m->has_head(), want.count("logits") > 0) << dir;
  if (m->has_head() && want.count("logits")) d.logits = max_diff(o.logits, want.at("logits"));
  std::printf("  %-45s last_hidden_state %.2e  pooler %.2e  logits %.2e\n", checkpoint.c_str(), d.lhs,
              d.pooler, d.logits);
  return d;
}

void expect_parity(const std::string& dir, const std::string& checkpoint) {
  Diff d = check_fixture(dir, checkpoint);
  EXPECT_LT(d.lhs, 1e-4f) << checkpoint;
  EXPECT_LT(d.pooler, 1e-4f) << checkpoint;
  EXPECT_LT(d.logits, 1e-4f) << checkpoint;
}

const char* kTiny[] = {"bert_model",          "bert_seqcls_multi19", "bert_seqcls_regr1",
                       "bert_seqcls_single3", "distilbert_seqcls6",  "roberta_seqcls3"};

}  // namespace

TEST(Parity, TinyFromSafetensors) {
  for (const char* name : kTiny) {
    const std::string dir = std::string("tests/data/tiny/") + name;
    ASSERT_TRUE(fs::exists(dir + "/reference.h5")) << dir;
    expect_parity(dir, dir);
  }
}

TEST(Parity, TinyFromTfH5) {
  int n = 0;
  for (const char* name : kTiny) {
    const std::string dir = std::string("tests/data/tiny/") + name;
    for (const char* f : {"tf_model.h5", "tf_model_keras212.h5"}) {
      if (!fs::exists(dir + "/" + f)) continue;
      expect_parity(dir, dir + "/" + f);
      ++n;
    }
  }
  EXPECT_EQ(n, 4);  // bert_seqcls_single3 and roberta_seqcls3, two string styles each
}

TEST(Parity, RealVocabFromShared) {
  const std::string root = "../shared/fixtures/real-vocab";
  if (!fs::exists(root)) GTEST_SKIP() << root << " not found: ../shared is absent, real-vocab parity skipped";
  int n = 0;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!fs::exists(e.path() / "reference.h5")) continue;
    expect_parity(e.path().string(), e.path().string());
    ++n;
  }
  EXPECT_GE(n, 2);
}

TEST(Parity, SharedPretrainedModelsRun) {
  for (const char* dir : {"../shared/models/tweet-bert-mini", "../shared/models/tweet-roberta-mini"}) {
    if (!fs::exists(std::string(dir) + "/config.json"))
      GTEST_SKIP() << dir << " not found: ../shared is absent";
    ModelBundle b = import_hf(dir);
    auto m = Model::from_bundle(b, dir);
    EXPECT_FALSE(m->has_pooler()) << "masked-LM checkpoints have no pooler";
    EXPECT_FALSE(m->skipped().empty()) << "the MLM head is reported as skipped";
    const int64_t B = 2, T = 8;
    Tensor ids = Tensor::empty({B, T}, DType::I64), mask = Tensor::empty({B, T}, DType::I64);
    const int64_t pad = m->config().pad_token_id;
    for (int64_t i = 0; i < B * T; ++i) {
      ids.i64()[i] = (i % T < 6 || i < T) ? 100 + i : pad;
      mask.i64()[i] = (i % T < 6 || i < T) ? 1 : 0;
    }
    ModelOutputs o = m->forward(ids, mask, Tensor());
    o.last_hidden_state = o.last_hidden_state.clone();  // outputs are views into the workspace
    ASSERT_EQ(o.last_hidden_state.shape(), (Shape{B, T, 256}));
    for (int64_t i = 0; i < o.last_hidden_state.numel(); ++i)
      ASSERT_TRUE(std::isfinite(o.last_hidden_state.f32()[i]));
    // Padding does not change the valid rows: row 1 alone (length 6) equals row 1 in the padded batch.
    Tensor ids1 = ids.slice(0, 1, 2).slice(1, 0, 6).contiguous(),
           mask1 = mask.slice(0, 1, 2).slice(1, 0, 6).contiguous();
    ModelOutputs o1 = m->forward(ids1, mask1, Tensor());
    float d = 0;
    for (int64_t t = 0; t < 6; ++t)
      for (int64_t c = 0; c < 256; ++c)
        d = std::max(d, std::fabs(o1.last_hidden_state.f32()[t * 256 + c] -
                                  o.last_hidden_state.f32()[(T + t) * 256 + c]));
    EXPECT_LT(d, 1e-5f) << dir;
  }
}
