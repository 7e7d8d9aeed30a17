#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include <omp.h>

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
  trainable_slices_.assign(arena.slices.size(), true);
  slice_steps_.assign(arena.slices.size(), 0);
  for (size_t i = 0; i < arena.slices.size(); ++i) {
    if (!trainable.empty() && !trainable[i]) {
      trainable_slices_[i] = false;
      continue;
    }
    const ParamSlice& s = arena.slices[i];
    const bool decay = opt.weight_decay > 0 && !(opt.exclude_no_decay && s.param->no_decay);
    if (!segments_.empty() && segments_.back().decay == decay &&
        segments_.back().offset + segments_.back().size == s.offset) {
      segments_.back().size += s.size;
    } else {
      segments_.push_back({s.offset, s.size, decay});
    }
    trainable_ += s.size;
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
  // One parallel region over the concatenated trainable segments, split evenly between the threads (a
  // fork/join per parameter costs more than the arithmetic on a busy machine). Each element's arithmetic
  // is independent, so the result does not depend on the split.
  const Segment* segs = segments_.data();
  const int64_t nseg = static_cast<int64_t>(segments_.size());
  const int64_t total = trainable_;
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t lo = total * t / nt, hi = total * (t + 1) / nt;
    int64_t base = 0;  // position of segment k in the concatenation
    for (int64_t k = 0; k < nseg && base < hi; base += segs[k].size, ++k) {
      const int64_t a = std::max(lo, base), b = std::min(hi, base + segs[k].size);
      if (a >= b) continue;
      const int64_t e = segs[k].offset + (b - base);
      const float dm = segs[k].decay ? decay_mul : 1.f;
#pragma omp simd
      for (int64_t i = segs[k].offset + (a - base); i < e; ++i) {
        const float pi = p[i] * dm;                  // decoupled decay (exact no-op when dm = 1)
        const float mi = m[i] + w1 * (g[i] - m[i]);  // torch.lerp, weight < 0.5: self + w * (end - self)
        const float vi = v[i] * fb2 + w2 * g[i] * g[i];
        const float denom = std::sqrt(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + neg_step_size * mi / denom;
      }
    }
  }
}

void AdamW::step_active(ParamArena& arena, double lr, const std::vector<bool>& active) {
  TERN_CHECK(arena.size == size_,
             "AdamW::step_active: arena has " << arena.size << " floats, state " << size_);
  TERN_CHECK(active.size() == arena.slices.size(), "AdamW::step_active: " << active.size() << " flags for "
                                                                          << arena.slices.size()
                                                                          << " parameters");
  ++step_;
  const double b1 = opt_.beta1, b2 = opt_.beta2;
  const float w1 = static_cast<float>(1.0 - b1);
  const float fb2 = static_cast<float>(b2), w2 = static_cast<float>(1.0 - b2);
  const float eps = static_cast<float>(opt_.eps);
  const float decay_mul = static_cast<float>(1.0 - lr * opt_.weight_decay);
  float* p = arena.values;
  const float* g = arena.grads;
  float* m = m_.data();
  float* v = v_.data();
  for (size_t k = 0; k < arena.slices.size(); ++k) {
    if (!active[k] || !trainable_slices_[k]) continue;
    const ParamSlice& s = arena.slices[k];
    const int64_t t = ++slice_steps_[k];
    const double bias_correction1 = 1.0 - std::pow(b1, static_cast<double>(t));
    const double bias_correction2 = 1.0 - std::pow(b2, static_cast<double>(t));
    const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
    const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    const bool decay = opt_.weight_decay > 0 && !(opt_.exclude_no_decay && s.param->no_decay);
    const float dm = decay ? decay_mul : 1.f;
    const int64_t e = s.offset + s.size;
#pragma omp parallel for simd if (s.size > 65536)
    for (int64_t i = s.offset; i < e; ++i) {
      const float pi = p[i] * dm;  // the arithmetic of step()
      const float mi = m[i] + w1 * (g[i] - m[i]);
      const float vi = v[i] * fb2 + w2 * g[i] * g[i];
      const float denom = std::sqrt(vi) / bc2_sqrt + eps;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi + neg_step_size * mi / denom;
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
  // Per-tensor squared norms (double accumulation; torch reports each tensor's norm in float32), then the
  // norm of the float32 per-tensor norms. One parallel region: the arena is split evenly between the
  // threads, each keeps partial sums per tensor, combined in a fixed order (deterministic per thread count).
  const int64_t ns = static_cast<int64_t>(arena.slices.size()), n = arena.size;
  const ParamSlice* sl = arena.slices.data();
  const float* g = arena.grads;
  std::vector<double> partial;
  int nthreads = 1;
#pragma omp parallel
  {
#pragma omp single
    {
      nthreads = omp_get_num_threads();
      partial.assign(static_cast<size_t>(nthreads * ns), 0.0);
    }
    const int64_t t = omp_get_thread_num();
    const int64_t lo = n * t / nthreads, hi = n * (t + 1) / nthreads;
    double* mine = partial.data() + t * ns;
    for (int64_t k = 0; k < ns; ++k) {
      const int64_t a = std::max(lo, sl[k].offset), b = std::min(hi, sl[k].offset + sl[k].size);
      double sq = 0;
#pragma omp simd reduction(+ : sq)
      for (int64_t i = a; i < b; ++i) sq += static_cast<double>(g[i]) * g[i];
      mine[k] = sq;
    }
  }
  double total_sq = 0;
  for (int64_t k = 0; k < ns; ++k) {
    double sq = 0;
    for (int t = 0; t < nthreads; ++t) sq += partial[t * ns + k];
    const float nk = static_cast<float>(std::sqrt(sq));
    total_sq += static_cast<double>(nk) * nk;
  }
  const float total = static_cast<float>(std::sqrt(total_sq));
  if (max_norm > 0) {
    const float coef = static_cast<float>(max_norm) / (total + 1e-6f);
    if (coef < 1.f) {
      float* gw = arena.grads;
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) gw[i] *= coef;
    }
  }
  return total;
}

}  // namespace tern::train
