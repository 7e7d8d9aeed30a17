// The tokenizer's fast paths against their reference twin: the one-pass BERT / byte-level paths and the word
// caches (EncodeOptions::use_fast_paths = true, the default) must give exactly the encodings of the plain
// stage-by-stage pipeline (use_fast_paths = false) — on real tweets, on Unicode edge cases made to hit each
// branch and fallback, and on random mixes of them; plus the hash tables and caches they rest on.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/tokenizer/gold.h"
#include "tokenizer/flat_map.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/tokenizer.h"

namespace tern::tok {
namespace {

std::map<std::string, std::string> files_of(const std::string& dir, const std::vector<std::string>& names) {
  std::map<std::string, std::string> f;
  for (const auto& n : names) {
    const std::string p = "tests/data/tokenizer/" + dir + "/" + n;
    f[n] = test::file_exists(p) ? test::read_file(p) : test::read_file(p + ".gz");
  }
  return f;
}

struct Named {
  const char* name;
  const Tokenizer* tok;
};

// bert-base-uncased and roberta-base from tokenizer.json, and BERT from vocab.txt with do_lower_case false
// (the fast path without lowercasing or accent stripping).
std::vector<Named> tokenizers() {
  static const Tokenizer bert = Tokenizer::from_files(files_of("bert-base-uncased", {"tokenizer.json"}));
  static const Tokenizer roberta = Tokenizer::from_files(files_of("roberta-base", {"tokenizer.json"}));
  static const Tokenizer cased = [] {
    auto f = files_of("bert-base-uncased", {"vocab.txt"});
    f["tokenizer_config.json"] = R"({"do_lower_case": false})";
    return Tokenizer::from_files(f);
  }();
  return {{"bert-uncased", &bert}, {"roberta", &roberta}, {"bert-cased-config", &cased}};
}

EncodeOptions reference(EncodeOptions o) {
  o.use_fast_paths = false;
  return o;
}

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      h += static_cast<char>(c);
    } else {
      h += "\\x";
      h += d[c >> 4];
      h += d[c & 15];
    }
  }
  return h;
}

// Every field of the fast encoding equals the reference twin's.
void expect_same(const Named& t, const std::string& a, const std::string* b, const EncodeOptions& o,
                 size_t* checked) {
  const Encoding fast = b ? t.tok->encode_pair(a, *b, o) : t.tok->encode(a, o);
  const Encoding ref = b ? t.tok->encode_pair(a, *b, reference(o)) : t.tok->encode(a, reference(o));
  ++*checked;
  ASSERT_EQ(fast.ids, ref.ids) << t.name << " text: " << hex(a) << (b ? " | " + hex(*b) : "");
  ASSERT_EQ(fast.offsets, ref.offsets) << t.name << " text: " << hex(a);
  ASSERT_EQ(fast.type_ids, ref.type_ids) << t.name << " text: " << hex(a);
  ASSERT_EQ(fast.special_tokens_mask, ref.special_tokens_mask) << t.name;
  ASSERT_EQ(fast.sequence_ids, ref.sequence_ids) << t.name;
  ASSERT_EQ(fast.attention_mask, ref.attention_mask) << t.name;
}

