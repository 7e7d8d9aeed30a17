#include "nn/model.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <exception>

#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/threads.h"

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

[[noreturn]] void fail_stored_int8(const std::string& source, Precision p) {
  TERN_FAIL(source << ": its encoder weights are stored as int8 (tern convert --quantize int8): it runs "
                      "for inference in int8 only (precision int8), not "
                   << precision_name(p)
                   << "; training and fp32 / bf16 need the float model it was converted from");
}

}  // namespace

LoadedModel::LoadedModel(const ModelConfig& cfg, TensorMap tensors, const std::string& source,
                         const ModelOptions& opt)
    : cfg_(cfg),
      source_(source),
      bare_names_(has_bare_names(tensors)),
      ps_(with_prefix(std::move(tensors), cfg.prefix), source, opt.bind) {
  if (opt.force_head) cfg_.head = HeadKind::SequenceClassification;
  const ModelConfig& c = cfg_;
  const std::string& p = c.prefix;
  const int64_t C = c.hidden;
  // Embeddings.
  const std::string word = p + ".embeddings.word_embeddings.weight";
  if (opt.prepare_inference && ps_.is_f16(word))
    word_ = ps_.take_f16(word, {c.vocab_size, C}, word_f16_);
  else
    word_ = ps_.take(word, {c.vocab_size, C}, Init::Normal);
  if (c.arch == Arch::DistilBert && c.sinusoidal_positions &&
      !ps_.has(p + ".embeddings.position_embeddings.weight")) {
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
  // Inference: each layer's weights are prepared (packed, quantised) right after it is bound, a few layers
  // at a time on the worker threads, and its float32 parameters freed: at load only those few layers'
  // float32 weights exist at once (a float16 file converts them), not the whole encoder's (peak RSS).
  const bool prepare = opt.precision != Precision::F32 || opt.prepare_inference;
  const int64_t step = prepare ? std::max(1, num_threads()) : c.layers;
  for (int64_t i0 = 0; i0 < c.layers; i0 += step) {
    const int64_t i1 = std::min<int64_t>(c.layers, i0 + step);
    for (int64_t i = i0; i < i1; ++i) {
      layers_.emplace_back(ps_, c, i);
      if (prepare && layers_.back().stored_int8() && opt.precision != Precision::I8)
        fail_stored_int8(source, opt.precision);
    }
    if (prepare) prepare_layers(i0, i1, opt.precision, opt.prepare_inference);
  }

  // Pooler: part of BertModel / RobertaModel / BertForSequenceClassification. A checkpoint without one
  // (masked-LM) gives an encoder without pooler, unless a head needs it (BERT) and may be initialised.
  const bool head = c.head == HeadKind::SequenceClassification;
  const std::string pool = p + ".pooler.dense";
  if (c.arch != Arch::DistilBert) {
    const bool needed = (head || !opt.extra_heads.empty()) && c.arch == Arch::Bert;
    if (ps_.has(pool + ".weight") && (c.pooler || needed || opt.force_pooler)) {
      pooler_ = std::make_unique<Pooler>(ps_, pool, C, /*initialisable=*/false);
    } else if (needed || opt.force_pooler) {
      pooler_ = std::make_unique<Pooler>(ps_, pool, C, /*initialisable=*/true);
    }
  }
  if (head) heads_.push_back(make_head(c.arch, ps_, "classifier", C, c.num_labels, c.problem_type));
  for (const HeadSpec& h : opt.extra_heads) {
    TERN_CHECK(!h.name.empty() && head_index(h.name) < 0,
               source << ": extra head name '" << h.name << "' is empty or already taken");
    heads_.push_back(make_head(c.arch, ps_, h.name, C, h.num_outputs, h.problem_type));
  }
  // What an encoder or classifier built from another head's checkpoint leaves unused, as HF reports
  // "Some weights of the model checkpoint were not used".
  std::vector<std::string> skippable = {"cls.",
                                        "lm_head.",
                                        "vocab_transform.",
                                        "vocab_layer_norm.",
                                        "vocab_projector.",
                                        p + ".embeddings.position_ids"};
  if (!pooler_) skippable.push_back(pool + ".");
  ps_.finish(skippable);
  bool stored_int8 = false;
  for (const auto& l : layers_) stored_int8 = stored_int8 || l.stored_int8();
  if (stored_int8 && opt.precision != Precision::I8) fail_stored_int8(source, opt.precision);
  if (prepare) {
    precision_ = opt.precision;
    prepared_ = true;
  }
}

// Prepares layers [i0, i1) for inference, one layer per thread: packing is memory-bound and mostly first
// touches of fresh pages (BERT-base: ~340 MB in all), which the kernel serves on both cores at once.
void LoadedModel::prepare_layers(int64_t i0, int64_t i1, Precision p, bool release) {
  std::exception_ptr err;
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast <int>(std::max <int64_t>(1, i1 - i0)))
  for (int64_t i = i0; i < i1; ++i) {
    try {
      layers_[static_cast<size_t>(i)].set_precision(p, release);
    } catch (...) {
#pragma omp critical(tern_prepare_error)
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
}

std::shared_ptr<const LoadedModel> LoadedModel::from_bundle(ModelBundle& bundle, const std::string& source,
                                                            const ModelOptions& opt) {
  ModelConfig cfg = parse_config(bundle.config_json, source + " (config)");
  auto m = std::make_shared<LoadedModel>(cfg, std::move(bundle.tensors), source, opt);
  m->tokenizer_files_ = bundle.tokenizer_files;
  m->metadata_ = bundle.metadata;
  return m;
}

std::shared_ptr<const LoadedModel> load_model_shared(const std::string& path, const LoadOptions& load,
                                                     const ModelOptions& opt) {
  ModelBundle b = load_model(path, load);
  return LoadedModel::from_bundle(b, path, opt);
}

int64_t LoadedModel::head_index(const std::string& name) const {
  for (size_t k = 0; k < heads_.size(); ++k)
    if (heads_[k]->name() == name) return static_cast<int64_t>(k);
  return -1;
}

std::string LoadedModel::checkpoint_name(const std::string& n) const {
  const std::string pre = cfg_.prefix + ".";
  if (bare_names_ && n.rfind(pre, 0) == 0) return n.substr(pre.size());
  return n;
}

double LoadedModel::flops(int64_t B, int64_t T) const {
  const double N = static_cast<double>(B) * T, C = cfg_.hidden, I = cfg_.intermediate;
  const double per_layer = 2.0 * N * (4 * C * C + 2 * C * I) + 2.0 * 2.0 * B * static_cast<double>(T) * T * C;
  double f = cfg_.layers * per_layer;
  if (pooler_) f += 2.0 * B * C * C;
  for (const auto& h : heads_) f += h->flops(B);
  return f;
}

uint64_t dropout_seed(const Dropout& d) {
  return d.seed * 0x100000001B3ull + d.step;
}

// Dropout streams: 1 embeddings, 2 / 3 the first head, (i+1) << 32 attention probabilities of layer i,
// 16 + 4i / 17 + 4i its two residual branches, (k+1) << 56 | 2 / 3 head k > 0.
LayerDropout LoadedModel::layer_dropout(const Dropout& d, int64_t i) const {
  LayerDropout ld;
  const uint64_t seed = dropout_seed(d);
  ld.probs = {d.attention, seed, (static_cast<uint64_t>(i) + 1) << 32};
  const float ao = d.attn_output >= 0.f ? d.attn_output : d.hidden;
  ld.attn_out = {cfg_.arch == Arch::DistilBert ? 0.f : ao, seed, 16 + 4 * static_cast<uint64_t>(i)};
  ld.ffn_out = {d.hidden, seed, 17 + 4 * static_cast<uint64_t>(i)};
  return ld;
}

HeadDropout LoadedModel::head_dropout(const Dropout& d, size_t k) const {
  const uint64_t seed = dropout_seed(d);
  const uint64_t base = k == 0 ? 0 : static_cast<uint64_t>(k + 1) << 56;
  return HeadDropout{{d.classifier, seed, base | 2}, {d.classifier, seed, base | 3}};
}

// word + token_type, then + position (the order of BertEmbeddings.forward). No LayerNorm here.
void LoadedModel::embed(Workspace& ws, const int64_t* ids, const int64_t* tti, int64_t B, int64_t T,
                        float* out) const {
  const ModelConfig& c = cfg_;
  const int64_t N = B * T;
  // Position ids: 0..T-1 (BERT, DistilBERT); RoBERTa counts non-padding tokens from padding_idx + 1
  // (create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad).
  std::vector<int64_t>& pos_ids = ws.pos_ids;
  pos_ids.resize(N);
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = b * T + t;
      if (c.arch == Arch::Roberta) {
        const bool tok = ids[n] != c.pad_token_id;
        count += tok;
        pos_ids[n] = tok ? count + c.pad_token_id : c.pad_token_id;
      } else {
        pos_ids[n] = t;
      }
    }
  }
  for (int64_t n = 0; n < N; ++n)
    TERN_CHECK(pos_ids[n] < c.max_positions,
               "sequence of length " << T << " needs position " << pos_ids[n]
                                     << " but the model has max_position_embeddings = " << c.max_positions);
  embed_rows(ids, tti, N, pos_ids.data(), out);
}

