// Unit tests for each stage of the tokenizer: UTF-8 policy, normalizer, pre-tokenizers, models, added
// tokens, truncation, padding, offsets, tweet normaliser, loader errors, batch API.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/tokenizer/gold.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace tern::tok {
namespace {

using Offsets = std::vector<std::pair<int32_t, int32_t>>;
using Ids = std::vector<int32_t>;

std::map<std::string, std::string> files_of(const std::string& dir, const std::vector<std::string>& names) {
  std::map<std::string, std::string> f;
  for (const auto& n : names) {
    const std::string p = "tests/data/tokenizer/" + dir + "/" + n;
    f[n] = test::file_exists(p) ? test::read_file(p) : test::read_file(p + ".gz");
  }
  return f;
}

const Tokenizer& bert() {
  static const Tokenizer t = Tokenizer::from_files(files_of("bert-base-uncased", {"tokenizer.json"}));
  return t;
}
const Tokenizer& roberta() {
  static const Tokenizer t = Tokenizer::from_files(files_of("roberta-base", {"tokenizer.json"}));
  return t;
}

std::u32string decode(const std::string& s) {
  std::u32string out;
  uni::decode_utf8(s, out);
  return out;
}

// ---------------- invalid UTF-8 policy ----------------

TEST(Utf8, ReplacesEachMaximalIllFormedSubsequence) {
  // Expected values are what Python's bytes.decode("utf-8", "replace") gives.
  struct Case {
    std::string in;
    std::u32string want;
  };
  const Case cases[] = {
      {"abc", U"abc"},
      {"\x80", U"\uFFFD"},
      {"a\xffz", U"a\uFFFDz"},
      {"\xe0\x80", U"\uFFFD\uFFFD"},                      // E0 needs A0..BF next
      {"\xe2\x82z", U"\uFFFDz"},                          // truncated 3-byte sequence = one U+FFFD
      {"\xf0\x9f\x98", U"\uFFFD"},                        // truncated 4-byte sequence at the end
      {"\xed\xa0\x80", U"\uFFFD\uFFFD\uFFFD"},            // a UTF-16 surrogate
      {"\xc0\xaf", U"\uFFFD\uFFFD"},                      // overlong
      {"\xf4\x90\x80\x80", U"\uFFFD\uFFFD\uFFFD\uFFFD"},  // above U+10FFFF
      {"\xf5\x80", U"\uFFFD\uFFFD"},
      {"\xf0\x9f\x98\x82", U"\U0001F602"},
      {std::string("a\0b", 3), std::u32string(U"a\0b", 3)},
  };
  for (const auto& c : cases) {
    std::u32string got;
    const size_t bad = uni::decode_utf8(c.in, got);
    EXPECT_EQ(got, c.want) << "input bytes of length " << c.in.size();
    size_t want_bad = 0;
    for (char32_t x : c.want) want_bad += x == 0xFFFD;
    EXPECT_EQ(bad, want_bad);
  }
  size_t n = 0;
  EXPECT_EQ(sanitize_utf8("a\xe2\x82z", &n), "a\xEF\xBF\xBDz");
  EXPECT_EQ(n, 1u);
}

TEST(Utf8, EncodeTreatsInvalidBytesAsReplacementChar) {
  for (const Tokenizer* t : {&bert(), &roberta()}) {
    const Encoding bad = t->encode("caf\xc3 ok\xff!");
    const Encoding good = t->encode("caf\xEF\xBF\xBD ok\xEF\xBF\xBD!");
    EXPECT_EQ(bad.ids, good.ids);
    EXPECT_EQ(bad.offsets, good.offsets);
  }
  // BERT drops U+FFFD (clean_text), so "a<bad>b" is the single word "ab" spanning 3 code points.
  const Encoding e = bert().encode(
      "a\xff"
      "b");
  EXPECT_EQ(e.ids, bert().encode("ab").ids);
  EXPECT_EQ(e.offsets[1], std::make_pair(0, 3));
  // RoBERTa keeps it: its 3 bytes EF BF BD map back to the one replaced code point.
  const Encoding r = roberta().encode("\xff");
  ASSERT_GE(r.size(), 3u);
  for (size_t i = 1; i + 1 < r.size(); ++i) EXPECT_EQ(r.offsets[i], std::make_pair(0, 1));
}

// ---------------- normalizer ----------------

TEST(Normalizer, BertCleansSplitsChineseStripsAccentsLowercases) {
  detail::NormStr n =
      detail::NormStr::from_original(decode("A\tb\x01\xE2\x80\x8B"
                                            "\xC3\xA9\xE6\x97\xA5!"));
  detail::NormalizerOp op;  // all on
  detail::bert_normalize(n, op);
  // "A\tb<SOH><ZWSP>é日!" -> "a b" + "e" + " 日 " + "!"
  EXPECT_EQ(n.s, U"a be \u65E5 !");
  const std::vector<uint32_t> starts = {0, 1, 2, 5, 5, 6, 6, 7};
  ASSERT_EQ(n.a.size(), starts.size());
  for (size_t i = 0; i < starts.size(); ++i) EXPECT_EQ(n.a[i].start, starts[i]) << i;
}

TEST(Normalizer, LowercaseIsFullCaseMappingWithAlignment) {
  detail::NormStr n = detail::NormStr::from_original(decode("\xC4\xB0x"));  // "İx"
  detail::NormalizerOp op;
  op.kind = detail::NormalizerOp::Kind::kLowercase;
  detail::normalize(n, {op});
  EXPECT_EQ(n.s, U"i\u0307x");  // 'İ' -> "i̇" (two code points), both aligned to 'İ'
  EXPECT_EQ(n.a[0].start, 0u);
  EXPECT_EQ(n.a[1].start, 0u);
  EXPECT_EQ(n.a[1].end, 1u);
  EXPECT_EQ(n.a[2].start, 1u);
}

TEST(Normalizer, UncasedBertOffsetsMapBackToOriginalChars) {
  // HF gold (dev_full edge/accents_7): "İstanbul ıi" -> [CLS] istanbul ı ##i [SEP]
  const Encoding e = bert().encode("\xC4\xB0stanbul \xC4\xB1i");
  EXPECT_EQ(e.ids, (Ids{101, 9960, 1104, 2072, 102}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 8}, {9, 10}, {10, 11}, {0, 0}}));
}

