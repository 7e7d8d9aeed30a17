// Topic scores and threshold tuning against values computed by hand on a tiny set (social/topics.h).
//
// The set: N = 4 tweets, L = 3 classes, probabilities p and gold g per row:
//   class 0: g = 1 1 0 0,  p = 0.9 0.4 0.6 0.1
//   class 1: g = 0 1 0 0,  p = 0.32 0.8 0.25 0.35
//   class 2: g = 0 0 0 0,  p = 0.1 0.15 0.6 0.05   (no positives)
// Candidates 0.2 0.3 0.5 0.7 (a label is predicted when p >= t; no p equals a candidate):
//   class 0 F1:  t=0.2 {0,1,2}: tp2 fp1 fn0 -> 4/5 = 0.8;  t=0.3 the same 0.8;  t=0.5 {0,2}: tp1 fp1 fn1 ->
//   0.5;
//                t=0.7 {0}: tp1 fp0 fn1 -> 2/3.            best 0.8 on the run {0.2, 0.3} -> lower middle 0.2
//   class 1 F1:  t=0.2 all four: tp1 fp3 -> 2/5 = 0.4;  t=0.3 {0,1,3}: tp1 fp2 -> 0.5;
//                t=0.5 {1}: 1.0;  t=0.7 {1}: 1.0.          best 1.0 on the run {0.5, 0.7} -> lower middle 0.5
//   class 2 F1:  0 at every threshold (no positives)      -> not tuned, keeps the global threshold
//   macro-F1 (over all 3): t=0.2 (0.8+0.4+0)/3 = 0.4;  t=0.3 1.3/3;  t=0.5 1.5/3 = 0.5;  t=0.7 (2/3+1)/3 =
//   5/9
//                          -> global 0.7, macro-F1 5/9
//   per-class thresholds (0.2, 0.5, 0.7): F1 0.8, 1.0, 0 -> macro 0.6; counts tp 2+1+0, fp 1+0+0, fn 0
//                          -> micro P 3/4, R 1, F1 6/7
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "social/topics.h"
#include "tensor/check.h"
#include "tests/util/test_util.h"
#include "train/metrics.h"

using namespace tern;
using namespace tern::social;

namespace {

constexpr int64_t N = 4, L = 3;

// Row-major (N, L) from per-class columns.
std::vector<float> by_rows(const std::vector<std::vector<float>>& cols) {
  std::vector<float> v(N * L);
  for (int64_t c = 0; c < L; ++c)
    for (int64_t i = 0; i < N; ++i) v[i * L + c] = cols[c][i];
  return v;
}

const std::vector<float> kGold = by_rows({{1, 1, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 0}});
const std::vector<float> kProbs =
    by_rows({{0.9f, 0.4f, 0.6f, 0.1f}, {0.32f, 0.8f, 0.25f, 0.35f}, {0.1f, 0.15f, 0.6f, 0.05f}});
const std::vector<double> kCand = {0.2, 0.3, 0.5, 0.7};

}  // namespace

