#include "tensor/packed_weight.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "tensor/blas_libs.h"
#include "tensor/check.h"
#include "tensor/gemm.h"
#include "tensor/kernels_impl.h"
#include "tensor/kernels_ref.h"
#include "tensor/lowp_impl.h"

namespace tern {

namespace {

using detail::lowp::Bf16Args;
using detail::lowp::I8Args;

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

// ---- CPU features ----

struct CpuFeatures {
  bool avx512 = false, bf16 = false, vnni = false;
  std::string listed;  // the relevant flags this CPU has, space-separated
};

const CpuFeatures& cpu() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    __builtin_cpu_init();
    const bool f512 = __builtin_cpu_supports("avx512f"), bw = __builtin_cpu_supports("avx512bw"),
               dq = __builtin_cpu_supports("avx512dq"), vl = __builtin_cpu_supports("avx512vl"),
               fma = __builtin_cpu_supports("fma");
    c.avx512 = f512 && bw && dq && vl && fma;
    c.bf16 = c.avx512 && __builtin_cpu_supports("avx512bf16");
    c.vnni = c.avx512 && __builtin_cpu_supports("avx512vnni");
    const std::pair<const char*, bool> flags[] = {{"avx2", __builtin_cpu_supports("avx2")},
                                                  {"fma", fma},
                                                  {"avx512f", f512},
                                                  {"avx512bw", bw},
                                                  {"avx512dq", dq},
                                                  {"avx512vl", vl},
                                                  {"avx512_vnni", __builtin_cpu_supports("avx512vnni")},
                                                  {"avx512_bf16", __builtin_cpu_supports("avx512bf16")}};
    for (const auto& [name, has] : flags) {
      if (!has) continue;
      if (!c.listed.empty()) c.listed.push_back(' ');
      c.listed.append(name);
    }
    if (c.listed.empty())
      c.listed = "none of avx2 fma avx512f avx512bw avx512dq avx512vl avx512_vnni avx512_bf16";
    return c;
  }();
  return f;
}

// Tests pretend the CPU lacks bf16 / int8 support (detail::set_lowp_cpu_disabled).
std::atomic<bool> g_lowp_disabled{false};

bool cpu_supports(Precision p) {
  if (p != Precision::F32 && g_lowp_disabled.load()) return false;
  switch (p) {
    case Precision::F32:
      return true;
    case Precision::BF16:
      return cpu().bf16;
    case Precision::I8:
      return cpu().vnni;
  }
  return false;
}

bool force_ref_env() {
  const char* e = std::getenv("TERN_PRECISION_FORCE_REF");
  return e && *e && std::strcmp(e, "0") != 0;
}

// ---- 64-byte aligned buffers ----

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using AlignedPtr = std::unique_ptr<uint8_t[], FreeDeleter>;

// zero = false: the caller writes every byte of the first n (a packed weight without padding; at load the
// memset would be a second pass over ~340 MB for BERT-base).
AlignedPtr aligned_bytes(size_t n, bool zero = true) {
  const size_t sz = std::max<size_t>(64, round_up(static_cast<int64_t>(n), 64));
  void* p = std::aligned_alloc(64, sz);
  TERN_CHECK(p != nullptr, "PackedWeight: out of memory allocating " << sz << " bytes");
  if (zero) {
    std::memset(p, 0, sz);
  } else if (sz > n) {
    std::memset(static_cast<uint8_t*>(p) + n, 0, sz - n);
  }
  return AlignedPtr(static_cast<uint8_t*>(p));
}

// Per-thread scratch for the converted activations (grows, never shrinks).
struct Scratch {
  AlignedPtr buf;
  size_t cap = 0;
  uint8_t* get(size_t n) {
    if (n > cap) {
      buf = aligned_bytes(n);
      cap = n;
    }
    return buf.get();
  }
};
thread_local Scratch t_scratch, t_scratch_acc, t_scratch_dnnl;

// ---- oneDNN matmul with the weights reordered once (the large-M alternative to tern's kernels) ----
// Through oneDNN's C API, loaded on first use (tensor/blas_libs.h): only a model prepared with a oneDNN
// threshold set (tests, bench/lowp_bench) loads libdnnl.

const detail::DnnlApi& dnnl() {
  return detail::dnnl_api();
}

// The CPU engine, created once (null when oneDNN cannot create it: no matmul is built then).
dnnl_engine_t dnnl_engine() {
  static const dnnl_engine_t e = [] {
    dnnl_engine_t r = nullptr;
    return dnnl().engine_create(&r, dnnl_cpu, 0) == dnnl_success ? r : nullptr;
  }();
  return e;
}

struct DnnlPrimitiveDel {
  void operator()(dnnl_primitive_t p) const { dnnl().primitive_destroy(p); }
};
struct DnnlMemoryDel {
  void operator()(dnnl_memory_t p) const { dnnl().memory_destroy(p); }
};
struct DnnlPdDel {
  void operator()(dnnl_primitive_desc_t p) const { dnnl().primitive_desc_destroy(p); }
};
struct DnnlPdIterDel {
  void operator()(dnnl_primitive_desc_iterator_t p) const { dnnl().primitive_desc_iterator_destroy(p); }
};
struct DnnlAttrDel {
  void operator()(dnnl_primitive_attr_t p) const { dnnl().primitive_attr_destroy(p); }
};
struct DnnlStreamDel {
  void operator()(dnnl_stream_t p) const { dnnl().stream_destroy(p); }
};
template <class H, class D>
using DnnlOwned = std::unique_ptr<std::remove_pointer_t<H>, D>;
using DnnlPrimitive = DnnlOwned<dnnl_primitive_t, DnnlPrimitiveDel>;
using DnnlMemory = DnnlOwned<dnnl_memory_t, DnnlMemoryDel>;
using DnnlPd = DnnlOwned<dnnl_primitive_desc_t, DnnlPdDel>;
using DnnlPdIter = DnnlOwned<dnnl_primitive_desc_iterator_t, DnnlPdIterDel>;
using DnnlAttr = DnnlOwned<dnnl_primitive_attr_t, DnnlAttrDel>;
using DnnlStream = DnnlOwned<dnnl_stream_t, DnnlStreamDel>;