TEST(Normalizer, TweetNormaliser) {
  EXPECT_EQ(normalize_tweet("@foo hi http://x.co @ a@b https"), "@user hi http @ a@b http");
  EXPECT_EQ(normalize_tweet(""), "");
  EXPECT_EQ(normalize_tweet("  @x  "), "  @user  ");
  EncodeOptions o;
  o.normalize_tweets = true;
  const Encoding e = bert().encode("@elonmusk Exactly https://t.co/abc", o);
  EXPECT_EQ(e.ids, bert().encode("@user Exactly http").ids);
  // Offsets refer to the text as given: "@" -> '@', "user" -> "elonmusk", "http" -> the whole URL.
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 1}, {1, 9}, {10, 17}, {18, 34}, {0, 0}}));
  EXPECT_NE(bert().encode("@elonmusk Exactly").ids, bert().encode("@user Exactly").ids);  // off by default
}

// ---------------- pre-tokenizers ----------------

TEST(PreTokenizer, BertSplitsWhitespaceAndPunctuation) {
  std::vector<std::pair<uint32_t, uint32_t>> w;
  detail::bert_pre_tokenize(U"Hi,  you$5 \u00BFqu\u00E9? a`b", w);
  const std::vector<std::pair<uint32_t, uint32_t>> want = {
      {0, 2}, {2, 3}, {5, 8}, {8, 9}, {9, 10}, {11, 12}, {12, 15}, {15, 16}, {17, 18}, {18, 19}, {19, 20}};
  EXPECT_EQ(w, want);  // '$' and '`' are ASCII punctuation even though Unicode says Sc / Sk
}

