// tern convert --from <HF dir | model.safetensors | tf_model.h5> --out model.h5
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/watchdog.h"
#include "nn/model.h"
#include "tokenizer/tokenizer.h"
#include "weights/import.h"
#include "weights/model_file.h"

namespace tern::cli {

namespace {

const char* kHelp =
    "usage: tern convert --from PATH --out MODEL.h5 [options]\n"
    "\n"
    "Imports a Hugging Face checkpoint into one tern model file (weights + config + tokenizer + labels).\n"
    "PATH is a directory with config.json and model.safetensors or tf_model.h5 (+ tokenizer files), or one\n"
    "of those checkpoint files next to its config.json. The tensors are checked against the architecture\n"
    "the config describes before anything is written.\n"
    "\n"
    "options:\n"
    "  --from PATH           Hugging Face checkpoint (directory or file)\n"
    "  --out FILE            tern model file to write (.h5)\n"
    "  --dtype T             storage of the float parameters: keep (default), float32, float16, bfloat16\n"
    "  --tokenizer DIR       take the tokenizer files from DIR instead of the checkpoint's directory\n"
    "  --allow-nonfinite     accept NaN / Inf in weights (default: an error naming the tensor)\n";

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
  Args a(argc, argv, {"from", "out", "dtype", "tokenizer"}, {"allow-nonfinite"});
  if (a.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const std::string from = a.require("from"), out = a.require("out");
  ImportOptions io;
  io.allow_nonfinite = a.has("allow-nonfinite");
  ModelBundle b;
  {
    // A tf_model.h5 goes through libhdf5, which can hang on a damaged file: bound the time.
    Watchdog wd(8, from);
    b = import_hf(from, io);
  }
  if (auto t = a.get("tokenizer")) add_tokenizer_dir(b, *t);

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
    const std::string origin = a.get("tokenizer").value_or(from);
    const tok::Tokenizer tk = tok::Tokenizer::from_files(b.tokenizer_files, origin);
    if (static_cast<int64_t>(tk.vocab_size()) > c.vocab_size)
      std::fprintf(
          stderr,
          "tern convert: note: the tokenizer of %s has %zu tokens but the model's embedding only %lld "
          "rows: texts that produce ids >= %lld will be refused\n",
          origin.c_str(), tk.vocab_size(), static_cast<long long>(c.vocab_size),
          static_cast<long long>(c.vocab_size));
  }

  const std::string dt = a.get("dtype").value_or("keep");
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
