#include "nn/layers.h"

#include <cmath>

#include "tensor/gemm.h"
#include "tensor/kernels.h"

namespace tern {

float* Buffer::get(int64_t n) {
  if (n > cap_) {
    // Grow by 1.5x so a slowly growing batch does not reallocate every time.
    int64_t c = std::max<int64_t>(n, cap_ + cap_ / 2);
    t_ = Tensor::empty({c});
    cap_ = c;
  }
  return t_.f32();
}

Linear::Linear(ParamStore& ps, const std::string& name, int64_t in_, int64_t out_, bool initialisable)
    : in(in_), out(out_) {
  w = ps.take(name + ".weight", {out, in}, Init::Normal, initialisable);
  b = ps.take(name + ".bias", {out}, Init::Zeros, initialisable);
}

void Linear::forward(const float* x, float* y, int64_t N, bool with_bias) const {
  sgemm(false, true, N, out, in, 1.f, x, in, w->value.f32(), in, 0.f, y, out);
  if (with_bias) add_bias(y, b->value.f32(), N, out);
}

LayerNormP::LayerNormP(ParamStore& ps, const std::string& name, int64_t C, float eps_, bool initialisable)
    : eps(eps_) {
  gamma = ps.take(name + ".weight", {C}, Init::Ones, initialisable);
  beta = ps.take(name + ".bias", {C}, Init::Zeros, initialisable);
}

LayerNames LayerNames::for_arch(Arch a, const std::string& prefix, int64_t i) {
  LayerNames n;
  if (a == Arch::DistilBert) {
    const std::string p = prefix + ".transformer.layer." + std::to_string(i) + ".";
    n.q = p + "attention.q_lin";
    n.k = p + "attention.k_lin";
    n.v = p + "attention.v_lin";
    n.attn_out = p + "attention.out_lin";
    n.attn_ln = p + "sa_layer_norm";
    n.ffn_in = p + "ffn.lin1";
    n.ffn_out = p + "ffn.lin2";
    n.out_ln = p + "output_layer_norm";
  } else {
    const std::string p = prefix + ".encoder.layer." + std::to_string(i) + ".";
    n.q = p + "attention.self.query";
    n.k = p + "attention.self.key";
    n.v = p + "attention.self.value";
    n.attn_out = p + "attention.output.dense";
    n.attn_ln = p + "attention.output.LayerNorm";
    n.ffn_in = p + "intermediate.dense";
    n.ffn_out = p + "output.dense";
    n.out_ln = p + "output.LayerNorm";
  }
  return n;
}

EncoderLayer::EncoderLayer(ParamStore& ps, const ModelConfig& c, int64_t index)
    : C(c.hidden), H(c.heads), D(c.head_dim()), I(c.intermediate), act(c.act) {
  const LayerNames n = LayerNames::for_arch(c.arch, c.prefix, index);
  q = Linear(ps, n.q, C, C);
  k = Linear(ps, n.k, C, C);
  v = Linear(ps, n.v, C, C);
  attn_out = Linear(ps, n.attn_out, C, C);
  attn_ln = LayerNormP(ps, n.attn_ln, C, c.layer_norm_eps);
  ffn_in = Linear(ps, n.ffn_in, C, I);
  ffn_out = Linear(ps, n.ffn_out, I, C);
  out_ln = LayerNormP(ps, n.out_ln, C, c.layer_norm_eps);
}

// Post-LN block (BertLayer / TransformerBlock):
//   a = Attention(x);  h = LN1(x + a W_o^T + b_o);  y = LN2(h + act(h W_1^T + b_1) W_2^T + b_2)
void EncoderLayer::forward(const float* x, float* y, const float* mask_add, int64_t B, int64_t T, LayerCache& cc,
                           bool keep_probs) const {
  const int64_t N = B * T;
  float* qb = cc.q.get(N * C);
  float* kb = cc.k.get(N * C);
  float* vb = cc.v.get(N * C);
  q.forward(x, qb, N);
  k.forward(x, kb, N);
  v.forward(x, vb, N);
  float* ctx = cc.ctx.get(N * C);
  float* probs = keep_probs ? cc.probs.get(B * H * T * T) : nullptr;
  attention(qb, kb, vb, C, mask_add, B, T, H, D, 1.f / std::sqrt(static_cast<float>(D)), ctx, C, probs);
  // attn_ln_in = ctx W_o^T, then (+ b_o + x) in place; h = LN1(attn_ln_in)
  float* a = cc.attn_ln_in.get(N * C);
  attn_out.forward(ctx, a, N, /*add_bias=*/false);
  float* h = cc.h.get(N * C);
  add_bias_residual_layer_norm(a, attn_out.b->value.f32(), x, attn_ln.gamma->value.f32(), attn_ln.beta->value.f32(),
                               h, N, C, attn_ln.eps, keep_probs ? cc.ln1_mean.get(N) : nullptr,
                               keep_probs ? cc.ln1_rstd.get(N) : nullptr);
  // Feed-forward.
  float* f = cc.ffn_act.get(N * I);
  ffn_in.forward(h, f, N, /*add_bias=*/false);
  if (keep_probs) {
    // Training keeps the pre-activation for the backward of the activation.
    float* pre = cc.ffn_pre.get(N * I);
    add_bias(f, ffn_in.b->value.f32(), N, I);
    std::copy(f, f + N * I, pre);
    bias_act(f, nullptr, N, I, act);
  } else {
    bias_act(f, ffn_in.b->value.f32(), N, I, act);
  }
  float* o = cc.ln2_in.get(N * C);
  ffn_out.forward(f, o, N, /*add_bias=*/false);
  add_bias_residual_layer_norm(o, ffn_out.b->value.f32(), h, out_ln.gamma->value.f32(), out_ln.beta->value.f32(), y,
                               N, C, out_ln.eps, keep_probs ? cc.ln2_mean.get(N) : nullptr,
                               keep_probs ? cc.ln2_rstd.get(N) : nullptr);
}

}  // namespace tern
