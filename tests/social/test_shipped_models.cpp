// The shipped TweetEval task models (weights/models/{emotion,hate,irony,offensive}.h5) scored on the official
// TweetEval test sets through tern infer's Predictor with the official metric: their labels are the task's
// mapping.txt in id order, and the score equals the one recorded in the file's metadata (measured when the
// model was trained, in float32) up to the float16 storage. Skips without ../shared.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "infer/predictor.h"
#include "social/tweeteval.h"
#include "tests/util/test_util.h"

using namespace tern;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

}  // namespace

TEST(ShippedModels, TweetEvalTaskModelsScoreWhatTheirMetadataRecords) {
  const std::string data = test::kShared + "/data/tweeteval";
  if (!fs::exists(data + "/emotion/test_text.txt")) GTEST_SKIP() << data << " is absent";
  int scored = 0;
  for (const auto& task : social::tweeteval_tasks()) {
    const std::string file = "weights/models/" + task.name + ".h5";
    if (!fs::exists(file)) continue;
    if (task.name == "sentiment" || task.name == "emoji" || task.name == "stance") continue;  // not these
    auto m = infer::InferModel::load(file);
    EXPECT_EQ(m->info().labels, task.labels) << task.name;
    const std::vector<std::string> texts = read_lines(data + "/" + task.name + "/test_text.txt");
    std::vector<int64_t> gold;
    for (const auto& l : read_lines(data + "/" + task.name + "/test_labels.txt"))
      gold.push_back(std::stoll(l));
    ASSERT_EQ(texts.size(), gold.size()) << task.name;
    infer::Predictor p({m});
    const infer::ModelResult r = p.predict(texts)[0];
    const int64_t L = static_cast<int64_t>(task.labels.size());
    std::vector<int64_t> pred;
    for (size_t i = 0; i < texts.size(); ++i) {
      const float* z = r.logits.data() + i * L;
      pred.push_back(std::max_element(z, z + L) - z);
    }
    const double score = social::tweeteval_score(task.metric, gold, pred, L);
    const auto md = nlohmann::json::parse(m->info().metadata.at("metrics"));
    EXPECT_NEAR(score, md.at("test").get<double>(), 0.004) << task.name << " (" << texts.size() << " tweets)";
    EXPECT_GT(score, 0.3) << task.name;
    ++scored;
  }
  EXPECT_EQ(scored, 4) << "emotion, hate, irony and offensive should ship in weights/models";
}
