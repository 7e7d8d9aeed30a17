// Forward-pass benchmark: BERT-base-shaped random weights and tweet-bert-mini (../shared/models),
// batch x seq 1x16, 1x128, 32x32, 32x128. Validates the fast path against the reference kernels first,
// warms up, then reports the median of the timed runs, GFLOP/s, sentences/s and the kernel path used.
//
// --peer runs bench/forward_peer.py (PyTorch and ONNX Runtime, same shapes and thread count) in the same
// run and prints the ratios.
//
//   forward_bench [--threads N] [--runs N] [--only base|mini] [--shapes 1x16,32x32] [--precision
//   fp32|bf16|int8] [--peer]
//                 [--python /usr/bin/python3]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/peer.h"
#include "nn/model.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/packed_weight.h"
#include "tensor/threads.h"
#include "weights/import.h"

using namespace tern;

namespace tern::detail {
bool set_kernels_avx512(bool on);
}

namespace {

const char* kBaseConfig = R"({"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 30522,
  "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
  "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12})";

Precision g_precision = Precision::F32;  // --precision: the timed model's GEMMs

std::unique_ptr<Model> random_model(const char* config_json, uint64_t seed) {
  ModelOptions mo;
  mo.bind.init_everything = true;
  mo.bind.seed = seed;
  return std::make_unique<Model>(parse_config(config_json, "bench config"), TensorMap{}, "random weights",
                                 mo);
}

// The same weights as the inference path loads them (tern infer / forward): encoder weights prepared once
// (prepacked fp32, or bf16 / int8 with --precision).
std::shared_ptr<const LoadedModel> random_loaded(const char* config_json, uint64_t seed) {
  ModelOptions mo;
  mo.bind.init_everything = true;
  mo.bind.seed = seed;
  mo.precision = g_precision;
  mo.prepare_inference = true;
  return std::make_shared<LoadedModel>(parse_config(config_json, "bench config"), TensorMap{},
                                       "random weights", mo);
}

struct Batch {
  Tensor ids, mask, tti;
};

// Token ids drawn from the vocabulary, every row full length (a worst case: no padding).
Batch make_batch(int64_t B, int64_t T, int64_t vocab, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int64_t> d(1000, vocab - 1);
  Batch b{Tensor::empty({B, T}, DType::I64), Tensor::empty({B, T}, DType::I64),
          Tensor::zeros({B, T}, DType::I64)};
  for (int64_t i = 0; i < B * T; ++i) {
    b.ids.i64()[i] = d(g);
    b.mask.i64()[i] = 1;
  }
  for (int64_t r = 0; r < B; ++r) {
    b.ids.i64()[r * T] = 101;
    b.ids.i64()[r * T + T - 1] = 102;
  }
  return b;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

float max_diff(const Tensor& a, const Tensor& b) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.f32()[i] - b.f32()[i]));
  return m;
}

// Batch x seq shapes timed (--shapes 1x16,32x32 to pick).
std::vector<std::pair<int64_t, int64_t>> g_shapes = {{1, 16}, {1, 128}, {32, 32}, {32, 128}};

struct Result {
  std::string model;
  int64_t B, T;
  double ms;
};

