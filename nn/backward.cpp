// Training: parameter arena, freezing, and the backward of the training forward (LoadedModel::forward with
// dropout). Backward math per layer is in layers.cpp, per head in heads.cpp; this file chains heads, pooler,
// layers and embeddings: drop(LN(word[ids] + type[tti] + pos[pos_ids])).
#include <cstring>

#include "nn/model.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"

namespace tern {

ParamArena& Model::pack() {
  if (arena_.values) return arena_;
  TERN_CHECK(lm_->precision() == Precision::F32 && !lm_->prepared(),
             lm_->source() << ": a model loaded for " << precision_name(lm_->precision())
                           << " inference cannot be trained (training needs fp32 weights)");
  auto& ps = lm_->ps_.params();
  // Each slice starts on a 64-byte boundary.
  int64_t total = 0;
  for (auto& p : ps) total += (p.value.numel() + 15) / 16 * 16;
  arena_values_ = Tensor::zeros({total});
  arena_grads_ = Tensor::zeros({total});
  arena_.values = arena_values_.f32();
  arena_.grads = arena_grads_.f32();
  arena_.size = total;
  arena_.slices.clear();
  int64_t off = 0;
  for (auto& p : ps) {
    const int64_t n = p.value.numel();
    std::memcpy(arena_.values + off, p.value.contiguous().f32(), static_cast<size_t>(n) * sizeof(float));
    p.value =
        Tensor::view_of(arena_values_.storage(), static_cast<size_t>(off) * 4, p.value.shape(), DType::F32);
    p.grad =
        Tensor::view_of(arena_grads_.storage(), static_cast<size_t>(off) * 4, p.value.shape(), DType::F32);
    arena_.slices.push_back({&p, off, n});
    off += (n + 15) / 16 * 16;
  }
  return arena_;
}

void Model::zero_grad() {
  pack();
  std::memset(arena_.grads, 0, static_cast<size_t>(arena_.size) * sizeof(float));
}

void Model::freeze(int64_t k) {
  LoadedModel& m = *lm_;
  const int64_t L = static_cast<int64_t>(m.layers_.size());
  const int64_t upto = k < 0 ? L : std::min(k, L);
  const std::initializer_list<Param*> embeddings = {m.word_, m.pos_, m.type_, m.emb_ln_.gamma,
                                                    m.emb_ln_.beta};
  for (Param* p : embeddings)
    if (p) p->trainable = k == 0;
  for (int64_t i = 0; i < L; ++i) m.layers_[i].set_trainable(i >= upto);
  // The sinusoidal DistilBERT table is fixed, never trained.
  if (m.cfg_.arch == Arch::DistilBert && !m.pos_->from_checkpoint && m.cfg_.sinusoidal_positions)
    m.pos_->trainable = false;
}

bool Model::is_trainable(const Param* p) const {
  return p->trainable;
}

ModelOutputs Model::forward_train(const Tensor& input_ids, const Tensor& attention_mask,
                                  const Tensor& token_type_ids, const Dropout& dropout) {
  pack();
  return lm_->forward(train_ws_, input_ids, attention_mask, token_type_ids, &dropout);
}

void Model::backward(const float* d_logits, const float* d_last_hidden, const float* d_pooler) {
  std::vector<const float*> d(lm_->heads_.size(), nullptr);
  if (!d.empty()) d[0] = d_logits;
  lm_->backward(train_ws_, d, d_last_hidden, d_pooler);
}

void Model::backward_heads(const std::vector<const float*>& d_logits, const float* d_last_hidden,
                           const float* d_pooler) {
  TERN_CHECK(d_logits.size() == lm_->heads_.size(),
             "backward_heads: " << d_logits.size() << " gradients for " << lm_->heads_.size() << " heads");
  lm_->backward(train_ws_, d_logits, d_last_hidden, d_pooler);
}

void LoadedModel::backward(Workspace& ws, const std::vector<const float*>& d_logits,
                           const float* d_last_hidden, const float* d_pooler) {
  TERN_CHECK(ws.train, "Model::backward without a forward_train before it");
  const int64_t B = ws.B, T = ws.T, C = cfg_.hidden, N = B * T;
  const uint64_t seed = dropout_seed(ws.drop);
  float* dx = ws.gs.d_x.get(N * C);  // (B*T, C)
  if (d_last_hidden)
    std::memcpy(dx, d_last_hidden, N * C * sizeof(float));
  else
    std::memset(dx, 0, N * C * sizeof(float));

  // Heads and the pooler: gradients w.r.t. their inputs, the pooled output (B, C) and the first token's
  // state (B, C), which goes into the first token's row of dx. The first contribution to each is written,
  // later ones are added (from `scratch`).
  float* d_pooled = ws.d_pooled.get(B * C);
  float* d_first = ws.d_first.get(B * C);
  float* scratch = ws.d_head.get(B * C);
  bool have_pooled = false, have_first = false;
  auto add_into = [&](float* dst, bool& have, const auto& write) {
    if (!have) {
      write(dst);
      have = true;
      return;
    }
    write(scratch);
    for (int64_t i = 0; i < B * C; ++i) dst[i] += scratch[i];
  };
  for (size_t k = 0; k < heads_.size() && k < d_logits.size(); ++k) {
    if (!d_logits[k]) continue;
    const Head& h = *heads_[k];
    const HeadDropout hd = head_dropout(ws.drop, k);
    const bool pooled_in = h.input() == HeadInput::Pooled && pooler_;
    add_into(pooled_in ? d_pooled : d_first, pooled_in ? have_pooled : have_first,
             [&](float* dst) { h.backward(d_logits[k], dst, B, ws.heads[k], hd); });
  }
  if (d_pooler && pooler_) {
    if (!have_pooled) std::memset(d_pooled, 0, B * C * sizeof(float));
    for (int64_t i = 0; i < B * C; ++i) d_pooled[i] += d_pooler[i];
    have_pooled = true;
  }
  if (have_pooled)
    add_into(d_first, have_first,
             [&](float* dst) { pooler_->backward(ws.first.data(), ws.pooled.data(), d_pooled, dst, B); });
  if (have_first)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) dx[b * T * C + c] += d_first[b * C + c];