void dnnl_check(dnnl_status_t st, const char* what) {
  TERN_CHECK(st == dnnl_success, "oneDNN matmul: " << what << " failed with status " << static_cast<int>(st));
}

// y_raw (M, N) = src (M, K) (row stride Kp) x W^T: the raw sums (s32 for u8 x s8, f32 for bf16) that tern's
// epilogue turns into y. M is a runtime dimension: one primitive serves every batch.
struct DnnlMatmul {
  DnnlPrimitive prim;
  DnnlMemory weights;  // reordered once from W (N, K) row-major
  size_t weights_bytes = 0;
  dnnl_memory_desc_t scratch_md{};
  dnnl_data_type_t src_t = dnnl_data_type_undef, dst_t = dnnl_data_type_undef;
  int64_t N = 0, K = 0, Kp = 0;
  std::string impl;

  // Null when this oneDNN build has no such matmul (tern's kernel then runs for every M); throws when
  // libdnnl cannot be loaded.
  static std::unique_ptr<DnnlMatmul> make(dnnl_data_type_t st, dnnl_data_type_t wt, dnnl_data_type_t dt,
                                          int64_t N, int64_t K, int64_t Kp, const void* w_rowmajor) {
    if (K == 0 || N == 0) return nullptr;
    const detail::DnnlApi& d = dnnl();
    const dnnl_engine_t eng = dnnl_engine();
    if (!eng) return nullptr;
    const auto ok = [](dnnl_status_t s) { return s == dnnl_success; };
    auto m = std::make_unique<DnnlMatmul>();
    m->src_t = st;
    m->dst_t = dt;
    m->N = N;
    m->K = K;
    m->Kp = Kp;
    const dnnl_dims_t src_dims = {DNNL_RUNTIME_DIM_VAL, K}, src_strides = {Kp, 1};
    const dnnl_dims_t w_dims = {K, N};
    const dnnl_dims_t dst_dims = {DNNL_RUNTIME_DIM_VAL, N}, dst_strides = {N, 1};
    dnnl_memory_desc_t src_md, w_any, dst_md;
    if (!ok(d.memory_desc_init_by_strides(&src_md, 2, src_dims, st, src_strides)) ||
        !ok(d.memory_desc_init_by_tag(&w_any, 2, w_dims, wt, dnnl_format_tag_any)) ||
        !ok(d.memory_desc_init_by_strides(&dst_md, 2, dst_dims, dt, dst_strides)))
      return nullptr;
    dnnl_matmul_desc_t desc;
    if (!ok(d.matmul_desc_init(&desc, &src_md, &w_any, nullptr, &dst_md))) return nullptr;
    dnnl_primitive_attr_t attr_raw = nullptr;
    if (!ok(d.primitive_attr_create(&attr_raw))) return nullptr;
    const DnnlAttr attr(attr_raw);
    // Per-thread scratch: concurrent calls are safe.
    if (!ok(d.primitive_attr_set_scratchpad_mode(attr.get(), dnnl_scratchpad_mode_user))) return nullptr;
    // The first implementation of the list, as the C++ API's primitive_desc picks it.
    dnnl_primitive_desc_iterator_t it_raw = nullptr;
    if (!ok(d.primitive_desc_iterator_create(&it_raw, &desc, attr.get(), eng, nullptr))) return nullptr;
    const DnnlPdIter it(it_raw);
    const DnnlPd pd(d.primitive_desc_iterator_fetch(it.get()));
    if (!pd) return nullptr;
    dnnl_primitive_t prim_raw = nullptr;
    if (!ok(d.primitive_create(&prim_raw, pd.get()))) return nullptr;
    m->prim.reset(prim_raw);
    const char* impl = nullptr;
    if (!ok(d.primitive_desc_query(pd.get(), dnnl_query_impl_info_str, 0, &impl))) return nullptr;
    m->impl = impl ? impl : "";
    if (const dnnl_memory_desc_t* smd = d.primitive_desc_query_md(pd.get(), dnnl_query_scratchpad_md, 0))
      m->scratch_md = *smd;
    const dnnl_memory_desc_t* wmd = d.primitive_desc_query_md(pd.get(), dnnl_query_weights_md, 0);
    if (!wmd) return nullptr;
    dnnl_memory_t w_raw = nullptr;
    if (!ok(d.memory_create(&w_raw, wmd, eng, DNNL_MEMORY_ALLOCATE))) return nullptr;
    m->weights.reset(w_raw);
    m->weights_bytes = d.memory_desc_get_size(wmd);
    // W (N, K) row-major is the (K, N) tensor in format ba.
    dnnl_memory_desc_t plain_md;
    if (!ok(d.memory_desc_init_by_tag(&plain_md, 2, w_dims, wt, dnnl_ba))) return nullptr;
    dnnl_memory_t plain_raw = nullptr;
    if (!ok(d.memory_create(&plain_raw, &plain_md, eng, const_cast<void*>(w_rowmajor)))) return nullptr;
    const DnnlMemory plain(plain_raw);
    dnnl_primitive_desc_t rpd_raw = nullptr;
    if (!ok(d.reorder_primitive_desc_create(&rpd_raw, &plain_md, eng, wmd, eng, nullptr))) return nullptr;
    const DnnlPd rpd(rpd_raw);
    dnnl_primitive_t reorder_raw = nullptr;
    if (!ok(d.primitive_create(&reorder_raw, rpd.get()))) return nullptr;
    const DnnlPrimitive reorder(reorder_raw);
    dnnl_stream_t s_raw = nullptr;
    if (!ok(d.stream_create(&s_raw, eng, dnnl_stream_default_flags))) return nullptr;
    const DnnlStream s(s_raw);
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, plain.get()}, {DNNL_ARG_TO, m->weights.get()}};
    if (!ok(d.primitive_execute(reorder.get(), s.get(), 2, args)) || !ok(d.stream_wait(s.get())))
      return nullptr;
    return m;
  }

  size_t bytes() const { return weights_bytes; }

  // src: (M, Kp) rows; dst: (M, N) raw sums.
  void run(int64_t M, const void* src, void* dst) const {
    const detail::DnnlApi& d = dnnl();
    const dnnl_engine_t eng = dnnl_engine();
    const dnnl_dims_t src_dims = {M, K}, src_strides = {Kp, 1}, dst_dims = {M, N}, dst_strides = {N, 1};
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_check(d.memory_desc_init_by_strides(&src_md, 2, src_dims, src_t, src_strides), "source descriptor");
    dnnl_check(d.memory_desc_init_by_strides(&dst_md, 2, dst_dims, dst_t, dst_strides),
               "destination descriptor");
    dnnl_memory_t raw = nullptr;
    dnnl_check(d.memory_create(&raw, &src_md, eng, const_cast<void*>(src)), "source memory");
    const DnnlMemory sm(raw);
    dnnl_check(d.memory_create(&raw, &dst_md, eng, dst), "destination memory");
    const DnnlMemory dm(raw);
    const size_t sp = d.memory_desc_get_size(&scratch_md);
    dnnl_check(d.memory_create(&raw, &scratch_md, eng, sp ? t_scratch_dnnl.get(sp) : nullptr),
               "scratchpad memory");
    const DnnlMemory spm(raw);
    dnnl_stream_t s_raw = nullptr;
    dnnl_check(d.stream_create(&s_raw, eng, dnnl_stream_default_flags), "stream");
    const DnnlStream s(s_raw);
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, sm.get()},
                                    {DNNL_ARG_WEIGHTS, weights.get()},
                                    {DNNL_ARG_DST, dm.get()},
                                    {DNNL_ARG_SCRATCHPAD, spm.get()}};
    dnnl_check(d.primitive_execute(prim.get(), s.get(), 4, args), "execute");
    dnnl_check(d.stream_wait(s.get()), "stream wait");
  }
};