// out (N, C) = word[ids] + type[tti] + pos[pos_ids] for N tokens with their position ids.
void LoadedModel::embed_rows(const int64_t* ids, const int64_t* tti, int64_t N, const int64_t* pos_ids,
                             float* out) const {
  const ModelConfig& c = cfg_;
  const int64_t C = c.hidden;
  if (word_f16_.defined())
    embedding_gather_f16(ids, N, word_f16_.u16(), c.vocab_size, C, out);
  else
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
  embedding_gather(pos_ids, N, pos_->value.f32(), c.max_positions, C, out, /*accumulate=*/true);
}

namespace {

// Additive key mask (HF: (1 - m) * finfo.min): 0 where attended, the most negative float where padded.
// mask: int64 (B, T) of 0 / 1, or undefined (returns null: every position attended). out: (B, T).
float* build_mask_add(const Tensor& mask, Buffer& out) {
  if (!mask.defined()) return nullptr;
  const int64_t N = mask.numel();
  float* madd = out.get(N);
  const int64_t* m = mask.i64();
  for (int64_t n = 0; n < N; ++n) {
    TERN_CHECK(m[n] == 0 || m[n] == 1,
               "attention_mask holds " << m[n] << " at " << n << " (expected 0 or 1)");
    madd[n] = m[n] ? 0.f : -FLT_MAX;
  }
  return madd;
}

}  // namespace

