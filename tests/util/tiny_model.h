// The tiny BERT fixtures of tests/data/tiny as tern model files with a real WordPiece tokenizer: the first
// 1000 lines of the bert-base-uncased vocabulary ([PAD], [UNK] = 100, [CLS], [SEP], [MASK] and unused slots;
// real words become [UNK], which is fine for tests of training and inference plumbing).
#pragma once
#include <string>

#include "train/dataset.h"
#include "weights/import.h"
#include "weights/model_file.h"

namespace tern::test {

// tests/data/tiny/<fixture> saved as `path` with that tokenizer; returns path.
inline std::string save_tiny_model(const std::string& fixture, const std::string& path) {
  ModelBundle b = import_hf("tests/data/tiny/" + fixture);
  const std::string v = train::read_text_file("tests/data/tokenizer/bert-base-uncased/vocab.txt.gz");
  size_t pos = 0;
  for (int i = 0; i < 1000; ++i) pos = v.find('\n', pos) + 1;
  b.tokenizer_files["vocab.txt"] = v.substr(0, pos);
  b.tokenizer_files["tokenizer_config.json"] = "{\"do_lower_case\": true}";
  save_model(path, b);
  return path;
}

}  // namespace tern::test
