// Training: parameter arena, freezing, the training forward (caches + dropout) and backward.
// Backward math per layer is in layers.cpp; this file chains embeddings, layers and heads:
//   BERT head:     logits = drop(tanh(x0 W_p + b_p)) W_c + b_c                   (pooler, then classifier)
//   RoBERTa head:  logits = drop(tanh(drop(x0) W_d + b_d)) W_o + b_o             (classifier.dense/out_proj)
//   DistilBERT:    logits = drop(relu(x0 W_pre + b_pre)) W_c + b_c               (pre_classifier/classifier)
// with x0 = last_hidden_state[:, 0]. Embeddings: drop(LN(word[ids] + type[tti] + pos[pos_ids])).
#include <cstring>

#include "nn/model.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"

namespace tern {

ParamArena& Model::pack() {
  if (arena_.values) return arena_;
  auto& ps = ps_.params();
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
    p.value = Tensor::view_of(arena_values_.storage(), static_cast<size_t>(off) * 4, p.value.shape(), DType::F32);
    p.grad = Tensor::view_of(arena_grads_.storage(), static_cast<size_t>(off) * 4, p.value.shape(), DType::F32);
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
  const int64_t L = static_cast<int64_t>(layers_.size());
  const int64_t upto = k < 0 ? L : std::min(k, L);
  for (Param* p : {word_, pos_, type_, emb_ln_.gamma, emb_ln_.beta})
    if (p) p->trainable = false;
  for (int64_t i = 0; i < L; ++i) layers_[i].set_trainable(i >= upto);
  if (k == 0)
    for (Param* p : {word_, pos_, type_, emb_ln_.gamma, emb_ln_.beta})
      if (p) p->trainable = true;
  // The sinusoidal DistilBERT table is fixed, never trained.
  if (cfg_.arch == Arch::DistilBert && !pos_->from_checkpoint && cfg_.sinusoidal_positions) pos_->trainable = false;
}

bool Model::is_trainable(const Param* p) const { return p->trainable; }

LayerDropout Model::layer_dropout(int64_t i) const {
  LayerDropout d;
  const uint64_t seed = drop_.seed * 0x100000001B3ull + drop_.step;
  d.probs = {drop_.attention, seed, (static_cast<uint64_t>(i) + 1) << 32};
  const float ao = drop_.attn_output >= 0.f ? drop_.attn_output : drop_.hidden;
  d.attn_out = {cfg_.arch == Arch::DistilBert ? 0.f : ao, seed, 16 + 4 * static_cast<uint64_t>(i)};
  d.ffn_out = {drop_.hidden, seed, 17 + 4 * static_cast<uint64_t>(i)};
  return d;
}

ModelOutputs Model::forward_train(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids,
                                  const Dropout& dropout) {
  pack();
  TERN_CHECK(input_ids.dtype() == DType::I64 && input_ids.dim() == 2,
             "input_ids must be int64 (B, T), got " << input_ids.describe());
  const int64_t B = input_ids.size(0), T = input_ids.size(1), C = cfg_.hidden, N = B * T;
  TERN_CHECK(B > 0 && T > 0, "empty batch " << input_ids.describe());
  drop_ = dropout;
  B_ = B;
  T_ = T;
  ids_ = input_ids.contiguous().clone();
  tti_ = (token_type_ids.defined() && type_) ? token_type_ids.contiguous().clone() : Tensor();
  float* madd = nullptr;
  if (attention_mask.defined()) {
    TERN_CHECK(attention_mask.shape() == input_ids.shape() && attention_mask.dtype() == DType::I64,
               "attention_mask must be int64 " << shape_str(input_ids.shape()));
    const Tensor m = attention_mask.contiguous();
    madd = mask_add_.get(N);
    for (int64_t n = 0; n < N; ++n) {
      TERN_CHECK(m.i64()[n] == 0 || m.i64()[n] == 1, "attention_mask holds " << m.i64()[n] << " at " << n);
      madd[n] = m.i64()[n] ? 0.f : -3.4028234663852886e38f;
    }
  }
  const uint64_t seed = drop_.seed * 0x100000001B3ull + drop_.step;

  // Embeddings, keeping the LayerNorm input and statistics.
  float* e_in = emb_in_.get(N * C);
  float* e_out = emb_out_.get(N * C);
  embed(ids_.i64(), nullptr, tti_.defined() ? tti_.i64() : nullptr, B, T, e_in, /*normalise=*/false);
  layer_norm(e_in, emb_ln_.gamma->value.f32(), emb_ln_.beta->value.f32(), e_out, N, C, emb_ln_.eps, emb_mean_.get(N),
             emb_rstd_.get(N));
  dropout_apply(e_out, N * C, DropoutMask{drop_.hidden, seed, 1});

  if (train_caches_.size() != layers_.size()) train_caches_.resize(layers_.size());
  const float* x = e_out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    float* y = train_caches_[i].out.get(N * C);
    const LayerDropout ld = layer_dropout(static_cast<int64_t>(i));
    layers_[i].forward(x, y, madd, B, T, train_caches_[i], /*train=*/true, &ld);
    x = y;
  }
  ModelOutputs out;
  out.last_hidden_state = train_caches_.empty() ? emb_out_.view({B, T, C}) : train_caches_.back().out.view({B, T, C});
  float* first = first_.get(B * C);
  for (int64_t b = 0; b < B; ++b) std::memcpy(first + b * C, x + b * T * C, C * sizeof(float));
  if (pooler_.w) {
    float* pooled = pooled_.get(B * C);
    pooler_.forward(first, pooled, B);
    bias_act(pooled, nullptr, B, C, Act::Tanh);
    out.pooler_output = pooled_.view({B, C});
  }
  if (has_head()) {
    const int64_t L = cfg_.num_labels;
    float* logits = logits_.get(B * L);
    const DropoutMask da{drop_.classifier, seed, 2}, db{drop_.classifier, seed, 3};
    if (cfg_.arch == Arch::Bert) {
      float* pd = hd_head_.get(B * C);
      std::memcpy(pd, pooler_.w ? pooled_.data() : first, B * C * sizeof(float));
      dropout_apply(pd, B * C, da);
      cls_out_.forward(pd, logits, B);
    } else {
      float* x0 = x0_head_.get(B * C);
      std::memcpy(x0, first, B * C * sizeof(float));
      if (cfg_.arch == Arch::Roberta) dropout_apply(x0, B * C, da);
      float* hh = hh_head_.get(B * C);
      cls_dense_.forward(x0, hh, B);
      bias_act(hh, nullptr, B, C, cfg_.arch == Arch::Roberta ? Act::Tanh : Act::Relu);
      float* hd = hd_head_.get(B * C);
      std::memcpy(hd, hh, B * C * sizeof(float));
      dropout_apply(hd, B * C, db);
      cls_out_.forward(hd, logits, B);
    }
    out.logits = logits_.view({B, L});
  }
  train_ready_ = true;
  return out;
}

