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
  Identity,    // "linear"
  GeluErf,     // "gelu": 0.5 x (1 + erf(x / sqrt 2))
  GeluTanh,    // "gelu_new", "gelu_pytorch_tanh", "gelu_fast" (same formula up to float rounding)
  QuickGelu,   // "quick_gelu": x * sigmoid(1.702 x)
  Relu,        // "relu"
  Silu,        // "silu", "swish"
  Tanh,        // "tanh"
  Sigmoid,     // "sigmoid"
  Mish,        // "mish"
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

// ---- Softmax / attention ----

// Row softmax in place with an optional additive mask per column: x[r, c] = softmax_c(x[r, c] + mask[c]).
// x: (R, C), mask: (C) or null.
void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add);

// Scaled dot-product self-attention over heads, as HF eager attention:
//   P = softmax(Q K^T * scale + mask_add), O = P V        per batch b and head h.
// q, k, v: (B, T, H*D) rows of stride ld_in (the head h occupies columns [h*D, (h+1)*D)).
// mask_add: (B, T) additive key mask (0 = attend, -FLT_MAX = padding), may be null.
// out: (B, T, H*D) rows of stride ld_out. probs: (B, H, T, T) written when non-null (cache for backward);
// otherwise per-thread scratch is used.
void attention(const float* q, const float* k, const float* v, int64_t ld_in, const float* mask_add, int64_t B,
               int64_t T, int64_t H, int64_t D, float scale, float* out, int64_t ld_out, float* probs = nullptr);

// ---- Gather ----

// out[n] = table[ids[n]] (+ for accumulate=true: out[n] += table[ids[n]]).
// ids: (N) checked against V; table: (V, C); out: (N, C).
void embedding_gather(const int64_t* ids, int64_t N, const float* table, int64_t V, int64_t C, float* out,
                      bool accumulate = false);

// Which implementation the elementwise kernels use on this CPU: "avx512" or "baseline".
const char* kernels_isa();

}  // namespace tern
