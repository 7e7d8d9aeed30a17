// Dispatch to the AVX-512 or baseline kernels; the baseline builds; attention and gather.
#include "tensor/kernels.h"

#include <omp.h>

#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tensor/check.h"
#include "tensor/dtype.h"
#include "tensor/gemm.h"
#include "tensor/kernels_impl.h"
#include "tensor/kernels_ref.h"
#include "tensor/lowp_impl.h"
#include "tensor/packed_weight.h"

namespace tern {

Act act_from_name(const std::string& n) {
  if (n == "linear" || n == "identity") return Act::Identity;
  if (n == "gelu" || n == "gelu_python") return Act::GeluErf;
  if (n == "gelu_new" || n == "gelu_pytorch_tanh" || n == "gelu_fast" || n == "gelu_accurate")
    return Act::GeluTanh;
  if (n == "quick_gelu") return Act::QuickGelu;
  if (n == "relu") return Act::Relu;
  if (n == "silu" || n == "swish") return Act::Silu;
  if (n == "tanh") return Act::Tanh;
  if (n == "sigmoid") return Act::Sigmoid;
  if (n == "mish") return Act::Mish;
  TERN_FAIL("unsupported activation '"
            << n
            << "' (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, "
               "relu, silu, swish, tanh, sigmoid, mish, linear)");
}

const char* act_name(Act a) {
  switch (a) {
    case Act::Identity:
      return "linear";
    case Act::GeluErf:
      return "gelu";
    case Act::GeluTanh:
      return "gelu_new";
    case Act::QuickGelu:
      return "quick_gelu";
    case Act::Relu:
      return "relu";
    case Act::Silu:
      return "silu";
    case Act::Tanh:
      return "tanh";
    case Act::Sigmoid:
      return "sigmoid";
    case Act::Mish:
      return "mish";
  }
  return "?";
}

// ---- ISA selection ----

namespace {

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("fma");
}

bool initial_avx512() {
  const char* e = std::getenv("TERN_ISA");
  if (e && !std::strcmp(e, "baseline")) return false;
  return cpu_has_avx512();
}

std::atomic<bool>& use_avx512() {
  static std::atomic<bool> v{initial_avx512()};
  return v;
}

}  // namespace

const char* kernels_isa() {
  return use_avx512() ? "avx512" : "baseline";
}

namespace detail {
bool kernels_use_avx512() {
  return use_avx512();
}
// Used by tests to run both builds against the reference.
bool set_kernels_avx512(bool on) {
  if (on && !cpu_has_avx512()) return false;
  use_avx512() = on;
  return true;
}
}  // namespace detail

// ---- Baseline builds (plain loops the compiler may vectorise; std:: math) ----

namespace detail::base {

void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act a) {
#pragma omp parallel for schedule(static) if (R * C > 32768)
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    if (a == Act::Identity) {
      if (bias)
        for (int64_t c = 0; c < C; ++c) xr[c] += bias[c];
      continue;
    }
    if (a == Act::Relu) {
      for (int64_t c = 0; c < C; ++c) {
        const float v = xr[c] + (bias ? bias[c] : 0.f);
        xr[c] = v > 0.f ? v : 0.f;
      }
      continue;
    }
    for (int64_t c = 0; c < C; ++c) {
      const float v = xr[c] + (bias ? bias[c] : 0.f);
      switch (a) {
        case Act::GeluErf:
          xr[c] = 0.5f * v * std::erfc(-v * 0.70710678118654752f);
          break;
        case Act::GeluTanh:
          xr[c] = 0.5f * v * (1.f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
          break;
        default:
          xr[c] = ref::act(v, a);
          break;
      }
    }
  }
}