// Pieces that hit each branch of the fast paths: ASCII classes, accents precomposed and combining,
// marks that stay (canonical ordering: fallback), CJK and CJK compatibility ideographs, Hangul, multi-char
// lowercase, controls, format chars, non-ASCII spaces, added tokens (fallback), invalid UTF-8 (fallback).
const std::vector<std::string> kPieces = {
    "a",
    "Hello",
    "WORLD",
    "42",
    " ",
    "  ",
    "\t",
    "\r",
    "\n",
    ",",
    ".",
    "'s",
    "'",
    "#",
    "##",
    "$5",
    "@user",
    "http",
    "\x01",
    "\x7f",
    std::string(1, '\0'),
    "\xc3\xa9",
    "e\xcc\x81",
    "\xcc\x81",
    "\xcc\xa3",
    "\xc3\x89",
    "\xc3\xb1",
    "\xc4\xb0",
    "\xc3\x9f",
    "\xef\xac\x81",
    "\xce\xa3",
    "\xe4\xb8\xad",
    "\xef\xa4\x80",
    "\xea\xb0\x80",
    "\xf0\x9f\x98\x82",
    "\xef\xb8\x8f",
    "\xe2\x80\x8d",
    "\xc2\xa0",
    "\xe3\x80\x80",
    "\xe2\x80\x9c",
    "\xd9\xa0",
    "\xd7\x90",
    "\xe0\xb8\x81\xe0\xb8\xb1",
    "\xe0\xa4\xbf",
    "\xe0\xbd\xb1\xe0\xbd\xb2",
    "\xe1\xad\x84",
    "\xcd\x85",
    "[CLS]",
    "[SEP]",
    "[cls]",
    "<s>",
    "</s>",
    "<mask>",
    "\xff",
    "\xe2\x82",
    "\xf0\x9f\x98",
    "\xed\xa0\x80",
    "unaffable",
    "tokenization",
    std::string(101, 'x'),
};

TEST(FastPath, EqualsReferenceOnRealTweets) {
  const auto rows = test::read_gold("tests/data/tokenizer/dev_full_sample.jsonl.gz");
  const auto extra = test::read_gold("tests/data/tokenizer/extra_gold.jsonl.gz");
  ASSERT_GT(rows.size(), 1000u);
  for (const Named& t : tokenizers()) {
    size_t checked = 0;
    detail::path_counts() = {};
    for (const auto* set : {&rows, &extra}) {
      for (const auto& r : *set) {
        expect_same(t, r.text, nullptr, {}, &checked);
        if (HasFatalFailure()) return;
      }
    }
    // The fast path is what ran for nearly every tweet (the rest fell back to the general pipeline).
    const auto c = detail::path_counts();
    EXPECT_EQ(c.fast_texts + c.general_texts, 2 * checked) << t.name;  // each text twice: fast, reference
    EXPECT_GT(c.fast_texts, 9 * checked / 10) << t.name;
    EXPECT_GT(c.cache_hits, c.cache_misses) << t.name << ": tweets repeat words";
    std::printf(
        "[fast] %-18s %zu texts: fast path %llu, fell back to the general pipeline %llu; "
        "cache hits %llu misses %llu\n",
        t.name, checked, static_cast<unsigned long long>(c.fast_texts),
        static_cast<unsigned long long>(c.general_texts - checked),
        static_cast<unsigned long long>(c.cache_hits), static_cast<unsigned long long>(c.cache_misses));
  }
}

TEST(FastPath, EqualsReferenceOnEdgeCasesAndRandomMixes) {
  std::mt19937 rng(12345);
  std::vector<std::string> texts(kPieces.begin(), kPieces.end());
  for (int i = 0; i < 6000; ++i) {
    std::string s;
    const int k = static_cast<int>(rng() % 12);
    for (int j = 0; j < k; ++j) s += kPieces[rng() % kPieces.size()];
    texts.push_back(s);
  }
  EncodeOptions trunc;
  trunc.max_length = 7;
  EncodeOptions left = trunc;
  left.truncation_side = Side::kLeft;
  for (const Named& t : tokenizers()) {
    size_t checked = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      expect_same(t, texts[i], nullptr, {}, &checked);
      expect_same(t, texts[i], nullptr, (i % 2) ? trunc : left, &checked);
      const std::string& second = texts[(i * 7919) % texts.size()];
      expect_same(t, texts[i], &second, trunc, &checked);
      if (HasFatalFailure()) return;
    }
    EXPECT_EQ(checked, 3 * texts.size());
  }
}

