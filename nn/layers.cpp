#include "nn/layers.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <omp.h>

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

void Buffer::reserve(int64_t n) {
  if (n <= cap_) return;
  t_ = Tensor();
  t_ = Tensor::empty({n});
  cap_ = n;
}

Linear::Linear(ParamStore& ps, const std::string& name, int64_t in_, int64_t out_, bool initialisable)
    : in(in_), out(out_) {
  w = ps.take(name + ".weight", {out, in}, Init::Normal, initialisable);
  b = ps.take(name + ".bias", {out}, Init::Zeros, initialisable);
}

WeightRef Linear::weight() const {
  return WeightRef::f32(w->value.f32(), out, in, in);
}

void Linear::forward(const float* x, float* y, int64_t N, bool with_bias) const {
  gemm_weight(N, x, in, weight(), 0.f, y, out);
  if (with_bias) add_bias(y, b->value.f32(), N, out);
}

void Linear::backward(const float* x, const float* dy, float* dx, int64_t N, bool accumulate_dx) const {
  if (w->trainable) {
    sgemm(true, false, out, in, N, 1.f, dy, out, x, in, 1.f, w->grad.f32(), in);  // dW (out, in) += dy^T x
    bias_backward(dy, b->grad.f32(), N, out);
  }
  if (dx)
    sgemm(false, false, N, in, out, 1.f, dy, out, w->value.f32(), in, accumulate_dx ? 1.f : 0.f, dx, in);
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
  const std::vector<std::string> gemm = {n.q, n.k, n.v, n.attn_out, n.ffn_in, n.ffn_out};
  for (const auto& g : gemm)
    if (ps.is_int8(g + ".weight")) stored_int8_ = true;
  if (stored_int8_) {
    // int8 weights + scales (tern convert --quantize int8): no float copy; biases as usual.
    const int64_t shapes[6][2] = {{C, C}, {C, C}, {C, C}, {C, C}, {I, C}, {C, I}};
    Param* w[6];
    i8_q_.resize(6);
    i8_scale_.resize(6);
    for (int j = 0; j < 6; ++j)
      w[j] = ps.take_int8(gemm[j] + ".weight", shapes[j][0], shapes[j][1], i8_q_[j], i8_scale_[j]);
    Param* b[6];
    for (int j = 0; j < 6; ++j) b[j] = ps.take(gemm[j] + ".bias", {shapes[j][0]}, Init::Zeros);
    q = Linear(w[0], b[0], C, C);
    k = Linear(w[1], b[1], C, C);
    v = Linear(w[2], b[2], C, C);
    attn_out = Linear(w[3], b[3], C, C);
    ffn_in = Linear(w[4], b[4], C, I);
    ffn_out = Linear(w[5], b[5], I, C);
    attn_ln = LayerNormP(ps, n.attn_ln, C, c.layer_norm_eps);
    out_ln = LayerNormP(ps, n.out_ln, C, c.layer_norm_eps);
    return;
  }
  // Weights first, then biases, so that a packed arena keeps W_q, W_k, W_v (and b_q, b_k, b_v) adjacent.
  Param* wq = ps.take(n.q + ".weight", {C, C}, Init::Normal);
  Param* wk = ps.take(n.k + ".weight", {C, C}, Init::Normal);
  Param* wv = ps.take(n.v + ".weight", {C, C}, Init::Normal);
  Param* bq = ps.take(n.q + ".bias", {C}, Init::Zeros);
  Param* bk = ps.take(n.k + ".bias", {C}, Init::Zeros);
  Param* bv = ps.take(n.v + ".bias", {C}, Init::Zeros);
  q = Linear(wq, bq, C, C);
  k = Linear(wk, bk, C, C);
  v = Linear(wv, bv, C, C);
  // Move them into one (3C, C) matrix and one (3C) vector; the Params become views into those.
  qkv_w_ = Tensor::empty({3 * C, C});
  qkv_b_ = Tensor::empty({3 * C});
  int64_t i = 0;
  for (Param* p : {wq, wk, wv}) {
    std::copy(p->value.f32(), p->value.f32() + C * C, qkv_w_.f32() + i * C * C);
    drop_file_pages(p->value);  // a view of the model file no longer used (peak RSS)
    p->value = qkv_w_.slice(0, i * C, (i + 1) * C);
    ++i;
  }
  i = 0;
  for (Param* p : {bq, bk, bv}) {
    std::copy(p->value.f32(), p->value.f32() + C, qkv_b_.f32() + i * C);
    p->value = qkv_b_.slice(0, i * C, (i + 1) * C);
    ++i;
  }
  attn_out = Linear(ps, n.attn_out, C, C);
  attn_ln = LayerNormP(ps, n.attn_ln, C, c.layer_norm_eps);
  ffn_in = Linear(ps, n.ffn_in, C, I);
  ffn_out = Linear(ps, n.ffn_out, I, C);
  out_ln = LayerNormP(ps, n.out_ln, C, c.layer_norm_eps);
}