// Embeddings, encoder layers, pooler, heads. Inference ping-pongs two (B*T, C) buffers and shares one
// layer cache; training keeps each layer's output and cache, the embedding LayerNorm statistics and the
// heads' inputs, and applies dropout.
ModelOutputs LoadedModel::forward(Workspace& ws, const Tensor& input_ids, const Tensor& attention_mask,
                                  const Tensor& token_type_ids, const Dropout* train) const {
  TERN_CHECK(input_ids.dtype() == DType::I64 && input_ids.dim() == 2,
             "input_ids must be int64 (B, T), got " << input_ids.describe());
  const int64_t B = input_ids.size(0), T = input_ids.size(1), C = cfg_.hidden, N = B * T;
  TERN_CHECK(T > 0 && B > 0, "empty batch " << input_ids.describe());
  Tensor ids = input_ids.contiguous();
  Tensor mask, tti;
  if (attention_mask.defined()) {
    TERN_CHECK(attention_mask.dtype() == DType::I64 && attention_mask.shape() == input_ids.shape(),
               "attention_mask must be int64 " << shape_str(input_ids.shape()) << ", got "
                                               << attention_mask.describe());
    mask = attention_mask.contiguous();
  }
  if (token_type_ids.defined() && type_) {
    TERN_CHECK(token_type_ids.dtype() == DType::I64 && token_type_ids.shape() == input_ids.shape(),
               "token_type_ids must be int64 " << shape_str(input_ids.shape()) << ", got "
                                               << token_type_ids.describe());
    tti = token_type_ids.contiguous();
  }
  if (!train && prepared_) {
    // Prepared inference on rows without padding (no mask, or all ones): the packed forward is the same
    // computation on the same rows, with the packed attention and the row-chunked block tail.
    bool full = true;
    if (mask.defined())
      for (int64_t i = 0; i < N && full; ++i) full = mask.i64()[i] == 1;
    if (full) {
      std::vector<int64_t> offsets(static_cast<size_t>(B + 1));
      for (int64_t b = 0; b <= B; ++b) offsets[static_cast<size_t>(b)] = b * T;
      PackedInput pin;
      pin.ids = ids.i64();
      pin.offsets = offsets.data();
      pin.token_type_ids = tti.defined() ? tti.i64() : nullptr;
      pin.B = B;
      ModelOutputs o = forward_packed(ws, pin);
      o.last_hidden_state = o.last_hidden_state.reshape({B, T, C});
      return o;
    }
  }
  const float* madd = build_mask_add(mask, ws.mask_add);  // (B, T) or null
  ws.train = false;
  if (train) {
    // Backward needs the inputs after the caller's tensors are gone.
    ws.drop = *train;
    ws.B = B;
    ws.T = T;
    ws.ids = ids.clone();
    ws.tti = tti.defined() ? tti.clone() : Tensor();
    ids = ws.ids;
    tti = ws.tti;
  }
  const int64_t* tti_p = tti.defined() ? tti.i64() : nullptr;
  ModelOutputs out;
  const float* x = nullptr;  // (B*T, C) the current hidden states
  if (train) {
    const uint64_t seed = dropout_seed(*train);
    // Embeddings, keeping the LayerNorm input and statistics.
    float* e_in = ws.emb_in.get(N * C);
    float* e_out = ws.emb_out.get(N * C);
    embed(ws, ids.i64(), tti_p, B, T, e_in);
    layer_norm(e_in, emb_ln_.gamma->value.f32(), emb_ln_.beta->value.f32(), e_out, N, C, emb_ln_.eps,
               ws.emb_mean.get(N), ws.emb_rstd.get(N));
    dropout_apply(e_out, N * C, DropoutMask{train->hidden, seed, 1});
    if (ws.layers.size() != layers_.size()) ws.layers.resize(layers_.size());
    x = e_out;
    for (size_t i = 0; i < layers_.size(); ++i) {
      float* y = ws.layers[i].out.get(N * C);
      const LayerDropout ld = layer_dropout(*train, static_cast<int64_t>(i));
      layers_[i].forward(x, y, madd, B, T, ws.layers[i], /*train=*/true, &ld);
      x = y;
    }
    out.last_hidden_state =
        ws.layers.empty() ? ws.emb_out.view({B, T, C}) : ws.layers.back().out.view({B, T, C});
  } else {
    float* a = ws.x0.get(N * C);
    float* b = ws.x1.get(N * C);
    embed(ws, ids.i64(), tti_p, B, T, a);
    layer_norm(a, emb_ln_.gamma->value.f32(), emb_ln_.beta->value.f32(), a, N, C, emb_ln_.eps);
    for (const auto& layer : layers_) {
      layer.forward(a, b, madd, B, T, ws.layer, /*train=*/false);
      std::swap(a, b);
    }
    x = a;
    out.last_hidden_state = (a == ws.x0.data() ? ws.x0 : ws.x1).view({B, T, C});
  }
  // The first token's hidden state, the pooler, the heads.
  float* first = ws.first.get(B * C);  // (B, C)
  for (int64_t b = 0; b < B; ++b) std::memcpy(first + b * C, x + b * T * C, C * sizeof(float));
  pool_and_heads(ws, B, train, out);
  ws.train = train != nullptr;
  return out;
}

