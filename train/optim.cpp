#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include "tensor/check.h"

namespace tern::train {

AdamW::AdamW(const ParamArena& arena, const AdamWOptions& opt, const std::vector<bool>& trainable)
    : opt_(opt) {
  TERN_CHECK(arena.values && arena.grads, "AdamW: the model's parameters are not packed (Model::pack())");
  TERN_CHECK(
      trainable.empty() || trainable.size() == arena.slices.size(),
      "AdamW: " << trainable.size() << " trainable flags for " << arena.slices.size() << " parameters");
  TERN_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1 && opt.eps >= 0 &&
                 opt.weight_decay >= 0,
             "AdamW: invalid hyper-parameters");
  size_ = arena.size;
  m_.assign(static_cast<size_t>(arena.size), 0.f);
  v_.assign(static_cast<size_t>(arena.size), 0.f);
  for (size_t i = 0; i < arena.slices.size(); ++i) {
    if (!trainable.empty() && !trainable[i]) continue;
    const ParamSlice& s = arena.slices[i];
    const bool decay = opt.weight_decay > 0 && !(opt.exclude_no_decay && s.param->no_decay);
    if (!segments_.empty() && segments_.back().decay == decay &&
        segments_.back().offset + segments_.back().size == s.offset) {
      segments_.back().size += s.size;
    } else {
      segments_.push_back({s.offset, s.size, decay});
    }
  }
}

void AdamW::step(ParamArena& arena, double lr) {
  TERN_CHECK(arena.size == size_, "AdamW::step: arena has " << arena.size << " floats, state " << size_);
  ++step_;
  // Scalars as torch forms them: Python floats (double), applied to float32 tensors as float32.
  const double b1 = opt_.beta1, b2 = opt_.beta2;
  const double bias_correction1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias_correction2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const float decay_mul = static_cast<float>(1.0 - lr * opt_.weight_decay);
  const float w1 = static_cast<float>(1.0 - b1);  // lerp weight
  const float fb2 = static_cast<float>(b2), w2 = static_cast<float>(1.0 - b2);
  const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
  const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float eps = static_cast<float>(opt_.eps);
  float* p = arena.values;
  const float* g = arena.grads;
  float* m = m_.data();
  float* v = v_.data();
  for (const Segment& s : segments_) {
    const int64_t e = s.offset + s.size;
    if (s.decay) {
#pragma omp parallel for simd schedule(static)
      for (int64_t i = s.offset; i < e; ++i) p[i] *= decay_mul;
    }
#pragma omp parallel for simd schedule(static)
    for (int64_t i = s.offset; i < e; ++i) {
      // torch.lerp for weight < 0.5: self + weight * (end - self)
      m[i] = m[i] + w1 * (g[i] - m[i]);
      v[i] = v[i] * fb2 + w2 * g[i] * g[i];
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      p[i] = p[i] + neg_step_size * m[i] / denom;
    }
  }
}

double LinearSchedule::lr_at(int64_t step) const {
  if (step < warmup)
    return lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  return lr * std::max(0.0, static_cast<double>(total - step) /
                                static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

double clip_grad_norm(ParamArena& arena, double max_norm) {
  // Per-tensor norms in float32 as torch reports them, then the norm of those norms.
  double total_sq = 0;
  for (const ParamSlice& s : arena.slices) {
    const float* g = arena.grads + s.offset;
    double sq = 0;
#pragma omp parallel for reduction(+ : sq) schedule(static) if (s.size > 65536)
    for (int64_t i = 0; i < s.size; ++i) sq += static_cast<double>(g[i]) * g[i];
    const float n = static_cast<float>(std::sqrt(sq));
    total_sq += static_cast<double>(n) * n;
  }
  const float total = static_cast<float>(std::sqrt(total_sq));
  if (max_norm > 0) {
    const float coef = static_cast<float>(max_norm) / (total + 1e-6f);
    if (coef < 1.f) {
      float* g = arena.grads;
      const int64_t n = arena.size;
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) g[i] *= coef;
    }
  }
  return total;
}

}  // namespace tern::train
