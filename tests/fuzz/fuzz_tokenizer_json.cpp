// libFuzzer: the loaders (tokenizer.json, vocab.txt, vocab.json + merges.txt, tokenizer_config.json) on
// arbitrary bytes must either load or throw TokenizerError — never crash, hang or throw anything else.
// Inputs are mutations of the real files: the first byte picks which file the rest replaces.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "tokenizer/tokenizer.h"

using namespace tern::tok;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::map<std::string, std::string> files;
  switch (data[0] % 5) {
    case 0:
      files["tokenizer.json"] = body;
      break;
    case 1:
      files["vocab.txt"] = body;
      break;
    case 2: {  // vocab.json \0 merges.txt
      const size_t cut = body.find('\0');
      files["vocab.json"] = body.substr(0, cut);
      files["merges.txt"] = cut == std::string::npos ? "" : body.substr(cut + 1);
      break;
    }
    case 3: {  // tokenizer_config.json with the real bert vocab.txt
      static const std::string vocab = fuzz::data_file("bert-base-uncased", "vocab.txt");
      files["vocab.txt"] = vocab;
      files["tokenizer_config.json"] = body;
      break;
    }
    case 4: {  // special_tokens_map.json / tokenizer_config.json with a tiny BPE
      files["vocab.json"] = "{\"<s>\": 0, \"</s>\": 1, \"a\": 2, \"b\": 3, \"ab\": 4, \"<mask>\": 5}";
      files["merges.txt"] = "#version: 0.2\na b\n";
      files[(data[0] & 8) ? "special_tokens_map.json" : "tokenizer_config.json"] = body;
      break;
    }
  }
  try {
    const Tokenizer t = Tokenizer::from_files(files, "fuzz");
    for (const char* s : {"", "Hello world! ab <s> [CLS] 😂 é 日本", "a\xff\xfe b"}) {
      t.encode(s);
      EncodeOptions o;
      o.max_length = 8;
      try {
        t.encode_pair(s, s, o);
      } catch (const TokenizerError&) {  // e.g. max_length shorter than the template's specials
      }
    }
  } catch (const TokenizerError&) {
    // a clean error
  } catch (const std::exception& e) {
    std::fprintf(stderr, "non-TokenizerError exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}