TEST(PreTokenizer, Gpt2RegexPieces) {
  auto pieces = [](const std::u32string& s) {
    std::vector<std::pair<uint32_t, uint32_t>> p;
    detail::gpt2_split(s.data(), s.size(), p);
    std::vector<std::u32string> out;
    for (auto [b, e] : p) out.push_back(s.substr(b, e - b));
    return out;
  };
  // The examples of tokenizers/src/pre_tokenizers/byte_level.rs tests.
  EXPECT_EQ(pieces(U"Hello there\nHello there"),
            (std::vector<std::u32string>{U"Hello", U" there", U"\n", U"Hello", U" there"}));
  EXPECT_EQ(pieces(U"Hello there       dear"),
            (std::vector<std::u32string>{U"Hello", U" there", U"      ", U" dear"}));
  EXPECT_EQ(pieces(U"I'm don't 'sup ''s 12ab  !?x  "),
            (std::vector<std::u32string>{U"I", U"'m", U" don", U"'t", U" 'sup"[0] == U' ' ? U" '" : U"",
                                         U"sup", U" ''", U"s", U" 12", U"ab", U" ", U" !?", U"x", U"  "}));
}

// ---------------- models ----------------

TEST(WordPiece, GreedyLongestMatchAndUnk) {
  detail::WordPiece wp;
  wp.vocab = {{"[UNK]", 0}, {"un", 1}, {"##aff", 2}, {"##able", 3}, {"unaff", 4}, {"a", 5}, {"##a", 6}};
  wp.max_input_chars_per_word = 5;
  wp.finalize();
  std::vector<detail::Align> al(16);
  for (uint32_t i = 0; i < al.size(); ++i) al[i] = {i, i + 1};
  std::vector<detail::RawToken> out;
  wp.tokenize("unaff", al.data(), out);
  ASSERT_EQ(out.size(), 1u);  // longest first: "unaff", not "un" + "##aff"
  EXPECT_EQ(out[0].id, 4);
  out.clear();
  wp.tokenize("aaa", al.data(), out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].id, 6);
  EXPECT_EQ(out[2].start, 2u);
  out.clear();
  wp.tokenize("unx", al.data(), out);  // no piece for "x": the whole word is [UNK]
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 0);
  EXPECT_EQ(out[0].end, 3u);
  out.clear();
  wp.tokenize("aaaaaa", al.data(), out);  // 6 chars > max_input_chars_per_word
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 0);
  // Real vocab: 100 chars are tokenized, 101 chars are [UNK] (HF gold edge/longword_0 and _1).
  EXPECT_EQ(bert().encode(std::string(101, 'a')).ids, (Ids{101, 100, 102}));
  EXPECT_GT(bert().encode(std::string(100, 'x')).size(), 3u);
}

TEST(Bpe, MergesByRankAndSplitsBytesOfOneChar) {
  // meta.json fixture text: "@user thanks! 😂"; the emoji's 4 bytes become 2 tokens ("Ġð" + "ŁĺĤ"),
  // both at the emoji's [14, 15) once the leading space is trimmed.
  const Encoding e = roberta().encode("@user thanks! \xF0\x9F\x98\x82");
  EXPECT_EQ(e.ids, (Ids{0, 1039, 12105, 2446, 328, 17841, 9264, 2}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 1}, {1, 5}, {6, 12}, {12, 13}, {14, 15}, {14, 15}, {0, 0}}));
  // The same word again comes from the cache.
  EXPECT_EQ(roberta().encode("@user thanks! \xF0\x9F\x98\x82").ids, e.ids);
  std::string bytes;
  EXPECT_TRUE(detail::Bpe::to_bytes("\xC4\xA0hi", bytes));  // "Ġhi"
  EXPECT_EQ(bytes, " hi");
  EXPECT_FALSE(detail::Bpe::to_bytes("\xE6\x97\xA5", bytes));  // '日' is not in the byte alphabet
}

TEST(Bpe, TrailingSpaceOffsetsAreTrimmed) {
  // HF gold row 0 of dev_full: the trailing " " token gets [29, 29).
  const Encoding e = roberta().encode("@user no I thought I did tbh ");
  EXPECT_EQ(e.ids.end()[-2], 1437);
  EXPECT_EQ(e.offsets.end()[-2], std::make_pair(29, 29));
}