static inline void ln_row(const float* xr, const float* gamma, const float* beta, float* orow, int64_t C,
                          float eps, float* mean_out, float* rstd_out) {
  float s = 0.f;
  for (int64_t c = 0; c < C; ++c) s += xr[c];
  const float mean = s / static_cast<float>(C);
  float v = 0.f;
  for (int64_t c = 0; c < C; ++c) v += (xr[c] - mean) * (xr[c] - mean);
  const float rstd = 1.f / std::sqrt(v / static_cast<float>(C) + eps);
  for (int64_t c = 0; c < C; ++c) orow[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
  if (mean_out) *mean_out = mean;
  if (rstd_out) *rstd_out = rstd;
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,
                float eps, float* mean, float* rstd) {
#pragma omp parallel for schedule(static) if (R * C > 32768)
  for (int64_t r = 0; r < R; ++r)
    ln_row(x + r * C, gamma, beta, out + r * C, C, eps, mean ? mean + r : nullptr, rstd ? rstd + r : nullptr);
}

void add_bias_residual_layer_norm(float* x, const float* bias, const float* residual, const float* gamma,
                                  const float* beta, float* out, int64_t R, int64_t C, float eps, float* mean,
                                  float* rstd) {
#pragma omp parallel for schedule(static) if (R * C > 32768)
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) xr[c] = xr[c] + (bias ? bias[c] : 0.f) + residual[r * C + c];
    ln_row(xr, gamma, beta, out + r * C, C, eps, mean ? mean + r : nullptr, rstd ? rstd + r : nullptr);
  }
}

void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add) {
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    float mx = -INFINITY;
    for (int64_t c = 0; c < C; ++c) {
      if (mask_add) xr[c] += mask_add[c];
      mx = std::max(mx, xr[c]);
    }
    float s = 0.f;
    for (int64_t c = 0; c < C; ++c) s += (xr[c] = std::exp(xr[c] - mx));
    const float inv = 1.f / s;
    for (int64_t c = 0; c < C; ++c) xr[c] *= inv;
  }
}

// out[i, :] = sum_j P[i, j] V[j, :]: row i of P scales the rows of V (a row-major axpy order that keeps the
// D outputs of a row in registers in the AVX-512 build).
void attn_pv(const float* P, int64_t L, const float* V, int64_t ldv, int64_t D, float* out, int64_t ldo) {
  for (int64_t i = 0; i < L; ++i) {
    float* o = out + i * ldo;
    for (int64_t d = 0; d < D; ++d) o[d] = 0.f;
    for (int64_t j = 0; j < L; ++j) {
      const float p = P[i * L + j];
      const float* vj = V + j * ldv;
      for (int64_t d = 0; d < D; ++d) o[d] += p * vj[d];
    }
  }
}

}  // namespace detail::base

// ---- Public entry points ----

#define TERN_DISPATCH(fn, ...) \
  (use_avx512() ? detail::avx512::fn(__VA_ARGS__) : detail::base::fn(__VA_ARGS__))

void add_bias(float* x, const float* bias, int64_t R, int64_t C) {
  TERN_DISPATCH(bias_act, x, bias, R, C, Act::Identity);
}

void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act act) {
  TERN_DISPATCH(bias_act, x, bias, R, C, act);
}

void act_forward(const float* x, float* y, int64_t N, Act act) {
  if (x != y) std::memcpy(y, x, static_cast<size_t>(N) * sizeof(float));
  TERN_DISPATCH(bias_act, y, nullptr, 1, N, act);
}

void add_inplace(float* y, const float* x, int64_t N) {
#pragma omp parallel for simd schedule(static) if (N > 65536)
  for (int64_t i = 0; i < N; ++i) y[i] += x[i];
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,
                float eps, float* mean, float* rstd) {
  TERN_CHECK(C > 0, "layer_norm over 0 features");
  TERN_DISPATCH(layer_norm, x, gamma, beta, out, R, C, eps, mean, rstd);
}

void add_bias_residual_layer_norm(float* x, const float* bias, const float* residual, const float* gamma,
                                  const float* beta, float* out, int64_t R, int64_t C, float eps, float* mean,
                                  float* rstd) {
  TERN_CHECK(C > 0, "layer_norm over 0 features");
  TERN_DISPATCH(add_bias_residual_layer_norm, x, bias, residual, gamma, beta, out, R, C, eps, mean, rstd);
}

void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add) {
  TERN_DISPATCH(softmax_rows, x, R, C, mask_add);
}

