#include "train/model_loss.h"

#include <cmath>
#include <cstring>

#include "tensor/check.h"
#include "weights/h5_arrays.h"

namespace tern::train {

ProblemType resolve_problem_type(const ModelConfig& cfg, const Tensor& labels) {
  if (cfg.problem_type != ProblemType::Unspecified) return cfg.problem_type;
  if (cfg.num_labels == 1) return ProblemType::Regression;
  const bool integer = labels.defined() && (labels.dtype() == DType::I64 || labels.dtype() == DType::I32);
  return integer ? ProblemType::SingleLabel : ProblemType::MultiLabel;
}

LossKind hf_loss_kind(ProblemType p) {
  switch (p) {
    case ProblemType::SingleLabel:
      return LossKind::CrossEntropy;
    case ProblemType::MultiLabel:
      return LossKind::BceWithLogits;
    case ProblemType::Regression:
      return LossKind::Mse;
    default:
      TERN_FAIL("hf_loss_kind: problem type unspecified");
  }
}

std::vector<float> targets_from_labels(const Tensor& labels, LossKind kind, int64_t B, int64_t L) {
  TERN_CHECK(labels.defined(), "labels are missing");
  Tensor t = labels.contiguous();
  const int64_t want = kind == LossKind::CrossEntropy ? B : B * L;
  TERN_CHECK(t.numel() == want, "labels " << t.describe() << ": expected " << want << " values for batch "
                                          << B << " and " << L << " labels");
  std::vector<float> y(static_cast<size_t>(want));
  for (int64_t i = 0; i < want; ++i) {
    switch (t.dtype()) {
      case DType::I64:
        y[i] = static_cast<float>(t.i64()[i]);
        break;
      case DType::I32:
        y[i] = static_cast<float>(t.i32()[i]);
        break;
      case DType::F32:
        y[i] = t.f32()[i];
        break;
      default:
        TERN_FAIL("labels: unsupported dtype " << dtype_name(t.dtype()));
    }
  }
  return y;
}

const ParamSlice& arena_slice(const ParamArena& a, const std::string& name) {
  for (const ParamSlice& s : a.slices)
    if (s.param->name == name) return s;
  TERN_FAIL("parameter " << name << " is not in the arena");
}

double loss_and_backward(Model& m, const Inputs& in, const std::vector<float>& targets,
                         const LossOptions& loss, const Dropout& dropout, float grad_scale,
                         Tensor* logits_out) {
  TERN_CHECK(m.has_head(), "loss_and_backward: the model has no classification head");
  ModelOutputs o = m.forward_train(in.input_ids, in.attention_mask, in.token_type_ids, dropout);
  const int64_t B = o.logits.size(0), L = o.logits.size(1);
  std::vector<float> d(static_cast<size_t>(B * L));
  const double l = loss_forward_backward(loss, o.logits.f32(), targets.data(), B, L, d.data());
  if (grad_scale != 1.f)
    for (float& x : d) x *= grad_scale;
  m.backward(d.data(), nullptr);
  if (logits_out) *logits_out = o.logits;
  return l;
}

double projection_loss_and_backward(Model& m, const Inputs& in, const Tensor& w1t, const Tensor& w2t) {
  ModelOutputs o = m.forward_train(in.input_ids, in.attention_mask, in.token_type_ids, {});
  const Tensor& h = o.last_hidden_state;  // (B, T, C)
  const int64_t B = h.size(0), T = h.size(1), C = h.size(2);
  TERN_CHECK(w1t.numel() == C && w2t.numel() == C, "projection loss: w1 / w2 need " << C << " values");
  TERN_CHECK(m.has_pooler() && o.pooler_output.defined(), "projection loss: the model has no pooler");
  const float* w1 = w1t.f32();
  const float* w2 = w2t.f32();
  const int64_t* mask = in.attention_mask.defined() ? in.attention_mask.i64() : nullptr;
  double msum = 0;
  for (int64_t i = 0; i < B * T; ++i) msum += mask ? mask[i] : 1;
  double l1 = 0, l2 = 0;
  std::vector<float> dh(static_cast<size_t>(B * T * C), 0.f);
  for (int64_t r = 0; r < B * T; ++r) {
    const double mk = mask ? mask[r] : 1;
    for (int64_t c = 0; c < C; ++c) {
      l1 += static_cast<double>(h.f32()[r * C + c]) * mk * w1[c];
      dh[r * C + c] = static_cast<float>(mk * w1[c] / msum);
    }
  }
  const float* pooled = o.pooler_output.f32();  // (B, C)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) l2 += static_cast<double>(pooled[b * C + c]) * w2[c];
  // d loss / d pooler_output[b, c] = w2[c] / B; Model::backward carries it through the pooler's tanh + dense.
  std::vector<float> dp(static_cast<size_t>(B * C));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) dp[b * C + c] = static_cast<float>(w2[c] / static_cast<double>(B));
  m.backward(nullptr, dh.data(), dp.data());
  return l1 / msum + l2 / B;
}

