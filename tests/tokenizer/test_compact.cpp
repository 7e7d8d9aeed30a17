// The tokenizer's compact tables against plain references: the two-level Unicode flag table against the
// flat byte-per-code-point one, the vocabulary (one byte string + offsets + a 32-bit slot index) against
// std::unordered_map built from the tokenizer.json files themselves, the compact word cache against
// std::map, id -> token against the files.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/tokenizer/gold.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tern::tok {
namespace {

std::string repo_file(const std::string& p) {
  return test::file_exists(p) ? test::read_file(p) : test::read_file(p + ".gz");
}

// model.vocab of a tokenizer.json in tests/data, read with nlohmann (not with tern's loader).
std::unordered_map<std::string, int32_t> json_vocab(const std::string& dir) {
  const auto j = nlohmann::json::parse(repo_file("tests/data/tokenizer/" + dir + "/tokenizer.json"));
  std::unordered_map<std::string, int32_t> v;
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it)
    v[it.key()] = it.value().get<int32_t>();
  return v;
}

TEST(Compact, TwoLevelFlagsEqualTheFlatTableOnEveryCodePoint) {
  const std::vector<uint8_t> flat = uni::flat_flags_for_tests();
  ASSERT_EQ(flat.size(), 0x110000u);
  size_t nonzero = 0, mismatches = 0;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    nonzero += flat[c] != 0;
    if (uni::flags(c) != flat[c] && ++mismatches < 5) ADD_FAILURE() << "U+" << std::hex << uint32_t(c);
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(nonzero, 250000u);  // the table is not trivially empty (letters, controls, private use ...)
  EXPECT_EQ(uni::flags(0x110000), 0);
  EXPECT_EQ(uni::flags(0xFFFFFFFF), 0);
  EXPECT_LT(uni::flags_table_bytes(), 64u * 1024);  // the flat table is 1,114,112 bytes
}

TEST(Compact, VocabFindsEveryTokenAndRejectsOthers) {
  for (const char* dir : {"bert-base-uncased", "roberta-base"}) {
    const auto ref = json_vocab(dir);
    ASSERT_GT(ref.size(), 30000u) << dir;
    detail::Vocab v;  // grown from empty (no reserve): every rehash on the way
    for (const auto& [tok, id] : ref) v[tok] = id;
    v.shrink_to_fit();
    ASSERT_EQ(v.size(), ref.size());
    for (const auto& [tok, id] : ref) {
      const auto it = v.find(tok);
      ASSERT_NE(it, v.end()) << dir << " " << tok;
      EXPECT_EQ(it->second, id) << tok;
      EXPECT_EQ(it->first, tok);
    }
    // Near misses of every token: a byte more, a byte less, the last byte changed.
    size_t rejected = 0;
    for (const auto& [tok, id] : ref) {
      for (std::string k : {tok + "x", tok.substr(0, tok.size() - 1), tok.substr(0, tok.size() - 1) + "\x01",
                            "##" + tok, std::string(1, '\0') + tok}) {
        const bool in_ref = ref.count(k) > 0;
        EXPECT_EQ(v.find(k) != v.end(), in_ref) << dir << " " << k;
        rejected += !in_ref;
      }
    }
    EXPECT_GT(rejected, 3 * ref.size());
    // Iteration gives every entry once, in insertion order.
    size_t n = 0;
    for (const auto& [tok, id] : v) {
      EXPECT_EQ(ref.at(std::string(tok)), id);
      ++n;
    }
    EXPECT_EQ(n, ref.size());
    // Far smaller than the FlatStrMap index + std::string per token it replaced (~100 bytes a token).
    EXPECT_LT(v.memory_bytes(), 32 * ref.size()) << dir;
  }
}

TEST(Compact, VocabKeepsTheLastAssignmentAndOddKeys) {
  detail::Vocab v;
  v.reserve(4);
  v["a"] = 1;
  v[std::string("a\0b", 3)] = 2;
  v[""] = 3;
  v["a"] = 7;  // a later assignment replaces the id, the entry stays where it was
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v.find("a")->second, 7);
  EXPECT_EQ(v.find(std::string("a\0b", 3))->second, 2);
  EXPECT_EQ(v.find(std::string("a\0c", 3)), v.end());
  EXPECT_EQ(v.find("")->second, 3);
  EXPECT_EQ(v.begin()->first, "a");
  v.clear();
  EXPECT_EQ(v.find("a"), v.end());
  EXPECT_TRUE(v.empty());
}

TEST(Compact, VocabWithIdsEqualToIndicesStoresNoIdsAndStillChanges) {
  detail::Vocab v;
  for (int i = 0; i < 1000; ++i) v[std::to_string(i).append("t")] = i;
  const size_t before = v.memory_bytes();
  v.shrink_to_fit();
  EXPECT_LE(v.memory_bytes() + 4000, before);  // no 4-byte id per entry
  EXPECT_EQ(v.find("7t")->second, 7);
  EXPECT_EQ(v.id(999), 999);
  v["new"] = 3;  // a change after shrinking: the ids are stored again
  v["5t"] = 42;
  EXPECT_EQ(v.find("new")->second, 3);
  EXPECT_EQ(v.find("5t")->second, 42);
  EXPECT_EQ(v.find("6t")->second, 6);
  EXPECT_EQ(v.size(), 1001u);
  v.shrink_to_fit();  // not the identity any more
  EXPECT_EQ(v.find("5t")->second, 42);
  EXPECT_EQ(v.id(1000), 3);
}

