#include "tests/tokenizer/gold.h"

#include <zlib.h>

#include <sys/stat.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace tern::tok::test {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (!gz) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  const bool bad = n < 0;
  gzclose(f);
  if (bad) throw std::runtime_error(path + ": gzip read error");
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::string all = read_file(path);
  std::vector<std::string> lines;
  size_t i = 0;
  while (i < all.size()) {
    size_t j = all.find('\n', i);
    if (j == std::string::npos) j = all.size();
    if (j > i) lines.push_back(all.substr(i, j - i));
    i = j + 1;
  }
  return lines;
}

std::vector<GoldRow> read_gold(const std::string& path) {
  std::vector<GoldRow> rows;
  size_t lineno = 0;
  for (const auto& line : read_lines(path)) {
    ++lineno;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + " line " + std::to_string(lineno) + ": " + e.what());
    }
    GoldRow r;
    r.text = j.at("text").get<std::string>();
    r.source = j.value("source", "");
    r.bert_ids = j.at("bert_uncased_ids").get<std::vector<int>>();
    r.roberta_ids = j.at("roberta_ids").get<std::vector<int>>();
    if (j.contains("bert_offsets")) {
      r.has_offsets = true;
      for (const auto& o : j["bert_offsets"]) r.bert_offsets.emplace_back(o[0].get<int>(), o[1].get<int>());
      for (const auto& o : j["roberta_offsets"])
        r.roberta_offsets.emplace_back(o[0].get<int>(), o[1].get<int>());
    }
    if (j.contains("pair")) {
      r.has_pair = true;
      r.pair = j["pair"].get<std::string>();
      r.bert_type_ids = j.at("bert_type_ids").get<std::vector<int>>();
      r.roberta_type_ids = j.at("roberta_type_ids").get<std::vector<int>>();
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace tern::tok::test
