// Training-step benchmark: forward_train + cross-entropy + backward + clip_grad_norm + AdamW, batch 32 at
// seq 32 and 64, for a BERT-base-shaped classifier (random weights) and tweet-bert-mini (../shared/models)
// with a fresh 3-label head, dropout 0.1 (train mode, as the PyTorch peer). Validates the training path
// against the Hugging Face fixture gradients first, warms up, reports the median ms and tweets/s, and with
// --peer runs bench/train_peer.py (PyTorch) on the same shapes in the same run and prints the ratio.
//
//   train_bench [--threads N] [--runs N] [--only base|mini] [--peer] [--python /usr/bin/python3] [--cpu]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/peer.h"
#include "nn/model.h"
#include "tensor/gemm.h"
#include "tensor/threads.h"
#include "train/model_loss.h"
#include "train/optim.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"

using namespace tern;
using namespace tern::train;

namespace {

const char* kBaseConfig = R"({"model_type": "bert", "architectures": ["BertForSequenceClassification"],
  "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
  "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
  "layer_norm_eps": 1e-12, "id2label": {"0": "negative", "1": "neutral", "2": "positive"}})";

// --cpu: process CPU time instead of the wall clock (A/B comparisons on one thread while other jobs share the
// cores; with more threads it counts OpenMP's spin-waiting too).
bool g_cpu_clock = false;

double now_ms() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Inputs make_inputs(int64_t B, int64_t T, int64_t vocab, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int64_t> d(1000, vocab - 1);
  Inputs in{Tensor::empty({B, T}, DType::I64), Tensor::empty({B, T}, DType::I64),
            Tensor::zeros({B, T}, DType::I64)};
  for (int64_t i = 0; i < B * T; ++i) {
    in.input_ids.i64()[i] = d(g);
    in.attention_mask.i64()[i] = 1;
  }
  for (int64_t r = 0; r < B; ++r) {
    in.input_ids.i64()[r * T] = 101;
    in.input_ids.i64()[r * T + T - 1] = 102;
  }
  return in;
}

// The tiny HF fixture's loss and gradients through the same code path (forward_train, loss, backward).
bool validate() {
  const std::string dir = "tests/data/tiny/bert_seqcls_single3";
  if (!std::filesystem::exists(dir + "/reference.h5")) {
    std::printf("validate: %s not found (run from the repository root): skipped\n", dir.c_str());
    return true;
  }
  ModelBundle b = import_hf(dir);
  auto m = Model::from_bundle(b, dir);
  ParamArena& a = m->pack();
  m->zero_grad();
  GradBatch batch = read_grad_batch(dir + "/reference.h5");
  const double loss = model_loss_and_backward(*m, batch);
  TensorMap want = read_h5_group(dir + "/reference.h5", "grads");
  float worst = 0;
  for (const ParamSlice& s : a.slices) {
    const Tensor& w = want.at(s.param->name);
    for (int64_t i = 0; i < s.size; ++i)
      worst = std::max(worst, std::fabs(a.grads[s.offset + i] - w.f32()[i]));
  }
  const float ref_loss =
      read_h5_arrays(dir + "/reference.h5", std::vector<std::string>{"train/loss"}).at("train/loss").f32()[0];
  const bool ok = worst < 1e-5f && std::fabs(loss - ref_loss) < 1e-5;
  std::printf("validate: HF fixture %s loss diff %.1e, max |grad diff| %.1e %s\n", dir.c_str(),
              std::fabs(loss - ref_loss), worst, ok ? "(ok)" : "(MISMATCH)");
  return ok;
}

struct Result {
  std::string model;
  int64_t B, T;
  double ms;
};