// Attention: one (batch, head) pair per task. Per pair, S = Q K^T (T, T) through sgemm on the strided head
// columns, scaled softmax with the key mask, then O = P V straight into the head's output columns.
void attention(const float* q, const float* k, const float* v, int64_t ld_in, const float* mask_add,
               int64_t B, int64_t T, int64_t H, int64_t D, float scale, float* out, int64_t ld_out,
               float* probs, const DropoutMask* drop) {
  TERN_CHECK(B >= 0 && T >= 0 && H > 0 && D > 0,
             "attention sizes B=" << B << " T=" << T << " H=" << H << " D=" << D);
  if (B == 0 || T == 0) return;
  const int64_t pairs = B * H;
  const int nthreads = omp_get_max_threads();
  const bool dropping = drop && drop->active();
  TERN_CHECK(!dropping || probs, "attention dropout needs the probs cache");
  std::vector<float> scratch;
  if (!probs || dropping) scratch.resize(static_cast<size_t>(nthreads) * T * T);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t b = p / H, h = p % H;
    float* tmp =
        scratch.empty() ? nullptr : scratch.data() + static_cast<size_t>(omp_get_thread_num()) * T * T;
    float* S = probs ? probs + p * T * T : tmp;
    const float* qb = q + b * T * ld_in + h * D;
    const float* kb = k + b * T * ld_in + h * D;
    const float* vb = v + b * T * ld_in + h * D;
    sgemm(false, true, T, T, D, scale, qb, ld_in, kb, ld_in, 0.f, S, T);
    softmax_rows(S, T, T, mask_add ? mask_add + b * T : nullptr);
    const float* Pv = S;
    if (dropping) {
      // Keep P (pre-dropout) in the cache; multiply V by the dropped copy.
      DropoutMask dm = *drop;
      dm.stream = drop->stream + static_cast<uint64_t>(p);
      std::memcpy(tmp, S, sizeof(float) * T * T);
      dropout_apply(tmp, T * T, dm);
      Pv = tmp;
    }
    sgemm(false, false, T, D, T, 1.f, Pv, T, vb, ld_in, 0.f, out + b * T * ld_out + h * D, ld_out);
  }
}

void attn_pv(const float* P, int64_t L, const float* V, int64_t ldv, int64_t D, float* out, int64_t ldo) {
  TERN_DISPATCH(attn_pv, P, L, V, ldv, D, out, ldo);
}

