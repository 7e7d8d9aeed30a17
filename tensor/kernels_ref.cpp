// Reference twins: the obvious loops, std:: math, double accumulation.
#include "tensor/kernels_ref.h"

#include "tensor/packed_weight.h"

#include <cmath>
#include <vector>

#include "tensor/check.h"
#include "tensor/dtype.h"

namespace tern::ref {

float act(float x, Act a) {
  const double d = x;
  switch (a) {
    case Act::Identity:
      return x;
    case Act::GeluErf:
      return static_cast<float>(0.5 * d * (1.0 + std::erf(d / std::sqrt(2.0))));
    case Act::GeluTanh: {
      const double k = std::sqrt(2.0 / M_PI);
      return static_cast<float>(0.5 * d * (1.0 + std::tanh(k * (d + 0.044715 * d * d * d))));
    }
    case Act::QuickGelu:
      return static_cast<float>(d / (1.0 + std::exp(-1.702 * d)));
    case Act::Relu:
      return x > 0.f ? x : 0.f;
    case Act::Silu:
      return static_cast<float>(d / (1.0 + std::exp(-d)));
    case Act::Tanh:
      return static_cast<float>(std::tanh(d));
    case Act::Sigmoid:
      return static_cast<float>(1.0 / (1.0 + std::exp(-d)));
    case Act::Mish:
      return static_cast<float>(d * std::tanh(std::log1p(std::exp(d))));
  }
  return x;
}

void add_bias(float* x, const float* bias, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) x[r * C + c] += bias[c];
}

void bias_act(float* x, const float* bias, int64_t R, int64_t C, Act a) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) x[r * C + c] = act(x[r * C + c] + (bias ? bias[c] : 0.f), a);
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, int64_t R, int64_t C,
                float eps) {
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += xr[c];
    mean /= C;
    for (int64_t c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < C; ++c)
      out[r * C + c] = static_cast<float>((xr[c] - mean) * rstd * gamma[c] + beta[c]);
  }
}

void softmax_rows(float* x, int64_t R, int64_t C, const float* mask_add) {
  for (int64_t r = 0; r < R; ++r) {
    float* xr = x + r * C;
    double mx = -INFINITY;
    std::vector<double> v(C);
    for (int64_t c = 0; c < C; ++c) {
      v[c] = static_cast<double>(xr[c] + (mask_add ? mask_add[c] : 0.f));  // the add in float, as torch
      mx = std::max(mx, v[c]);
    }
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += (v[c] = std::exp(v[c] - mx));
    for (int64_t c = 0; c < C; ++c) xr[c] = static_cast<float>(v[c] / s);
  }
}

void attention(const float* q, const float* k, const float* v, int64_t ld_in, const float* mask_add,
               int64_t B, int64_t T, int64_t H, int64_t D, float scale, float* out, int64_t ld_out) {
  std::vector<float> p(T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        const float* qi = q + (b * T + i) * ld_in + h * D;
        for (int64_t j = 0; j < T; ++j) {
          const float* kj = k + (b * T + j) * ld_in + h * D;
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += static_cast<double>(qi[d]) * kj[d];
          p[j] = static_cast<float>(s) * scale;
        }
        softmax_rows(p.data(), 1, T, mask_add ? mask_add + b * T : nullptr);
        float* oi = out + (b * T + i) * ld_out + h * D;
        for (int64_t d = 0; d < D; ++d) {
          double s = 0;
          for (int64_t j = 0; j < T; ++j) s += static_cast<double>(p[j]) * v[(b * T + j) * ld_in + h * D + d];
          oi[d] = static_cast<float>(s);
        }
      }
}

void attention_packed_bf16(const float* q, const float* k, const float* v, int64_t ld_in,
                           const int64_t* offsets, int64_t B, int64_t H, int64_t D, float scale, float* out,
                           int64_t ld_out) {
  auto bf = [](float x) { return bf16_to_f32(f32_to_bf16(x)); };
  for (int64_t b = 0; b < B; ++b) {
    const int64_t o = offsets[b], L = offsets[b + 1] - o;
    std::vector<float> p(static_cast<size_t>(L));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) {
        const float* qi = q + (o + i) * ld_in + h * D;
        for (int64_t j = 0; j < L; ++j) {
          const float* kj = k + (o + j) * ld_in + h * D;
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += static_cast<double>(bf(qi[d])) * bf(scale * kj[d]);
          p[j] = static_cast<float>(s);
        }
        softmax_rows(p.data(), 1, L, nullptr);
        float* oi = out + (o + i) * ld_out + h * D;
        for (int64_t d = 0; d < D; ++d) {
          double s = 0;
          for (int64_t j = 0; j < L; ++j)
            s += static_cast<double>(bf(p[j])) * bf(v[(o + j) * ld_in + h * D + d]);
          oi[d] = static_cast<float>(s);
        }
      }
  }
}

void embedding_gather(const int64_t* ids, int64_t N, const float* table, int64_t V, int64_t C, float* out) {
  for (int64_t n = 0; n < N; ++n) {
    TERN_CHECK(ids[n] >= 0 && ids[n] < V, "token id " << ids[n] << " out of range [0, " << V << ")");
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = table[ids[n] * C + c];
  }
}

void embedding_gather_f16(const int64_t* ids, int64_t N, const uint16_t* table, int64_t V, int64_t C,
                          float* out) {
  for (int64_t n = 0; n < N; ++n) {
    TERN_CHECK(ids[n] >= 0 && ids[n] < V, "token id " << ids[n] << " out of range [0, " << V << ")");
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = f16_to_f32(table[ids[n] * C + c]);
  }
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t p = 0; p < K; ++p) {
        const float a = ta ? A[p * lda + i] : A[i * lda + p];
        const float b = tb ? B[j * ldb + p] : B[p * ldb + j];
        s += static_cast<double>(a) * b;
      }
      float& c = C[i * ldc + j];
      c = static_cast<float>(alpha * s + (beta == 0.f ? 0.0 : static_cast<double>(beta) * c));
    }
}

}  // namespace tern::ref
