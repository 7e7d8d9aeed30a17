// Compute kernels: free functions on raw float pointers with explicit sizes. Row-major, PyTorch order.
// Each has a plain reference twin in tensor/kernels_ref.h (namespace tern::ref) that tests compare to.
// The elementwise / normalisation kernels are compiled twice (AVX-512 and baseline) and picked at run time;
// GEMM goes to oneDNN's JIT sgemm (or OpenBLAS / the reference loop, see gemm.h).
#pragma once
#include <cstdint>
#include <string>

namespace tern {

// Activation functions by their Hugging Face names (transformers/activations.py ACT2FN).
enum class Act : uint8_t {
  Identity,   // "linear"
  GeluErf,    // "gelu": 0.5 x (1 + erf(x / sqrt 2))
  GeluTanh,   // "gelu_new", "gelu_pytorch_tanh", "gelu_fast" (same formula up to float rounding)
  QuickGelu,  // "quick_gelu": x * sigmoid(1.702 x)
  Relu,       // "relu"
  Silu,       // "silu", "swish"
  Tanh,       // "tanh"
  Sigmoid,    // "sigmoid"
  Mish,       // "mish"
};
Act act_from_name(const std::string& hf_name);  // throws tern::Error naming the unsupported value
const char* act_name(Act a);

// ---- Elementwise ----

// x[r, c] += bias[c]                                    x: (R, C), bias: (C)
void add_bias(float* x, const float* bias, int64_t R, int64_t C);
// x[r, c] = act(x[r, c] + bias[c]) (bias may be null)   x: (R, C), bias: (C)
void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act act);
// y[i] = act(x[i])                                      x, y: (N); may alias
void act_forward(const float* x, float* y, int64_t N, Act act);
// y[i] += x[i]                                          (N)
void add_inplace(float* y, const float* x, int64_t N);

// ---- Normalisation ----

// out[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta, biased variance (torch.nn.LayerNorm).
// x, out: (R, C), may alias; gamma, beta: (C). mean / rstd (R) are written when non-null (for backward).
void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,
                float eps, float* mean = nullptr, float* rstd = nullptr);
// out = LayerNorm(x + bias + residual): the post-LN residual block of BERT, fused. bias may be null.
// x: (R, C) is overwritten with x + bias + residual (the LayerNorm input, kept for backward).
void add_bias_residual_layer_norm(float* x, const float* bias, const float* residual, const float* gamma,
                                  const float* beta, float* out, int64_t R, int64_t C, float eps,
                                  float* mean = nullptr, float* rstd = nullptr);

// ---- Dropout ----

// Counter-based dropout: element i of stream `stream` is kept iff hash(seed, stream, i) >= p * 2^32, so a
// mask is recomputed (for backward) instead of stored. Kept elements are scaled by 1 / (1 - p).
struct DropoutMask {
  float p = 0.f;
  uint64_t seed = 0;
  uint64_t stream = 0;
  bool active() const { return p > 0.f; }
  bool keep(uint64_t i) const;
  float scale() const { return 1.f / (1.f - p); }
};
// x[i] = keep(i) ? x[i] * scale : 0   (also the backward: the same mask applied to the gradient)   x: (N)
void dropout_apply(float* x, int64_t N, const DropoutMask& m);

// ---- Softmax / attention ----

// Row softmax in place with an optional additive mask per column: x[r, c] = softmax_c(x[r, c] + mask[c]).
// x: (R, C), mask: (C) or null.
void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add);

// Scaled dot-product self-attention over heads, as HF eager attention:
//   P = softmax(Q K^T * scale + mask_add), O = P V        per batch b and head h.
// q, k, v: (B, T, H*D) rows of stride ld_in (the head h occupies columns [h*D, (h+1)*D)).
// mask_add: (B, T) additive key mask (0 = attend, -FLT_MAX = padding), may be null.
// out: (B, T, H*D) rows of stride ld_out. probs: (B, H, T, T) written when non-null (cache for backward);
// otherwise per-thread scratch is used. drop: attention-probability dropout (training), pair p = b*H + h
// uses stream drop->stream + p; probs keeps P before dropout.
void attention(const float* q, const float* k, const float* v, int64_t ld_in, const float* mask_add,
               int64_t B, int64_t T, int64_t H, int64_t D, float scale, float* out, int64_t ld_out,
               float* probs = nullptr, const DropoutMask* drop = nullptr);

