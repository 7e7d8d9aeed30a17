// encode_texts (tokenise-and-batch of tern infer and train/): it tokenises in chunks of texts (peak
// memory), which must give the ids of tokenising the whole list at once, across chunk boundaries.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "infer/batching.h"
#include "infer/predictor.h"
#include "nlohmann/json.hpp"
#include "tensor/packed_weight.h"
#include "tokenizer/tokenizer.h"
#include "weights/model_file.h"

using namespace tern;

TEST(Batching, EncodeTextsInChunksGivesTheIdsOfOneBatch) {
  LoadOptions lo;
  lo.read_tensors = false;
  const ModelBundle b = load_model("weights/models/sentiment.h5", lo);
  const tok::Tokenizer tk = tok::Tokenizer::from_files(b.tokenizer_files, "sentiment.h5");
  std::vector<std::string> base;
  std::ifstream in("tests/data/sample/mayweather_sample.jsonl");
  std::string line;
  while (std::getline(in, line)) base.push_back(nlohmann::json::parse(line).at("rawContent"));
  ASSERT_EQ(base.size(), 40u);
  base.push_back("");  // an empty text: [CLS] [SEP]
  std::vector<std::string> texts;
  for (size_t i = 0; texts.size() < 1000; ++i) texts.push_back(base[(i * 7) % base.size()]);
  for (const int64_t max_length : {int64_t{0}, int64_t{16}}) {
    tok::EncodeOptions eo;
    eo.max_length = static_cast<size_t>(max_length);
    eo.normalize_tweets = true;
    const std::vector<tok::Encoding> whole = tk.encode_batch(texts, eo, {}, 2);
    const infer::Encoded e = infer::encode_texts(tk, texts, max_length, true, 2);
    ASSERT_EQ(e.size(), texts.size());
    EXPECT_EQ(e.pad_id, tk.pad_id());
    for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(e.ids[i], whole[i].ids) << "text " << i;
  }
}

// Predictor's batches end at batch_size rows or batch_tokens real tokens (issue 13: a cap keeps a batch's
// activations in L2). A row's logits do not depend on which rows share its batch: every cap gives the same
// bits, and a cap of 1 token (every row its own batch) too.
TEST(Batching, TokenCapGivesTheSameLogits) {
  std::vector<std::string> base;
  std::ifstream in("tests/data/sample/mayweather_sample.jsonl");
  std::string line;
  while (std::getline(in, line)) base.push_back(nlohmann::json::parse(line).at("rawContent"));
  ASSERT_EQ(base.size(), 40u);
  std::vector<std::string> texts;
  for (size_t i = 0; texts.size() < 300; ++i)
    texts.push_back(base[(i * 7) % base.size()].substr(0, 10 + (i * 13) % 200));
  for (const Precision prec : {Precision::F32, Precision::I8}) {
    if (!detail::lowp_cpu_supports(prec)) continue;  // the CPU check itself is tested in tests/tensor
    infer::InferModel::Options mo;
    mo.precision = prec;
    const auto m = infer::InferModel::load("sentiment", mo);
    std::vector<std::vector<float>> logits;
    for (const int64_t cap : {int64_t{0}, int64_t{1}, int64_t{100}, int64_t{256}}) {
      infer::PredictOptions po;
      po.batch_tokens = cap;
      infer::Predictor p({m}, po);
      logits.push_back(p.predict(texts)[0].logits);
      ASSERT_EQ(logits.back().size(), texts.size() * m->info().labels.size());
      EXPECT_EQ(logits.back(), logits.front()) << "cap " << cap << ", precision " << precision_name(prec);
    }
  }
  infer::PredictOptions bad;
  bad.batch_tokens = -1;
  EXPECT_THROW(infer::Predictor({infer::InferModel::load("sentiment")}, bad), Error);
}
