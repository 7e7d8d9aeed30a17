// tern forward --model M.h5 --input in.h5 --output out.h5
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/watchdog.h"
#include "nn/model.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/threads.h"
#include "weights/h5_arrays.h"
#include "weights/model_file.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Runs the model on token ids and writes its outputs. IN.h5 holds int64 (B, T) datasets input_ids,\n"
    "attention_mask and optionally token_type_ids, at the root or in the group inputs/ (as in Hugging Face\n"
    "reference files); or IN is a .jsonl file as `tern tokenize` writes it (rows are batched by length;\n"
    "in the output they are padded to the longest, padded positions of last_hidden_state being 0).\n"
    "OUT.h5 gets float32 datasets last_hidden_state (B, T, C), pooler_output (B, C) when the model has a\n"
    "pooler, and logits (B, num_labels) when it has a head.";

// input_ids, attention_mask, token_type_ids (int64 (B, T)) from the root of `path` or its group inputs/.
TensorMap read_token_arrays(const std::string& path) {
  auto specs = [](bool required) {
    return std::vector<H5ArraySpec>{{"input_ids", 2, H5Kind::Int, required},
                                    {"attention_mask", 2, H5Kind::Int, false},
                                    {"token_type_ids", 2, H5Kind::Int, false}};
  };
  TensorMap m = read_h5_arrays(path, specs(false), "");
  if (!m.count("input_ids")) {
    try {
      m = read_h5_arrays(path, specs(true), "inputs");
    } catch (const Error& e) {
      TERN_FAIL(path << ": no int64 (B, T) dataset input_ids at the root or in the group inputs/ ("
                     << e.what() << ")");
    }
  }
  const Shape& s = m.at("input_ids").shape();
  for (const char* k : {"attention_mask", "token_type_ids"})
    if (m.count(k))
      TERN_CHECK(m.at(k).shape() == s, path << ": " << k << " has shape " << shape_str(m.at(k).shape())
                                            << " but input_ids has " << shape_str(s));
  TERN_CHECK(s[0] > 0 && s[1] > 0, path << ": input_ids is empty " << shape_str(s));
  return m;
}

// Token ids from JSONL as `tern tokenize` writes it ({"ids": [...]} per line, optional "type_ids"), padded
// on the right with `pad_id` to the longest line; attention_mask marks the real tokens.
TensorMap read_token_jsonl(const std::string& path, int64_t pad_id) {
  std::ifstream in(path);
  TERN_CHECK(in, "cannot open " << path);
  std::vector<std::vector<int64_t>> ids, types;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      TERN_FAIL(path << ":" << lineno << ": not a JSON line: " << e.what());
    }
    TERN_CHECK(j.is_object() && j.contains("ids") && j["ids"].is_array(),
               path << ":" << lineno << ": expected an object with an \"ids\" array");
    std::vector<int64_t> row, trow;
    for (const auto& v : j["ids"]) {
      TERN_CHECK(v.is_number_integer(), path << ":" << lineno << ": ids must be integers");
      row.push_back(v.get<int64_t>());
    }
    if (j.contains("type_ids")) {
      TERN_CHECK(j["type_ids"].is_array(), path << ":" << lineno << ": type_ids must be an array");
      for (const auto& v : j["type_ids"]) {
        TERN_CHECK(v.is_number_integer(), path << ":" << lineno << ": type_ids must be integers");
        trow.push_back(v.get<int64_t>());
      }
    }
    TERN_CHECK(!row.empty(), path << ":" << lineno << ": empty ids");
    TERN_CHECK(trow.empty() || trow.size() == row.size(),
               path << ":" << lineno << ": type_ids length differs from ids");
    ids.push_back(std::move(row));
    types.push_back(std::move(trow));
  }
  TERN_CHECK(!ids.empty(), path << ": no token ids (expected JSONL lines like {\"ids\": [101, 102]})");
  size_t T = 0;
  for (const auto& r : ids) T = std::max(T, r.size());
  const int64_t B = static_cast<int64_t>(ids.size());
  Tensor tid = Tensor::empty({B, static_cast<int64_t>(T)}, DType::I64),
         tm = Tensor::zeros({B, static_cast<int64_t>(T)}, DType::I64);
  Tensor tt = Tensor::zeros({B, static_cast<int64_t>(T)}, DType::I64);
  for (int64_t b = 0; b < B; ++b)
    for (size_t t = 0; t < T; ++t) {
      const bool real = t < ids[b].size();
      tid.i64()[b * T + t] = real ? ids[b][t] : pad_id;
      tm.i64()[b * T + t] = real;
      if (real && !types[b].empty()) tt.i64()[b * T + t] = types[b][t];
    }
  return {{"input_ids", tid}, {"attention_mask", tm}, {"token_type_ids", tt}};
}

// Rows [r0, r1) of an int64 (B, T) tensor as a contiguous copy.
Tensor rows(const Tensor& t, int64_t r0, int64_t r1) {
  return t.slice(0, r0, r1).contiguous();
}

}  // namespace