// From this many rows on, bf16 / int8 products run as oneDNN matmul (weights reordered once at load, raw
// sums into a scratch, tern's epilogue) instead of tern's kernel; INT64_MAX: never, and the oneDNN copy of
// the weights is then not built. Chosen by measurement: bench/lowp_bench --compare 1 --threads 1 --clock cpu
// (Zen 5, oneDNN 2.6.3, 9 interleaved runs, machine shared with other builds), every BERT-mini / base weight
// shape x M in 16..2048: oneDNN's matmul with a runtime M is "gemm:jit" (its brgemm needs a fixed M) and was
// slower than tern's kernel on 38 of 40 shapes for int8 (e.g. base out M = 256: 0.98 vs 0.73 ms; mini ffn1
// M = 64: 0.137 vs 0.088 ms) and on 39 of 40 for bf16; the exceptions (base ffn2 at M = 2048, int8 0.93x /
// bf16 0.99x) are within the run-to-run spread. So: tern's kernel for every M.
std::atomic<int64_t> g_dnnl_min_m[2] = {INT64_MAX, INT64_MAX};
std::atomic<int64_t>& dnnl_min_m(Precision p) {
  return g_dnnl_min_m[p == Precision::I8 ? 1 : 0];
}

// fp32: up to this many rows tern's prepacked AVX-512 kernel runs, above it tern::sgemm (tensor/gemm.h).
// INT64_MAX: the packed kernel for every M (no plain copy kept); -1: sgemm only (no packed copy built).
// Measured (bench/lowp_bench --precisions fp32 --compare 1 --threads 1 --clock cpu, 9 interleaved runs, Zen
// 5, shared machine): the packed kernel is 1.1-1.9x faster than sgemm (tern small-M kernel / oneDNN) for M <=
// 64 on every BERT-mini / base shape, 1.0-1.3x at M = 256, and within +-5% at M = 800 and 2048 (sgemm ahead
// by 4-5% only on base ffn1 at M >= 800, not reproduced in a second run). So: the packed kernel for every M,
// which also keeps one copy of the weights. sgemm runs instead when the weight is built while
// tern::gemm_backend() is not oneDNN (TERN_GEMM=openblas|ref) or the AVX-512 kernels are off (TERN_ISA).
std::atomic<int64_t> g_f32_packed_max_m{INT64_MAX};

}  // namespace

namespace detail {
// Bench hook: the M from which `p` uses oneDNN matmul (weights built after the call get the oneDNN copy).
int64_t set_lowp_dnnl_min_m(Precision p, int64_t m) {
  return dnnl_min_m(p).exchange(m);
}
// Bench hook: fp32 weights built after the call use the packed kernel up to m rows (see g_f32_packed_max_m).
int64_t set_f32_packed_max_m(int64_t m) {
  return g_f32_packed_max_m.exchange(m);
}
bool lowp_cpu_supports(Precision p) {
  return cpu_supports(p);
}
bool set_lowp_cpu_disabled(bool off) {
  return g_lowp_disabled.exchange(off);
}
}  // namespace detail

// ---- names ----

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::F32:
      return "fp32";
    case Precision::BF16:
      return "bf16";
    case Precision::I8:
      return "int8";
  }
  return "?";
}

Precision parse_precision(const std::string& s) {
  if (s == "fp32" || s == "float32") return Precision::F32;
  if (s == "bf16" || s == "bfloat16") return Precision::BF16;
  if (s == "int8") return Precision::I8;
  TERN_FAIL("unknown precision '" << s << "' (choices: fp32 (or float32), bf16 (or bfloat16), int8)");
}

void require_precision(Precision p) {
  if (cpu_supports(p) || force_ref_env()) return;
  const char* need = p == Precision::BF16 ? "AVX512-BF16 (vdpbf16ps) with AVX512F/BW/DQ/VL"
                                          : "AVX512-VNNI (vpdpbusd) with AVX512F/BW/DQ/VL";
  TERN_FAIL("--precision " << precision_name(p) << " needs a CPU with " << need
                           << "; this CPU has: " << cpu().listed
                           << " (use --precision fp32; TERN_PRECISION_FORCE_REF=1 runs the slow reference "
                              "twin instead)");
}

