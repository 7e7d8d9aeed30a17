#include "nn/model.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "tensor/gemm.h"
#include "tensor/kernels.h"

namespace tern {

namespace {

// A bare encoder checkpoint (BertModel.save_pretrained) names its tensors without the base-model prefix
// ("embeddings.word_embeddings.weight"); HF adds `base_model_prefix` when a model with a head loads it
// and strips it in the other direction. tern's parameters always carry the prefix.
bool has_bare_names(const TensorMap& t) {
  for (const auto& [name, v] : t)
    if (name.rfind("embeddings.", 0) == 0) return true;
  return false;
}

TensorMap with_prefix(TensorMap t, const std::string& prefix) {
  if (!has_bare_names(t)) return t;
  TensorMap out;
  for (auto& [name, v] : t) {
    const bool base = name.rfind("embeddings.", 0) == 0 || name.rfind("encoder.", 0) == 0 ||
                      name.rfind("pooler.", 0) == 0 || name.rfind("transformer.", 0) == 0;
    out[base ? prefix + "." + name : name] = std::move(v);
  }
  return out;
}

}  // namespace

Model::Model(const ModelConfig& cfg, TensorMap tensors, const std::string& source, const ModelOptions& opt)
    : cfg_(cfg), bare_names_(has_bare_names(tensors)), ps_(with_prefix(std::move(tensors), cfg.prefix), source, opt.bind) {
  if (opt.force_head) cfg_.head = HeadKind::SequenceClassification;
  const ModelConfig& c = cfg_;
  const std::string& p = c.prefix;
  const int64_t C = c.hidden;
  // Embeddings.
  word_ = ps_.take(p + ".embeddings.word_embeddings.weight", {c.vocab_size, C}, Init::Normal);
  if (c.arch == Arch::DistilBert && c.sinusoidal_positions && !ps_.has(p + ".embeddings.position_embeddings.weight")) {
    // DistilBERT's fixed sinusoidal table (create_sinusoidal_embeddings) when the checkpoint omits it.
    Tensor t = Tensor::empty({c.max_positions, C});
    float* w = t.f32();
    for (int64_t pos = 0; pos < c.max_positions; ++pos)
      for (int64_t j = 0; j < C; ++j) {
        const double a = pos / std::pow(10000.0, 2.0 * (j / 2) / static_cast<double>(C));
        w[pos * C + j] = static_cast<float>(j % 2 == 0 ? std::sin(a) : std::cos(a));
      }
    ps_.params().push_back(Param{p + ".embeddings.position_embeddings.weight", t, {}, false, false});
    pos_ = &ps_.params().back();
  } else {
    pos_ = ps_.take(p + ".embeddings.position_embeddings.weight", {c.max_positions, C}, Init::Normal);
  }
  if (c.arch != Arch::DistilBert && c.type_vocab_size > 0)
    type_ = ps_.take(p + ".embeddings.token_type_embeddings.weight", {c.type_vocab_size, C}, Init::Normal);
  emb_ln_ = LayerNormP(ps_, p + ".embeddings.LayerNorm", C, c.layer_norm_eps);
  layers_.reserve(c.layers);
  for (int64_t i = 0; i < c.layers; ++i) layers_.emplace_back(ps_, c, i);

  // Pooler: part of BertModel / RobertaModel / BertForSequenceClassification. A checkpoint without one
  // (masked-LM) gives an encoder without pooler, unless the head needs it (BERT) and may be initialised.
  const bool head = c.head == HeadKind::SequenceClassification;
  const std::string pool = p + ".pooler.dense";
  if (c.arch != Arch::DistilBert) {
    const bool needed = head && c.arch == Arch::Bert;
    if (ps_.has(pool + ".weight") && (c.pooler || needed || opt.force_pooler)) {
      pooler_ = Linear(ps_, pool, C, C);
    } else if (needed || opt.force_pooler) {
      pooler_ = Linear(ps_, pool, C, C, /*initialisable=*/true);
    }
  }
  if (head) {
    const int64_t L = c.num_labels;
    if (c.arch == Arch::Bert) {
      cls_out_ = Linear(ps_, "classifier", C, L, true);
    } else if (c.arch == Arch::Roberta) {
      cls_dense_ = Linear(ps_, "classifier.dense", C, C, true);
      cls_out_ = Linear(ps_, "classifier.out_proj", C, L, true);
    } else {
      cls_dense_ = Linear(ps_, "pre_classifier", C, C, true);
      cls_out_ = Linear(ps_, "classifier", C, L, true);
    }
  }
  // What an encoder or classifier built from another head's checkpoint leaves unused, as HF reports
  // "Some weights of the model checkpoint were not used".
  std::vector<std::string> skippable = {"cls.", "lm_head.", "vocab_transform.", "vocab_layer_norm.",
                                        "vocab_projector.", p + ".embeddings.position_ids"};
  if (!pooler_.w) skippable.push_back(pool + ".");
  ps_.finish(skippable);
}

std::unique_ptr<Model> Model::from_bundle(ModelBundle& bundle, const std::string& source, const ModelOptions& opt) {
  ModelConfig cfg = parse_config(bundle.config_json, source + " (config)");
  return std::make_unique<Model>(cfg, std::move(bundle.tensors), source, opt);
}

std::string Model::checkpoint_name(const std::string& n) const {
  const std::string pre = cfg_.prefix + ".";
  if (bare_names_ && n.rfind(pre, 0) == 0) return n.substr(pre.size());
  return n;
}

double Model::flops(int64_t B, int64_t T) const {
  const double N = static_cast<double>(B) * T, C = cfg_.hidden, I = cfg_.intermediate;
  const double per_layer = 2.0 * N * (4 * C * C + 2 * C * I) + 2.0 * 2.0 * B * static_cast<double>(T) * T * C;
  double f = cfg_.layers * per_layer;
  if (pooler_.w) f += 2.0 * B * C * C;
  if (has_head()) f += 2.0 * B * C * (cls_dense_.w ? C : 0) + 2.0 * B * C * cfg_.num_labels;
  return f;
}

// word + token_type, then + position (the order of BertEmbeddings.forward), then LayerNorm.
void Model::embed(const int64_t* ids, const int64_t* mask, const int64_t* tti, int64_t B, int64_t T, float* out,
                  bool normalise) {
  const ModelConfig& c = cfg_;
  const int64_t C = c.hidden, N = B * T;
  embedding_gather(ids, N, word_->value.f32(), c.vocab_size, C, out);
  if (type_) {
    if (tti) {
      embedding_gather(tti, N, type_->value.f32(), c.type_vocab_size, C, out, /*accumulate=*/true);
    } else {
      const float* t0 = type_->value.f32();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < C; ++j) out[n * C + j] += t0[j];
    }
  }
  // Position ids: 0..T-1 (BERT, DistilBERT); RoBERTa counts non-padding tokens from padding_idx + 1
  // (create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad).
  pos_ids_.resize(N);
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = b * T + t;
      if (c.arch == Arch::Roberta) {
        const bool tok = ids[n] != c.pad_token_id;
        count += tok;
        pos_ids_[n] = tok ? count + c.pad_token_id : c.pad_token_id;
      } else {
        pos_ids_[n] = t;
      }
    }
  }
  for (int64_t n = 0; n < N; ++n)
    TERN_CHECK(pos_ids_[n] < c.max_positions, "sequence of length " << T << " needs position " << pos_ids_[n]
                                                                     << " but the model has max_position_embeddings = "
                                                                     << c.max_positions);
  embedding_gather(pos_ids_.data(), N, pos_->value.f32(), c.max_positions, C, out, /*accumulate=*/true);
  (void)mask;
  if (normalise) layer_norm(out, emb_ln_.gamma->value.f32(), emb_ln_.beta->value.f32(), out, N, C, emb_ln_.eps);
}