// Post-LN block (BertLayer / TransformerBlock):
//   a = Attention(x);  h = LN1(x + a W_o^T + b_o);  y = LN2(h + act(h W_1^T + b_1) W_2^T + b_2)
void EncoderLayer::forward(const float* x, float* y, const float* mask_add, int64_t B, int64_t T,
                           LayerCache& cc, bool keep_probs, const LayerDropout* drop) const {
  const int64_t N = B * T;
  forward_tokens(x, y, N, cc, keep_probs, drop, [&](const float* qkv, float* ctx) {
    float* probs = keep_probs ? cc.probs.get(B * H * T * T) : nullptr;
    attention(qkv, qkv + C, qkv + 2 * C, 3 * C, mask_add, B, T, H, D, 1.f / std::sqrt(static_cast<float>(D)),
              ctx, C, probs, drop ? &drop->probs : nullptr);
  });
}

void EncoderLayer::forward_packed(const float* x, float* y, const int64_t* offsets, int64_t B,
                                  LayerCache& cc) const {
  const int64_t N = offsets[B];
  forward_tokens(x, y, N, cc, false, nullptr, [&](const float* qkv, float* ctx) {
    // Inference keeps no probabilities: the probs buffer is the per-thread score scratch. A model whose
    // GEMMs run bf16 / int8 gets the bf16 attention products too.
    const bool lowp = prepared() && p_qkv_.precision() != Precision::F32;
    float* scratch = cc.probs.get(std::max<int64_t>(1, attention_packed_scratch(offsets, B, D, lowp)));
    attention_packed(qkv, qkv + C, qkv + 2 * C, 3 * C, offsets, B, H, D,
                     1.f / std::sqrt(static_cast<float>(D)), ctx, C, scratch, lowp);
  });
}

void EncoderLayer::forward_packed_first(const float* x, float* y, const int64_t* offsets, int64_t B,
                                        LayerCache& cc) const {
  TERN_CHECK(prepared(), "forward_packed_first needs the layer's weights prepared (set_precision)");
  const int64_t N = offsets[B];
  float* qkv = cc.qkv.get(N * 3 * C);  // (N, 3C)
  p_qkv_.gemm(N, x, C, p_qkv_bias_.data(), 0.f, qkv, 3 * C);
  float* ctx = cc.ctx.get(B * C);  // (B, C)
  float* scratch = cc.probs.get(std::max<int64_t>(1, attention_first_scratch(offsets, B)));
  attention_packed_first(qkv, qkv + C, qkv + 2 * C, 3 * C, offsets, B, H, D,
                         1.f / std::sqrt(static_cast<float>(D)), ctx, C, scratch);
  float* xf = cc.out.get(B * C);  // (B, C) the residual rows of the first tokens
  for (int64_t b = 0; b < B; ++b) std::memcpy(xf + b * C, x + offsets[b] * C, C * sizeof(float));
  tail_rows_chunked(xf, ctx, y, B, cc);  // row-wise: the same as on all rows, for these rows
}