// m: the same weights unprepared (the reference); lm: the timed inference model.
void run(const std::string& name, Model& m, std::shared_ptr<const LoadedModel> lm, int runs,
         std::vector<Result>& out) {
  ModelRunner runner(lm);
  // Validate: the fast path against the reference GEMM loop and the baseline kernels on a small batch.
  {
    Batch b = make_batch(2, 16, m.config().vocab_size, 7);
    Tensor fast = runner.forward(b.ids, b.mask, b.tti)
                      .last_hidden_state.clone();  // forward returns views of its workspace
    const GemmBackend chosen = gemm_backend();     // TERN_GEMM's choice, restored after the check
    set_gemm_backend(GemmBackend::Reference);
    const bool avx512 = std::strcmp(kernels_isa(), "avx512") == 0;
    detail::set_kernels_avx512(false);
    Tensor slow = m.forward(b.ids, b.mask, b.tti).last_hidden_state;
    set_gemm_backend(chosen);
    detail::set_kernels_avx512(avx512);
    const float d = max_diff(fast, slow);
    // fp32: float rounding; bf16 / int8: their quantisation error on unit-variance hidden states.
    const float tol = g_precision == Precision::F32 ? 1e-4f : 0.25f;
    std::printf("%-5s validate: %s fast path vs fp32 reference kernels max |diff| = %.2e %s\n", name.c_str(),
                precision_name(g_precision), d, d < tol ? "(ok)" : "(MISMATCH)");
    if (!(d < tol)) std::exit(1);
  }
  for (auto [B, T] : g_shapes) {
    if (T > m.config().max_positions) continue;
    Batch b = make_batch(B, T, m.config().vocab_size, 11);
    for (int w = 0; w < 2; ++w) runner.forward(b.ids, b.mask, b.tti);
    std::vector<double> ts;
    const double budget_start = now_ms();
    for (int r = 0; r < runs || (now_ms() - budget_start < 1500 && r < 200); ++r) {
      const double t0 = now_ms();
      runner.forward(b.ids, b.mask, b.tti);
      ts.push_back(now_ms() - t0);
    }
    std::sort(ts.begin(), ts.end());
    const double med = ts[ts.size() / 2];
    std::printf("%-5s %3lldx%-4lld median %9.2f ms  %7.1f GFLOP/s  %8.1f sentences/s  (%zu runs)\n",
                name.c_str(), static_cast<long long>(B), static_cast<long long>(T), med,
                m.flops(B, T) / med / 1e6, B * 1000.0 / med, ts.size());
    std::fflush(stdout);
    out.push_back({name, B, T, med});
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, runs = 7;
  std::string only, python = "/usr/bin/python3";
  bool peer = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--peer")) peer = true;
    if (i + 1 >= argc) continue;
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    if (!std::strcmp(argv[i], "--python")) python = argv[i + 1];
    if (!std::strcmp(argv[i], "--precision")) g_precision = parse_precision(argv[i + 1]);
    if (!std::strcmp(argv[i], "--shapes")) {
      g_shapes.clear();
      long long b, t;
      for (const char* q = argv[i + 1]; std::sscanf(q, "%lldx%lld", &b, &t) == 2;) {
        g_shapes.push_back({b, t});
        q = std::strchr(q, ',');
        if (!q) break;
        ++q;
      }
    }
  }
  std::vector<Result> results;
  set_num_threads(threads);
  std::printf("tern forward_bench: %d threads, gemm = %s, elementwise kernels = %s\n", num_threads(),
              gemm_description().c_str(), kernels_isa());
  std::printf(
      "timed: the inference path (ModelRunner on a LoadedModel with its encoder weights prepared at "
      "load): %s\n",
      precision_description(g_precision).c_str());
  try {
    if (only.empty() || only == "base") {
      auto m = random_model(kBaseConfig, 1);
      std::printf("base  = BERT-base shape, random weights (%.1fM parameters)\n", m->params().count() / 1e6);
      run("base", *m, random_loaded(kBaseConfig, 1), runs, results);
    }
    if (only.empty() || only == "mini") {
      const std::string dir = "../shared/models/tweet-bert-mini";
      if (std::filesystem::exists(dir + "/config.json")) {
        ModelBundle b = import_hf(dir);
        auto m = Model::from_bundle(b, dir);
        std::printf("mini  = %s (%.1fM parameters)\n", dir.c_str(), m->params().count() / 1e6);
        ModelBundle b2 = import_hf(dir);
        ModelOptions mo;
        mo.precision = g_precision;
        mo.prepare_inference = true;
        run("mini", *m, LoadedModel::from_bundle(b2, dir, mo), runs, results);
      } else {
        std::printf("mini  skipped: %s not found (run from the repository root with ../shared beside it)\n",
                    dir.c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "forward_bench: error: %s\n", e.what());
    return 1;
  }
  if (peer) {
    std::string cmd = python + " bench/forward_peer.py --threads " + std::to_string(num_threads()) +
                      " --runs " + std::to_string(runs);
    if (!only.empty()) cmd += " --only " + only;
    auto p = tern::bench::run_peer(cmd);
    // speed-up = peer ms / tern ms (> 1: tern is faster).
    for (const Result& r : results) {
      const std::string shape = std::to_string(r.B) + "x" + std::to_string(r.T);
      std::printf("ratio %-5s %3lldx%-4lld tern %9.2f ms", r.model.c_str(), static_cast<long long>(r.B),
                  static_cast<long long>(r.T), r.ms);
      for (const char* peer_name : {"pytorch", "ort"}) {
        const std::string k = std::string(peer_name) + " " + r.model + " " + shape;
        if (p.count(k))
          std::printf("  %s %9.2f ms (%.2fx)", peer_name, p[k], p[k] / r.ms);
        else
          std::printf("  %s -", peer_name);
      }
      std::printf("\n");
    }
  }
  return 0;
}
