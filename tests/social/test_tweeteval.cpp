// The TweetEval suite: every official metric against hand-computed confusion cases, the task table
// against the dataset's mapping files (../shared, skipped when absent), and a whole run_tweeteval() on a
// hand-made two-task data folder with the tiny fixture model (scores recomputed from the written
// predictions and the gold labels).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "social/tweeteval.h"
#include "tensor/check.h"
#include "tests/util/test_util.h"
#include "tests/util/tiny_model.h"
#include "train/dataset.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
using social::TweetEvalMetric;
using tern::test::ScratchDir;

namespace {
namespace fs = std::filesystem;

// gold / pred of a 3-class case (hand-counted):
//   class 0: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2
//   class 1: TP 2, FP 1, FN 0 -> P 2/3, R 1,   F1 4/5
//   class 2: TP 1, FP 0, FN 1 -> P 1,   R 1/2, F1 2/3
const std::vector<int64_t> kGold3 = {0, 0, 1, 1, 2, 2}, kPred3 = {0, 1, 1, 1, 2, 0};

}  // namespace

TEST(TweetEvalMetrics, MacroF1AndMacroRecallByHand) {
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::MacroF1, kGold3, kPred3, 3), 59.0 / 90.0, 1e-12);
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::MacroRecall, kGold3, kPred3, 3), 2.0 / 3.0, 1e-12);
  // Emoji has 20 classes; sklearn averages over the classes present in gold or predictions only.
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::MacroF1, kGold3, kPred3, 20), 59.0 / 90.0, 1e-12);
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::MacroRecall, kGold3, kPred3, 20), 2.0 / 3.0, 1e-12);
  // A class that is only predicted counts with F1 0 (zero_division 0): class 2 predicted, never gold.
  //   class 0: TP 1, FP 0, FN 1 -> F1 2/3; class 1: TP 1, FP 0, FN 0 -> F1 1; class 2: F1 0.
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::MacroF1, {0, 0, 1}, {0, 2, 1}, 3), (2.0 / 3 + 1) / 3,
              1e-12);
}

TEST(TweetEvalMetrics, IronyIsTheF1OfTheIronicClassOnly) {
  // class 1: TP 2, FP 1, FN 2 -> P 2/3, R 1/2, F1 4/7; class 0: TP 3, FP 2, FN 1 -> F1 2/3.
  const std::vector<int64_t> gold = {1, 1, 1, 0, 0, 0, 0, 1}, pred = {1, 0, 1, 1, 0, 0, 0, 0};
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::F1Class1, gold, pred, 2), 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::MacroF1, gold, pred, 2), 13.0 / 21.0, 1e-12);
  // No ironic tweet predicted: 0, not a macro average.
  EXPECT_EQ(social::tweeteval_score(TweetEvalMetric::F1Class1, gold, std::vector<int64_t>(8, 0), 2), 0.0);
}

TEST(TweetEvalMetrics, StanceIsTheMeanOfAgainstAndFavorF1) {
  // against (1): TP 2, FP 2, FN 1 -> F1 4/7; favor (2): TP 2, FP 0, FN 1 -> F1 4/5; none (0) left out.
  const std::vector<int64_t> gold = {0, 0, 1, 1, 1, 2, 2, 2}, pred = {0, 1, 1, 1, 0, 2, 2, 1};
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::StanceFavorAgainst, gold, pred, 3), 24.0 / 35.0,
              1e-12);
  // One more correctly predicted "none" row does not change it (macro-F1 would change).
  std::vector<int64_t> pred2 = pred, gold2 = gold;
  gold2.push_back(0);
  pred2.push_back(0);
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::StanceFavorAgainst, gold2, pred2, 3), 24.0 / 35.0,
              1e-12);
  // Pooling: the score of the concatenated targets, not the mean of per-target scores.
  const std::vector<int64_t> ga = {1, 1}, pa = {1, 1}, gb = {2, 1}, pb = {2, 2};
  std::vector<int64_t> g = ga, p = pa;
  g.insert(g.end(), gb.begin(), gb.end());
  p.insert(p.end(), pb.begin(), pb.end());
  // pooled: against TP 2, FN 1 -> 4/5; favor TP 1, FP 1 -> 2/3.
  EXPECT_NEAR(social::tweeteval_score(TweetEvalMetric::StanceFavorAgainst, g, p, 3), (0.8 + 2.0 / 3) / 2,
              1e-12);
  EXPECT_THROW(social::tweeteval_score(TweetEvalMetric::StanceFavorAgainst, g, p, 2), tern::Error);
  EXPECT_THROW(social::tweeteval_score(TweetEvalMetric::MacroF1, {0}, {0, 1}, 2), tern::Error);
}