// An index over some of the entries of a larger list: entry indices above the table's own capacity (the
// WordPiece continuation table indexes ~6k of 30k entries).
TEST(Compact, StrIndexOverASubsetOfALargerList) {
  std::vector<std::string> keys;
  for (int i = 0; i < 100000; ++i) keys.push_back(std::to_string(i * 7919).append("k"));
  auto key_of = [&](uint32_t e) { return std::string_view(keys[e]); };
  detail::StrIndex idx;
  size_t n = 0;
  for (uint32_t e = 0; e < keys.size(); e += 17) ++n;
  idx.reset(n, keys.size());
  size_t added = 0;
  for (uint32_t e = 0; e < keys.size(); e += 17) idx.add(e, detail::hash_bytes(keys[e]), ++added, key_of);
  EXPECT_LT(idx.capacity(), 32768u);
  for (uint32_t e = 0; e < keys.size(); ++e) {
    const uint32_t got = idx.find(keys[e], detail::hash_bytes(keys[e]), key_of);
    if (e % 17 == 0)
      ASSERT_EQ(got, e);
    else
      ASSERT_EQ(got, detail::StrIndex::kNone) << e;
  }
}

TEST(Compact, WordCacheEntriesRoundTrip) {
  std::mt19937 rng(7);
  detail::WordCache c(65536);  // room for all: nothing emptied
  std::map<std::string, std::vector<detail::WordPieceSpan>> ref;
  for (int i = 0; i < 3000; ++i) {
    std::string w;
    const size_t len = 1 + rng() % 64;
    for (size_t k = 0; k < len; ++k) w.push_back(static_cast<char>(rng() % 256));
    std::vector<detail::WordPieceSpan> p;
    for (uint32_t at = 0; at < len;) {
      const uint32_t l = 1 + rng() % (len - at);
      p.push_back({static_cast<int32_t>(rng() % 250000), at, l});
      at += l;
    }
    if (ref.count(w)) continue;
    ref[w] = p;
    c.insert(w, detail::hash_bytes(w), p.data(), p.size());
  }
  ASSERT_EQ(c.size(), ref.size());
  for (const auto& [w, p] : ref) {
    size_t n = 0;
    const detail::WordPieceSpan* got = c.find(w, detail::hash_bytes(w), &n);
    ASSERT_NE(got, nullptr);
    ASSERT_EQ(n, p.size());
    for (size_t k = 0; k < n; ++k) {
      EXPECT_EQ(got[k].id, p[k].id);
      EXPECT_EQ(got[k].start, p[k].start);
      EXPECT_EQ(got[k].len, p[k].len);
    }
  }
  size_t n = 0;
  EXPECT_EQ(c.find("not there", detail::hash_bytes("not there"), &n), nullptr);
  // Too long to be cached (a record's lengths are one byte): not stored, and nothing else is lost.
  const std::string big(300, 'a');
  const detail::WordPieceSpan one{5, 0, 300};
  c.insert(big, detail::hash_bytes(big), &one, 1);
  EXPECT_EQ(c.find(big, detail::hash_bytes(big), &n), nullptr);
  EXPECT_EQ(c.size(), ref.size());
}

TEST(Compact, WordCacheEmptiesWhenItsArenaIsFull) {
  detail::WordCache c(8);  // arena for 8 words of ~24 bytes
  const std::string w(60, 'w');
  const detail::WordPieceSpan p{1, 0, 60};
  for (int i = 0; i < 4; ++i) {
    std::string k = w;
    k[0] = static_cast<char>('a' + i);
    c.insert(k, detail::hash_bytes(k), &p, 1);  // 68 bytes each: the third does not fit in 192
  }
  EXPECT_EQ(c.size(), 2u);
  EXPECT_LE(c.memory_bytes(), 16u * 4 + 8 * 24 + 64);  // 4-byte slots, the arena reserved once
}

TEST(Compact, IdToTokenIsTheFilesVocabularyPlusAddedTokens) {
  for (const char* dir : {"bert-base-uncased", "roberta-base"}) {
    const auto ref = json_vocab(dir);
    const Tokenizer t = Tokenizer::from_files(
        {{"tokenizer.json", repo_file(std::string("tests/data/tokenizer/") + dir + "/tokenizer.json")}});
    std::map<int32_t, std::string> by_id;
    for (const auto& [tok, id] : ref) by_id[id] = tok;
    for (const auto& [id, tok] : by_id) {
      ASSERT_EQ(t.id_to_token(id), tok) << dir << " " << id;
      ASSERT_EQ(t.token_to_id(tok), id) << dir << " " << tok;
    }
    EXPECT_EQ(t.id_to_token(-1), std::nullopt);
    EXPECT_EQ(t.id_to_token(static_cast<int32_t>(by_id.rbegin()->first + 1000)), std::nullopt);
  }
  // Ids that are not entry indices (the general table) and an added token over a vocabulary id.
  const std::string j = R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 5, "a": 9, "##b": 2}},
    "added_tokens": [{"id": 9, "content": "<x>", "special": true}], "pre_tokenizer": {"type": "BertPreTokenizer"}})";
  const Tokenizer t = Tokenizer::from_files({{"tokenizer.json", j}});
  EXPECT_EQ(t.id_to_token(5), "[UNK]");
  EXPECT_EQ(t.id_to_token(2), "##b");
  EXPECT_EQ(t.id_to_token(9), "<x>");
  EXPECT_EQ(t.id_to_token(0), std::nullopt);
  EXPECT_EQ(t.encode("ab").ids, (std::vector<int32_t>{9, 2}));
}

}  // namespace
}  // namespace tern::tok