void run(const std::string& name, Model& m, int runs, std::vector<Result>& out) {
  ParamArena& arena = m.pack();
  AdamWOptions ao;
  ao.exclude_no_decay = true;
  AdamW adam(arena, ao);
  LossOptions lo;
  Dropout drop{0.1f, 0.1f, 0.1f, 1, 0};
  for (auto [B, T] : std::vector<std::pair<int64_t, int64_t>>{{32, 32}, {32, 64}}) {
    Inputs in = make_inputs(B, T, m.config().vocab_size, 11);
    std::vector<float> y(B);
    for (int64_t i = 0; i < B; ++i) y[i] = static_cast<float>(i % 3);
    // Phases: zero_grad, forward_train (+ loss), backward, clip, AdamW.
    std::vector<float> d(static_cast<size_t>(B * m.config().num_labels));
    double ph[5];
    auto step = [&]() {
      double t = now_ms();
      m.zero_grad();
      ph[0] = now_ms() - t, t = now_ms();
      ++drop.step;
      ModelOutputs o = m.forward_train(in.input_ids, in.attention_mask, in.token_type_ids, drop);
      loss_forward_backward(lo, o.logits.f32(), y.data(), B, m.config().num_labels, d.data());
      ph[1] = now_ms() - t, t = now_ms();
      m.backward(d.data(), nullptr);
      ph[2] = now_ms() - t, t = now_ms();
      clip_grad_norm(arena, 1.0);
      ph[3] = now_ms() - t, t = now_ms();
      adam.step(arena, 1e-5);
      ph[4] = now_ms() - t;
    };
    for (int w = 0; w < 2; ++w) step();
    std::vector<double> ts;
    std::vector<std::vector<double>> phases(5);
    for (int r = 0; r < runs; ++r) {
      const double t0 = now_ms();
      step();
      ts.push_back(now_ms() - t0);
      for (int k = 0; k < 5; ++k) phases[k].push_back(ph[k]);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::sort(ts.begin(), ts.end());
    const double med = ts[ts.size() / 2];
    // Training step ~ 3x the forward's FLOPs (forward + two GEMMs per GEMM in backward).
    std::printf("%-5s %3lldx%-3lld train step median %9.1f ms  %7.1f GFLOP/s  %7.1f tweets/s  (%zu runs)\n",
                name.c_str(), static_cast<long long>(B), static_cast<long long>(T), med,
                3 * m.flops(B, T) / med / 1e6, B * 1000.0 / med, ts.size());
    std::fflush(stdout);
    std::printf(
        "      phases (median ms): zero_grad %.1f  forward+loss %.1f  backward %.1f  clip %.1f  AdamW %.1f\n",
        median(phases[0]), median(phases[1]), median(phases[2]), median(phases[3]), median(phases[4]));
    out.push_back({name, B, T, med});
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, runs = 5;
  std::string only, python = "/usr/bin/python3";
  bool peer = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--peer")) peer = true;
    if (!std::strcmp(argv[i], "--cpu")) g_cpu_clock = true;
    if (i + 1 >= argc) continue;
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    if (!std::strcmp(argv[i], "--python")) python = argv[i + 1];
  }
  set_num_threads(threads);
  std::printf(
      "tern train_bench: %d threads, gemm = %s; step = forward + CE loss + backward + clip + AdamW, "
      "dropout 0.1\n",
      num_threads(), gemm_description().c_str());
  std::vector<Result> results;
  try {
    if (!validate()) return 1;
    if (only.empty() || only == "base") {
      ModelOptions mo;
      mo.bind.init_everything = true;
      mo.bind.seed = 1;
      Model m(parse_config(kBaseConfig, "bench config"), TensorMap{}, "random weights", mo);
      std::printf("base  = BERT-base-shaped classifier, random weights (%.1fM parameters)\n",
                  m.params().count() / 1e6);
      run("base", m, runs, results);
    }
    if (only.empty() || only == "mini") {
      const std::string dir = "../shared/models/tweet-bert-mini";
      if (std::filesystem::exists(dir + "/config.json")) {
        ModelBundle b = import_hf(dir);
        ModelConfig cfg =
            parse_config(config_with_head(b.config_json, "BertForSequenceClassification",
                                          {"negative", "neutral", "positive"}, ProblemType::SingleLabel),
                         dir);
        ModelOptions mo;
        mo.force_head = true;
        mo.bind.init_missing = true;
        Model m(cfg, std::move(b.tensors), dir, mo);
        std::printf("mini  = %s + new 3-label head (%.1fM parameters)\n", dir.c_str(),
                    m.params().count() / 1e6);
        run("mini", m, runs, results);
      } else {
        std::printf("mini  skipped: %s not found (run from the repository root with ../shared beside it)\n",
                    dir.c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: error: %s\n", e.what());
    return 1;
  }
  if (peer) {
    std::string cmd = python + " bench/train_peer.py --threads " + std::to_string(num_threads()) +
                      " --runs " + std::to_string(runs);
    if (!only.empty()) cmd += " --only " + only;
    auto p = tern::bench::run_peer(cmd);
    for (const Result& r : results) {
      const std::string k = r.model + " " + std::to_string(r.B) + "x" + std::to_string(r.T);
      if (p.count(k))
        std::printf("ratio %-5s %3lldx%-3lld  tern %8.1f ms  PyTorch %8.1f ms  speed-up %.2fx\n",
                    r.model.c_str(), static_cast<long long>(r.B), static_cast<long long>(r.T), r.ms, p[k],
                    p[k] / r.ms);
      else
        std::printf("ratio %-5s %3lldx%-3lld  (no peer figure)\n", r.model.c_str(),
                    static_cast<long long>(r.B), static_cast<long long>(r.T));
    }
  }
  return 0;
}