TEST(TweetEvalTasks, SevenTasksInTweetEvalOrderWithTheirMetrics) {
  const auto& t = social::tweeteval_tasks();
  ASSERT_EQ(t.size(), 7u);
  const char* names[] = {"emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance"};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(t[i].name, names[i]);
  EXPECT_EQ(t[0].labels.size(), 20u);
  EXPECT_EQ(t[3].metric, TweetEvalMetric::F1Class1);
  EXPECT_EQ(t[5].metric, TweetEvalMetric::MacroRecall);
  EXPECT_EQ(t[6].metric, TweetEvalMetric::StanceFavorAgainst);
  EXPECT_EQ(t[6].targets.size(), 5u);
  EXPECT_EQ(t[6].labels, (std::vector<std::string>{"none", "against", "favor"}));
}

TEST(TweetEvalTasks, LabelsAreThoseOfTheMappingFiles) {
  const std::string dir = tern::test::kShared + "/data/tweeteval";
  if (!fs::exists(dir + "/emotion/mapping.txt")) GTEST_SKIP() << dir << " is absent";
  for (const auto& t : social::tweeteval_tasks()) {
    std::ifstream f(dir + "/" + t.name + "/mapping.txt");
    std::string line;
    size_t i = 0;
    while (std::getline(f, line)) {
      if (line.empty()) continue;
      std::istringstream ls(line);
      std::string id, name;
      std::getline(ls, id, '\t');
      std::getline(ls, name, '\t');
      ASSERT_LT(i, t.labels.size()) << t.name;
      EXPECT_EQ(std::stoi(id), static_cast<int>(i)) << t.name;
      EXPECT_EQ(name, t.labels[i]) << t.name << " label " << i;
      ++i;
    }
    EXPECT_EQ(i, t.labels.size()) << t.name;
  }
}

namespace {

std::string tiny_model(const ScratchDir& s) {
  return tern::test::save_tiny_model("bert_seqcls_single3", s.path("tiny.h5"));
}

void write_split(const std::string& dir, const std::string& split, int n, int L, int salt) {
  fs::create_directories(dir);
  std::string text, labels;
  for (int i = 0; i < n; ++i) {
    text += "tweet " + std::to_string(i) + " [unused" + std::to_string((i * 3 + salt) % 40) + "]\n";
    labels += std::to_string((i * 5 + salt) % L) + "\n";
  }
  tern::test::write_bytes(dir + "/" + split + "_text.txt", text);
  tern::test::write_bytes(dir + "/" + split + "_labels.txt", labels);
}

std::vector<int64_t> read_ids(const std::string& path) {
  std::ifstream f(path);
  std::vector<int64_t> v;
  int64_t x;
  while (f >> x) v.push_back(x);
  return v;
}

}  // namespace

