// Layers of the BERT-family encoders. Each fetches its own parameters by Hugging Face name.
// Mirrors transformers/models/bert/modeling_bert.py (BertSelfAttention, BertSelfOutput, BertIntermediate,
// BertOutput, BertLayer), roberta/modeling_roberta.py and distilbert/modeling_distilbert.py
// (MultiHeadSelfAttention, FFN, TransformerBlock): all post-LN.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/param.h"
#include "tensor/packed_weight.h"
#include "tensor/weight.h"

namespace tern {

// A growable float buffer that keeps its memory across batches (fresh pages are slow to touch).
class Buffer {
 public:
  float* get(int64_t n);  // at least n floats; contents unspecified
  // Exactly n floats from now on when it holds fewer (the old memory is freed first): sizing a worker's
  // buffers once for its largest batch keeps get()'s 1.5x growth slack and freed blocks out of the peak.
  void reserve(int64_t n);
  float* data() const { return t_.defined() ? t_.f32() : nullptr; }
  // The first numel(shape) floats as a tensor view (shares the buffer's storage).
  Tensor view(const Shape& shape) const { return t_.slice(0, 0, shape_numel(shape)).reshape(shape); }

 private:
  Tensor t_;
  int64_t cap_ = 0;
};

// y (N, out) = x (N, in) W^T (+ b); W: (out, in) as torch.nn.Linear.
struct Linear {
  Param* w = nullptr;
  Param* b = nullptr;
  int64_t in = 0, out = 0;
  Linear() = default;
  Linear(ParamStore& ps, const std::string& name, int64_t in, int64_t out, bool initialisable = false);
  Linear(Param* w_, Param* b_, int64_t in_, int64_t out_) : w(w_), b(b_), in(in_), out(out_) {}
  // The weight as the inference path reads it (float32 parameters: a view of w's value; typed storage
  // (bf16 / int8 + per-channel scales) of a quantised model will come through here too).
  WeightRef weight() const;
  void forward(const float* x, float* y, int64_t N, bool add_bias = true) const;  // x: (N, in), y: (N, out)
  // dW += dy^T x, db += colsum(dy) (when trainable); dx (N, in) = dy W (+= when accumulate_dx), if dx.
  void backward(const float* x, const float* dy, float* dx, int64_t N, bool accumulate_dx) const;
  bool trainable() const { return w->trainable; }
};

struct LayerNormP {
  Param* gamma = nullptr;
  Param* beta = nullptr;
  float eps = 1e-12f;
  LayerNormP() = default;
  LayerNormP(ParamStore& ps, const std::string& name, int64_t C, float eps, bool initialisable = false);
};

// Parameter names of one encoder layer, per family.
struct LayerNames {
  std::string q, k, v, attn_out, attn_ln, ffn_in, ffn_out, out_ln;
  static LayerNames for_arch(Arch a, const std::string& prefix, int64_t i);
};

// What one layer's forward keeps (per layer in training, shared by all layers in inference).
struct LayerCache {
  Buffer qkv, ctx, probs, attn_ln_in, h, ln1_mean, ln1_rstd, ffn_pre, ffn_act, ln2_in, ln2_mean, ln2_rstd,
      out;
};

// Dropout of one layer in a training forward (inactive masks = no dropout).
struct LayerDropout {
  DropoutMask probs, attn_out, ffn_out;
};

// Gradient scratch shared by all layers' backward.
struct GradScratch {
  Buffer d_ln2, d_ffn, d_h, d_a, d_ctx, d_qkv, d_x;
};

class EncoderLayer {
 public:
  EncoderLayer(ParamStore& ps, const ModelConfig& c, int64_t index);
  // x: (B*T, C) in, y: (B*T, C) out (may not alias x). mask_add: (B, T) additive key mask.
  // train: keep everything backward needs in `cache` and apply `drop`.
  void forward(const float* x, float* y, const float* mask_add, int64_t B, int64_t T, LayerCache& cache,
               bool train, const LayerDropout* drop = nullptr) const;
  // Inference on a packed variable-length batch: sequence b holds rows [offsets[b], offsets[b+1]) of x and
  // y (N = offsets[B] rows of C) and attends to its own tokens only. offsets: (B + 1).
  void forward_packed(const float* x, float* y, const int64_t* offsets, int64_t B, LayerCache& cache) const;
  // forward_packed for the first token of each sequence only (prepared weights): K and V for every token,
  // everything else for the first tokens. y: (B, C), row b = the output of row offsets[b].
  void forward_packed_first(const float* x, float* y, const int64_t* offsets, int64_t B,
                            LayerCache& cache) const;
  // Backward of a training forward with input x and cache: dy (B*T, C) in; dx (B*T, C) written when
  // non-null. Parameter gradients accumulate when the layer is trainable.
  void backward(const float* x, const float* dy, float* dx, int64_t B, int64_t T, LayerCache& cache,
                const LayerDropout& drop, GradScratch& g) const;
  bool trainable() const { return q.trainable(); }
  void set_trainable(bool on);
  // Inference precision of the four weight GEMMs (QKV, attention output, FFN in / out): the weights are
  // prepared once here (PackedWeight: fp32 prepacked, bf16, int8); unprepared layers (training) use the
  // parameters as they are. LayerNorm,
  // softmax and attention stay fp32. Not for training: the prepared weights do not follow the parameters.
  // release: free the parameters' float32 copies of the four weights afterwards (inference-only models).
  void set_precision(Precision p, bool release = false);
  Precision precision() const { return precision_; }
  bool prepared() const { return !p_qkv_.empty(); }
  // The four GEMM weights came from the checkpoint as int8 + scales (tern convert --quantize int8): the
  // layer has no float copy of them and runs only after set_precision(Precision::I8) (PackedWeight::from_i8).
  bool stored_int8() const { return stored_int8_; }
  // Prepared weights on one thread (a worker's batch, or one OpenMP thread) run attention output, LN1, FFN
  // and LN2 on chunks of row_chunk() rows (96; TERN_ROW_CHUNK overrides) so their activations stay in L2.
  // Same bits as the whole batch at once (every op there is row-wise). set_row_chunk returns the old value.
  static int64_t row_chunk();
  static int64_t set_row_chunk(int64_t rows);

