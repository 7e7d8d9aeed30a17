#include "tests/fuzz/fuzz_common.h"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>

namespace tern::tok::fuzz {

std::string data_file(const std::string& dir, const std::string& name) {
  const std::string base = "tests/data/tokenizer/" + dir + "/" + name;
  for (const std::string& p : {base, base + ".gz"}) {
    gzFile f = gzopen(p.c_str(), "rb");  // reads plain files too
    if (!f) continue;
    std::string out;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    gzclose(f);
    return out;
  }
  std::fprintf(stderr, "fuzz: cannot read %s (run from the repository root)\n", base.c_str());
  std::abort();
}

std::map<std::string, std::string> bert_files() {
  return {{"tokenizer.json", data_file("bert-base-uncased", "tokenizer.json")}};
}

std::map<std::string, std::string> roberta_files() {
  return {{"vocab.json", data_file("roberta-base", "vocab.json")},
          {"merges.txt", data_file("roberta-base", "merges.txt")},
          {"special_tokens_map.json", data_file("roberta-base", "special_tokens_map.json")}};
}

}  // namespace tern::tok::fuzz