TEST(TweetEvalRun, TwoTasksSingleAndMultiTaskScoresMatchTheirPredictions) {
  ScratchDir s;
  const std::string model = tiny_model(s), data = s.path("data"), out = s.path("out");
  for (const char* split : {"train", "val", "test"}) {
    write_split(data + "/irony", split, 20, 2, 1);
    for (const char* target : {"abortion", "atheism", "climate", "feminist", "hillary"})
      write_split(data + "/stance/" + target, split, 9, 3, static_cast<int>(std::string(target).size()));
  }
  social::TweetEvalOptions o;
  o.model_path = model;
  o.data_dir = data;
  o.out_dir = out;
  o.tasks = {"irony", "stance"};
  o.multitask = true;
  o.budget.examples = 12;  // irony: 12 of 20 rows x 1 epoch; stance targets: 9 rows x round(12/9) = 1 epoch
  o.budget.multitask_steps = 3;
  o.batch_size = 4;
  std::vector<std::string> log;
  const social::TweetEvalResults r =
      social::run_tweeteval(o, [&](const std::string& l) { log.push_back(l); });
  ASSERT_EQ(r.single.size(), 2u);
  ASSERT_EQ(r.multi.size(), 2u);
  EXPECT_LT(r.all_single, 0);  // 2 of 7 tasks: no ALL
  EXPECT_EQ(r.single[0].task, "irony");
  EXPECT_EQ(r.single[0].train_rows, 12);
  EXPECT_EQ(r.single[1].train_rows, 45);
  EXPECT_EQ(r.single[1].test_rows, 45);
  EXPECT_EQ(r.single[1].sub.size(), 5u);
  for (const bool multi : {false, true}) {
    // Irony: the F1 of class 1 of the written predictions.
    const auto gold = read_ids(data + "/irony/test_labels.txt");
    const auto pred = read_ids(out + "/predictions/irony" + (multi ? ".multi" : "") + ".txt");
    ASSERT_EQ(pred.size(), gold.size());
    const auto& res = multi ? r.multi : r.single;
    EXPECT_DOUBLE_EQ(res[0].score, social::tweeteval_score(TweetEvalMetric::F1Class1, gold, pred, 2));
    // Stance: pooled over the five targets.
    std::vector<int64_t> g, p;
    for (const char* target : {"abortion", "atheism", "climate", "feminist", "hillary"}) {
      const auto gt = read_ids(data + "/stance/" + target + "/test_labels.txt");
      const auto pt = read_ids(out + "/predictions/stance_" + target + (multi ? ".multi" : "") + ".txt");
      ASSERT_EQ(gt.size(), pt.size());
      g.insert(g.end(), gt.begin(), gt.end());
      p.insert(p.end(), pt.begin(), pt.end());
    }
    EXPECT_DOUBLE_EQ(res[1].score, social::tweeteval_score(TweetEvalMetric::StanceFavorAgainst, g, p, 3));
  }
  EXPECT_TRUE(fs::exists(out + "/models/irony.h5"));
  EXPECT_TRUE(fs::exists(out + "/models/stance_hillary.h5"));
  EXPECT_TRUE(fs::exists(out + "/models/multitask.h5"));
  const auto j = nlohmann::json::parse(tern::test::read_bytes(out + "/results.json"));
  EXPECT_EQ(j["single"].size(), 2u);
  EXPECT_EQ(j["budget"]["examples_per_task"], 12);
  EXPECT_NE(tern::test::read_bytes(out + "/results.md").find("| irony | f1_class1 |"), std::string::npos);
  EXPECT_FALSE(log.empty());

  // Scoring the saved multi-task file again (--reuse multitask=FILE) gives the same scores.
  social::TweetEvalOptions o2 = o;
  o2.single = false;
  o2.out_dir = s.path("out2");
  o2.reuse["multitask"] = out + "/models/multitask.h5";
  const social::TweetEvalResults r2 = social::run_tweeteval(o2);
  ASSERT_EQ(r2.multi.size(), 2u);
  EXPECT_DOUBLE_EQ(r2.multi[0].score, r.multi[0].score);
  EXPECT_DOUBLE_EQ(r2.multi[1].score, r.multi[1].score);
  EXPECT_FALSE(fs::exists(s.path("out2") + "/models/multitask.h5"));
}

TEST(TweetEvalRun, BadOptionsAreErrors) {
  ScratchDir s;
  social::TweetEvalOptions o;
  o.model_path = "m.h5";
  o.data_dir = s.path("nope");
  o.out_dir = s.path("out");
  EXPECT_THROW(social::run_tweeteval(o), tern::Error);  // no data folder
  fs::create_directories(o.data_dir);
  o.tasks = {"sarcasm"};
  try {
    social::run_tweeteval(o);
    FAIL() << "no error";
  } catch (const tern::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown task 'sarcasm'"), std::string::npos) << e.what();
  }
  o.tasks = {"stance"};
  o.reuse["stance"] = "x.h5";
  EXPECT_THROW(social::run_tweeteval(o), tern::Error);
}