  // Encoder layers, top down, while trainable.
  const bool emb_trainable = word_->trainable;
  int64_t i = static_cast<int64_t>(layers_.size()) - 1;
  for (; i >= 0 && layers_[i].trainable(); --i) {
    const float* x = i > 0 ? ws.layers[i - 1].out.data() : ws.emb_out.data();
    const bool need_dx = i > 0 ? layers_[i - 1].trainable() : emb_trainable;
    layers_[i].backward(x, dx, need_dx ? dx : nullptr, B, T, ws.layers[i], layer_dropout(ws.drop, i), ws.gs);
    if (!need_dx) return;
  }
  if (i >= 0 || !emb_trainable) return;

  // Embeddings: dropout, LayerNorm, then scatter into the tables.
  dropout_apply(dx, N * C, DropoutMask{ws.drop.hidden, seed, 1});
  layer_norm_backward(dx, ws.emb_in.data(), ws.emb_mean.data(), ws.emb_rstd.data(),
                      emb_ln_.gamma->value.f32(), dx, emb_ln_.gamma->grad.f32(), emb_ln_.beta->grad.f32(), N,
                      C);
  embedding_backward(ws.ids.i64(), N, dx, word_->grad.f32(), C);
  if (pos_->trainable) embedding_backward(ws.pos_ids.data(), N, dx, pos_->grad.f32(), C);
  if (type_) {
    if (ws.tti.defined()) {
      embedding_backward(ws.tti.i64(), N, dx, type_->grad.f32(), C);
    } else {
      float* g = type_->grad.f32();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) g[c] += dx[n * C + c];
    }
  }
}

}  // namespace tern
