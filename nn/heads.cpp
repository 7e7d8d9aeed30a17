#include "nn/heads.h"

#include <cstring>

#include "tensor/kernels.h"

namespace tern {

// ---- Pooler ----

Pooler::Pooler(ParamStore& ps, const std::string& name, int64_t C, bool initialisable)
    : dense_(ps, name, C, C, initialisable) {}

void Pooler::forward(const float* first, float* pooled, int64_t B) const {
  dense_.forward(first, pooled, B);
  bias_act(pooled, nullptr, B, dense_.out, Act::Tanh);
}

// pooled = tanh(z), z = x0 W^T + b:  dz = d_pooled * (1 - pooled^2);  dW += dz^T x0;  d_first = dz W.
void Pooler::backward(const float* first, const float* pooled, float* d_pooled, float* d_first,
                      int64_t B) const {
  tanh_backward_from_output(pooled, d_pooled, d_pooled, B * dense_.out);
  dense_.backward(first, d_pooled, d_first, B, /*accumulate_dx=*/false);
}

void Pooler::set_trainable(bool on) {
  dense_.w->trainable = dense_.b->trainable = on;
}

// ---- BERT: dropout + classifier on the pooled output ----

BertClassificationHead::BertClassificationHead(ParamStore& ps, const std::string& head_name,
                                               const std::string& out_name, int64_t C, int64_t L,
                                               ProblemType p)
    : Head(head_name, C, L, p), out_(ps, out_name, C, L, /*initialisable=*/true) {}

void BertClassificationHead::forward(const float* x, float* logits, int64_t B, HeadCache& cc,
                                     const HeadDropout* drop) const {
  if (!drop) {
    out_.forward(x, logits, B);
    return;
  }
  // Training: keep the dropped input for dW.
  float* pd = cc.in_out.get(B * hidden_);  // (B, C)
  std::memcpy(pd, x, B * hidden_ * sizeof(float));
  dropout_apply(pd, B * hidden_, drop->input);
  out_.forward(pd, logits, B);
}

// dx = drop(d_logits W_c);  dW_c += d_logits^T drop(x).
void BertClassificationHead::backward(const float* d_logits, float* dx, int64_t B, HeadCache& cc,
                                      const HeadDropout& drop) const {
  out_.backward(cc.in_out.data(), d_logits, dx, B, /*accumulate_dx=*/false);
  dropout_apply(dx, B * hidden_, drop.input);
}

void BertClassificationHead::set_trainable(bool on) {
  out_.w->trainable = out_.b->trainable = on;
}

// ---- RoBERTa / DistilBERT: dense + activation + output projection on the first token ----

DenseClassificationHead::DenseClassificationHead(ParamStore& ps, const std::string& head_name,
                                                 const std::string& dense_name, const std::string& out_name,
                                                 int64_t C, int64_t L, ProblemType p, Act act,
                                                 bool input_dropout)
    : Head(head_name, C, L, p),
      dense_(ps, dense_name, C, C, /*initialisable=*/true),
      out_(ps, out_name, C, L, /*initialisable=*/true),
      act_(act),
      input_dropout_(input_dropout) {
  TERN_CHECK(act == Act::Tanh || act == Act::Relu,
             "classification head " << head_name << ": activation must be tanh or relu");
}

void DenseClassificationHead::forward(const float* x, float* logits, int64_t B, HeadCache& cc,
                                      const HeadDropout* drop) const {
  const int64_t C = hidden_;
  float* hh = cc.hidden.get(B * C);  // (B, C) act(x0 W_d + b_d)
  if (!drop) {
    dense_.forward(x, hh, B);
    bias_act(hh, nullptr, B, C, act_);
    out_.forward(hh, logits, B);
    return;
  }
  // Training: keep the (dropped) input, the activation output and the dropped activation.
  float* x0 = cc.x0.get(B * C);  // (B, C)
  std::memcpy(x0, x, B * C * sizeof(float));
  if (input_dropout_) dropout_apply(x0, B * C, drop->input);
  dense_.forward(x0, hh, B);
  bias_act(hh, nullptr, B, C, act_);
  float* hd = cc.in_out.get(B * C);  // (B, C)
  std::memcpy(hd, hh, B * C * sizeof(float));
  dropout_apply(hd, B * C, drop->hidden);
  out_.forward(hd, logits, B);
}

// d_hd = drop(d_logits W_o);  d_z = d_hd * act'(z) (from the activation's output);  dx = d_z W_d, dropped
// with the input mask (RoBERTa).
void DenseClassificationHead::backward(const float* d_logits, float* dx, int64_t B, HeadCache& cc,
                                       const HeadDropout& drop) const {
  const int64_t C = hidden_;
  float* d_hd = cc.d_hidden.get(B * C);  // (B, C)
  out_.backward(cc.in_out.data(), d_logits, d_hd, B, /*accumulate_dx=*/false);
  dropout_apply(d_hd, B * C, drop.hidden);
  const float* hh = cc.hidden.data();
  if (act_ == Act::Tanh) {
    tanh_backward_from_output(hh, d_hd, d_hd, B * C);
  } else {
    for (int64_t i = 0; i < B * C; ++i) d_hd[i] = hh[i] > 0.f ? d_hd[i] : 0.f;
  }
  dense_.backward(cc.x0.data(), d_hd, dx, B, /*accumulate_dx=*/false);
  if (input_dropout_) dropout_apply(dx, B * C, drop.input);
}

void DenseClassificationHead::set_trainable(bool on) {
  for (Param* p : {dense_.w, dense_.b, out_.w, out_.b}) p->trainable = on;
}

std::unique_ptr<Head> make_head(Arch arch, ParamStore& ps, const std::string& name, int64_t C, int64_t L,
                                ProblemType p) {
  TERN_CHECK(L >= 1, "head " << name << " needs at least one output (num_labels), got " << L);
  const bool hf = name == "classifier";
  switch (arch) {
    case Arch::Bert:
      return std::make_unique<BertClassificationHead>(ps, name, hf ? name : name + ".classifier", C, L, p);
    case Arch::Roberta:
      return std::make_unique<DenseClassificationHead>(ps, name, name + ".dense", name + ".out_proj", C, L, p,
                                                       Act::Tanh, /*input_dropout=*/true);
    case Arch::DistilBert:
      return std::make_unique<DenseClassificationHead>(
          ps, name, hf ? "pre_classifier" : name + ".pre_classifier",
          hf ? "classifier" : name + ".classifier", C, L, p, Act::Relu,
          /*input_dropout=*/false);
  }
  TERN_CHECK(false, "head " << name << ": unknown architecture");
  return nullptr;
}

}  // namespace tern