// ---------------- added tokens ----------------

TEST(AddedTokens, MatchedInRawTextWithFlags) {
  // Special tokens are matched in the raw text (not normalized): "[CLS]" yes, "[cls]" no.
  EXPECT_EQ(bert().encode("[CLS] x").ids, (Ids{101, 101, 1060, 102}));
  EXPECT_NE(bert().encode("[cls] x").ids[1], 101);
  // v5 roberta: " <mask>" keeps the space token (meta.json); with lstrip the space joins <mask>, which is
  // what HF gave for the raw-file tokenizer built with lstrip=True (meta.json dev_crosscheck_examples).
  EXPECT_EQ(roberta().encode(" <mask> spaced").ids, (Ids{0, 1437, 50264, 42926, 2}));
  auto f = files_of("roberta-base", {"tokenizer.json"});
  const std::string key = "\"content\": \"<mask>\", \"single_word\": false, \"lstrip\": false";
  const size_t at = f["tokenizer.json"].find(key);
  ASSERT_NE(at, std::string::npos);
  f["tokenizer.json"].replace(at, key.size(),
                              "\"content\": \"<mask>\", \"single_word\": false, \"lstrip\": true");
  const Tokenizer lstrip = Tokenizer::from_files(f);
  const Encoding m = lstrip.encode(" <mask> spaced");
  EXPECT_EQ(m.ids, (Ids{0, 50264, 42926, 2}));
  EXPECT_EQ(m.offsets[1], std::make_pair(0, 7));  // the stripped space belongs to the token
  EXPECT_EQ(lstrip.encode("<s>literal</s> <mask> <pad> <unk>").ids,
            (Ids{0, 0, 13534, 6653, 2, 50264, 1437, 1, 1437, 3, 2}));
}

TEST(AddedTokens, SingleWordAndRstrip) {
  std::vector<detail::AddedToken> all(1);
  all[0].content = "ab";
  all[0].pattern = U"ab";
  all[0].id = 7;
  all[0].single_word = true;
  all[0].rstrip = true;
  std::vector<detail::Split> s;
  detail::split_added(U"xab ab  y", all, {0}, s);
  // "xab": not a single word, stays text; " ab  " matched with the spaces after it.
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].id, -1);
  EXPECT_EQ(s[1].id, 7);
  EXPECT_EQ(s[1].b, 4u);
  EXPECT_EQ(s[1].e, 8u);
  EXPECT_EQ(s[2].b, 8u);
}

// ---------------- truncation ----------------

