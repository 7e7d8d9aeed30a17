// Shared helpers of the tokenizer fuzz targets: the real tokenizer files from tests/data (run from the repo
// root, as run_fuzz.sh does).
#pragma once
#include <map>
#include <string>

namespace tern::tok::fuzz {

// Contents of tests/data/tokenizer/<dir>/<name> (or <name>.gz, decompressed); aborts if missing.
std::string data_file(const std::string& dir, const std::string& name);
std::map<std::string, std::string> bert_files();     // tokenizer.json
std::map<std::string, std::string> roberta_files();  // vocab.json, merges.txt, special_tokens_map.json

}  // namespace tern::tok::fuzz