// The token-wise part of the block (every op but attention works row by row on N = B*T or packed rows).
void EncoderLayer::forward_tokens(const float* x, float* y, int64_t N, LayerCache& cc, bool keep_probs,
                                  const LayerDropout* drop,
                                  const std::function<void(const float*, float*)>& attend) const {
  // qkv (N, 3C): columns [0, C) = Q, [C, 2C) = K, [2C, 3C) = V.
  float* qkv = cc.qkv.get(N * 3 * C);
  const bool packed = prepared();
  if (packed) {
    p_qkv_.gemm(N, x, C, p_qkv_bias_.data(), 0.f, qkv, 3 * C);
  } else if (qkv_fused()) {
    gemm_weight(N, x, C, WeightRef::f32(q.w->value.f32(), 3 * C, C, C), 0.f, qkv, 3 * C);
    add_bias(qkv, q.b->value.f32(), N, 3 * C);
  } else {
    int64_t j = 0;
    for (const Linear* l : {&q, &k, &v}) {
      gemm_weight(N, x, C, l->weight(), 0.f, qkv + j * C, 3 * C);
      ++j;
    }
    for (int64_t r = 0; r < N; ++r)
      for (int64_t c = 0; c < 3 * C; ++c)
        qkv[r * 3 * C + c] += (c < C ? q : c < 2 * C ? k : v).b->value.f32()[c % C];
  }
  float* ctx = cc.ctx.get(N * C);
  attend(qkv, ctx);
  if (packed && !keep_probs && !drop && (omp_in_parallel() || omp_get_max_threads() == 1)) {
    // Single-threaded inference (a worker's batch): the rest of the block is row-wise, so it runs on chunks
    // of rows whose activations (a, h, f, o) stay in L2 from one op to the next instead of a pass over
    // memory per op.
    tail_rows_chunked(x, ctx, y, N, cc);
    return;
  }
  // attn_ln_in = ctx W_o^T, then (+ b_o + x) in place; h = LN1(attn_ln_in)
  float* a = cc.attn_ln_in.get(N * C);
  const bool drop_a = drop && drop->attn_out.active(), drop_o = drop && drop->ffn_out.active();
  if (packed)
    p_attn_out_.gemm(N, ctx, C, nullptr, 0.f, a, C);
  else
    attn_out.forward(ctx, a, N, /*add_bias=*/drop_a);
  if (drop_a) dropout_apply(a, N * C, drop->attn_out);  // HF: dropout(dense(ctx)) before the residual
  float* h = cc.h.get(N * C);
  add_bias_residual_layer_norm(a, drop_a ? nullptr : attn_out.b->value.f32(), x, attn_ln.gamma->value.f32(),
                               attn_ln.beta->value.f32(), h, N, C, attn_ln.eps,
                               keep_probs ? cc.ln1_mean.get(N) : nullptr,
                               keep_probs ? cc.ln1_rstd.get(N) : nullptr);
  // Feed-forward.
  float* f = cc.ffn_act.get(N * I);
  if (packed) {  // bias and activation in the GEMM's store (the tile still in registers)
    p_ffn_in_.gemm(N, h, C, ffn_in.b->value.f32(), 0.f, f, I, act);
  } else if (keep_probs) {
    ffn_in.forward(h, f, N, /*add_bias=*/false);
    // Training keeps the pre-activation for the backward of the activation.
    float* pre = cc.ffn_pre.get(N * I);
    add_bias(f, ffn_in.b->value.f32(), N, I);
    std::copy(f, f + N * I, pre);
    bias_act(f, nullptr, N, I, act);
  } else {
    ffn_in.forward(h, f, N, /*add_bias=*/false);
    bias_act(f, ffn_in.b->value.f32(), N, I, act);
  }
  float* o = cc.ln2_in.get(N * C);
  if (packed)
    p_ffn_out_.gemm(N, f, I, nullptr, 0.f, o, C);
  else
    ffn_out.forward(f, o, N, /*add_bias=*/drop_o);
  if (drop_o) dropout_apply(o, N * C, drop->ffn_out);
  add_bias_residual_layer_norm(
      o, drop_o ? nullptr : ffn_out.b->value.f32(), h, out_ln.gamma->value.f32(), out_ln.beta->value.f32(), y,
      N, C, out_ln.eps, keep_probs ? cc.ln2_mean.get(N) : nullptr, keep_probs ? cc.ln2_rstd.get(N) : nullptr);
}

namespace {
std::atomic<int64_t> g_row_chunk{[] {
  const char* e = std::getenv("TERN_ROW_CHUNK");
  const int64_t v = e ? std::atoll(e) : 0;
  return v > 0 ? v : int64_t{96};
}()};
}  // namespace

int64_t EncoderLayer::row_chunk() {
  return g_row_chunk.load(std::memory_order_relaxed);
}

int64_t EncoderLayer::set_row_chunk(int64_t rows) {
  TERN_CHECK(rows > 0, "row chunk " << rows);
  return g_row_chunk.exchange(rows);
}

// attention output -> LN1 -> FFN -> LN2 on chunks of rows, chunk-sized buffers reused (prepared weights).
void EncoderLayer::tail_rows_chunked(const float* x, const float* ctx, float* y, int64_t N,
                                     LayerCache& cc) const {
  const int64_t R = std::min(N, row_chunk());
  float* a = cc.attn_ln_in.get(R * C);  // (R, C)
  float* h = cc.h.get(R * C);           // (R, C)
  float* f = cc.ffn_act.get(R * I);     // (R, I)
  float* o = cc.ln2_in.get(R * C);      // (R, C)
  for (int64_t r0 = 0; r0 < N; r0 += R) {
    const int64_t n = std::min(R, N - r0);
    p_attn_out_.gemm(n, ctx + r0 * C, C, nullptr, 0.f, a, C);
    add_bias_residual_layer_norm(a, attn_out.b->value.f32(), x + r0 * C, attn_ln.gamma->value.f32(),
                                 attn_ln.beta->value.f32(), h, n, C, attn_ln.eps);
    p_ffn_in_.gemm(n, h, C, ffn_in.b->value.f32(), 0.f, f, I, act);
    p_ffn_out_.gemm(n, f, I, nullptr, 0.f, o, C);
    add_bias_residual_layer_norm(o, ffn_out.b->value.f32(), h, out_ln.gamma->value.f32(),
                                 out_ln.beta->value.f32(), y + r0 * C, n, C, out_ln.eps);
  }
}

