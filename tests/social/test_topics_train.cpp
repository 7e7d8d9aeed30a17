// tern topics end to end on the tiny 19-label BERT fixture: train_topics stores the thresholds that
// tune_thresholds gives on the saved model's validation probabilities, evaluation at 0.5 agrees with the
// Trainer's own evaluation (train::evaluate_file), predictions apply the stored thresholds, and the CLI's
// exit codes and messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "infer/predictor.h"
#include "social/topics.h"
#include "tests/util/test_util.h"
#include "tests/util/tiny_model.h"
#include "train/dataset.h"
#include "train/trainer.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
using json = nlohmann::json;
using tern::test::ScratchDir;

namespace {

// The tiny multi-label BERT (19 labels) with the first 1000 lines of the bert-base-uncased vocabulary.
std::string tiny_model(const ScratchDir& s) {
  return tern::test::save_tiny_model("bert_seqcls_multi19", s.path("tiny.h5"));
}

// tweet_topicXL-shaped JSONL: id, text, one 0/1 field per topic. Row i has topics i % 19 and (i * 7 + salt)
// % 19, and its text names them with [unusedK] tokens (plus a noise token).
std::string rows(int n, int salt) {
  const auto& labels = social::tweet_topic_labels();
  std::string t;
  for (int i = 0; i < n; ++i) {
    const int a = i % 19, b = (i * 7 + salt) % 19;
    json j = {{"id", 1000 + i},
              {"text", "[unused" + std::to_string(a) + "] [unused" + std::to_string(b) + "] [unused" +
                           std::to_string(40 + (i + salt) % 9) + "]"}};
    for (int c = 0; c < 19; ++c) j[labels[c]] = (c == a || c == b) ? 1 : 0;
    t += j.dump() + "\n";
  }
  return t;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// One trained topic model for every test of the suite.
class TopicsTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    tern::test::write_bytes(dir_->path("t_train.jsonl"), rows(57, 0));
    tern::test::write_bytes(dir_->path("t_validation.jsonl"), rows(24, 3));
    social::TopicsTrainOptions o;
    o.model_path = tiny_model(*dir_);
    o.data_dir = dir_->path().string();
    o.out_path = dir_->path("topics.h5");
    o.epochs = 3;
    o.batch_size = 8;
    o.max_length = 16;
    o.lr = 3e-3;
    o.warmup = 0;
    o.seed = 7;
    summary_ = new social::TopicsTrainSummary(social::train_topics(o));
  }
  static void TearDownTestSuite() {
    delete summary_;
    delete dir_;
  }
  static ScratchDir* dir_;
  static social::TopicsTrainSummary* summary_;
};
ScratchDir* TopicsTrain::dir_ = nullptr;
social::TopicsTrainSummary* TopicsTrain::summary_ = nullptr;

}  // namespace

TEST_F(TopicsTrain, StoresThresholdsTunedOnTheSavedModelsValidationProbabilities) {
  const std::string model = dir_->path("topics.h5");
  const ModelBundle b = load_model(model);
  EXPECT_TRUE(b.extra.empty());  // no optimizer state
  ASSERT_TRUE(b.metadata.count(social::kThresholdsKey));
  EXPECT_EQ(b.metadata.at("created_by"), "tern topics train");
  const auto& labels = social::tweet_topic_labels();
  const social::Thresholds stored =
      social::thresholds_from_json(b.metadata.at(social::kThresholdsKey), labels, model);
  EXPECT_EQ(stored.rows, 24);
  EXPECT_EQ(json::parse(b.metadata.at(social::kThresholdsKey))["tuned_on"], dir_->path("t_validation.jsonl"));

  // Recompute: gold from the validation file, probabilities from the saved model through infer's Predictor.
  train::LabelSpec spec{train::Task::Multi, labels, 19};
  const train::Dataset val = train::read_dataset(dir_->path("t_validation.jsonl"), spec);
  auto m = infer::InferModel::load(model);
  infer::Predictor pred({m});
  const std::vector<float> logits = pred.predict(val.texts).at(0).logits;
  std::vector<float> probs(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    probs[i] = infer::probabilities(m->info(), &logits[i / 19 * 19])[i % 19];
  const social::Thresholds again = social::tune_thresholds(val.targets, probs, 24, 19);
  EXPECT_EQ(stored.per_class, again.per_class);
  EXPECT_EQ(stored.tuned, again.tuned);
  EXPECT_DOUBLE_EQ(stored.global, again.global);
  EXPECT_DOUBLE_EQ(stored.per_class_macro_f1, again.per_class_macro_f1);
  // Tuned on validation, the per-class thresholds are at least as good there as the global one, which is at
  // least as good as 0.5 (both are maxima over a grid that holds 0.5).
  const double at_half = social::score_topics(val.targets, probs, 24, 19, 0.5).macro_f1;
  EXPECT_GE(stored.global_macro_f1, at_half);
  EXPECT_GE(stored.per_class_macro_f1, stored.global_macro_f1);
  EXPECT_DOUBLE_EQ(summary_->thresholds.global, stored.global);
}

TEST_F(TopicsTrain, EvaluationAgreesWithTheTrainersAtOneHalfAndTheStoredFiguresOnValidation) {
  social::TopicsEvalOptions o;
  o.model_path = dir_->path("topics.h5");
  o.input_path = dir_->path("t_validation.jsonl");
  const json j = json::parse(social::evaluate_topics(o));
  EXPECT_EQ(j["n"], 24);
  ASSERT_TRUE(j["scores"].contains("global"));
  train::EvalOptions eo;
  eo.model_path = o.model_path;
  eo.input_path = o.input_path;
  const json t = json::parse(train::evaluate_file(eo).json);
  EXPECT_NEAR(j["scores"]["default"]["macro_f1"].get<double>(), t["macro_f1"].get<double>(), 1e-9)
      << t.dump();
  EXPECT_NEAR(j["scores"]["default"]["micro_f1"].get<double>(), t["micro_f1"].get<double>(), 1e-9);
  EXPECT_NEAR(j["scores"]["per_class"]["macro_f1"].get<double>(), summary_->thresholds.per_class_macro_f1,
              1e-12);
  EXPECT_NEAR(j["scores"]["global"]["macro_f1"].get<double>(), summary_->thresholds.global_macro_f1, 1e-12);
  EXPECT_EQ(j["thresholds"]["per_class"]["music"].get<double>(), summary_->thresholds.per_class[11]);
  EXPECT_EQ(j["scores"]["per_class"]["per_class"].size(), 19u);
}

TEST_F(TopicsTrain, PredictionAppliesTheStoredThresholds) {
  std::string in = rows(5, 11);
  in += "{\"id\": 7, \"content\": 3}\n";  // no text field: a bad row (line 6)
  tern::test::write_bytes(dir_->path("in.jsonl"), in);
  const social::Thresholds& t = summary_->thresholds;
  for (const std::string& choice : {"per-class", "global", "0.3"}) {
    social::TopicsPredictOptions o;
    o.model_path = dir_->path("topics.h5");
    o.input = dir_->path("in.jsonl");
    o.output = dir_->path("out.jsonl");
    o.errors = dir_->path("bad.jsonl");
    o.thresholds = social::ThresholdChoice::parse(choice);
    const social::TopicsPredictSummary s = social::predict_topics(o);
    EXPECT_EQ(s.rows, 5);
    EXPECT_EQ(s.bad_rows, 1);
    EXPECT_EQ(json::parse(slurp(o.errors))["line"], 6);
    std::istringstream lines(slurp(o.output));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      const json r = json::parse(line);
      EXPECT_EQ(r["id"], 1000 + n);
      std::vector<std::string> want;
      for (int c = 0; c < 19; ++c) {
        const std::string& l = social::tweet_topic_labels()[c];
        const double th = choice == "per-class" ? t.per_class[c] : choice == "global" ? t.global : 0.3;
        if (r["probs"][l].get<double>() >= th) want.push_back(l);
      }
      EXPECT_EQ(r["labels"].get<std::vector<std::string>>(), want) << choice << " row " << n;
      ++n;
    }
    EXPECT_EQ(n, 5);
  }
}