namespace {
// Per-thread scratch of attention_packed: S (lmax, lmax), then K^T of one head packed for the fp32 6x64
// kernel, (ceil(lmax / 64), D, 64), or (bf16) the bf16 copies of Q, K^T, P and V (lowp::attn_bf16_buf),
// each start 64-byte aligned when scratch is.
int64_t packed_scratch_floats(int64_t lmax, int64_t D, bool bf16) {
  const int64_t s = (lmax * lmax + 15) / 16 * 16;
  return s + (bf16 ? (detail::lowp::attn_bf16_buf(lmax, D) + 1) / 2 : (lmax + 63) / 64 * 64 * D);
}

// TERN_LOWP_ATTENTION=0 keeps attention in fp32 under --precision bf16 / int8 (comparisons).
bool lowp_attention_env() {
  static const bool on = [] {
    const char* e = std::getenv("TERN_LOWP_ATTENTION");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

// The bf16 products run when asked for, on AVX-512 with AVX512-BF16 (not under TERN_ISA=baseline, another
// GEMM backend or TERN_PRECISION_FORCE_REF), for head sizes that are multiples of 32.
bool use_bf16_attention(bool asked, int64_t D) {
  if (!asked || D % 32 != 0 || !lowp_attention_env()) return false;
  if (!detail::kernels_use_avx512() || gemm_backend() != GemmBackend::Dnnl) return false;
  const char* f = std::getenv("TERN_PRECISION_FORCE_REF");
  if (f && *f && std::strcmp(f, "0") != 0) return false;
  return detail::lowp_cpu_supports(Precision::BF16);
}
}  // namespace

int64_t attention_packed_scratch(const int64_t* offsets, int64_t B, int64_t D, bool bf16) {
  int64_t lmax = 0;
  for (int64_t b = 0; b < B; ++b) lmax = std::max(lmax, offsets[b + 1] - offsets[b]);
  return static_cast<int64_t>(omp_get_max_threads()) *
         packed_scratch_floats(lmax, D, use_bf16_attention(bf16, D));
}

// One (sequence, head) pair per task: S = scale Q_b K_b^T, softmax in place, then O = P V by attn_pv.
// With AVX-512, S comes from the fp32 6x64 micro-kernel of PackedWeight (tensor/lowp_avx512.cpp) against
// scale * K_b^T packed in its layout (K^T's rows are broadcast-FMA'd 16 keys at a time: no horizontal
// sums, which the dot-product kernel of the sgemm path spent most of its time on at D = 64); the baseline
// build goes through sgemm. bf16 = true (the model runs bf16 / int8 GEMMs): both products on the bf16
// kernel (lowp::avx512::attn_scores_bf16 / attn_pv_bf16), softmax still fp32.
void attention_packed(const float* q, const float* k, const float* v, int64_t ld_in, const int64_t* offsets,
                      int64_t B, int64_t H, int64_t D, float scale, float* out, int64_t ld_out,
                      float* scratch, bool bf16) {
  TERN_CHECK(B >= 0 && H > 0 && D > 0 && offsets[0] == 0,
             "attention_packed sizes B=" << B << " H=" << H << " D=" << D);
  int64_t lmax = 0;
  for (int64_t b = 0; b < B; ++b) {
    TERN_CHECK(offsets[b + 1] >= offsets[b], "attention_packed: offsets decrease at " << b);
    lmax = std::max(lmax, offsets[b + 1] - offsets[b]);
  }
  const bool fast = detail::kernels_use_avx512() && gemm_backend() == GemmBackend::Dnnl;
  const bool low = use_bf16_attention(bf16, D);
  const int64_t per_thread = packed_scratch_floats(lmax, D, low);
  const int64_t pairs = B * H;
#pragma omp parallel for schedule(dynamic, 1) if (pairs > 1)
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t b = p / H, h = p % H, o = offsets[b], L = offsets[b + 1] - o;
    if (L == 0) continue;
    float* S = scratch + static_cast<int64_t>(omp_get_thread_num()) * per_thread;
    const float* qb = q + o * ld_in + h * D;
    const float* kb = k + o * ld_in + h * D;
    const float* vb = v + o * ld_in + h * D;
    float* ob = out + o * ld_out + h * D;
    if (low) {
      uint16_t* buf = reinterpret_cast<uint16_t*>(S + (lmax * lmax + 15) / 16 * 16);
      detail::lowp::avx512::attn_scores_bf16(qb, kb, ld_in, L, D, scale, S, buf);
      softmax_rows(S, L, L, nullptr);
      detail::lowp::avx512::attn_pv_bf16(S, L, vb, ld_in, D, ob, ld_out, buf);
      continue;
    }
    if (fast) {
      // Kt (ceil(L/64), D, 64): Kt[j / 64][d][j % 64] = scale * K[j][d]; the lanes past L up to the next 16
      // are zeroed (the kernel reads whole 16-key blocks and stores only the first L columns).
      float* Kt = S + (lmax * lmax + 15) / 16 * 16;
      const int64_t Lb = (L + 15) / 16 * 16;
      if (D % 16 == 0) {
        detail::avx512::pack_kt(kb, ld_in, L, D, scale, Kt);
      } else {
        for (int64_t j = 0; j < Lb; ++j) {
          float* col = Kt + j / 64 * 64 * D + j % 64;
          const float* kr = kb + j * ld_in;
          for (int64_t d = 0; d < D; ++d) col[d * 64] = j < L ? scale * kr[d] : 0.f;
        }
      }
      const detail::lowp::F32Args a{D, L, qb, ld_in, Kt, nullptr, 0.f, S, L};
      detail::lowp::avx512::gemm_f32(a, 0, L, 0, Lb / 16);
    } else {
      sgemm(false, true, L, L, D, scale, qb, ld_in, kb, ld_in, 0.f, S, L);
    }
    softmax_rows(S, L, L, nullptr);
    attn_pv(S, L, vb, ld_in, D, ob, ld_out);
  }
}

int64_t attention_first_scratch(const int64_t* offsets, int64_t B) {
  int64_t lmax = 0;
  for (int64_t b = 0; b < B; ++b) lmax = std::max(lmax, offsets[b + 1] - offsets[b]);
  return static_cast<int64_t>(omp_get_max_threads()) * ((lmax + 15) / 16 * 16);
}

// One (sequence, head) pair per task: s_j = scale q_0 . k_j, softmax, then out = sum_j p_j v_j (in order
// of j): AVX-512 (detail::avx512::attn_first_*) for D % 16 == 0, else plain loops.
void attention_packed_first(const float* q, const float* k, const float* v, int64_t ld_in,
                            const int64_t* offsets, int64_t B, int64_t H, int64_t D, float scale, float* out,
                            int64_t ld_out, float* scratch) {
  TERN_CHECK(B >= 0 && H > 0 && D > 0 && offsets[0] == 0,
             "attention_packed_first sizes B=" << B << " H=" << H << " D=" << D);
  int64_t lmax = 0;
  for (int64_t b = 0; b < B; ++b) {
    TERN_CHECK(offsets[b + 1] >= offsets[b], "attention_packed_first: offsets decrease at " << b);
    lmax = std::max(lmax, offsets[b + 1] - offsets[b]);
  }
  const int64_t per_thread = (lmax + 15) / 16 * 16;
  const int64_t pairs = B * H;
  const bool fast = detail::kernels_use_avx512() && D % 16 == 0;
#pragma omp parallel for schedule(static) if (pairs > 64)
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t b = p / H, h = p % H, o = offsets[b], L = offsets[b + 1] - o;
    float* ob = out + b * ld_out + h * D;
    if (L == 0) {
      std::fill(ob, ob + D, 0.f);
      continue;
    }
    float* s = scratch + static_cast<int64_t>(omp_get_thread_num()) * per_thread;  // (L)
    const float* q0 = q + o * ld_in + h * D;
    if (fast) {
      detail::avx512::attn_first_scores(q0, k + o * ld_in + h * D, ld_in, L, D, scale, s);
      softmax_rows(s, 1, L, nullptr);
      detail::avx512::attn_first_pv(s, v + o * ld_in + h * D, ld_in, L, D, ob);
      continue;
    }
    for (int64_t j = 0; j < L; ++j) {
      const float* kj = k + (o + j) * ld_in + h * D;
      float acc = 0.f;
      for (int64_t d = 0; d < D; ++d) acc += q0[d] * kj[d];
      s[j] = acc * scale;
    }
    softmax_rows(s, 1, L, nullptr);
    std::fill(ob, ob + D, 0.f);
    for (int64_t j = 0; j < L; ++j) {
      const float* vj = v + (o + j) * ld_in + h * D;
      const float pj = s[j];
      for (int64_t d = 0; d < D; ++d) ob[d] += pj * vj[d];
    }
  }
}

