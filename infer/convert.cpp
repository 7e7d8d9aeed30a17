#include "infer/convert.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nn/model.h"
#include "nn/quantize.h"
#include "tensor/check.h"
#include "tokenizer/tokenizer.h"

namespace tern::infer {

namespace {

void add_tokenizer_dir(ModelBundle& b, const std::string& dir) {
  namespace fs = std::filesystem;
  TERN_CHECK(fs::is_directory(dir), "tokenizer folder " << dir << " is not a directory");
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
  TERN_CHECK(!b.tokenizer_files.empty(), "tokenizer folder "
                                             << dir
                                             << " holds no tokenizer file (vocab.txt, vocab.json + "
                                                "merges.txt or tokenizer.json)");
}

}  // namespace

ConvertSummary convert_bundle(ModelBundle& b, const std::string& from, const std::string& out,
                              const ConvertOptions& opt) {
  ConvertSummary sum;
  if (!opt.tokenizer_dir.empty()) add_tokenizer_dir(b, opt.tokenizer_dir);
  ModelOptions mo;
  mo.bind.init_missing = true;  // a head the checkpoint lacks is reported, training initialises it
  Model m(parse_config(b.config_json, from + "/config.json"), b.tensors, from, mo);
  const ModelConfig& c = m.config();
  char buf[512];
  if (!m.skipped().empty()) {
    std::snprintf(
        buf, sizeof buf,
        "%zu tensors of the checkpoint's %s head are not used by the encoder (e.g. %s); they are kept "
        "in the file and skipped at load",
        m.skipped().size(), c.mlm_head ? "masked-LM" : "unused", m.skipped()[0].c_str());
    sum.notes.push_back(buf);
  }
  for (const auto& s : m.initialised())
    sum.notes.push_back("the checkpoint has no " + s + ": it must be trained before use");
  if (b.tokenizer_files.empty()) {
    sum.notes.push_back("no tokenizer files found; add them with --tokenizer DIR");
  } else {
    const std::string origin = opt.tokenizer_dir.empty() ? from : opt.tokenizer_dir;
    tok::Tokenizer tk = [&] {
      try {
        return tok::Tokenizer::from_files(b.tokenizer_files, origin);
      } catch (const tok::TokenizerError& e) {
        TERN_FAIL(e.what());
      }
    }();
    if (static_cast<int64_t>(tk.vocab_size()) > c.vocab_size) {
      std::snprintf(buf, sizeof buf,
                    "the tokenizer of %s has %zu tokens but the model's embedding only %lld rows: texts that "
                    "produce ids >= %lld will be refused",
                    origin.c_str(), tk.vocab_size(), static_cast<long long>(c.vocab_size),
                    static_cast<long long>(c.vocab_size));
      sum.notes.push_back(buf);
    }
  }
  if (!opt.quantize.empty()) {
    TERN_CHECK(opt.quantize == "int8", "unknown quantisation '" << opt.quantize << "' (expected int8)");
    const int64_t n = quantize_encoder_int8(c, b.tensors, from);
    b.metadata["quantization"] =
        "int8: the encoder layers' Q/K/V, attention output and FFN weights, symmetric per output channel "
        "(<name> int8 + <name>_scale float32; tern convert --quantize int8)";
    std::snprintf(buf, sizeof buf,
                  "%lld encoder GEMM weights stored as int8 + float32 scales: the file runs for inference "
                  "in int8 only",
                  static_cast<long long>(n));
    sum.notes.push_back(buf);
  }
  if (opt.storage)
    save_model(out, b, *opt.storage);
  else
    save_model(out, b);
  sum.architecture = c.architecture.empty() ? c.model_type : c.architecture;
  sum.tensors = b.tensors.size();
  sum.tokenizer_files = b.tokenizer_files.size();
  sum.parameters = m.params().count();
  return sum;
}

}  // namespace tern::infer
