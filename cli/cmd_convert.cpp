// tern convert --from <HF dir | model.safetensors | tf_model.h5 | tern model.h5> --out model.h5 [--quantize
// int8] (or positional: tern convert IN OUT)
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/watchdog.h"
#include "infer/convert.h"
#include "weights/import.h"
#include "weights/model_file.h"
#include "weights/seal.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Imports a Hugging Face checkpoint into one tern model file (weights + config + tokenizer + labels).\n"
    "PATH is a directory with config.json and model.safetensors or tf_model.h5 (+ tokenizer files), or one\n"
    "of those checkpoint files next to its config.json. The tensors are checked against the architecture\n"
    "the config describes before anything is written. PATH may also be a tern model file, re-written\n"
    "(e.g. `tern convert --quantize int8 model.h5 model-int8.h5`).";

}  // namespace

int cmd_convert(int argc, char** argv) {
  CLI::App app("", "tern convert");
  app.footer(kAbout);
  init_app(app);
  std::string from, out, dt = "keep", tokenizer;
  ImportOptions io;
  std::string quantize;
  app.add_option("in,--from", from, "Hugging Face checkpoint (directory or file), or a tern model file (.h5)")
      ->type_name("PATH")
      ->required();
  app.add_option("out,--out", out, "tern model file to write (.h5)")->type_name("FILE")->required();
  app.add_option("--quantize", quantize,
                 "int8: store the encoder's Q/K/V, attention output and FFN weights as int8 + float32 "
                 "per-channel scales (a smaller file that runs in int8 only; docs/model-format.md)")
      ->type_name("Q")
      ->check(CLI::IsMember({"int8"}));
  app.add_option("--dtype", dt, "storage of the float parameters: keep, float32, float16, bfloat16")
      ->type_name("T")
      ->check(CLI::IsMember({"keep", "float32", "f32", "fp32", "float16", "f16", "fp16", "bfloat16", "bf16"})
                  .description(""));
  const CLI::Option* tokenizer_given =
      app.add_option("--tokenizer", tokenizer,
                     "take the tokenizer files from DIR instead of the checkpoint's directory")
          ->type_name("DIR");
  add_switch(app, "--allow-nonfinite", io.allow_nonfinite,
             "accept NaN / Inf in weights (default: an error naming the tensor)");
  if (!parse_args(app, argc, argv)) return 0;
  ModelBundle b;
  {
    // A tf_model.h5 goes through libhdf5, which can hang on a damaged file: bound the time.
    Watchdog wd(8, from);
    if (seal::has_header(from)) {
      // A tern model file (e.g. `tern convert --quantize int8 model.h5 model-int8.h5`): storage kept.
      LoadOptions lo;
      lo.to_f32 = false;
      lo.allow_nonfinite = io.allow_nonfinite;
      b = load_model(from, lo);
    } else {
      b = import_hf(from, io);
    }
  }
  infer::ConvertOptions co;
  if (dt != "keep") co.storage = dtype_from_name(dt);
  if (tokenizer_given->count()) co.tokenizer_dir = tokenizer;
  co.quantize = quantize;
  const infer::ConvertSummary sum = infer::convert_bundle(b, from, out, co);
  for (const auto& n : sum.notes) std::fprintf(stderr, "tern convert: note: %s\n", n.c_str());
  std::fprintf(stderr, "tern convert: wrote %s (%s, %zu tensors, %.2fM parameters, %zu tokenizer files)\n",
               out.c_str(), sum.architecture.c_str(), sum.tensors, sum.parameters / 1e6, sum.tokenizer_files);
  return 0;
}

}  // namespace tern::cli