void embedding_gather(const int64_t* ids, int64_t N, const float* table, int64_t V, int64_t C, float* out,
                      bool accumulate) {
  for (int64_t n = 0; n < N; ++n)
    TERN_CHECK(ids[n] >= 0 && ids[n] < V,
               "token id " << ids[n] << " at position " << n << " out of range [0, " << V << ")");
#pragma omp parallel for schedule(static) if (N * C > 65536)
  for (int64_t n = 0; n < N; ++n) {
    const float* src = table + ids[n] * C;
    float* dst = out + n * C;
    if (accumulate)
      for (int64_t c = 0; c < C; ++c) dst[c] += src[c];
    else
      std::memcpy(dst, src, static_cast<size_t>(C) * sizeof(float));
  }
}

void embedding_gather_f16(const int64_t* ids, int64_t N, const uint16_t* table, int64_t V, int64_t C,
                          float* out) {
  for (int64_t n = 0; n < N; ++n)
    TERN_CHECK(ids[n] >= 0 && ids[n] < V,
               "token id " << ids[n] << " at position " << n << " out of range [0, " << V << ")");
#pragma omp parallel for schedule(static) if (N * C > 65536)
  for (int64_t n = 0; n < N; ++n) convert_f16_to_f32(table + ids[n] * C, out + n * C, static_cast<size_t>(C));
}

}  // namespace tern