TEST_F(TopicsTrain, Cli) {
  const std::string m = dir_->path("topics.h5");
  tern::test::write_bytes(dir_->path("cli_in.jsonl"), rows(3, 1) + "not json\n");
  auto r = tern::test::run_tern("topics predict --model " + m + " " + dir_->path("cli_in.jsonl") + " " +
                                    dir_->path("cli_out.jsonl") + " --threads 1",
                                "", 60);
  EXPECT_EQ(r.code, 3) << r.out;  // one bad row
  EXPECT_NE(r.out.find("\"line\":4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 rows, 1 bad rows, thresholds per-class"), std::string::npos) << r.out;
  const std::string out = slurp(dir_->path("cli_out.jsonl"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);

  r = tern::test::run_tern("topics eval --model " + m + " --data " + dir_->path("t_validation.jsonl") +
                               " --metrics-json " + dir_->path("m.json") + " --threads 1",
                           "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  const json mj = json::parse(slurp(dir_->path("m.json")));
  EXPECT_EQ(mj["n"], 24);
  EXPECT_NEAR(mj["scores"]["per_class"]["macro_f1"].get<double>(), summary_->thresholds.per_class_macro_f1,
              1e-12);

  r = tern::test::run_tern("topics classify", "", 60);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("unknown subcommand 'classify'"), std::string::npos) << r.out;
  r = tern::test::run_tern("topics predict --model " + m + " --thresholds 2 -", "", 60);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--thresholds: '2'"), std::string::npos) << r.out;
  // A multi-label model without tuned thresholds: per-class is an error, a number works.
  r = tern::test::run_tern(
      "topics predict --model " + dir_->path("tiny.h5") + " " + dir_->path("cli_in.jsonl"), "", 60);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no tuned thresholds"), std::string::npos) << r.out;
  r = tern::test::run_tern("topics predict --model " + dir_->path("tiny.h5") + " --thresholds 0.5 " +
                               dir_->path("cli_in.jsonl") + " " + dir_->path("o2.jsonl"),
                           "", 60);
  EXPECT_EQ(r.code, 3) << r.out;
}

TEST(TopicsData, FindsTheSplitsOfALanguageFolderAndNamesWhatIsMissing) {
  ScratchDir s;
  EXPECT_TERN_ERROR(social::find_topic_splits(s.path().string()), "no *_train.jsonl");
  tern::test::write_bytes(s.path("xx_train.jsonl"), "");
  EXPECT_TERN_ERROR(social::find_topic_splits(s.path().string()), "no *_validation.jsonl");
  tern::test::write_bytes(s.path("xx_validation.jsonl.gz"), "");
  social::TopicSplits sp = social::find_topic_splits(s.path().string());
  EXPECT_EQ(sp.train, s.path("xx_train.jsonl"));
  EXPECT_EQ(sp.val, s.path("xx_validation.jsonl.gz"));
  EXPECT_EQ(sp.test, "");
  tern::test::write_bytes(s.path("yy_train.jsonl"), "");
  EXPECT_TERN_ERROR(social::find_topic_splits(s.path().string()), "several files match");
}
