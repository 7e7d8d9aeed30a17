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
#include "infer/forward_ids.h"
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
  std::string precision = "fp32";
  add_precision_option(app, precision);
  add_threads_option(app, threads);
  app.add_option("--batch-size", batch, "rows per forward pass")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20));
  add_switch(app, "--allow-nonfinite", lo.allow_nonfinite, "load weights holding NaN / Inf");
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  ModelBundle bundle = load_model(model_path, lo);
  ModelOptions mo;
  mo.precision = parse_precision(precision);
  mo.prepare_inference = true;
  auto loaded = LoadedModel::from_bundle(bundle, model_path, mo);
  const LoadedModel* model = loaded.get();
  if (!model->skipped().empty())
    std::fprintf(stderr,
                 "tern forward: note: %zu tensors of the checkpoint are not used by this model (e.g. %s)\n",
                 model->skipped().size(), model->skipped()[0].c_str());

  const bool jsonl = in_path.size() > 6 && in_path.compare(in_path.size() - 6, 6, ".jsonl") == 0;
  TensorMap in;
  if (jsonl) {
    in = infer::read_token_jsonl(in_path, model->config().pad_token_id);
  } else {
    Watchdog wd(8, in_path);  // a foreign HDF5 file: bound libhdf5's time on it
    in = infer::read_token_arrays(in_path);
  }
  const Tensor& ids = in.at("input_ids");
  const int64_t B = ids.size(0), T = ids.size(1);
  ModelRunner runner(loaded);
  const auto t0 = std::chrono::steady_clock::now();
  const TensorMap out = infer::forward_token_arrays(runner, in, batch, jsonl);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  write_h5_arrays(out_path, out);
  std::fprintf(stderr,
               "tern forward: %lld x %lld tokens in %.1f ms (%d threads, gemm: %s, kernels: %s) -> %s\n",
               static_cast<long long>(B), static_cast<long long>(T), ms, num_threads(),
               gemm_description().c_str(), kernels_isa(), out_path.c_str());
  return 0;
}

}  // namespace tern::cli