std::string precision_description(Precision p) {
  switch (p) {
    case Precision::F32:
      if (detail::kernels_use_avx512() && gemm_backend() == GemmBackend::Dnnl &&
          g_f32_packed_max_m.load() >= 0)
        return "fp32: tern AVX-512 fp32 kernel 6x64 (weights packed (N/64, K, 64) once at load), every M "
               "(measured >= sgemm)";
      return std::string("fp32: ") + gemm_description();
    case Precision::BF16:
      if (!cpu_supports(p) || force_ref_env())
        return "bf16: reference twin (plain loops; TERN_PRECISION_FORCE_REF)";
      return "bf16: tern AVX512-BF16 vdpbf16ps kernel 6x64 (weights packed (N/64, K/2, 64, 2) once at load), "
             "every M (oneDNN 2.6.3 matmul measured slower); activations rounded to bf16 per call, fp32 "
             "accumulation, bias fused into the store";
    case Precision::I8:
      if (!cpu_supports(p) || force_ref_env())
        return "int8: reference twin (plain loops; TERN_PRECISION_FORCE_REF)";
      return "int8: tern AVX512-VNNI u8s8s32 vpdpbusd kernel 6x64 (weights s8 per channel, "
             "packed (N/64, K/4, 64, 4) once at load), every M (oneDNN 2.6.3 matmul measured slower); "
             "activations quantised per row "
             "(asymmetric u8), dequantisation + bias fused into the store";
  }
  return "?";
}

// ---- PackedWeight ----

struct PackedWeight::Impl {
  Precision p = Precision::F32;
  int64_t rows = 0, cols = 0;
  int64_t Np = 0, Kp = 0;  // padded (lowp kernels)
  bool use_ref = false;    // the reference twin runs (TERN_PRECISION_FORCE_REF)
  std::vector<float> w;    // F32: W (rows, cols); BF16 with use_ref: W rounded to bf16
  AlignedPtr packed;       // BF16 / I8 packed layouts (tensor/lowp_impl.h)
  size_t packed_bytes = 0;
  std::vector<int32_t> colsum;       // I8: (Np) sum_k q
  std::vector<float> scales;         // I8: (Np) per channel, 0 in the padding
  std::vector<int8_t> q;             // I8 with use_ref: (rows, cols)
  std::unique_ptr<DnnlMatmul> dnnl;  // the oneDNN matmul for large M (null: tern's kernel for every M)
  int64_t f32_packed_max_m = -1;     // F32: the packed kernel up to this M, sgemm on w above
};

PackedWeight::PackedWeight() = default;
PackedWeight::PackedWeight(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PackedWeight::~PackedWeight() = default;
PackedWeight::PackedWeight(PackedWeight&&) noexcept = default;
PackedWeight& PackedWeight::operator=(PackedWeight&&) noexcept = default;

namespace {

void check_shape(const char* what, int64_t rows, int64_t cols, int64_t ld) {
  TERN_CHECK(rows >= 0 && cols >= 0, what << ": negative weight shape (" << rows << ", " << cols << ")");
  TERN_CHECK(ld >= std::max<int64_t>(1, cols),
             what << ": weight leading dimension " << ld << " < its " << cols << " columns");
}

// Packed offset (in elements) of W[o, k] in the (Np/64, Kp/G, 64, G) layout, G = 4 (int8) or 2 (bf16).
int64_t packed_index(int64_t o, int64_t k, int64_t Kp, int64_t G) {
  return ((o / 64 * (Kp / G) + k / G) * 64 + o % 64) * G + k % G;
}

// Fills a zeroed packed buffer (Np/64, Kp/G, 64, G) from get(o, k) (o < R, k < K): element (o, k) lands at
// packed_index(o, k, Kp, G). Blocks of 64 rows x 16 inputs: the reads are one cache line per row, the writes
// stay in a 4 KiB block (element by element through packed_index was ~1.8 ns per weight at load).
template <int G, typename T, typename Get>
void pack_layout(T* dst, int64_t R, int64_t K, int64_t Kp, Get get) {
  const int64_t steps = Kp / G;
  for (int64_t g = 0; g * 64 < R; ++g) {
    const int64_t rows = std::min<int64_t>(64, R - g * 64);
    T* dg = dst + g * steps * 64 * G;
    for (int64_t k0 = 0; k0 < K; k0 += 16) {
      const int64_t k1 = std::min<int64_t>(K, k0 + 16);
      for (int64_t j = 0; j < rows; ++j)
        for (int64_t k = k0; k < k1; ++k) dg[((k / G) * 64 + j) * G + k % G] = get(g * 64 + j, k);
    }
  }
}

// Packs the I8 weight q (rows, cols) row-major with its scales into impl (layout (Np/64, Kp/4, 64, 4)).
void pack_i8(PackedWeight::Impl& im, const int8_t* q, const float* scales) {
  const int64_t R = im.rows, K = im.cols;
  im.Np = round_up(std::max<int64_t>(R, 1), 64);
  im.Kp = round_up(K, 4);
  im.packed_bytes = static_cast<size_t>(im.Np * im.Kp);
  im.packed = aligned_bytes(im.packed_bytes, /*zero=*/R % 64 != 0 || K % 4 != 0);
  if (K % 4 == 0) {
    // Whole groups of 4 inputs: each lands as one 32-bit word at word (o / 64 * Kp/4 + k/4) * 64 + o % 64;
    // blocks of 64 rows x 64 inputs (the same layout as pack_layout<4>, one word at a time).
    const int64_t steps = K / 4;
    uint32_t* d = reinterpret_cast<uint32_t*>(im.packed.get());
    for (int64_t g = 0; g * 64 < R; ++g) {
      const int64_t rows = std::min<int64_t>(64, R - g * 64);
      uint32_t* dg = d + g * steps * 64;
      for (int64_t s0 = 0; s0 < steps; s0 += 16) {
        const int64_t s1 = std::min<int64_t>(steps, s0 + 16);
        for (int64_t j = 0; j < rows; ++j) {
          const int8_t* src = q + (g * 64 + j) * K;
          for (int64_t st = s0; st < s1; ++st) std::memcpy(dg + st * 64 + j, src + 4 * st, 4);
        }
      }
    }
  } else {
    pack_layout<4>(reinterpret_cast<int8_t*>(im.packed.get()), R, K, im.Kp,
                   [&](int64_t o, int64_t k) { return q[o * K + k]; });
  }
  im.colsum.assign(im.Np, 0);
  im.scales.assign(im.Np, 0.f);
  for (int64_t o = 0; o < R; ++o) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += q[o * K + k];
    im.colsum[o] = s;
    im.scales[o] = scales[o];
  }
  if (dnnl_min_m(Precision::I8).load() != INT64_MAX)
    im.dnnl = DnnlMatmul::make(dnnl_u8, dnnl_s8, dnnl_s32, R, K, im.Kp, q);
}

void pack_f32(PackedWeight::Impl& im, const float* w, int64_t ld) {
  const int64_t R = im.rows, K = im.cols;
  im.Np = round_up(std::max<int64_t>(R, 1), 64);
  im.Kp = K;
  im.packed_bytes = static_cast<size_t>(im.Np * K * 4);
  im.packed = aligned_bytes(im.packed_bytes, /*zero=*/R % 64 != 0);
  pack_layout<1>(reinterpret_cast<float*>(im.packed.get()), R, K, K,
                 [&](int64_t o, int64_t k) { return w[o * ld + k]; });
}

void pack_bf16(PackedWeight::Impl& im, const float* w, int64_t ld) {
  const int64_t R = im.rows, K = im.cols;
  im.Np = round_up(std::max<int64_t>(R, 1), 64);
  im.Kp = round_up(K, 2);
  im.packed_bytes = static_cast<size_t>(im.Np * im.Kp * 2);
  im.packed = aligned_bytes(im.packed_bytes, /*zero=*/R % 64 != 0 || K % 2 != 0);
  pack_layout<2>(reinterpret_cast<uint16_t*>(im.packed.get()), R, K, im.Kp,
                 [&](int64_t o, int64_t k) { return ref::f32_to_bf16(w[o * ld + k]); });
  std::vector<uint16_t> plain;
  if (dnnl_min_m(Precision::BF16).load() != INT64_MAX) {
    plain.resize(R * K);
    for (int64_t o = 0; o < R; ++o)
      for (int64_t k = 0; k < K; ++k) plain[o * K + k] = ref::f32_to_bf16(w[o * ld + k]);
  }
  if (dnnl_min_m(Precision::BF16).load() != INT64_MAX)
    im.dnnl = DnnlMatmul::make(dnnl_bf16, dnnl_bf16, dnnl_f32, R, K, im.Kp, plain.data());
}

}  // namespace

