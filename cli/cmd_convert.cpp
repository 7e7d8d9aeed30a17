// tern convert --from <HF dir | model.safetensors | tf_model.h5> --out model.h5
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/watchdog.h"
#include "nn/model.h"
#include "tokenizer/tokenizer.h"
#include "weights/import.h"
#include "weights/model_file.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Imports a Hugging Face checkpoint into one tern model file (weights + config + tokenizer + labels).\n"
    "PATH is a directory with config.json and model.safetensors or tf_model.h5 (+ tokenizer files), or one\n"
    "of those checkpoint files next to its config.json. The tensors are checked against the architecture\n"
    "the config describes before anything is written.";

void add_tokenizer_dir(ModelBundle& b, const std::string& dir) {
  namespace fs = std::filesystem;
  TERN_CHECK(fs::is_directory(dir), "--tokenizer " << dir << " is not a directory");
  b.tokenizer_files.clear();
  for (const char* f : {"vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json"}) {
    fs::path p = fs::path(dir) / f;
    if (!fs::exists(p)) continue;
    std::ifstream in(p, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    TERN_CHECK(in.good() || in.eof(), "cannot read " << p.string());
    b.tokenizer_files[f] = os.str();
  }
  TERN_CHECK(!b.tokenizer_files.empty(), "--tokenizer "
                                             << dir
                                             << " holds no tokenizer file (vocab.txt, vocab.json + "
                                                "merges.txt or tokenizer.json)");
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  CLI::App app("", "tern convert");
  app.footer(kAbout);
  init_app(app);
  std::string from, out, dt = "keep", tokenizer;
  ImportOptions io;
  app.add_option("--from", from, "Hugging Face checkpoint (directory or file)")
      ->type_name("PATH")
      ->required();
  app.add_option("--out", out, "tern model file to write (.h5)")->type_name("FILE")->required();
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
    b = import_hf(from, io);
  }
  if (tokenizer_given->count()) add_tokenizer_dir(b, tokenizer);

  // Validate names and shapes against the architecture (the model consumes a shallow copy of the map).
  ModelOptions mo;
  mo.bind.init_missing = true;  // a head the checkpoint lacks is reported, training initialises it
  Model m(parse_config(b.config_json, from + "/config.json"), b.tensors, from, mo);
  const ModelConfig& c = m.config();
  if (!m.skipped().empty())
    std::fprintf(stderr,
                 "tern convert: note: %zu tensors of the checkpoint's %s head are not used by the encoder "
                 "(e.g. %s); they are kept in the file and skipped at load\n",
                 m.skipped().size(), c.mlm_head ? "masked-LM" : "unused", m.skipped()[0].c_str());
  for (const auto& s : m.initialised())
    std::fprintf(stderr, "tern convert: note: the checkpoint has no %s: it must be trained before use\n",
                 s.c_str());
  if (b.tokenizer_files.empty()) {
    std::fprintf(stderr, "tern convert: note: no tokenizer files found; add them with --tokenizer DIR\n");
  } else {
    // The tokenizer is stored as given: load it now, so that a damaged file fails here, named, and not at
    // the first `tern tokenize` / `tern train` on the converted model.
    const std::string origin = tokenizer_given->count() ? tokenizer : from;
    const tok::Tokenizer tk = tok::Tokenizer::from_files(b.tokenizer_files, origin);
    if (static_cast<int64_t>(tk.vocab_size()) > c.vocab_size)
      std::fprintf(
          stderr,
          "tern convert: note: the tokenizer of %s has %zu tokens but the model's embedding only %lld "
          "rows: texts that produce ids >= %lld will be refused\n",
          origin.c_str(), tk.vocab_size(), static_cast<long long>(c.vocab_size),
          static_cast<long long>(c.vocab_size));
  }

  if (dt == "keep") {
    save_model(out, b);
  } else {
    save_model(out, b, dtype_from_name(dt));
  }
  std::fprintf(stderr, "tern convert: wrote %s (%s, %zu tensors, %.2fM parameters, %zu tokenizer files)\n",
               out.c_str(), c.architecture.empty() ? c.model_type.c_str() : c.architecture.c_str(),
               b.tensors.size(), m.params().count() / 1e6, b.tokenizer_files.size());
  return 0;
}

}  // namespace tern::cli