TEST(FastPath, TakenOrLeftAsDocumented) {
  const Tokenizer& bert = *tokenizers()[0].tok;
  const Tokenizer& roberta = *tokenizers()[1].tok;
  auto path_of = [](const Tokenizer& t, const std::string& s, const EncodeOptions& o = {}) {
    detail::path_counts() = {};
    t.encode(s, o);
    return detail::path_counts().fast_texts == 1 ? "fast" : "general";
  };
  EXPECT_STREQ(path_of(bert, "Hello, world! caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x82"), "fast");
  EXPECT_STREQ(path_of(bert, "a [CLS] b"), "general");      // an added token
  EXPECT_STREQ(path_of(bert, "a [b] c"), "fast");           // '[' alone is not one
  EXPECT_STREQ(path_of(bert, "bad \xff byte"), "general");  // invalid UTF-8
  EXPECT_STREQ(path_of(bert, "\xe1\xad\x84"), "general");   // a spacing mark with a combining class
  EXPECT_STREQ(path_of(roberta, "Hello, world! \xf0\x9f\x98\x82"), "fast");
  EXPECT_STREQ(path_of(roberta, "a <mask> b"), "general");
  EncodeOptions tweets;
  tweets.normalize_tweets = true;
  EXPECT_STREQ(path_of(bert, "@someone hi", tweets), "general");
  EXPECT_STREQ(path_of(bert, "hi", reference({})), "general");
  // The same word twice: the second is a cache hit, and the reference twin never looks at the cache.
  detail::path_counts() = {};
  bert.encode("zyzzyva zyzzyva");
  EXPECT_GE(detail::path_counts().cache_hits, 1u);
  detail::path_counts() = {};
  bert.encode("zyzzyva zyzzyva", reference({}));
  EXPECT_EQ(detail::path_counts().cache_hits + detail::path_counts().cache_misses, 0u);
}

TEST(FastPath, EncodeIntoReusesAndMatchesEncode) {
  const Tokenizer& roberta = *tokenizers()[1].tok;
  Encoding e;
  for (const std::string s : {"a much longer text with many many words in it", "short", ""}) {
    roberta.encode_into(s, {}, e);
    const Encoding want = roberta.encode(s);
    EXPECT_EQ(e.ids, want.ids) << s;
    EXPECT_EQ(e.offsets, want.offsets) << s;
    EXPECT_EQ(e.attention_mask, want.attention_mask) << s;
  }
  roberta.encode_pair_into("first", "second one", {}, e);
  EXPECT_EQ(e.ids, roberta.encode_pair("first", "second one").ids);
  EXPECT_EQ(e.type_ids.size(), e.ids.size());
}

TEST(FlatMap, StrMapFindsEveryKeyAfterGrowth) {
  detail::FlatStrMap<int32_t> m;
  std::vector<std::string> keys = {"", std::string("a\0b", 3), std::string("a\0c", 3), "##ing"};
  for (int i = 0; i < 5000; ++i) keys.push_back(std::to_string(i * 7919).append("k"));
  for (size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], static_cast<int32_t>(i));
  EXPECT_EQ(m.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const int32_t* v = m.find(keys[i]);
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(*v, static_cast<int32_t>(i));
  }
  EXPECT_EQ(m.find("1k"), nullptr);
  EXPECT_EQ(m.find(std::string("a\0d", 3)), nullptr);
  EXPECT_EQ(m.insert("##ing", 99), 3);  // the first value stays
  m.clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find("##ing"), nullptr);
}

TEST(FlatMap, U64MapKeepsFirstValue) {
  detail::FlatU64Map<std::pair<int32_t, int32_t>> m;
  for (uint64_t i = 0; i < 3000; ++i)
    EXPECT_TRUE(m.insert((i << 32) | (i * 3), {int32_t(i), int32_t(i + 1)}));
  EXPECT_FALSE(m.insert(5ull << 32 | 15, {0, 0}));
  ASSERT_NE(m.find(5ull << 32 | 15), nullptr);
  EXPECT_EQ(m.find(5ull << 32 | 15)->first, 5);
  EXPECT_EQ(m.find(5ull << 32 | 16), nullptr);
  EXPECT_EQ(m.size(), 3000u);
}

