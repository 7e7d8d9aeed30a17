// Streaming tokenisation of a text file (`tern tokenize`): one text per line (bytes verbatim, "\r"
// included, invalid UTF-8 replaced by U+FFFD) -> one JSON line of ids per text, in input order, in chunks so
// archives of any size stream through; the output is committed in whole lines (infer/writer.h).
#pragma once
#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace tern::infer {

// The tokenizer stored in a tern model file (throws naming the file when it holds none), or read from a
// Hugging Face tokenizer folder. Tokenizer errors become tern::Error.
tok::Tokenizer tokenizer_from_model(const std::string& model_path);
tok::Tokenizer tokenizer_from_dir(const std::string& dir);

struct TokenizeFileOptions {
  std::string input = "-", output = "-";  // "-": stdin / stdout
  std::string pair_input;                 // non-empty: second texts of pairs, line by line
  tok::EncodeOptions encode;
  bool offsets = false;   // also [start, end) code-point offsets
  int threads = 0;        // 0: OpenMP's default
  int64_t chunk = 16384;  // texts tokenised per parallel batch
  bool sync = false;      // fdatasync the output before closing it (write errors are caught either way)
};

struct TokenizeFileSummary {
  int64_t lines = 0;
  int64_t invalid_utf8 = 0;  // lines with ill-formed UTF-8 (replaced)
};

// {"ids":[...]} per line (+ "type_ids" for pairs, + "offsets"). Throws tern::Error naming the file and lines
// on a tokenizer error, and on a write error after cutting the output back to its complete lines.
TokenizeFileSummary tokenize_file(const tok::Tokenizer& tk, const TokenizeFileOptions& o);

}  // namespace tern::infer