bool EncoderLayer::qkv_fused() const {
  const int64_t CC = C * C;
  return q.w->value.f32() + CC == k.w->value.f32() && k.w->value.f32() + CC == v.w->value.f32() &&
         q.b->value.f32() + C == k.b->value.f32() && k.b->value.f32() + C == v.b->value.f32();
}

void EncoderLayer::set_precision(Precision p, bool release) {
  TERN_CHECK(!prepared(), "encoder layer weights are already prepared for " << precision_name(precision_));
  TERN_CHECK(!stored_int8_ || p == Precision::I8,
             "an encoder layer with int8-stored weights runs in int8 only, not " << precision_name(p));
  precision_ = p;
  require_precision(p);
  p_qkv_bias_.resize(static_cast<size_t>(3 * C));
  if (stored_int8_) {
    // The file's int8 values and scales, packed as they are: the same PackedWeight as from_f32(I8, W) on
    // the float weights they were quantised from (per-output-channel quantisation stacks row-wise).
    std::vector<int8_t> wq(static_cast<size_t>(3 * C * C));
    std::vector<float> ws(static_cast<size_t>(3 * C));
    int64_t j = 0;
    for (const Linear* l : {&q, &k, &v}) {
      std::copy(i8_q_[j].i8(), i8_q_[j].i8() + C * C, wq.data() + j * C * C);
      std::copy(i8_scale_[j].f32(), i8_scale_[j].f32() + C, ws.data() + j * C);
      std::copy(l->b->value.f32(), l->b->value.f32() + C, p_qkv_bias_.data() + j * C);
      ++j;
    }
    p_qkv_ = PackedWeight::from_i8(wq.data(), ws.data(), 3 * C, C);
    p_attn_out_ = PackedWeight::from_i8(i8_q_[3].i8(), i8_scale_[3].f32(), C, C);
    p_ffn_in_ = PackedWeight::from_i8(i8_q_[4].i8(), i8_scale_[4].f32(), I, C);
    p_ffn_out_ = PackedWeight::from_i8(i8_q_[5].i8(), i8_scale_[5].f32(), C, I);
    for (const Tensor& t : i8_q_) drop_file_pages(t);  // views of the model file, packed now (peak RSS)
    i8_q_.clear();
    i8_scale_.clear();
    return;
  }
  // W_q, W_k, W_v stacked (3C, C) and their biases (3C): the constructor made the weights adjacent
  // (qkv_w_); a copy only when something moved them apart.
  const float* wq = q.w->value.f32();
  const bool adjacent = k.w->value.f32() == wq + C * C && v.w->value.f32() == wq + 2 * C * C;
  std::vector<float> w;
  if (!adjacent) w.resize(static_cast<size_t>(3 * C * C));
  int64_t j = 0;
  for (const Linear* l : {&q, &k, &v}) {
    if (!adjacent) std::copy(l->w->value.f32(), l->w->value.f32() + C * C, w.data() + j * C * C);
    std::copy(l->b->value.f32(), l->b->value.f32() + C, p_qkv_bias_.data() + j * C);
    ++j;
  }
  p_qkv_ = PackedWeight::from_f32(p, adjacent ? wq : w.data(), 3 * C, C, C);
  p_attn_out_ = PackedWeight::from_f32(p, attn_out.w->value.f32(), C, C, C);
  p_ffn_in_ = PackedWeight::from_f32(p, ffn_in.w->value.f32(), I, C, C);
  p_ffn_out_ = PackedWeight::from_f32(p, ffn_out.w->value.f32(), C, I, I);
  if (release) {
    for (Param* w : {q.w, k.w, v.w, attn_out.w, ffn_in.w, ffn_out.w}) {
      drop_file_pages(w->value);  // a view of the model file: its pages leave the RSS with it
      w->value = Tensor();
    }
    qkv_w_ = Tensor();
  }
}