// Attention over a packed variable-length batch (inference): sequence b holds rows [offsets[b],
// offsets[b+1]) of q, k, v and out, and attends to its own tokens only (no padding, no mask):
//   P = softmax(Q_b K_b^T * scale), O_b = P V_b       per sequence b and head h.
// q, k, v: (N, H*D) rows of stride ld_in, N = offsets[B]; out: (N, H*D) rows of stride ld_out.
// offsets: (B + 1), offsets[0] = 0, non-decreasing. scratch: attention_packed_scratch(offsets, B, D) floats
// (per-thread score matrices and packed K^T), reused across calls by the caller.
// bf16 = true (for models whose GEMMs run bf16 / int8): both products with bf16 inputs and fp32 sums on
// the vdpbf16ps kernel (softmax stays fp32) where the CPU has AVX512-BF16 and D is a multiple of 32
// (otherwise fp32, as with TERN_LOWP_ATTENTION=0); twin: ref::attention_packed_bf16. Pass the same bf16 to
// attention_packed_scratch.
void attention_packed(const float* q, const float* k, const float* v, int64_t ld_in, const int64_t* offsets,
                      int64_t B, int64_t H, int64_t D, float scale, float* out, int64_t ld_out,
                      float* scratch, bool bf16 = false);
int64_t attention_packed_scratch(const int64_t* offsets, int64_t B, int64_t D, bool bf16 = false);

// attention_packed for the FIRST token of each sequence only (a model's last layer when only that token's
// hidden state is read): out row b (B rows of stride ld_out) = softmax(q_0 K_b^T * scale) V_b, q_0 = row
// offsets[b] of q. fp32 in every precision. scratch: attention_first_scratch(offsets, B) floats.
void attention_packed_first(const float* q, const float* k, const float* v, int64_t ld_in,
                            const int64_t* offsets, int64_t B, int64_t H, int64_t D, float scale, float* out,
                            int64_t ld_out, float* scratch);
int64_t attention_first_scratch(const int64_t* offsets, int64_t B);

// out (L, D) = P (L, L) V (L, D): the second product of attention for one head.   V, out: rows of stride
// ldv, ldo.
void attn_pv(const float* P, int64_t L, const float* V, int64_t ldv, int64_t D, float* out, int64_t ldo);

// ---- Gather ----

// out[n] = table[ids[n]] (+ for accumulate=true: out[n] += table[ids[n]]).
// ids: (N) checked against V; table: (V, C); out: (N, C).
void embedding_gather(const int64_t* ids, int64_t N, const float* table, int64_t V, int64_t C, float* out,
                      bool accumulate = false);
// out[n] = float(table[ids[n]]) from a float16 table (IEEE half bits), converted row by row with
// convert_f16_to_f32: the same bits as gathering from table.to(F32). An inference-only model keeps a
// float16-stored word-embedding table so (half the memory).
// ids: (N) checked against V; table: (V, C) float16; out: (N, C).
void embedding_gather_f16(const int64_t* ids, int64_t N, const uint16_t* table, int64_t V, int64_t C,
                          float* out);

// ---- Backward ----
// Backward kernels accumulate (+=) into parameter gradients; input gradients are written or accumulated
// as each comment says.

// dx[i] = dy[i] * act'(x[i]) (written; dx may alias dy).    x: pre-activation (N)
void act_backward(const float* x, const float* dy, float* dx, int64_t N, Act act);
// y = tanh(x) given: dx = dy * (1 - y^2) (written).         (N)
void tanh_backward_from_output(const float* y, const float* dy, float* dx, int64_t N);
// db[c] += sum_r dy[r, c].                                   dy: (R, C), db: (C)
void bias_backward(const float* dy, float* db, int64_t R, int64_t C);
// LayerNorm backward, with x^ = (x - mean) * rstd:
//   dgamma += sum_r dy * x^;  dbeta += sum_r dy;
//   dx = rstd * (g - mean_c(g) - x^ * mean_c(g * x^)),  g = dy * gamma   (dx written; may alias dy).
// x: the LayerNorm input (R, C); mean, rstd: (R) from the forward.
void layer_norm_backward(const float* dy, const float* x, const float* mean, const float* rstd,
                         const float* gamma, float* dx, float* dgamma, float* dbeta, int64_t R, int64_t C);
// Attention backward for the forward above (probs = P before dropout, drop = the forward's attention
// dropout with stream base `drop.stream` + pair index). Given dO (ld_out), writes dQ, dK, dV (ld_in):
//   P' = drop(P); dV = P'^T dO; dP = drop(dO V^T); dS = P * (dP - rowsum(dP * P)) * scale;
//   dQ = dS K; dK = dS^T Q.
void attention_backward(const float* q, const float* k, const float* v, int64_t ld_in, const float* probs,
                        const DropoutMask& drop, const float* dout, int64_t ld_out, int64_t B, int64_t T,
                        int64_t H, int64_t D, float scale, float* dq, float* dk, float* dv);
// dtable[ids[n]] += dout[n] (sequential: ids may repeat).   ids: (N), dout: (N, C), dtable: (V, C)
void embedding_backward(const int64_t* ids, int64_t N, const float* dout, float* dtable, int64_t C);

// Which implementation the elementwise kernels use on this CPU: "avx512" or "baseline".
const char* kernels_isa();

}  // namespace tern