TEST(FlatMap, WordCacheEmptiesWhenFull) {
  detail::WordCache c(2);
  const detail::WordPieceSpan p[2] = {{7, 0, 2}, {8, 2, 3}};
  auto h = [](const char* s) { return detail::hash_bytes(s); };
  c.insert("ab", h("ab"), p, 2);
  c.insert("cd", h("cd"), p + 1, 1);
  size_t n = 0;
  const detail::WordPieceSpan* got = c.find("ab", h("ab"), &n);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(got[1].id, 8);
  c.insert("ef", h("ef"), p, 1);  // full: emptied first
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.find("ab", h("ab"), &n), nullptr);
  ASSERT_NE(c.find("ef", h("ef"), &n), nullptr);
  EXPECT_EQ(n, 1u);
}

TEST(Utf8, CountInvalidAgreesWithSanitize) {
  for (const std::string& s : kPieces) {
    size_t n = 0;
    sanitize_utf8(s + "x" + s, &n);
    EXPECT_EQ(count_invalid_utf8(s + "x" + s), n) << hex(s);
  }
}

}  // namespace
}  // namespace tern::tok

namespace tern::tok {
namespace {

// tokenizer.json / vocab.json are parsed with the vocabulary and the merges streamed out of the JSON
// (loader.cpp CaptureSax): the same tokenizer and the same errors as a full parse.
std::string load_error(const std::string& vocab, const std::string& merges) {
  const std::string j = "{\"model\": {\"type\": \"BPE\", \"vocab\": " + vocab + ", \"merges\": " + merges +
                        "}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
  try {
    Tokenizer::from_files({{"tokenizer.json", j}}, "d");
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(Loader, StreamedVocabularyAndMergesKeepTheErrors) {
  const std::string v = R"({"a": 0, "b": 1, "ab": 2, "c": 3})";
  EXPECT_EQ(load_error(v, R"(["a b"])"), "(loaded)");
  EXPECT_EQ(load_error(v, R"([["a", "b"]])"), "(loaded)");
  const std::string j =
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 7, \"ab\": 2}, "
      "\"merges\": [[\"a\", \"b\"]]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
  const Tokenizer t = Tokenizer::from_files({{"tokenizer.json", j}}, "d");
  EXPECT_EQ(t.encode("abab").ids, (std::vector<int32_t>{2, 2}));  // merged; a repeated key: the last id
  EXPECT_EQ(t.token_to_id("ab"), 2);
  EXPECT_EQ(t.vocab_size(), 3u);
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos ? testing::AssertionSuccess()
                                               : testing::AssertionFailure() << msg;
  };
  EXPECT_TRUE(has(load_error(v, R"(["a b c"])"), "d/tokenizer.json: model.merges[0]: a merge must be two"));
  EXPECT_TRUE(has(load_error(v, R"(["a b", 5])"), "model.merges[1]: expected \"a b\" or"));
  EXPECT_TRUE(has(load_error(v, R"([["a"]])"), "model.merges[0]: expected \"a b\" or"));
  EXPECT_TRUE(has(load_error(v, R"(["a c"])"), "model.merges[0]: merge 'a c' makes 'ac'"));
  EXPECT_TRUE(has(load_error(R"({"a": "x"})", "[]"), "model.vocab.a: expected a token id, got \"x\""));
  EXPECT_TRUE(has(load_error(R"({"a": {}})", "[]"), "model.vocab.a: expected a token id"));
  EXPECT_TRUE(has(load_error(R"({"a": -1})", "[]"), "model.vocab.a: token id -1 out of range"));
  EXPECT_TRUE(has(load_error(R"({"a": 99999999999})", "[]"), "token id 99999999999 out of range"));
  EXPECT_TRUE(has(load_error("[1]", "[]"), "model.vocab: expected an object"));
  EXPECT_TRUE(has(load_error(v, "{}"), "model.merges: expected an array"));
  EXPECT_TRUE(has(load_error(v, "[\"a b\""), "d/tokenizer.json: invalid JSON"));
  // vocab.json at the top level.
  try {
    Tokenizer::from_files({{"vocab.json", R"({"<s>": 0, "a": true})"}, {"merges.txt", ""}}, "d");
    ADD_FAILURE() << "loaded";
  } catch (const TokenizerError& e) {
    EXPECT_TRUE(has(e.what(), "d/vocab.json: (top level).a: expected a token id, got true"));
  }
}

}  // namespace
}  // namespace tern::tok
