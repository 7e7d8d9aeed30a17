// Evaluation metrics with scikit-learn's definitions (TweetEval's evaluation script uses sklearn):
//   classification: accuracy, per-class precision / recall / F1 (zero_division = 0), macro averages over
//     the classes present in gold or predictions (sklearn's default `labels`);
//   regression: MAE, RMSE, Spearman's rho (average ranks for ties, Pearson on the ranks; scipy.stats);
//   multi-label: micro / macro F1 of sigmoid(logit) > 0.5, macro over all labels.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tern::train {

struct ClassReport {
  std::vector<double> precision, recall, f1;  // per class id in [0, L)
  std::vector<int64_t> support;               // gold count per class
  double accuracy = 0, macro_precision = 0, macro_recall = 0, macro_f1 = 0;
};
ClassReport classification_report(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                                  int64_t L);

double mean_absolute_error(const std::vector<double>& gold, const std::vector<double>& pred);
double root_mean_squared_error(const std::vector<double>& gold, const std::vector<double>& pred);
std::vector<double> average_ranks(const std::vector<double>& x);  // 1-based, ties share their mean rank
double spearman(const std::vector<double>& a, const std::vector<double>& b);  // NaN when a side is constant

struct MultiLabelReport {
  double micro_f1 = 0, macro_f1 = 0, micro_precision = 0, micro_recall = 0;
  std::vector<double> f1;  // per label
};
// gold: (N, L) 0/1; logits: (N, L); a label is predicted when sigmoid(logit) > threshold.
MultiLabelReport multilabel_report(const std::vector<float>& gold, const std::vector<float>& logits,
                                   int64_t L, double threshold = 0.5);

// The metrics of a task as name -> value (accuracy, macro_f1, macro_recall, ... / mae, rmse, spearman /
// micro_f1, macro_f1), plus a JSON object with everything (per-class figures included).
// task: "single" (targets = class ids), "multi" (targets (N, L) 0/1), "regression" (targets (N, L) in
// original units, `outputs` = predictions in original units). `outputs`: (N, L) logits / predictions.
struct Evaluation {
  std::map<std::string, double> scalars;
  std::string json;
};
Evaluation evaluate(const std::string& task, const std::vector<float>& targets,
                    const std::vector<float>& outputs, int64_t N, int64_t L,
                    const std::vector<std::string>& label_names);

// Whether a larger value of the metric is better (mae / rmse / loss: no).
bool metric_higher_is_better(const std::string& metric);

}  // namespace tern::train
