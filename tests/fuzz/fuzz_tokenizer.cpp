// libFuzzer: arbitrary bytes through both tokenizers' encode (single, pair, truncated, tweets, batch),
// checking the invariants every Encoding must hold. Any crash, sanitizer report or abort is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace tern::tok;

namespace {

std::unique_ptr<Tokenizer> g_bert, g_roberta;

#define FUZZ_CHECK(c)                                                         \
  do {                                                                        \
    if (!(c)) {                                                               \
      std::fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

size_t code_points(const std::string& s) {
  std::u32string cps;
  uni::decode_utf8(s, cps);
  return cps.size();
}

void check(const Tokenizer& t, const Encoding& e, size_t n1, size_t n2, const EncodeOptions& o, bool pair) {
  const size_t n = e.size();
  FUZZ_CHECK(e.type_ids.size() == n && e.attention_mask.size() == n && e.offsets.size() == n &&
             e.special_tokens_mask.size() == n && e.sequence_ids.size() == n);
  if (o.max_length) FUZZ_CHECK(n <= o.max_length);
  FUZZ_CHECK(n >= t.num_special_tokens(pair));
  for (size_t i = 0; i < n; ++i) {
    FUZZ_CHECK(t.id_to_token(e.ids[i]).has_value());
    const auto [s, en] = e.offsets[i];
    FUZZ_CHECK(0 <= s && s <= en);
    const size_t lim = e.sequence_ids[i] == 1 ? n2 : n1;
    FUZZ_CHECK(static_cast<size_t>(en) <= lim);
    if (e.special_tokens_mask[i]) FUZZ_CHECK(s == 0 && en == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_bert = std::make_unique<Tokenizer>(Tokenizer::from_files(fuzz::bert_files()));
  g_roberta = std::make_unique<Tokenizer>(Tokenizer::from_files(fuzz::roberta_files()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t ctl = data[0];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  EncodeOptions o;
  o.normalize_tweets = ctl & 1;
  if (ctl & 2) o.max_length = 4 + (ctl >> 4);  // 4..19: room for the specials
  o.truncation_side = (ctl & 4) ? Side::kLeft : Side::kRight;
  const bool pair = ctl & 8;
  std::string second;
  if (pair) {  // split at the first 0xFF byte (or the middle)
    size_t cut = text.find('\xff');
    if (cut == std::string::npos) cut = text.size() / 2;
    second = text.substr(cut);
    text.resize(cut);
  }
  const size_t n1 = code_points(text), n2 = code_points(second);
  for (const Tokenizer* t : {g_bert.get(), g_roberta.get()}) {
    const Encoding e = pair ? t->encode_pair(text, second, o) : t->encode(text, o);
    check(*t, e, n1, n2, o, pair);
    // Invalid UTF-8 policy: the same as the sanitized text.
    const Encoding s = pair ? t->encode_pair(sanitize_utf8(text), sanitize_utf8(second), o)
                            : t->encode(sanitize_utf8(text), o);
    FUZZ_CHECK(s.ids == e.ids && s.offsets == e.offsets);
  }
  if (!pair && size < 512) {
    PaddingOptions p;
    p.mode = PaddingOptions::Mode::kLongest;
    const auto b = g_roberta->encode_batch({text, "", text}, o, p, 2);
    FUZZ_CHECK(b.size() == 3 && b[0].ids == b[2].ids && b[0].size() == b[1].size());
  }
  return 0;
}