TEST(TopicScores, ByHandAtOneHalf) {
  const TopicScores s = score_topics(kGold, kProbs, N, L, 0.5);
  // class 0: {0, 2} predicted: tp1 fp1 fn1; class 1: {1}: tp1; class 2: {2}: fp1.
  EXPECT_EQ(s.tp, (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(s.fp, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(s.fn, (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(s.support, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_DOUBLE_EQ(s.precision[0], 0.5);
  EXPECT_DOUBLE_EQ(s.recall[0], 0.5);
  EXPECT_DOUBLE_EQ(s.f1[0], 0.5);
  EXPECT_DOUBLE_EQ(s.f1[1], 1.0);
  EXPECT_DOUBLE_EQ(s.precision[2], 0.0);  // zero_division = 0
  EXPECT_DOUBLE_EQ(s.recall[2], 0.0);
  EXPECT_DOUBLE_EQ(s.f1[2], 0.0);
  EXPECT_DOUBLE_EQ(s.macro_f1, 0.5);
  // micro: TP 2, FP 2, FN 1.
  EXPECT_DOUBLE_EQ(s.micro_precision, 0.5);
  EXPECT_DOUBLE_EQ(s.micro_recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.micro_f1, 4.0 / 7.0);
}

TEST(TopicScores, AgreesWithTrainMultilabelReport) {
  // train::multilabel_report takes logits and sigmoid > t (strict); no probability here equals these t.
  std::vector<float> logits(kProbs.size());
  for (size_t i = 0; i < kProbs.size(); ++i) logits[i] = std::log(kProbs[i] / (1.f - kProbs[i]));
  for (double t : {0.22, 0.5, 0.65}) {
    const TopicScores s = score_topics(kGold, kProbs, N, L, t);
    const train::MultiLabelReport r = train::multilabel_report(kGold, logits, L, t);
    EXPECT_NEAR(s.macro_f1, r.macro_f1, 1e-12) << t;
    EXPECT_NEAR(s.micro_f1, r.micro_f1, 1e-12) << t;
    for (int64_t c = 0; c < L; ++c) EXPECT_NEAR(s.f1[c], r.f1[c], 1e-12) << t << " class " << c;
  }
}

TEST(TopicScores, PerClassThresholdsByHand) {
  const TopicScores s = score_topics(kGold, kProbs, N, L, std::vector<double>{0.2, 0.5, 0.7});
  EXPECT_DOUBLE_EQ(s.f1[0], 0.8);
  EXPECT_DOUBLE_EQ(s.f1[1], 1.0);
  EXPECT_DOUBLE_EQ(s.f1[2], 0.0);
  EXPECT_DOUBLE_EQ(s.macro_f1, 0.6);
  EXPECT_DOUBLE_EQ(s.micro_precision, 0.75);
  EXPECT_DOUBLE_EQ(s.micro_recall, 1.0);
  EXPECT_DOUBLE_EQ(s.micro_f1, 6.0 / 7.0);
}

TEST(TopicScores, ProbabilityEqualToThresholdIsPredicted) {
  // class 1 row 2 has p = 0.25 (exact in float32): at t = 0.25 it is a (false) positive, as are 0.32, 0.35.
  const TopicScores s = score_topics(kGold, kProbs, N, L, std::vector<double>{0.99, 0.25, 0.99});
  EXPECT_EQ(s.fp[1], 3);
  EXPECT_EQ(s.tp[1], 1);
}

TEST(TopicScores, SizeMismatchesAreErrors) {
  EXPECT_THROW(score_topics(kGold, kProbs, N, L, std::vector<double>{0.5, 0.5}), Error);
  EXPECT_THROW(score_topics(kGold, std::vector<float>(5), N, L, 0.5), Error);
  EXPECT_THROW(score_topics(std::vector<float>(11), kProbs, N, L, 0.5), Error);
}

TEST(TopicThresholds, TunedByHand) {
  TuneOptions o;
  o.candidates = kCand;
  const Thresholds t = tune_thresholds(kGold, kProbs, N, L, o);
  EXPECT_DOUBLE_EQ(t.global, 0.7);
  EXPECT_DOUBLE_EQ(t.global_macro_f1, 5.0 / 9.0);
  ASSERT_EQ(t.per_class.size(), 3u);
  EXPECT_DOUBLE_EQ(t.per_class[0], 0.2);
  EXPECT_DOUBLE_EQ(t.per_class[1], 0.5);
  EXPECT_DOUBLE_EQ(t.per_class[2], 0.7);  // untuned: the global one
  EXPECT_EQ(t.tuned, (std::vector<bool>{true, true, false}));
  EXPECT_DOUBLE_EQ(t.per_class_macro_f1, 0.6);
  EXPECT_EQ(t.rows, N);
}

TEST(TopicThresholds, MinPositives) {
  TuneOptions o;
  o.candidates = kCand;
  o.min_positives = 2;  // class 1 has one positive: it keeps the global threshold too
  const Thresholds t = tune_thresholds(kGold, kProbs, N, L, o);
  EXPECT_EQ(t.tuned, (std::vector<bool>{true, false, false}));
  EXPECT_DOUBLE_EQ(t.per_class[0], 0.2);
  EXPECT_DOUBLE_EQ(t.per_class[1], 0.7);
  // (0.8 + 1.0 + 0) / 3: class 1 at 0.7 still has F1 1.
  EXPECT_DOUBLE_EQ(t.per_class_macro_f1, 0.6);
  o.min_positives = 0;
  EXPECT_THROW(tune_thresholds(kGold, kProbs, N, L, o), Error);
}

TEST(TopicThresholds, DefaultGridPicksPlateauMiddles) {
  // Default grid 0.01 .. 0.99 against the float32 probabilities (0.1f, 0.4f, 0.6f, 0.8f lie just above
  // their decimals, 0.9f, 0.32f, 0.35f just below):
  //   class 0: F1 0.8 for t in 0.11 .. 0.40 (30 values) -> lower middle 0.11 + 14 * 0.01 = 0.25
  //   class 1: F1 1 for t in 0.35 .. 0.80 (46 values: 0.35f < 0.35) -> 0.35 + 22 * 0.01 = 0.57
  //   macro:   0.11 .. 0.25 (0.8 + 0.4)/3;  0.26 .. 0.31 (0.8 + 0.5)/3;  0.32 .. 0.34 (0.8 + 2/3)/3;
  //            0.35 .. 0.40 (0.8 + 1)/3 = 0.6 (best);  0.41 .. 0.60 0.5;  0.61 .. 0.80 5/9
  //            -> 0.35 .. 0.40 (6 values), lower middle 0.37
  const Thresholds t = tune_thresholds(kGold, kProbs, N, L);
  EXPECT_NEAR(t.per_class[0], 0.25, 1e-12);
  EXPECT_NEAR(t.per_class[1], 0.57, 1e-12);
  EXPECT_NEAR(t.global, 0.37, 1e-12);
  EXPECT_NEAR(t.global_macro_f1, 0.6, 1e-12);
  EXPECT_NEAR(t.per_class_macro_f1, 0.6, 1e-12);
}

TEST(TopicThresholds, PlateauMiddle) {
  EXPECT_EQ(pick_plateau_middle({0, 1, 1, 1, 0, 1}), 2u);
  EXPECT_EQ(pick_plateau_middle({1, 1}), 0u);
  EXPECT_EQ(pick_plateau_middle({0, 2, 2, 0, 2, 2, 2}), 1u);
  EXPECT_EQ(pick_plateau_middle({5}), 0u);
  EXPECT_EQ(pick_plateau_middle({0, 0, 0, 0}), 1u);
  EXPECT_THROW(pick_plateau_middle({}), Error);
}

TEST(TopicThresholds, Grid) {
  const std::vector<double> g = threshold_grid(0.01);
  ASSERT_EQ(g.size(), 99u);
  EXPECT_DOUBLE_EQ(g.front(), 0.01);
  EXPECT_DOUBLE_EQ(g[6], 0.07);
  EXPECT_DOUBLE_EQ(g.back(), 0.99);
  EXPECT_EQ(threshold_grid(0.25), (std::vector<double>{0.25, 0.5, 0.75}));
  EXPECT_THROW(threshold_grid(0), Error);
  EXPECT_THROW(threshold_grid(1), Error);
  TuneOptions o;
  o.candidates = {0.5, 0.3};
  EXPECT_THROW(tune_thresholds(kGold, kProbs, N, L, o), Error);
}

TEST(TopicThresholds, JsonRoundTripAndErrors) {
  TuneOptions o;
  o.candidates = kCand;
  const Thresholds t = tune_thresholds(kGold, kProbs, N, L, o);
  const std::vector<std::string> labels = {"a", "b", "c"};
  const std::string j = thresholds_json(t, labels, "val.jsonl");
  const Thresholds back = thresholds_from_json(j, labels, "m.h5");
  EXPECT_EQ(back.per_class, t.per_class);
  EXPECT_EQ(back.tuned, t.tuned);
  EXPECT_DOUBLE_EQ(back.global, 0.7);
  EXPECT_EQ(back.rows, 4);
  EXPECT_EQ(nlohmann::json::parse(j)["tuned_on"], "val.jsonl");
  EXPECT_TERN_ERROR(thresholds_from_json(j, {"a", "b", "zz"}, "m.h5"),
                    "m.h5: metadata topic_thresholds: no threshold for label 'zz'");
  EXPECT_TERN_ERROR(thresholds_from_json("{", labels, "m.h5"), "is not JSON");
  auto bad = nlohmann::json::parse(j);
  bad["per_class"]["b"] = 1.5;
  EXPECT_TERN_ERROR(thresholds_from_json(bad.dump(), labels, "m.h5"), "per_class.b = 1.5 is outside [0, 1]");
  EXPECT_THROW(thresholds_json(t, {"a"}, ""), Error);
}

TEST(TopicThresholds, Choice) {
  EXPECT_EQ(ThresholdChoice::parse("per-class").kind, ThresholdChoice::Kind::PerClass);
  EXPECT_EQ(ThresholdChoice::parse("global").kind, ThresholdChoice::Kind::Global);
  EXPECT_EQ(ThresholdChoice::parse("default").value, 0.5);
  EXPECT_EQ(ThresholdChoice::parse("0.3").value, 0.3);
  EXPECT_EQ(ThresholdChoice::parse("0.3").name(), "0.3");
  EXPECT_THROW(ThresholdChoice::parse("1.5"), Error);
  EXPECT_THROW(ThresholdChoice::parse("abc"), Error);
  EXPECT_THROW(ThresholdChoice::parse(""), Error);
  Thresholds t;
  t.global = 0.4;
  t.per_class = {0.1, 0.2};
  t.tuned = {true, true};
  EXPECT_EQ(resolve_thresholds(ThresholdChoice::parse("global"), t, 2, "m"), (std::vector<double>{0.4, 0.4}));
  EXPECT_EQ(resolve_thresholds(ThresholdChoice::parse("per-class"), t, 2, "m"),
            (std::vector<double>{0.1, 0.2}));
  EXPECT_EQ(resolve_thresholds(ThresholdChoice::parse("0.6"), std::nullopt, 2, "m"),
            (std::vector<double>{0.6, 0.6}));
  EXPECT_TERN_ERROR(resolve_thresholds(ThresholdChoice::parse("per-class"), std::nullopt, 2, "m.h5"),
                    "m.h5: no tuned thresholds");
}

TEST(TopicLabels, NineteenTweetTopicFields) {
  const auto& l = tweet_topic_labels();
  ASSERT_EQ(l.size(), 19u);
  EXPECT_EQ(l.front(), "arts_&_culture");
  EXPECT_EQ(l[12], "news_&_social_concern");
  EXPECT_EQ(l.back(), "youth_&_student_life");
}