void EncoderLayer::set_trainable(bool on) {
  for (Param* p : {q.w, q.b, k.w, k.b, v.w, v.b, attn_out.w, attn_out.b, ffn_in.w, ffn_in.b, ffn_out.w,
                   ffn_out.b, attn_ln.gamma, attn_ln.beta, out_ln.gamma, out_ln.beta})
    p->trainable = on;
}

// Backward of the post-LN block, in reverse order of forward():
//   LN2:  d_ln2 = LN2'(dy);           d_h = d_ln2 (residual);   d_o = drop(d_ln2)
//   FFN:  d_f = d_o W_2;  d_pre = d_f * act'(pre);  d_h += d_pre W_1
//   LN1:  d_ln1 = LN1'(d_h);          dx = d_ln1 (residual);    d_a = drop(d_ln1)
//   attn: d_ctx = d_a W_o;  (dq, dk, dv) = attention'(d_ctx);  dx += dq W_q + dk W_k + dv W_v
void EncoderLayer::backward(const float* x, const float* dy, float* dx, int64_t B, int64_t T, LayerCache& cc,
                            const LayerDropout& drop, GradScratch& g) const {
  const int64_t N = B * T;
  const bool tr = trainable();
  float* d_ln2 = g.d_ln2.get(N * C);
  layer_norm_backward(dy, cc.ln2_in.data(), cc.ln2_mean.data(), cc.ln2_rstd.data(), out_ln.gamma->value.f32(),
                      d_ln2, tr ? out_ln.gamma->grad.f32() : nullptr, tr ? out_ln.beta->grad.f32() : nullptr,
                      N, C);
  float* d_h = g.d_h.get(N * C);
  std::copy(d_ln2, d_ln2 + N * C, d_h);
  dropout_apply(d_ln2, N * C, drop.ffn_out);  // d_o
  float* d_f = g.d_ffn.get(N * I);
  ffn_out.backward(cc.ffn_act.data(), d_ln2, d_f, N, false);
  act_backward(cc.ffn_pre.data(), d_f, d_f, N * I, act);
  ffn_in.backward(cc.h.data(), d_f, d_h, N, /*accumulate_dx=*/true);
  float* d_a = g.d_a.get(N * C);
  layer_norm_backward(d_h, cc.attn_ln_in.data(), cc.ln1_mean.data(), cc.ln1_rstd.data(),
                      attn_ln.gamma->value.f32(), d_a, tr ? attn_ln.gamma->grad.f32() : nullptr,
                      tr ? attn_ln.beta->grad.f32() : nullptr, N, C);
  if (dx) std::copy(d_a, d_a + N * C, dx);
  dropout_apply(d_a, N * C, drop.attn_out);
  float* d_ctx = g.d_ctx.get(N * C);
  attn_out.backward(cc.ctx.data(), d_a, d_ctx, N, false);
  float* dqkv = g.d_qkv.get(N * 3 * C);
  const float* qkv = cc.qkv.data();
  attention_backward(qkv, qkv + C, qkv + 2 * C, 3 * C, cc.probs.data(), drop.probs, d_ctx, C, B, T, H, D,
                     1.f / std::sqrt(static_cast<float>(D)), dqkv, dqkv + C, dqkv + 2 * C);
  // dW_qkv (3C, C) += dqkv^T x;  db_qkv += colsum(dqkv);  dx += dqkv W_qkv.
  const bool fused = qkv_fused() && q.w->grad.f32() + C * C == k.w->grad.f32() &&
                     k.w->grad.f32() + C * C == v.w->grad.f32() && q.b->grad.f32() + C == k.b->grad.f32() &&
                     k.b->grad.f32() + C == v.b->grad.f32();
  if (fused) {
    if (q.w->trainable) {
      sgemm(true, false, 3 * C, C, N, 1.f, dqkv, 3 * C, x, C, 1.f, q.w->grad.f32(), C);
      bias_backward(dqkv, q.b->grad.f32(), N, 3 * C);
    }
    if (dx) sgemm(false, false, N, C, 3 * C, 1.f, dqkv, 3 * C, q.w->value.f32(), C, 1.f, dx, C);
  } else {
    int64_t j = 0;
    for (const Linear* l : {&q, &k, &v}) {
      const float* d = dqkv + j * C;
      if (l->w->trainable) {
        sgemm(true, false, C, C, N, 1.f, d, 3 * C, x, C, 1.f, l->w->grad.f32(), C);
        for (int64_t r = 0; r < N; ++r)
          for (int64_t c = 0; c < C; ++c) l->b->grad.f32()[c] += d[r * 3 * C + c];
      }
      if (dx) sgemm(false, false, N, C, C, 1.f, d, 3 * C, l->w->value.f32(), C, 1.f, dx, C);
      ++j;
    }
  }
}

}  // namespace tern