void Model::backward(const float* d_logits, const float* d_last_hidden, const float* d_pooler) {
  TERN_CHECK(train_ready_, "Model::backward without a forward_train before it");
  const int64_t B = B_, T = T_, C = cfg_.hidden, N = B * T;
  const uint64_t seed = drop_.seed * 0x100000001B3ull + drop_.step;
  float* dx = gs_.d_x.get(N * C);
  if (d_last_hidden)
    std::memcpy(dx, d_last_hidden, N * C * sizeof(float));
  else
    std::memset(dx, 0, N * C * sizeof(float));

  // Heads (and the pooler): gradient into the first token's row of dx.
  const bool head = d_logits && has_head();
  const bool bert_pooled = cfg_.arch == Arch::Bert && (head || (d_pooler && pooler_.w));
  if (bert_pooled || (head && cfg_.arch != Arch::Bert) || (d_pooler && pooler_.w)) {
    float* d_first = d_first_.get(B * C);
    const DropoutMask da{drop_.classifier, seed, 2}, db{drop_.classifier, seed, 3};
    if (cfg_.arch == Arch::Bert || !head) {
      // d_pooled = drop(d_logits W_c) + d_pooler
      float* d_pd = d_head_a_.get(B * C);
      std::memset(d_pd, 0, B * C * sizeof(float));
      if (head) {
        cls_out_.backward(hd_head_.data(), d_logits, d_pd, B, false);
        dropout_apply(d_pd, B * C, da);
      }
      if (d_pooler)
        for (int64_t i = 0; i < B * C; ++i) d_pd[i] += d_pooler[i];
      if (pooler_.w) {
        tanh_backward_from_output(pooled_.data(), d_pd, d_pd, B * C);
        pooler_.backward(first_.data(), d_pd, d_first, B, false);
      } else {
        std::memcpy(d_first, d_pd, B * C * sizeof(float));
      }
    } else {
      float* d_hd = d_head_a_.get(B * C);
      cls_out_.backward(hd_head_.data(), d_logits, d_hd, B, false);
      dropout_apply(d_hd, B * C, db);
      const float* hh = hh_head_.data();
      if (cfg_.arch == Arch::Roberta) {
        tanh_backward_from_output(hh, d_hd, d_hd, B * C);
      } else {
        for (int64_t i = 0; i < B * C; ++i) d_hd[i] = hh[i] > 0.f ? d_hd[i] : 0.f;
      }
      cls_dense_.backward(x0_head_.data(), d_hd, d_first, B, false);
      if (cfg_.arch == Arch::Roberta) dropout_apply(d_first, B * C, da);
    }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) dx[b * T * C + c] += d_first[b * C + c];
  }

  // Encoder layers, top down, while trainable.
  const bool emb_trainable = word_->trainable;
  int64_t i = static_cast<int64_t>(layers_.size()) - 1;
  for (; i >= 0 && layers_[i].trainable(); --i) {
    const float* x = i > 0 ? train_caches_[i - 1].out.data() : emb_out_.data();
    const bool need_dx = i > 0 ? layers_[i - 1].trainable() : emb_trainable;
    layers_[i].backward(x, dx, need_dx ? dx : nullptr, B, T, train_caches_[i], layer_dropout(i), gs_);
    if (!need_dx) return;
  }
  if (i >= 0 || !emb_trainable) return;

  // Embeddings: dropout, LayerNorm, then scatter into the tables.
  dropout_apply(dx, N * C, DropoutMask{drop_.hidden, seed, 1});
  layer_norm_backward(dx, emb_in_.data(), emb_mean_.data(), emb_rstd_.data(), emb_ln_.gamma->value.f32(), dx,
                      emb_ln_.gamma->grad.f32(), emb_ln_.beta->grad.f32(), N, C);
  embedding_backward(ids_.i64(), N, dx, word_->grad.f32(), C);
  if (pos_->trainable) embedding_backward(pos_ids_.data(), N, dx, pos_->grad.f32(), C);
  if (type_) {
    if (tti_.defined()) {
      embedding_backward(tti_.i64(), N, dx, type_->grad.f32(), C);
    } else {
      float* g = type_->grad.f32();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) g[c] += dx[n * C + c];
    }
  }
}

}  // namespace tern