int cmd_forward(int argc, char** argv) {
  CLI::App app("", "tern forward");
  app.footer(kAbout);
  init_app(app);
  std::string model_path, in_path, out_path;
  int threads = 0, batch = 64;
  LoadOptions lo;
  app.add_option("--model", model_path, "tern model (.h5, from tern convert)")->type_name("FILE")->required();
  app.add_option("--input", in_path, "token ids (.h5, or .jsonl from tern tokenize)")
      ->type_name("FILE")
      ->required();
  app.add_option("--output", out_path, "outputs (.h5), written atomically")->type_name("FILE")->required();
  add_threads_option(app, threads);
  app.add_option("--batch-size", batch, "rows per forward pass")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20));
  add_switch(app, "--allow-nonfinite", lo.allow_nonfinite, "load weights holding NaN / Inf");
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  ModelBundle bundle = load_model(model_path, lo);
  auto model = Model::from_bundle(bundle, model_path);
  if (!model->skipped().empty())
    std::fprintf(stderr,
                 "tern forward: note: %zu tensors of the checkpoint are not used by this model (e.g. %s)\n",
                 model->skipped().size(), model->skipped()[0].c_str());

  const bool jsonl = in_path.size() > 6 && in_path.compare(in_path.size() - 6, 6, ".jsonl") == 0;
  TensorMap in;
  if (jsonl) {
    in = read_token_jsonl(in_path, model->config().pad_token_id);
  } else {
    Watchdog wd(8, in_path);  // a foreign HDF5 file: bound libhdf5's time on it
    in = read_token_arrays(in_path);
  }
  const Tensor& ids = in.at("input_ids");
  const int64_t B = ids.size(0), T = ids.size(1), C = model->config().hidden;
  Tensor mask = in.count("attention_mask") ? in.at("attention_mask") : Tensor();
  Tensor tti = in.count("token_type_ids") ? in.at("token_type_ids") : Tensor();

  Tensor lhs = Tensor::empty({B, T, C});
  Tensor pooled = model->has_pooler() ? Tensor::empty({B, C}) : Tensor();
  Tensor logits = model->has_head() ? Tensor::empty({B, model->config().num_labels}) : Tensor();
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t L = logits.defined() ? logits.size(1) : 0;
  if (!jsonl) {
    // .h5 input: every row at the full width T, exactly as HF computes it (padded positions included).
    for (int64_t r0 = 0; r0 < B; r0 += batch) {
      const int64_t r1 = std::min<int64_t>(B, r0 + batch);
      ModelOutputs o = model->forward(rows(ids, r0, r1), mask.defined() ? rows(mask, r0, r1) : Tensor(),
                                      tti.defined() ? rows(tti, r0, r1) : Tensor());
      std::memcpy(lhs.f32() + r0 * T * C, o.last_hidden_state.f32(), o.last_hidden_state.nbytes());
      if (pooled.defined())
        std::memcpy(pooled.f32() + r0 * C, o.pooler_output.f32(), o.pooler_output.nbytes());
      if (logits.defined()) std::memcpy(logits.f32() + r0 * L, o.logits.f32(), o.logits.nbytes());
    }
  } else {
    // JSONL input: rows sorted by length and batched with little padding (valid positions are unchanged by
    // padding); padded positions of last_hidden_state are written as 0.
    std::vector<int64_t> len(B), order(B);
    for (int64_t b = 0; b < B; ++b) {
      int64_t n = 0;
      for (int64_t t = 0; t < T; ++t) n += mask.i64()[b * T + t];
      len[b] = n;
      order[b] = b;
    }
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len[a] < len[b]; });
    std::memset(lhs.f32(), 0, lhs.nbytes());
    for (int64_t r0 = 0; r0 < B; r0 += batch) {
      const int64_t r1 = std::min<int64_t>(B, r0 + batch), nb = r1 - r0, Tb = len[order[r1 - 1]];
      Tensor bi = Tensor::empty({nb, Tb}, DType::I64), bm = Tensor::empty({nb, Tb}, DType::I64),
             bt = Tensor::empty({nb, Tb}, DType::I64);
      for (int64_t i = 0; i < nb; ++i)
        for (int64_t t = 0; t < Tb; ++t) {
          const int64_t src = order[r0 + i] * T + t;
          bi.i64()[i * Tb + t] = ids.i64()[src];
          bm.i64()[i * Tb + t] = mask.i64()[src];
          bt.i64()[i * Tb + t] = tti.i64()[src];
        }
      ModelOutputs o = model->forward(bi, bm, bt);
      for (int64_t i = 0; i < nb; ++i) {
        const int64_t b = order[r0 + i];
        std::memcpy(lhs.f32() + b * T * C, o.last_hidden_state.f32() + i * Tb * C,
                    len[b] * C * sizeof(float));
        if (pooled.defined())
          std::memcpy(pooled.f32() + b * C, o.pooler_output.f32() + i * C, C * sizeof(float));
        if (logits.defined()) std::memcpy(logits.f32() + b * L, o.logits.f32() + i * L, L * sizeof(float));
      }
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  TensorMap out;
  out["last_hidden_state"] = lhs;
  if (pooled.defined()) out["pooler_output"] = pooled;
  if (logits.defined()) out["logits"] = logits;
  write_h5_arrays(out_path, out);
  std::fprintf(stderr,
               "tern forward: %lld x %lld tokens in %.1f ms (%d threads, gemm: %s, kernels: %s) -> %s\n",
               static_cast<long long>(B), static_cast<long long>(T), ms, num_threads(),
               gemm_description().c_str(), kernels_isa(), out_path.c_str());
  return 0;
}

}  // namespace tern::cli