PackedWeight PackedWeight::from_f32(Precision p, const float* w, int64_t rows, int64_t cols, int64_t ld) {
  check_shape("PackedWeight::from_f32", rows, cols, ld);
  TERN_CHECK(w != nullptr || rows * cols == 0, "PackedWeight::from_f32: null weight");
  require_precision(p);
  auto im = std::make_unique<Impl>();
  im->p = p;
  im->rows = rows;
  im->cols = cols;
  im->use_ref = p != Precision::F32 && (force_ref_env() || !cpu_supports(p));
  switch (p) {
    case Precision::F32:
      im->f32_packed_max_m = detail::kernels_use_avx512() && gemm_backend() == GemmBackend::Dnnl
                                 ? g_f32_packed_max_m.load()
                                 : -1;
      if (im->f32_packed_max_m >= 0) pack_f32(*im, w, ld);
      if (im->f32_packed_max_m != INT64_MAX) {
        im->w.resize(rows * cols);
        for (int64_t o = 0; o < rows; ++o) std::copy(w + o * ld, w + o * ld + cols, im->w.data() + o * cols);
      }
      break;
    case Precision::BF16:
      if (im->use_ref) {
        im->w.resize(rows * cols);
        for (int64_t o = 0; o < rows; ++o)
          for (int64_t k = 0; k < cols; ++k)
            im->w[o * cols + k] = ref::bf16_to_f32(ref::f32_to_bf16(w[o * ld + k]));
      } else {
        pack_bf16(*im, w, ld);
      }
      break;
    case Precision::I8: {
      std::vector<int8_t> q(rows * cols);
      std::vector<float> s(rows);
      quantize_weight_i8(w, rows, cols, ld, q.data(), s.data());
      if (im->use_ref) {
        im->q = std::move(q);
        im->scales = std::move(s);
      } else {
        pack_i8(*im, q.data(), s.data());
      }
      break;
    }
  }
  return PackedWeight(std::move(im));
}

PackedWeight PackedWeight::from_i8(const int8_t* q, const float* scales, int64_t rows, int64_t cols) {
  check_shape("PackedWeight::from_i8", rows, cols, std::max<int64_t>(cols, 1));
  TERN_CHECK((q != nullptr && scales != nullptr) || rows * cols == 0,
             "PackedWeight::from_i8: null q or scales");
  for (int64_t o = 0; o < rows; ++o)
    TERN_CHECK(std::isfinite(scales[o]),
               "PackedWeight::from_i8: scale of output channel " << o << " is " << scales[o]);
  require_precision(Precision::I8);
  auto im = std::make_unique<Impl>();
  im->p = Precision::I8;
  im->rows = rows;
  im->cols = cols;
  im->use_ref = force_ref_env() || !cpu_supports(Precision::I8);
  if (im->use_ref) {
    im->q.assign(q, q + rows * cols);
    im->scales.assign(scales, scales + rows);
  } else {
    pack_i8(*im, q, scales);
  }
  return PackedWeight(std::move(im));
}

