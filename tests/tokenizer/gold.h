// Reading the Hugging Face gold files (JSONL, optionally gzip-compressed) for the tokenizer tests.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace tern::tok::test {

struct GoldRow {
  std::string text, source;
  std::vector<int> bert_ids, roberta_ids;
  std::vector<std::pair<int, int>> bert_offsets, roberta_offsets;  // empty when the file has none
  bool has_offsets = false;
  bool has_pair = false;  // a text pair: `pair` is the second text, type ids are given
  std::string pair;
  std::vector<int> bert_type_ids, roberta_type_ids;
};

// All lines of a .jsonl or .jsonl.gz file; throws naming the file when it cannot be read.
std::vector<std::string> read_lines(const std::string& path);
std::vector<GoldRow> read_gold(const std::string& path);
bool file_exists(const std::string& path);
std::string read_file(const std::string& path);  // .gz is decompressed

}  // namespace tern::tok::test