// Pooler and heads on ws.first (B, C).
void LoadedModel::pool_and_heads(Workspace& ws, int64_t B, const Dropout* train, ModelOutputs& out) const {
  const int64_t C = cfg_.hidden;
  const float* first = ws.first.data();
  const float* pooled = nullptr;
  if (pooler_) {
    float* p = ws.pooled.get(B * C);  // (B, C)
    pooler_->forward(first, p, B);
    pooled = p;
    out.pooler_output = ws.pooled.view({B, C});
  }
  if (ws.heads.size() != heads_.size()) ws.heads.resize(heads_.size());
  for (size_t k = 0; k < heads_.size(); ++k) {
    const Head& h = *heads_[k];
    const int64_t L = h.num_outputs();
    const float* in = h.input() == HeadInput::Pooled && pooled ? pooled : first;
    const HeadDropout hd = train ? head_dropout(*train, k) : HeadDropout{};
    h.forward(in, ws.heads[k].logits.get(B * L), B, ws.heads[k], train ? &hd : nullptr);
    out.head_logits.push_back(ws.heads[k].logits.view({B, L}));
  }
  if (!out.head_logits.empty()) out.logits = out.head_logits[0];
}

ModelOutputs LoadedModel::forward_packed(Workspace& ws, const PackedInput& in) const {
  const ModelConfig& c = cfg_;
  const int64_t B = in.B, C = c.hidden;
  TERN_CHECK(B > 0 && in.ids && in.offsets && in.offsets[0] == 0, "packed batch: empty or offsets[0] != 0");
  for (int64_t b = 0; b < B; ++b)
    TERN_CHECK(in.offsets[b + 1] > in.offsets[b], "packed batch: sequence " << b << " is empty");
  const int64_t N = in.offsets[B];
  // Position ids per sequence, as the padded forward gives its real tokens (RoBERTa: HF's cumsum rule).
  std::vector<int64_t>& pos_ids = ws.pos_ids;
  pos_ids.resize(N);
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t n = in.offsets[b], t = 0; n < in.offsets[b + 1]; ++n, ++t) {
      if (c.arch == Arch::Roberta) {
        const bool tok = in.ids[n] != c.pad_token_id;
        count += tok;
        pos_ids[n] = tok ? count + c.pad_token_id : c.pad_token_id;
      } else {
        pos_ids[n] = t;
      }
      TERN_CHECK(pos_ids[n] < c.max_positions,
                 "sequence of length " << in.offsets[b + 1] - in.offsets[b] << " needs position "
                                       << pos_ids[n]
                                       << " but the model has max_position_embeddings = " << c.max_positions);
    }
  }
  float* a = ws.x0.get(N * C);  // (N, C) packed hidden states, ping-pong
  float* b = ws.x1.get(N * C);
  embed_rows(in.ids, type_ ? in.token_type_ids : nullptr, N, pos_ids.data(), a);
  layer_norm(a, emb_ln_.gamma->value.f32(), emb_ln_.beta->value.f32(), a, N, C, emb_ln_.eps);
  // The last layer for the first tokens alone when nothing else is read (prepared weights).
  const bool first_only = in.first_token_only && !layers_.empty() && layers_.back().prepared();
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (first_only && l + 1 == layers_.size())
      layers_[l].forward_packed_first(a, b, in.offsets, B, ws.layer);
    else
      layers_[l].forward_packed(a, b, in.offsets, B, ws.layer);
    std::swap(a, b);
  }
  ModelOutputs out;
  out.last_hidden_state = (a == ws.x0.data() ? ws.x0 : ws.x1).view({first_only ? B : N, C});
  float* first = ws.first.get(B * C);  // (B, C)
  for (int64_t i = 0; i < B; ++i)
    std::memcpy(first + i * C, a + (first_only ? i : in.offsets[i]) * C, C * sizeof(float));
  pool_and_heads(ws, B, nullptr, out);
  ws.train = false;
  return out;
}

