// Backward kernels and dropout (see kernels.h for the math of each).
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/kernels_impl.h"
#include "tensor/kernels_ref.h"

namespace tern {

// splitmix64 finaliser over (seed, stream, index): a stateless, well-mixed 64-bit hash.
static inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool DropoutMask::keep(uint64_t i) const {
  const uint64_t h =
      mix(seed * 0x9E3779B97F4A7C15ull ^ mix(stream + 0x632BE59BD9B4E019ull) ^ (i * 0xD1B54A32D192ED03ull));
  const uint32_t u = static_cast<uint32_t>(h >> 32);
  return static_cast<double>(u) >= static_cast<double>(p) * 4294967296.0;
}

void dropout_apply(float* x, int64_t N, const DropoutMask& m) {
  if (!m.active()) return;
  const float s = m.scale();
  if (detail::kernels_use_avx512()) {
    // keep(i) <=> u >= p * 2^32 (doubles, exact) <=> u >= ceil(p * 2^32) for the integer u < 2^32.
    const uint64_t base = m.seed * 0x9E3779B97F4A7C15ull ^ mix(m.stream + 0x632BE59BD9B4E019ull);
    const double t = std::ceil(static_cast<double>(m.p) * 4294967296.0);
    const uint64_t thr = t >= 4294967296.0 ? (1ull << 32) : t <= 0.0 ? 0 : static_cast<uint64_t>(t);
    const int nt = (N > 65536 && !omp_in_parallel()) ? omp_get_max_threads() : 1;
    if (nt == 1) {
      detail::avx512::dropout_range(x, 0, N, base, thr, s);
      return;
    }
#pragma omp parallel num_threads(nt)
    {
      const int64_t t_ = omp_get_thread_num(), n_ = omp_get_num_threads();
      const int64_t lo = N * t_ / n_ / 16 * 16, hi = t_ + 1 == n_ ? N : N * (t_ + 1) / n_ / 16 * 16;
      detail::avx512::dropout_range(x, lo, hi, base, thr, s);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (N > 65536)
  for (int64_t i = 0; i < N; ++i) x[i] = m.keep(static_cast<uint64_t>(i)) ? x[i] * s : 0.f;
}

namespace {

// act'(x) for the scalar path (std:: math).
inline float act_grad(float x, Act a) {
  const double d = x;
  switch (a) {
    case Act::Identity:
      return 1.f;
    case Act::GeluErf: {
      const double cdf = 0.5 * std::erfc(-d / std::sqrt(2.0));
      const double pdf = std::exp(-0.5 * d * d) / std::sqrt(2.0 * M_PI);
      return static_cast<float>(cdf + d * pdf);
    }
    case Act::GeluTanh: {
      const double k = std::sqrt(2.0 / M_PI);
      const double t = std::tanh(k * (d + 0.044715 * d * d * d));
      return static_cast<float>(0.5 * (1 + t) + 0.5 * d * (1 - t * t) * k * (1 + 3 * 0.044715 * d * d));
    }
    case Act::QuickGelu: {
      const double s = 1.0 / (1.0 + std::exp(-1.702 * d));
      return static_cast<float>(s + 1.702 * d * s * (1 - s));
    }
    case Act::Relu:
      return x > 0.f ? 1.f : 0.f;
    case Act::Silu: {
      const double s = 1.0 / (1.0 + std::exp(-d));
      return static_cast<float>(s * (1 + d * (1 - s)));
    }
    case Act::Tanh: {
      const double t = std::tanh(d);
      return static_cast<float>(1 - t * t);
    }
    case Act::Sigmoid: {
      const double s = 1.0 / (1.0 + std::exp(-d));
      return static_cast<float>(s * (1 - s));
    }
    case Act::Mish: {
      // mish = x tanh(sp), sp = log1p(e^x): d = tanh(sp) + x (1 - tanh^2(sp)) sigmoid(x)
      const double sp = std::log1p(std::exp(d)), t = std::tanh(sp), s = 1.0 / (1.0 + std::exp(-d));
      return static_cast<float>(t + d * (1 - t * t) * s);
    }
  }
  return 1.f;
}

}  // namespace

void act_backward(const float* x, const float* dy, float* dx, int64_t N, Act a) {
  if ((a == Act::GeluErf || a == Act::GeluTanh) && detail::kernels_use_avx512()) {
    detail::avx512::act_backward(x, dy, dx, N, a);
    return;
  }
#pragma omp parallel for schedule(static) if (N > 32768)
  for (int64_t i = 0; i < N; ++i) dx[i] = dy[i] * act_grad(x[i], a);
}

void tanh_backward_from_output(const float* y, const float* dy, float* dx, int64_t N) {
  for (int64_t i = 0; i < N; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
}

void bias_backward(const float* dy, float* db, int64_t R, int64_t C) {
  // Column sums; parallel over column blocks so each thread owns its outputs.
  const int64_t blk = 64;
#pragma omp parallel for schedule(static) if (R * C > 65536)
  for (int64_t c0 = 0; c0 < C; c0 += blk) {
    const int64_t c1 = std::min(C, c0 + blk);
    float acc[64] = {0};
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += dy[r * C + c];
    for (int64_t c = c0; c < c1; ++c) db[c] += acc[c - c0];
  }
}

void layer_norm_backward(const float* dy, const float* x, const float* mean, const float* rstd,
                         const float* gamma, float* dx, float* dgamma, float* dbeta, int64_t R, int64_t C) {
  // Parameter gradients first (they read dy, which dx may overwrite).
  const int64_t blk = 64;
#pragma omp parallel for schedule(static) if (R * C > 65536)
  for (int64_t c0 = 0; c0 < C; c0 += blk) {
    const int64_t c1 = std::min(C, c0 + blk);
    float ag[64] = {0}, ab[64] = {0};
    for (int64_t r = 0; r < R; ++r) {
      const float m = mean[r], s = rstd[r];
      for (int64_t c = c0; c < c1; ++c) {
        const float g = dy[r * C + c];
        ag[c - c0] += g * (x[r * C + c] - m) * s;
        ab[c - c0] += g;
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dgamma) dgamma[c] += ag[c - c0];
      if (dbeta) dbeta[c] += ab[c - c0];
    }
  }
#pragma omp parallel for schedule(static) if (R * C > 65536)
  for (int64_t r = 0; r < R; ++r) {
    const float m = mean[r], s = rstd[r];
    const float* xr = x + r * C;
    const float* gr = dy + r * C;
    double sg = 0, sgx = 0;
    for (int64_t c = 0; c < C; ++c) {
      const float g = gr[c] * gamma[c];
      sg += g;
      sgx += static_cast<double>(g) * (xr[c] - m) * s;
    }
    const float mg = static_cast<float>(sg / C), mgx = static_cast<float>(sgx / C);
    float* dr = dx + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const float xh = (xr[c] - m) * s;
      dr[c] = s * (gr[c] * gamma[c] - mg - xh * mgx);
    }
  }
}

void attention_backward(const float* q, const float* k, const float* v, int64_t ld_in, const float* probs,
                        const DropoutMask& drop, const float* dout, int64_t ld_out, int64_t B, int64_t T,
                        int64_t H, int64_t D, float scale, float* dq, float* dk, float* dv) {
  const int64_t pairs = B * H;
  const int nthreads = omp_get_max_threads();
  std::vector<float> scratch(static_cast<size_t>(nthreads) * 2 * T * T);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t b = p / H, h = p % H;
    float* Pd = scratch.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * T * T;  // P after dropout
    float* dP = Pd + T * T;
    const float* P = probs + p * T * T;
    const int64_t off_in = b * T * ld_in + h * D, off_out = b * T * ld_out + h * D;
    DropoutMask dm = drop;
    dm.stream = drop.stream + static_cast<uint64_t>(p);
    std::memcpy(Pd, P, sizeof(float) * T * T);
    dropout_apply(Pd, T * T, dm);
    // dV = P'^T dO
    sgemm(true, false, T, D, T, 1.f, Pd, T, dout + off_out, ld_out, 0.f, dv + off_in, ld_in);
    // dP' = dO V^T, then through the dropout mask
    sgemm(false, true, T, T, D, 1.f, dout + off_out, ld_out, v + off_in, ld_in, 0.f, dP, T);
    dropout_apply(dP, T * T, dm);
    // dS = P * (dP - rowsum(dP * P)) * scale   (softmax backward; padded keys have P = 0 -> dS = 0)
    for (int64_t i = 0; i < T; ++i) {
      const float* pr = P + i * T;
      float* g = dP + i * T;
      float dot = 0.f;
      for (int64_t j = 0; j < T; ++j) dot += g[j] * pr[j];
      for (int64_t j = 0; j < T; ++j) g[j] = pr[j] * (g[j] - dot) * scale;
    }
    // dQ = dS K, dK = dS^T Q
    sgemm(false, false, T, D, T, 1.f, dP, T, k + off_in, ld_in, 0.f, dq + off_in, ld_in);
    sgemm(true, false, T, D, T, 1.f, dP, T, q + off_in, ld_in, 0.f, dk + off_in, ld_in);
  }
}

void embedding_backward(const int64_t* ids, int64_t N, const float* dout, float* dtable, int64_t C) {
  for (int64_t n = 0; n < N; ++n) {
    float* dst = dtable + ids[n] * C;
    const float* src = dout + n * C;
    for (int64_t c = 0; c < C; ++c) dst[c] += src[c];
  }
}

}  // namespace tern
