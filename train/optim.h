// Optimisation: AdamW as torch.optim.AdamW, HF's linear warm-up / decay schedule, and gradient clipping as
// torch.nn.utils.clip_grad_norm_. Everything works on the flat parameter arena of Model::pack().
#pragma once
#include <cstdint>
#include <vector>

#include "nn/model.h"

namespace tern::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;
  // true: no weight decay for Param::no_decay (biases, LayerNorm weights), HF Trainer's default grouping.
  // false: decay on every parameter (one torch param group, as the fixtures).
  bool exclude_no_decay = false;
};

// torch.optim.AdamW (https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html, the single-tensor
// path of torch/optim/adamw.py), per trainable parameter element with t = the step count after increment:
//   p   *= 1 - lr * wd                               (decoupled decay first)
//   m    = lerp(m, g, 1 - beta1)                     (= beta1 m + (1 - beta1) g)
//   v    = beta2 v + (1 - beta2) g^2
//   p   -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Frozen parameters (Model::is_trainable false) are skipped entirely, as torch skips params whose grad
// is None: no decay, no state update. State m, v = two flat arrays parallel to the arena.
class AdamW {
 public:
  // `trainable`: one flag per arena slice (empty = all trainable).
  AdamW(const ParamArena& arena, const AdamWOptions& opt, const std::vector<bool>& trainable = {});
  void step(ParamArena& arena, double lr);
  // Multi-task training: one step on the trainable slices with active[i] only (a head whose task is not in
  // the batch has no gradient: torch skips such a parameter entirely: no decay, no state update). Each
  // slice counts its own steps for the bias correction, as torch keeps a `step` per parameter; a slice
  // stepped every time gets exactly step()'s update. Do not mix with step() on the same instance.
  void step_active(ParamArena& arena, double lr, const std::vector<bool>& active);

  int64_t steps() const { return step_; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void set_steps(int64_t s) { step_ = s; }
  const AdamWOptions& options() const { return opt_; }

 private:
  struct Segment {
    int64_t offset, size;
    bool decay;
  };
  AdamWOptions opt_;
  std::vector<Segment> segments_;  // trainable ranges of the arena, neighbours with equal flags merged
  std::vector<float> m_, v_;
  int64_t step_ = 0;
  int64_t size_ = 0;                    // arena floats
  int64_t trainable_ = 0;               // floats in segments_
  std::vector<bool> trainable_slices_;  // per arena slice
  std::vector<int64_t> slice_steps_;    // step_active(): steps taken per slice
};

// Hugging Face get_linear_schedule_with_warmup (a LambdaLR factor on the base lr):
//   step < warmup: lr * step / max(1, warmup);  else lr * max(0, (total - step) / max(1, total - warmup)).
// `step` = optimizer steps taken so far (the lr used by step number `step`, 0-based).
struct LinearSchedule {
  double lr = 1e-4;
  int64_t warmup = 0, total = 1;
  double lr_at(int64_t step) const;
};

// torch.nn.utils.clip_grad_norm_(params, max_norm) over all gradients (norm_type 2): the total norm is the
// L2 norm of the per-tensor norms; with clip_coef = max_norm / (total + 1e-6), gradients are multiplied
// by min(clip_coef, 1). Returns the total norm before clipping. max_norm <= 0: only measures.
double clip_grad_norm(ParamArena& arena, double max_norm);

}  // namespace tern::train
