// Metrics against scikit-learn 1.2.1 / scipy 1.10 (Debian python3-sklearn, python3-scipy):
//   g = [0,1,2,2,1,0,0,2,1,1], p = [0,2,2,1,1,0,1,2,1,0]: accuracy 0.6, macro F1 = macro recall =
//   macro precision = 0.611111, per-class F1 [0.6667, 0.5, 0.6667];
//   g2 = [0,0,1,1], p2 = [0,1,1,2] with L = 4: macro F1 0.388889, macro recall 0.333333 (over labels seen);
//   a = [1,2,2,3,5,4], b = [1.5,1.5,3,2,6,6]: MAE 1.0, RMSE 1.118034, spearmanr 0.8508410434878082;
//   multi-label G, Z below, sigmoid > 0.5: micro F1 0.6, macro F1 0.488889.
#include <gtest/gtest.h>

#include <cmath>

#include "tensor/check.h"
#include "train/metrics.h"

using namespace tern::train;

TEST(Metrics, Classification) {
  ClassReport r = classification_report({0, 1, 2, 2, 1, 0, 0, 2, 1, 1}, {0, 2, 2, 1, 1, 0, 1, 2, 1, 0}, 3);
  EXPECT_NEAR(r.accuracy, 0.6, 1e-12);
  EXPECT_NEAR(r.macro_f1, 0.611111111111111, 1e-12);
  EXPECT_NEAR(r.macro_recall, 0.611111111111111, 1e-12);
  EXPECT_NEAR(r.macro_precision, 0.611111111111111, 1e-12);
  EXPECT_NEAR(r.f1[0], 0.6666666666666666, 1e-12);
  EXPECT_NEAR(r.f1[1], 0.5, 1e-12);
  EXPECT_NEAR(r.precision[2], 0.6666666666666666, 1e-12);
  EXPECT_EQ(r.support[1], 4);
  // Class 3 seen nowhere: not averaged in (sklearn's default labels = those in gold or predictions);
  // class 2 predicted but never gold: recall 0 (zero_division 0), still averaged.
  ClassReport a = classification_report({0, 0, 1, 1}, {0, 1, 1, 2}, 4);
  EXPECT_NEAR(a.macro_f1, 0.38888888888888884, 1e-12);
  EXPECT_NEAR(a.macro_recall, 0.3333333333333333, 1e-12);
}

TEST(Metrics, Regression) {
  const std::vector<double> a = {1, 2, 2, 3, 5, 4}, b = {1.5, 1.5, 3, 2, 6, 6};
  EXPECT_NEAR(mean_absolute_error(a, b), 1.0, 1e-12);
  EXPECT_NEAR(root_mean_squared_error(a, b), 1.118033988749895, 1e-12);
  EXPECT_NEAR(spearman(a, b), 0.8508410434878082, 1e-12);
  // Average ranks for ties.
  EXPECT_EQ(average_ranks({10, 20, 20, 5}), (std::vector<double>{2, 3.5, 3.5, 1}));
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
}

TEST(Metrics, MultiLabel) {
  const std::vector<float> G = {1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0};
  const std::vector<float> Z = {2.0f, -1.0f, -0.5f, 0.1f, 0.3f, 0.2f, 1.0f, -2.0f, -3.0f, -1.0f, -1.0f, 0.0f};
  MultiLabelReport r = multilabel_report(G, Z, 3);
  EXPECT_NEAR(r.micro_f1, 0.6, 1e-12);
  EXPECT_NEAR(r.macro_f1, 0.48888888888888893, 1e-12);
  // logit 0 = probability 0.5 exactly: not predicted (> 0.5).
}

TEST(Metrics, EvaluateFromLogits) {
  // Logits (3, 2): argmax = [0, 0, 1] against gold [0, 1, 1]: accuracy 2/3; per-class figures by name.
  Evaluation e = evaluate("single", {0, 1, 1}, {2.f, 1.f, 3.f, 0.f, 0.f, 1.f}, 3, 2, {"neg", "pos"});
  EXPECT_NEAR(e.scalars.at("accuracy"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(e.scalars.at("macro_recall"), (1.0 + 0.5) / 2, 1e-12);
  EXPECT_NE(e.json.find("\"pos\":{"), std::string::npos) << e.json;
  Evaluation r = evaluate("regression", {1, 2, 3}, {1.5f, 2.f, 2.f}, 3, 1, {});
  EXPECT_NEAR(r.scalars.at("mae"), 0.5, 1e-7);
  EXPECT_THROW(evaluate("single", {0, 1}, {0.f, 1.f}, 2, 2, {}), tern::Error);
}