Precision PackedWeight::precision() const {
  return impl_ ? impl_->p : Precision::F32;
}
int64_t PackedWeight::rows() const {
  return impl_ ? impl_->rows : 0;
}
int64_t PackedWeight::cols() const {
  return impl_ ? impl_->cols : 0;
}
bool PackedWeight::empty() const {
  return !impl_;
}
size_t PackedWeight::bytes() const {
  if (!impl_) return 0;
  return impl_->w.size() * sizeof(float) + impl_->packed_bytes + impl_->colsum.size() * sizeof(int32_t) +
         impl_->scales.size() * sizeof(float) + impl_->q.size() + (impl_->dnnl ? impl_->dnnl->bytes() : 0);
}

std::string PackedWeight::kernel(int64_t M) const {
  if (!impl_) return "none (empty)";
  const Impl& im = *impl_;
  switch (im.p) {
    case Precision::F32:
      if (M <= im.f32_packed_max_m) return "tern avx512 fp32 6x64 (prepacked)";
      return gemm_description();
    case Precision::BF16:
    case Precision::I8:
      if (im.use_ref) return "reference twin";
      if (im.dnnl && M >= dnnl_min_m(im.p).load()) return "oneDNN matmul " + im.dnnl->impl;
      return im.p == Precision::BF16 ? "tern avx512-bf16 6x64" : "tern avx512-vnni u8s8 6x64";
  }
  return "?";
}

void PackedWeight::export_i8(std::vector<int8_t>& q, std::vector<float>& scales) const {
  TERN_CHECK(impl_ && impl_->p == Precision::I8,
             "PackedWeight::export_i8 on a " << (impl_ ? precision_name(impl_->p) : "empty") << " weight");
  const Impl& im = *impl_;
  const int64_t R = im.rows, K = im.cols;
  if (im.use_ref) {
    q = im.q;
    scales.assign(im.scales.begin(), im.scales.begin() + R);
    return;
  }
  q.resize(R * K);
  scales.assign(im.scales.begin(), im.scales.begin() + R);
  const auto* src = reinterpret_cast<const int8_t*>(im.packed.get());
  for (int64_t o = 0; o < R; ++o)
    for (int64_t k = 0; k < K; ++k) q[o * K + k] = src[packed_index(o, k, im.Kp, 4)];
}

namespace {

void add_bias(int64_t M, int64_t N, const float* bias, float* y, int64_t ldy) {
  if (!bias) return;
#pragma omp parallel for schedule(static) if (M * N > 65536 && !omp_in_parallel())
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) y[m * ldy + n] += bias[n];
}

// Runs prep(m0, m1) over all rows, then tile(m0, m1, b0, b1) over (row chunk, 64-column group) tasks, on
// omp_get_max_threads() threads (one inside a parallel region or for a small product). Tasks are ordered
// row chunk first: a chunk of converted activations stays in L2 while every weight group passes it.
// Measured against group-first order (each 64 x K weight panel in L2, activations streamed): equal up to
// M = 800, 3-8% faster at M = 2048 (bench/lowp_bench --threads 1 --clock cpu, 2 interleaved repetitions).
template <typename Prep, typename Tile>
void run_tiles(int64_t M, int64_t Np, int64_t K, int64_t N, int64_t row_bytes, Prep prep, Tile tile) {
  const int64_t blocks = std::min(Np, N + 15) / 16, groups = (blocks + 3) / 4;  // no all-padding blocks
  int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (2.0 * M * N * K < 2e5) nt = 1;
  // Row chunks whose activations (chunk x row_bytes) fit in ~192 KiB of L2, a multiple of the kernel's 6
  // rows; more chunks when there would be fewer than 2 tasks per thread. 192 KiB measured equal to 512 KiB
  // (fp32 / bf16 / int8, BERT-base shapes, M = 800 and 2048).
  constexpr int64_t kChunkBytes = 192 * 1024;
  int64_t chunks = std::max<int64_t>(1, (M * row_bytes + kChunkBytes - 1) / kChunkBytes);
  if (groups * chunks < 2 * nt) chunks = std::max<int64_t>(chunks, (2 * nt + groups - 1) / groups);
  int64_t mc = round_up((M + chunks - 1) / chunks, 6);
  chunks = (M + mc - 1) / mc;
  const int64_t tasks = groups * chunks;
  if (nt > tasks) nt = static_cast<int>(std::max<int64_t>(1, tasks));
  auto run_task = [&](int64_t t) {
    const int64_t c = t / groups, g = t % groups;
    tile(c * mc, std::min(M, (c + 1) * mc), g * 4, std::min(blocks, g * 4 + 4));
  };
  if (nt == 1) {
    prep(0, M);
    for (int64_t t = 0; t < tasks; ++t) run_task(t);
    return;
  }
  // Tasks (chunk-major) go to threads by their rows, not their count: the last chunk is shorter (M = 128:
  // chunks of 48, 48, 32), and an even split of tasks left one thread ~28% more rows than the other
  // (BERT-base 1 x 128). Thread t runs the tasks whose middle row-group lies in its share.
  const int64_t total = M * groups;
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    prep(M * t / n, M * (t + 1) / n);
#pragma omp barrier
    int64_t before = 0;  // row-groups of the tasks before task k
    for (int64_t k = 0; k < tasks; ++k) {
      const int64_t c = k / groups, rows = std::min(M, (c + 1) * mc) - c * mc;
      if ((2 * before + rows) * n / (2 * total) == t) run_task(k);
      before += rows;
    }
  }
}

// f(m0, m1) over row ranges on up to nt threads.
template <typename F>
void parallel_rows(int64_t M, int nt, F f) {
  if (nt <= 1 || M < 2) {
    f(0, M);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
    f(M * t / n, M * (t + 1) / n);
  }
}

int threads_for(double flops) {
  return omp_in_parallel() || flops < 2e5 ? 1 : omp_get_max_threads();
}

}  // namespace

