// tern topics train on the real tweet_topicXL English split and tweet-bert-mini (../shared; skipped without
// it): a two-step run stores 19 thresholds tuned on the 20 validation tweets. Labelled slow (release only).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "social/topics.h"
#include "tests/util/test_util.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
using json = nlohmann::json;
using tern::test::ScratchDir;

// The real data and model, when ../shared is there: a few steps run and the thresholds are stored.
TEST(TopicsData, RealTweetTopicXLSmoke) {
  const std::string d = tern::test::kShared + "/data/tweet_topicXL/data/en";
  if (!tern::test::shared_available() || !std::filesystem::exists(d))
    GTEST_SKIP() << "../shared (tweet_topicXL, tweet-bert-mini) is not available";
  ScratchDir s;
  const ModelBundle pre = import_hf(tern::test::kShared + "/models/tweet-bert-mini");
  save_model(s.path("tbm.h5"), pre);
  social::TopicsTrainOptions o;
  o.model_path = s.path("tbm.h5");
  o.data_dir = d;
  o.out_path = s.path("t.h5");
  o.epochs = 1;
  o.max_steps = 2;
  const social::TopicsTrainSummary r = social::train_topics(o);
  EXPECT_EQ(r.thresholds.rows, 20);
  EXPECT_EQ(r.thresholds.per_class.size(), 19u);
  const json v = json::parse(r.val_json);
  EXPECT_EQ(v["default"]["per_class"].size(), 19u);
}