GradBatch read_grad_batch(const std::string& path) {
  auto specs = [](bool required) {
    return std::vector<H5ArraySpec>{{"input_ids", 2, H5Kind::Int, required},
                                    {"attention_mask", 2, H5Kind::Int, false},
                                    {"token_type_ids", 2, H5Kind::Int, false},
                                    {"labels", -1, H5Kind::Any, false}};
  };
  TensorMap m = read_h5_arrays(path, specs(false), "");
  if (!m.count("input_ids")) {
    TensorMap g = read_h5_arrays(path, specs(true), "inputs");
    if (m.count("labels")) g["labels"] = m["labels"];
    m = std::move(g);
  }
  GradBatch b;
  b.in.input_ids = m.at("input_ids");
  const Shape& s = b.in.input_ids.shape();
  TERN_CHECK(s[0] > 0 && s[1] > 0, path << ": input_ids is empty " << shape_str(s));
  for (const char* k : {"attention_mask", "token_type_ids"})
    if (m.count(k))
      TERN_CHECK(m.at(k).shape() == s, path << ": " << k << " has shape " << shape_str(m.at(k).shape())
                                            << " but input_ids has " << shape_str(s));
  if (m.count("attention_mask")) b.in.attention_mask = m.at("attention_mask");
  if (m.count("token_type_ids")) b.in.token_type_ids = m.at("token_type_ids");
  if (m.count("labels")) b.labels = m.at("labels");
  TensorMap w = read_h5_arrays(path, {{"train/synthetic_loss_w1", 1, H5Kind::Float, false},
                                      {"train/synthetic_loss_w2", 1, H5Kind::Float, false},
                                      {"loss_w1", 1, H5Kind::Float, false},
                                      {"loss_w2", 1, H5Kind::Float, false}});
  if (w.count("loss_w1")) b.proj_w1 = w["loss_w1"];
  if (w.count("loss_w2")) b.proj_w2 = w["loss_w2"];
  if (w.count("train/synthetic_loss_w1")) b.proj_w1 = w["train/synthetic_loss_w1"];
  if (w.count("train/synthetic_loss_w2")) b.proj_w2 = w["train/synthetic_loss_w2"];
  return b;
}

double model_loss_and_backward(Model& m, const GradBatch& b) {
  if (!m.has_head()) {
    TERN_CHECK(b.proj_w1.defined() && b.proj_w2.defined(),
               "the model has no head: its loss needs the projection weights loss_w1 / loss_w2 (or "
               "train/synthetic_loss_w1 / _w2) in the input file");
    return projection_loss_and_backward(m, b.in, b.proj_w1, b.proj_w2);
  }
  TERN_CHECK(b.labels.defined(), "the input file has no dataset 'labels'");
  const ProblemType pt = resolve_problem_type(m.config(), b.labels);
  LossOptions lo;
  lo.kind = hf_loss_kind(pt);
  const int64_t B = b.in.input_ids.size(0), L = m.config().num_labels;
  const std::vector<float> y = targets_from_labels(b.labels, lo.kind, B, L);
  return loss_and_backward(m, b.in, y, lo);
}

std::string hf_param_name(const Model& m, const std::string& name) {
  const std::string pre = m.config().prefix + ".";
  if (!m.has_head() && name.rfind(pre, 0) == 0) return name.substr(pre.size());
  return name;
}

}  // namespace tern::train