TEST(Truncation, SingleAndPairStrategies) {
  EncodeOptions o;
  o.max_length = 5;
  const Encoding e = bert().encode("one two three four five six", o);
  EXPECT_EQ(e.ids, (Ids{101, 2028, 2048, 2093, 102}));
  // longest-first on a pair: a = 6 words, b = 2 words, max 8 -> 8 - 3 specials = 5 = 3 + 2.
  o.max_length = 8;
  const Encoding p = bert().encode_pair("one two three four five six", "seven eight", o);
  EXPECT_EQ(p.ids, (Ids{101, 2028, 2048, 2093, 102, 2698, 2809, 102}));
  EXPECT_EQ(p.type_ids, (Ids{0, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(p.sequence_ids, (Ids{-1, 0, 0, 0, -1, 1, 1, -1}));
  o.strategy = TruncationStrategy::kOnlySecond;
  o.max_length = 9;
  const Encoding s2 = bert().encode_pair("one two", "three four five six", o);
  EXPECT_EQ(s2.ids, (Ids{101, 2028, 2048, 102, 2093, 2176, 2274, 2416, 102}));
  o.max_length = 8;
  EXPECT_EQ(bert().encode_pair("one two", "three four five six", o).ids,
            (Ids{101, 2028, 2048, 102, 2093, 2176, 2274, 102}));
  o.strategy = TruncationStrategy::kOnlyFirst;
  EXPECT_EQ(bert().encode_pair("one two", "three four", o).ids, (Ids{101, 2028, 2048, 102, 2093, 2176, 102}));
  o.max_length = 6;
  EXPECT_THROW(bert().encode_pair("one", "three four five six", o), TokenizerError);  // first too short
  o.strategy = TruncationStrategy::kLongestFirst;
  o.max_length = 2;
  EXPECT_THROW(bert().encode_pair("a", "b", o), TokenizerError);  // fewer than the 3 specials
  o.max_length = 2;
  EXPECT_EQ(bert().encode("a b c", o).ids, (Ids{101, 102}));
  o.max_length = 4;
  o.truncation_side = Side::kLeft;
  EXPECT_EQ(bert().encode("one two three", o).ids, (Ids{101, 2048, 2093, 102}));
  // RoBERTa pairs: <s> A </s></s> B </s>, every type id 0.
  o = {};
  const Encoding r = roberta().encode_pair("a", "b", o);
  EXPECT_EQ(r.ids, (Ids{0, 102, 2, 2, 428, 2}));
  EXPECT_EQ(r.type_ids, (Ids{0, 0, 0, 0, 0, 0}));
}

// ---------------- padding and batch ----------------

TEST(Padding, LongestFixedMultipleLeft) {
  const std::vector<std::string> texts = {"a", "a b c", ""};
  PaddingOptions p;
  p.mode = PaddingOptions::Mode::kLongest;
  auto b = bert().encode_batch(texts, {}, p);
  for (const auto& e : b) EXPECT_EQ(e.size(), 5u);
  EXPECT_EQ(b[0].ids, (Ids{101, 1037, 102, 0, 0}));
  EXPECT_EQ(b[0].attention_mask, (Ids{1, 1, 1, 0, 0}));
  EXPECT_EQ(b[0].special_tokens_mask, (Ids{1, 0, 1, 1, 1}));
  EXPECT_EQ(b[0].offsets[4], std::make_pair(0, 0));
  p.pad_to_multiple_of = 4;
  b = bert().encode_batch(texts, {}, p);
  EXPECT_EQ(b[2].size(), 8u);
  p = {};
  p.mode = PaddingOptions::Mode::kFixed;
  p.length = 4;
  p.side = Side::kLeft;
  b = roberta().encode_batch(texts, {}, p);
  EXPECT_EQ(b[0].ids, (Ids{1, 0, 102, 2}));  // <pad> = 1 for RoBERTa
  EXPECT_EQ(b[0].attention_mask, (Ids{0, 1, 1, 1}));
  EXPECT_EQ(b[1].size(), 5u);  // longer than the fixed length: left as it is
}

TEST(Batch, ParallelKeepsInputOrder) {
  const auto rows = test::read_gold("tests/data/tokenizer/dev_full_sample.jsonl.gz");
  std::vector<std::string> texts;
  for (const auto& r : rows) texts.push_back(r.text);
  const auto par = roberta().encode_batch(texts, {}, {}, 4);
  ASSERT_EQ(par.size(), texts.size());
  for (size_t i = 0; i < texts.size(); i += 7) EXPECT_EQ(par[i].ids, roberta().encode(texts[i]).ids) << i;
  for (size_t i = 0; i < rows.size(); ++i)
    ASSERT_EQ(std::vector<int>(par[i].ids.begin(), par[i].ids.end()), rows[i].roberta_ids);
}

// ---------------- loading and errors ----------------

std::string error_of(const std::map<std::string, std::string>& files) {
  try {
    Tokenizer::from_files(files, "dir");
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Loader, ClearErrorsNamingFileAndPlace) {
  auto f = files_of("bert-base-uncased", {"tokenizer.json"});
  std::string j = f["tokenizer.json"];
  const std::string norm = "\"type\": \"BertNormalizer\"";
  ASSERT_NE(j.find(norm), std::string::npos);
  std::string k = j;
  k.replace(k.find(norm), norm.size(), "\"type\": \"NFKC\"");
  std::string msg = error_of({{"tokenizer.json", k}});
  EXPECT_NE(msg.find("dir/tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("normalizer 'NFKC' is not supported"), std::string::npos) << msg;

  msg = error_of({{"tokenizer.json", "{\n  \"model\": [1,\n"}});
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;

  k = j;
  k.replace(k.rfind("\"type\": \"WordPiece\""), 19, "\"type\": \"Unigram\"");  // the model (last)
  msg = error_of({{"tokenizer.json", k}});
  EXPECT_NE(msg.find("model 'Unigram' is not supported"), std::string::npos) << msg;

  msg = error_of(
      {{"vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}"}, {"merges.txt", "#version: 0.2\na b\nb c\n"}});
  EXPECT_NE(msg.find("dir/merges.txt line 3"), std::string::npos) << msg;
  msg = error_of({{"vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}"}, {"merges.txt", "a b c\n"}});
  EXPECT_NE(msg.find("merges.txt line 1"), std::string::npos) << msg;
  // Fuzz finding (tests/fuzz, fuzz_tokenizer_json): a number too large for JSON parsing escaped as
  // nlohmann's out_of_range instead of a TokenizerError.
  msg = error_of({{"vocab.json", "{\"<s>\": 0, \"</s>\": 1777777777777777777777777777777777777E77777}"},
                  {"merges.txt", ""}});
  EXPECT_NE(msg.find("dir/vocab.json: invalid JSON"), std::string::npos) << msg;
  msg = error_of({{"vocab.json", "{\"a\": 99999999999}"}, {"merges.txt", ""}});
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  msg = error_of({{"vocab.txt", "a\nb\n"}});
  EXPECT_NE(msg.find("unk_token '[UNK]' is not in the vocabulary"), std::string::npos) << msg;
  msg = error_of({{"config.json", "{}"}});
  EXPECT_NE(msg.find("no tokenizer found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_THROW(Tokenizer::from_dir("tests/data/tokenizer/no-such-dir"), TokenizerError);
}

TEST(Loader, TokenizerConfigIsHonouredForVocabFiles) {
  auto f = files_of("bert-base-uncased", {"vocab.txt"});
  const Tokenizer uncased = Tokenizer::from_files(f);
  f["tokenizer_config.json"] = "{\"do_lower_case\": false}";
  const Tokenizer cased = Tokenizer::from_files(f);
  EXPECT_EQ(uncased.encode("Hello").ids, (Ids{101, 7592, 102}));
  EXPECT_EQ(cased.encode("Hello").ids, (Ids{101, 100, 102}));        // "Hello" is not in the uncased vocab
  EXPECT_EQ(cased.encode("caf\xC3\xA9").ids, (Ids{101, 100, 102}));  // no accent stripping either
  f["tokenizer_config.json"] = "{\"do_lower_case\": true, \"strip_accents\": false}";
  EXPECT_NE(Tokenizer::from_files(f).encode("caf\xC3\xA9").ids, uncased.encode("caf\xC3\xA9").ids);

  auto r = files_of("roberta-base", {"vocab.json", "merges.txt"});
  const Tokenizer plain = Tokenizer::from_files(r);
  r["tokenizer_config.json"] = "{\"add_prefix_space\": true}";
  const Tokenizer prefixed = Tokenizer::from_files(r);
  EXPECT_EQ(plain.encode("Hello").ids, (Ids{0, 31414, 2}));
  EXPECT_EQ(prefixed.encode("Hello").ids, (Ids{0, 20920, 2}));  // "ĠHello"
  EXPECT_EQ(prefixed.encode("Hello").offsets[1], std::make_pair(0, 5));
  EXPECT_EQ(plain.model_type(), "bpe");
  EXPECT_EQ(bert().model_type(), "wordpiece");
  EXPECT_EQ(bert().token_to_id("[MASK]"), 103);
  EXPECT_EQ(roberta().id_to_token(50264), "<mask>");
  EXPECT_EQ(roberta().vocab_size(), 50265u);
  EXPECT_EQ(bert().vocab_size(), 30522u);
  EXPECT_EQ(bert().num_special_tokens(true), 3u);
  EXPECT_EQ(roberta().num_special_tokens(true), 4u);
}

}  // namespace
}  // namespace tern::tok
