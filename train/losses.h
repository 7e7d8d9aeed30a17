// Training losses with the exact semantics of their torch.nn counterparts (reduction='mean'), each
// returning the loss and, when asked, d loss / d logits; plus target scaling for regression.
//   CrossEntropyLoss(weight, ignore_index=-100, label_smoothing)
//   https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html BCEWithLogitsLoss(weight)
//   https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html MSELoss, L1Loss,
//   HuberLoss(delta)                               https://pytorch.org/docs/stable/nn.html#loss-functions
//   quantile (pinball) loss: mean of max(tau * r, (tau - 1) * r), r = target - prediction
// Hugging Face's sequence-classification heads use CrossEntropyLoss (single label), BCEWithLogitsLoss
// (multi label) and MSELoss (regression), all with the default 'mean' reduction.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tern::train {

enum class LossKind { CrossEntropy, BceWithLogits, Mse, Mae, Huber, Quantile };

const char* loss_name(LossKind k);              // "ce", "bce", "mse", "mae", "huber", "quantile"
LossKind loss_from_name(const std::string& s);  // accepts those names (and "l1" for mae)

struct LossOptions {
  LossKind kind = LossKind::CrossEntropy;
  // CrossEntropy: one weight per class (torch `weight`); BceWithLogits: one per label (broadcast over the
  // batch). Empty = all ones.
  std::vector<float> class_weights;
  float label_smoothing = 0.f;  // CrossEntropy only, in [0, 1]
  float huber_delta = 1.f;      // Huber: > 0
  float quantile_tau = 0.5f;    // Quantile: in (0, 1)
  int64_t ignore_index = -100;  // CrossEntropy: rows with this target add nothing (torch default)
};

// logits: (B, L) row-major. targets:
//   CrossEntropy: (B) class ids stored as floats (exact up to 2^24), or ignore_index;
//   BceWithLogits: (B, L) in [0, 1]; Mse / Mae / Huber / Quantile: (B, L).
// Returns the mean loss; writes d loss / d logits (B, L) into d_logits when it is not null (overwrites).
double loss_forward_backward(const LossOptions& opt, const float* logits, const float* targets, int64_t B,
                             int64_t L, float* d_logits);

// The individual losses (same conventions).
double cross_entropy(const float* logits, const float* targets, int64_t B, int64_t L,
                     const float* class_weights, float label_smoothing, int64_t ignore_index,
                     float* d_logits);
double bce_with_logits(const float* logits, const float* targets, int64_t B, int64_t L, const float* weights,
                       float* d_logits);
double mse_loss(const float* pred, const float* targets, int64_t n, float* d_pred);
double l1_loss(const float* pred, const float* targets, int64_t n, float* d_pred);
double huber_loss(const float* pred, const float* targets, int64_t n, float delta, float* d_pred);
double quantile_loss(const float* pred, const float* targets, int64_t n, float tau, float* d_pred);

// "Balanced" class weights, sklearn's compute_class_weight('balanced'): n_samples / (n_classes * count_c)
// (a class absent from the data gets weight 1). `labels`: class ids in [0, L).
std::vector<float> balanced_class_weights(const std::vector<int64_t>& labels, int64_t L);

// Regression target scaling, fitted on the training targets and inverted at prediction time.
//   Log1p:  y' = log1p(y)                (needs y > -1), inverse expm1
//   Robust: y' = (y - median) / IQR      (IQR = q75 - q25 with numpy's linear interpolation; 1 when 0),
//           one median / IQR per target column (sklearn RobustScaler).
class TargetScaler {
 public:
  enum class Kind { None, Log1p, Robust };
  TargetScaler() = default;
  explicit TargetScaler(Kind k) : kind_(k) {}
  static Kind kind_from_name(const std::string& s);  // none | log1p | robust
  static const char* kind_name(Kind k);

  // y: (N, width) row-major, unscaled.
  void fit(const std::vector<float>& y, int64_t width);
  void transform(float* y, int64_t n_rows) const;  // in place, (n_rows, width)
  void inverse(float* y, int64_t n_rows) const;    // in place
  Kind kind() const { return kind_; }
  const std::vector<double>& center() const { return center_; }
  const std::vector<double>& scale() const { return scale_; }

  std::string to_json() const;  // {"kind": ..., "center": [...], "scale": [...]}
  static TargetScaler from_json(const std::string& json);

 private:
  Kind kind_ = Kind::None;
  int64_t width_ = 0;
  std::vector<double> center_, scale_;
};

// Linear-interpolated quantile of `v` (sorted copy), numpy.percentile's default method.
double quantile_linear(std::vector<double> v, double q);

}  // namespace tern::train