// ---- ModelRunner ----

ModelRunner::ModelRunner(std::shared_ptr<const LoadedModel> model) : model_(std::move(model)) {
  TERN_CHECK(model_, "ModelRunner: no model");
}

void ModelRunner::reserve_packed(int64_t tokens, int64_t B) {
  // What forward_packed and EncoderLayer::forward_tokens get() per batch (the attention scratch and the
  // heads' (B, L) buffers are small and left to grow).
  const int64_t C = model_->config().hidden, I = model_->config().intermediate;
  ws_.x0.reserve(tokens * C);
  ws_.x1.reserve(tokens * C);
  LayerCache& l = ws_.layer;
  l.qkv.reserve(tokens * 3 * C);
  l.ctx.reserve(tokens * C);
  // A worker's batch runs the block's row-wise tail on chunks of row_chunk() rows (chunk-sized buffers).
  const int64_t R = std::min(tokens, EncoderLayer::row_chunk());
  for (Buffer* b : {&l.attn_ln_in, &l.h, &l.ln2_in}) b->reserve(R * C);
  l.ffn_act.reserve(R * I);
  ws_.first.reserve(B * C);
  ws_.pooled.reserve(B * C);
  ws_.pos_ids.reserve(static_cast<size_t>(tokens));
}

ModelOutputs ModelRunner::forward_packed(const PackedInput& in) {
  return model_->forward_packed(ws_, in);
}

ModelOutputs ModelRunner::forward(const Tensor& input_ids, const Tensor& attention_mask,
                                  const Tensor& token_type_ids) {
  return model_->forward(ws_, input_ids, attention_mask, token_type_ids);
}

// ---- Model (training API) ----

Model::Model(const ModelConfig& cfg, TensorMap tensors, const std::string& source, const ModelOptions& opt)
    : lm_(std::make_shared<LoadedModel>(cfg, std::move(tensors), source, opt)) {}

std::unique_ptr<Model> Model::from_bundle(ModelBundle& bundle, const std::string& source,
                                          const ModelOptions& opt) {
  ModelConfig cfg = parse_config(bundle.config_json, source + " (config)");
  auto m = std::make_unique<Model>(cfg, std::move(bundle.tensors), source, opt);
  m->lm_->tokenizer_files_ = bundle.tokenizer_files;
  m->lm_->metadata_ = bundle.metadata;
  return m;
}

ModelOutputs Model::forward(const Tensor& input_ids, const Tensor& attention_mask,
                            const Tensor& token_type_ids) {
  return lm_->forward(ws_, input_ids, attention_mask, token_type_ids);
}

}  // namespace tern