void PackedWeight::gemm(int64_t M, const float* x, int64_t ldx, const float* bias, float beta, float* y,
                        int64_t ldy, Act act) const {
  TERN_CHECK(impl_ != nullptr, "PackedWeight::gemm on an empty weight");
  TERN_CHECK(act == Act::Identity || beta == 0.f, "PackedWeight::gemm: an activation needs beta == 0");
  if (act == Act::Mish) {  // not in the kernels' store: the elementwise kernel afterwards
    gemm(M, x, ldx, bias, beta, y, ldy);
    for (int64_t m = 0; m < M; ++m) bias_act(y + m * ldy, nullptr, 1, impl_->rows, act);
    return;
  }
  const Impl& im = *impl_;
  const int64_t N = im.rows, K = im.cols;
  TERN_CHECK(M >= 0, "PackedWeight::gemm: M = " << M);
  TERN_CHECK(ldx >= std::max<int64_t>(1, K),
             "PackedWeight::gemm: x leading dimension " << ldx << " < the weight's " << K << " columns");
  TERN_CHECK(ldy >= std::max<int64_t>(1, N),
             "PackedWeight::gemm: y leading dimension " << ldy << " < the weight's " << N << " rows");
  if (M == 0 || N == 0) return;
  TERN_CHECK(x != nullptr && y != nullptr, "PackedWeight::gemm: null x or y");
  switch (im.p) {
    case Precision::F32: {
      if (M > im.f32_packed_max_m || K == 0) {
        sgemm(false, true, M, N, K, 1.f, x, ldx, im.w.data(), std::max<int64_t>(K, 1), beta, y, ldy);
        if (act == Act::Identity)
          add_bias(M, N, bias, y, ldy);
        else
          for (int64_t m = 0; m < M; ++m) bias_act(y + m * ldy, bias, 1, N, act);
        return;
      }
      const detail::lowp::F32Args a{K,    N,    x, ldx, reinterpret_cast<const float*>(im.packed.get()),
                                    bias, beta, y, ldy, act};
      run_tiles(
          M, im.Np, K, N, K * 4, [](int64_t, int64_t) {},
          [&](int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
            detail::lowp::avx512::gemm_f32(a, m0, m1, b0, b1);
          });
      return;
    }
    case Precision::BF16: {
      if (im.use_ref) {
        ref::packed_weight_gemm(Precision::BF16, im.w.data(), N, K, std::max<int64_t>(K, 1), M, x, ldx, bias,
                                beta, y, ldy, act);
        return;
      }
      auto* xb = reinterpret_cast<uint16_t*>(t_scratch.get(static_cast<size_t>(M * im.Kp * 2)));
      const Bf16Args a{im.Kp, N,   xb, reinterpret_cast<const uint16_t*>(im.packed.get()), bias, beta,
                       y,     ldy, act};
      if (im.dnnl && M >= dnnl_min_m(Precision::BF16).load(std::memory_order_relaxed)) {
        const int nt = threads_for(2.0 * M * N * K);
        parallel_rows(M, nt, [&](int64_t m0, int64_t m1) {
          detail::lowp::avx512::rows_to_bf16(x, ldx, K, im.Kp, m0, m1, xb);
        });
        auto* acc = reinterpret_cast<float*>(t_scratch_acc.get(static_cast<size_t>(M * N * 4)));
        im.dnnl->run(M, xb, acc);
        parallel_rows(M, nt, [&](int64_t m0, int64_t m1) {
          detail::lowp::avx512::epilogue_bf16(a, acc + m0 * N, N, m0, m1, 0, N);
        });
        return;
      }
      run_tiles(
          M, im.Np, K, N, im.Kp * 2,
          [&](int64_t m0, int64_t m1) { detail::lowp::avx512::rows_to_bf16(x, ldx, K, im.Kp, m0, m1, xb); },
          [&](int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
            detail::lowp::avx512::gemm_bf16(a, m0, m1, b0, b1);
          });
      return;
    }
    case Precision::I8: {
      if (im.use_ref) {
        ref::gemm_i8_quantized(im.q.data(), im.scales.data(), N, K, M, x, ldx, bias, beta, y, ldy, act);
        return;
      }
      // Scratch: xq (M, Kp) u8, then the row scales and zero points.
      const size_t qbytes = static_cast<size_t>(round_up(M * im.Kp, 64));
      uint8_t* base = t_scratch.get(qbytes + static_cast<size_t>(M) * 8);
      uint8_t* xq = base;
      auto* xs = reinterpret_cast<float*>(base + qbytes);
      auto* xzp = reinterpret_cast<int32_t*>(base + qbytes + M * 4);
      const I8Args a{im.Kp,
                     N,
                     xq,
                     xs,
                     xzp,
                     reinterpret_cast<const int8_t*>(im.packed.get()),
                     im.colsum.data(),
                     im.scales.data(),
                     bias,
                     beta,
                     y,
                     ldy,
                     act};
      if (im.dnnl && M >= dnnl_min_m(Precision::I8).load(std::memory_order_relaxed)) {
        const int nt = threads_for(2.0 * M * N * K);
        parallel_rows(M, nt, [&](int64_t m0, int64_t m1) {
          detail::lowp::avx512::quantize_rows_u8(x, ldx, K, im.Kp, m0, m1, xq, xs, xzp);
        });
        auto* acc = reinterpret_cast<int32_t*>(t_scratch_acc.get(static_cast<size_t>(M * N * 4)));
        im.dnnl->run(M, xq, acc);
        parallel_rows(M, nt, [&](int64_t m0, int64_t m1) {
          detail::lowp::avx512::epilogue_i8(a, acc + m0 * N, N, m0, m1, 0, N);
        });
        return;
      }
      run_tiles(
          M, im.Np, K, N, im.Kp,
          [&](int64_t m0, int64_t m1) {
            detail::lowp::avx512::quantize_rows_u8(x, ldx, K, im.Kp, m0, m1, xq, xs, xzp);
          },
          [&](int64_t m0, int64_t m1, int64_t b0, int64_t b1) {
            detail::lowp::avx512::gemm_i8(a, m0, m1, b0, b1);
          });
      return;
    }
  }
}

void quantize_weight_i8(const float* w, int64_t rows, int64_t cols, int64_t ld, int8_t* q, float* scales) {
  if (!detail::lowp_cpu_supports(Precision::I8)) return ref::quantize_weight_i8(w, rows, cols, ld, q, scales);
  const int64_t bad = detail::lowp::avx512::quantize_weight_i8(w, rows, cols, ld, q, scales);
  TERN_CHECK(bad < 0, "quantize_weight_i8: output channel " << bad << " has a non-finite value");
}