ModelOutputs Model::forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids) {
  TERN_CHECK(input_ids.dtype() == DType::I64 && input_ids.dim() == 2,
             "input_ids must be int64 (B, T), got " << input_ids.describe());
  const int64_t B = input_ids.size(0), T = input_ids.size(1), C = cfg_.hidden, N = B * T;
  TERN_CHECK(T > 0 && B > 0, "empty batch " << input_ids.describe());
  const Tensor ids = input_ids.contiguous();
  Tensor mask, tti;
  if (attention_mask.defined()) {
    TERN_CHECK(attention_mask.dtype() == DType::I64 && attention_mask.shape() == input_ids.shape(),
               "attention_mask must be int64 " << shape_str(input_ids.shape()) << ", got " << attention_mask.describe());
    mask = attention_mask.contiguous();
  }
  if (token_type_ids.defined() && type_) {
    TERN_CHECK(token_type_ids.dtype() == DType::I64 && token_type_ids.shape() == input_ids.shape(),
               "token_type_ids must be int64 " << shape_str(input_ids.shape()) << ", got " << token_type_ids.describe());
    tti = token_type_ids.contiguous();
  }
  // Additive key mask: 0 where attended, the most negative float where padded (HF: (1 - m) * finfo.min).
  float* madd = nullptr;
  if (mask.defined()) {
    madd = mask_add_.get(N);
    const int64_t* m = mask.i64();
    for (int64_t n = 0; n < N; ++n) {
      TERN_CHECK(m[n] == 0 || m[n] == 1, "attention_mask holds " << m[n] << " at " << n << " (expected 0 or 1)");
      madd[n] = m[n] ? 0.f : -FLT_MAX;
    }
  }
  float* x = x0_.get(N * C);
  float* y = x1_.get(N * C);
  embed(ids.i64(), mask.defined() ? mask.i64() : nullptr, tti.defined() ? tti.i64() : nullptr, B, T, x);
  for (const auto& layer : layers_) {
    layer.forward(x, y, madd, B, T, cache_, /*keep_probs=*/false);
    std::swap(x, y);
  }
  ModelOutputs out;
  float* first = first_.get(B * C);
  for (int64_t b = 0; b < B; ++b) std::memcpy(first + b * C, x + b * T * C, C * sizeof(float));
  out.last_hidden_state = (x == x0_.data() ? x0_ : x1_).view({B, T, C});
  if (pooler_.w) {
    float* pooled = pooled_.get(B * C);
    pooler_.forward(first, pooled, B);
    bias_act(pooled, nullptr, B, C, Act::Tanh);
    out.pooler_output = pooled_.view({B, C});
  }
  if (has_head()) {
    const int64_t L = cfg_.num_labels;
    float* logits = logits_.get(B * L);
    if (cfg_.arch == Arch::Bert) {
      cls_out_.forward(pooler_.w ? pooled_.data() : first, logits, B);
    } else {
      float* hh = head_hidden_.get(B * C);
      cls_dense_.forward(first, hh, B);
      bias_act(hh, nullptr, B, C, cfg_.arch == Arch::Roberta ? Act::Tanh : Act::Relu);
      cls_out_.forward(hh, logits, B);
    }
    out.logits = logits_.view({B, L});
  }
  return out;
}

}  // namespace tern
