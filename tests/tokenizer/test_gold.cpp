// Gold test: tern's ids (and offsets) against Hugging Face tokenizers 0.23.2 on real tweets and edge cases,
// for both tokenizers and both ways of loading them (tokenizer.json, raw vocab files).
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tests/tokenizer/gold.h"
#include "tokenizer/tokenizer.h"

namespace tern::tok {
namespace {

using test::GoldRow;

const char* kData = "tests/data/tokenizer";
const char* kShared = "../shared/fixtures/tokenizer";

std::map<std::string, std::string> load_files(const std::string& dir, const std::vector<std::string>& names) {
  std::map<std::string, std::string> files;
  for (const auto& n : names) {
    const std::string p = dir + "/" + n;
    if (test::file_exists(p))
      files[n] = test::read_file(p);
    else if (test::file_exists(p + ".gz"))
      files[n] = test::read_file(p + ".gz");
  }
  return files;
}

struct Loaded {
  std::string name;
  Tokenizer tok;
  bool bert;
};

// The four tokenizers under test: {bert, roberta} x {tokenizer.json, raw vocab files}, from tests/data.
std::vector<Loaded> tokenizers() {
  const std::string b = std::string(kData) + "/bert-base-uncased", r = std::string(kData) + "/roberta-base";
  std::vector<Loaded> v;
  v.push_back({"bert/tokenizer.json", Tokenizer::from_files(load_files(b, {"tokenizer.json"}), b), true});
  v.push_back({"bert/vocab.txt",
               Tokenizer::from_files(
                   load_files(b, {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}), b),
               true});
  v.push_back({"roberta/tokenizer.json", Tokenizer::from_files(load_files(r, {"tokenizer.json"}), r), false});
  v.push_back(
      {"roberta/vocab.json+merges.txt",
       Tokenizer::from_files(load_files(r, {"vocab.json", "merges.txt", "special_tokens_map.json"}), r),
       false});
  return v;
}

std::string show(const std::vector<int>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}
std::string show(const std::vector<std::pair<int, int>>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << "[" << v[i].first << "," << v[i].second << "]";
  return s.str();
}

// Compares every row; returns the number of mismatching rows and prints the first few.
void check_file(const std::string& path, size_t max_length, size_t expect_rows) {
  const std::vector<GoldRow> rows = test::read_gold(path);
  ASSERT_EQ(rows.size(), expect_rows) << path;
  EncodeOptions opt;
  opt.max_length = max_length;
  for (const Loaded& t : tokenizers()) {
    std::vector<std::string> texts;
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& r : rows) {
      if (r.has_pair)
        pairs.emplace_back(r.text, r.pair);
      else
        texts.push_back(r.text);
    }
    ASSERT_TRUE(pairs.empty() || texts.empty()) << path << ": mixes single texts and pairs";
    const std::vector<Encoding> enc =
        pairs.empty() ? t.tok.encode_batch(texts, opt) : t.tok.encode_batch_pairs(pairs, opt);
    size_t bad_ids = 0, bad_off = 0, n_off = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      const GoldRow& r = rows[i];
      const auto& want = t.bert ? r.bert_ids : r.roberta_ids;
      std::vector<int> got(enc[i].ids.begin(), enc[i].ids.end());
      if (got != want) {
        if (++bad_ids <= 5)
          ADD_FAILURE() << t.name << " " << path << " row " << i << " (" << r.source
                        << ") ids differ\n text: " << r.text << "\n want: " << show(want)
                        << "\n got:  " << show(got);
        continue;
      }
      if (r.has_pair) {
        const auto& wt = t.bert ? r.bert_type_ids : r.roberta_type_ids;
        std::vector<int> gt(enc[i].type_ids.begin(), enc[i].type_ids.end());
        if (gt != wt && ++bad_ids <= 5)
          ADD_FAILURE() << t.name << " " << path << " row " << i << " type ids differ\n want: " << show(wt)
                        << "\n got:  " << show(gt);
      }
      if (r.has_offsets) {
        ++n_off;
        const auto& wo = t.bert ? r.bert_offsets : r.roberta_offsets;
        std::vector<std::pair<int, int>> go(enc[i].offsets.begin(), enc[i].offsets.end());
        if (go != wo && ++bad_off <= 5)
          ADD_FAILURE() << t.name << " " << path << " row " << i << " (" << r.source
                        << ") offsets differ\n text: " << r.text << "\n want: " << show(wo)
                        << "\n got:  " << show(go);
      }
    }
    std::printf("[gold] %-30s %-45s rows %zu  id mismatches %zu  offset mismatches %zu (of %zu)\n",
                t.name.c_str(), path.c_str(), rows.size(), bad_ids, bad_off, n_off);
    EXPECT_EQ(bad_ids, 0u) << t.name << " " << path;
    EXPECT_EQ(bad_off, 0u) << t.name << " " << path;
  }
}

TEST(TokenizerGold, CopiedSampleFull) {
  check_file(std::string(kData) + "/dev_full_sample.jsonl.gz", 0, 3000);
}
TEST(TokenizerGold, CopiedSampleTrunc128) {
  check_file(std::string(kData) + "/dev_trunc128_sample.jsonl.gz", 128, 3000);
}

TEST(TokenizerGold, SharedDevFull) {
  const std::string p = std::string(kShared) + "/dev_full.jsonl.gz";
  if (!test::file_exists(p)) GTEST_SKIP() << p << " is absent (../shared not mounted): full gold not checked";
  check_file(p, 0, 30200);
}

TEST(TokenizerGold, SharedDevTrunc128) {
  const std::string p = std::string(kShared) + "/dev_trunc128.jsonl.gz";
  if (!test::file_exists(p)) GTEST_SKIP() << p << " is absent (../shared not mounted): full gold not checked";
  check_file(p, 128, 30200);
}

// The shared tokenizer folders themselves load and agree with the copies in tests/data.
TEST(TokenizerGold, SharedTokenizerDirsMatchCopies) {
  const std::string d = "../shared/tokenizers";
  if (!test::file_exists(d)) GTEST_SKIP() << d << " is absent";
  const Tokenizer b = Tokenizer::from_dir(d + "/bert-base-uncased");
  const Tokenizer r = Tokenizer::from_dir(d + "/roberta-base");
  const auto t = tokenizers();
  for (const char* s : {"@user thanks! 😂", "Héllo WORLD, 日本 #tag https://t.co/x", ""}) {
    EXPECT_EQ(b.encode(s).ids, t[0].tok.encode(s).ids) << s;
    EXPECT_EQ(r.encode(s).ids, t[2].tok.encode(s).ids) << s;
  }
}

}  // namespace
}  // namespace tern::tok

namespace tern::tok {
namespace {

// Extra gold made with tokenizers@0.23.2 via Node (tests/tokenizer/gen/): raw tweets in many scripts and
// synthetic Unicode stress strings (see tests/data/tokenizer/PROVENANCE.txt).
TEST(TokenizerGold, ExtraRawTweetsAndUnicodeStress) {
  check_file(std::string(kData) + "/extra_gold.jsonl.gz", 0, 7200);
}

// Pairs (some empty), untruncated and truncated longest-first to 24 tokens, from the same Node run.
TEST(TokenizerGold, PairsAndLongestFirstTruncation) {
  check_file(std::string(kData) + "/pair_gold.jsonl.gz", 0, 400);
  check_file(std::string(kData) + "/pair_gold_trunc24.jsonl.gz", 24, 400);
}

}  // namespace
}  // namespace tern::tok