// ---- the reference twin ----

namespace ref {

uint16_t f32_to_bf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu))
    return static_cast<uint16_t>((u >> 16) | 0x40);  // qNaN
  if ((u & 0x7F800000u) == 0)
    return static_cast<uint16_t>((u >> 16) & 0x8000);  // zero / denormal -> signed zero
  u += 0x7FFFu + ((u >> 16) & 1u);                     // nearest even
  return static_cast<uint16_t>(u >> 16);
}

float bf16_to_f32(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

void quantize_weight_i8(const float* w, int64_t rows, int64_t cols, int64_t ld, int8_t* q, float* scales) {
  for (int64_t o = 0; o < rows; ++o) {
    const float* r = w + o * ld;
    float amax = 0.f;
    bool finite = true;
    for (int64_t k = 0; k < cols; ++k) {
      const float a = std::fabs(r[k]);
      finite &= a <= std::numeric_limits<float>::max();  // false for Inf and NaN
      amax = a > amax ? a : amax;
    }
    TERN_CHECK(finite, "quantize_weight_i8: output channel " << o << " has a non-finite value");
    if (amax == 0.f) {
      scales[o] = 1.f;
      std::fill(q + o * cols, q + (o + 1) * cols, int8_t{0});
      continue;
    }
    const float s = amax / 127.f;
    scales[o] = s;
    for (int64_t k = 0; k < cols; ++k) {
      float v = std::nearbyint(r[k] / s);  // finite: checked above
      v = v < -127.f ? -127.f : v > 127.f ? 127.f : v;
      q[o * cols + k] = static_cast<int8_t>(v);
    }
  }
}

float quantize_row_u8(const float* x, int64_t n, uint8_t* q, int32_t* zp) {
  float mn = 0.f, mx = 0.f;
  for (int64_t k = 0; k < n; ++k) {
    mn = std::fmin(mn, x[k]);
    mx = std::fmax(mx, x[k]);
  }
  const detail::lowp::RowQuant r = detail::lowp::row_quant(mn, mx);
  for (int64_t k = 0; k < n; ++k) q[k] = detail::lowp::quant_u8(x[k], r);
  *zp = r.zp;
  return r.scale;
}

namespace {
// y (M, rows) ld ldy = act(y): the activation step of the twin (ref::act, the elementwise kernels' twin).
void apply_act(Act act, int64_t M, int64_t rows, float* y, int64_t ldy) {
  if (act == Act::Identity) return;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < rows; ++o) y[m * ldy + o] = ref::act(y[m * ldy + o], act);
}
}  // namespace

void gemm_i8_quantized(const int8_t* q, const float* scales, int64_t rows, int64_t cols, int64_t M,
                       const float* x, int64_t ldx, const float* bias, float beta, float* y, int64_t ldy,
                       Act act) {
  TERN_CHECK(act == Act::Identity || beta == 0.f, "gemm_i8_quantized: an activation needs beta == 0");
  std::vector<int32_t> colsum(rows, 0);
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t k = 0; k < cols; ++k) colsum[o] += q[o * cols + k];
  std::vector<uint8_t> xq(cols);
  for (int64_t m = 0; m < M; ++m) {
    int32_t zp = 0;
    const float sx = quantize_row_u8(x + m * ldx, cols, xq.data(), &zp);
    for (int64_t o = 0; o < rows; ++o) {
      int32_t acc = 0;
      for (int64_t k = 0; k < cols; ++k) acc += static_cast<int32_t>(xq[k]) * q[o * cols + k];
      const float sc = sx * scales[o];
      const float f = static_cast<float>(acc - zp * colsum[o]);
      float v = bias ? std::fma(f, sc, bias[o]) : f * sc;
      float& out = y[m * ldy + o];
      out = beta != 0.f ? std::fma(beta, out, v) : v;
    }
  }
  apply_act(act, M, rows, y, ldy);
}

void packed_weight_gemm(Precision p, const float* w, int64_t rows, int64_t cols, int64_t ld, int64_t M,
                        const float* x, int64_t ldx, const float* bias, float beta, float* y, int64_t ldy,
                        Act act) {
  TERN_CHECK(act == Act::Identity || beta == 0.f, "packed_weight_gemm: an activation needs beta == 0");
  switch (p) {
    case Precision::F32:
      ref::sgemm(false, true, M, rows, cols, 1.f, x, ldx, w, ld, beta, y, ldy);
      for (int64_t m = 0; m < M && bias; ++m)
        for (int64_t o = 0; o < rows; ++o) y[m * ldy + o] += bias[o];
      apply_act(act, M, rows, y, ldy);
      return;
    case Precision::BF16: {
      std::vector<float> wb(rows * cols), xb(cols);
      for (int64_t o = 0; o < rows; ++o)
        for (int64_t k = 0; k < cols; ++k) wb[o * cols + k] = bf16_to_f32(f32_to_bf16(w[o * ld + k]));
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t k = 0; k < cols; ++k) xb[k] = bf16_to_f32(f32_to_bf16(x[m * ldx + k]));
        for (int64_t o = 0; o < rows; ++o) {
          double acc = 0;  // bf16 products are exact in fp32; the sum is (nearly) exact here
          for (int64_t k = 0; k < cols; ++k) acc += static_cast<double>(xb[k]) * wb[o * cols + k];
          float v = static_cast<float>(acc);
          if (bias) v += bias[o];
          float& out = y[m * ldy + o];
          out = beta != 0.f ? std::fma(beta, out, v) : v;
        }
      }
      apply_act(act, M, rows, y, ldy);
      return;
    }
    case Precision::I8: {
      std::vector<int8_t> q(rows * cols);
      std::vector<float> s(rows);
      quantize_weight_i8(w, rows, cols, ld, q.data(), s.data());
      gemm_i8_quantized(q.data(), s.data(), rows, cols, M, x, ldx, bias, beta, y, ldy, act);
      return;
    }
  }
}

}  // namespace ref

}  // namespace tern