  Linear q, k, v, attn_out, ffn_in, ffn_out;
  LayerNormP attn_ln, out_ln;
  int64_t C, H, D, I;
  Act act;

 private:
  // Q, K and V weights (and biases) adjacent in memory: one (3C, C) GEMM instead of three.
  bool qkv_fused() const;
  // Everything but attention, on N rows; attend(qkv (N, 3C), ctx (N, C)) fills the attention context.
  void forward_tokens(const float* x, float* y, int64_t N, LayerCache& cache, bool keep_probs,
                      const LayerDropout* drop,
                      const std::function<void(const float*, float*)>& attend) const;
  // Prepared single-threaded inference: attention output, LN1, FFN and LN2 on chunks of row_chunk() rows.
  void tail_rows_chunked(const float* x, const float* ctx, float* y, int64_t N, LayerCache& cache) const;
  Tensor qkv_w_, qkv_b_;  // inference storage that makes them adjacent (training: the arena does)
  Precision precision_ = Precision::F32;
  // bf16 / int8 only: (3C, C) fused QKV, (C, C) attention output, (I, C) FFN in, (C, I) FFN out.
  PackedWeight p_qkv_, p_attn_out_, p_ffn_in_, p_ffn_out_;
  std::vector<float> p_qkv_bias_;  // (3C) the QKV biases side by side for p_qkv_
  // stored_int8_: q, k, v, attn_out, ffn_in, ffn_out int8 weights (views of the file) and their float32
  // scales, until set_precision packs them.
  bool stored_int8_ = false;
  std::vector<Tensor> i8_q_, i8_scale_;
};

}  // namespace tern
