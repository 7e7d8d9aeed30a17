// Internal stages of the tokenizer pipeline (not part of the public API; tests use them directly).
// Each mirrors a Hugging Face tokenizers component; the file it follows is named on each.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/flat_map.h"
#include "tokenizer/tokenizer.h"

namespace tern::tok::detail {

[[noreturn]] void fail(const std::string& msg);

// Span [start, end) of original code points a normalized code point comes from.
struct Align {
  uint32_t start = 0, end = 0;
};

// Mirrors tokenizers/src/tokenizer/normalizer.rs NormalizedString: the normalized code points with, for
// each, the span of the original text it is aligned to.
struct NormStr {
  std::u32string s;
  std::vector<Align> a;
  size_t size() const { return s.size(); }
  // A slice [b, e) that keeps the alignments.
  NormStr slice(size_t b, size_t e) const;
  static NormStr from_original(const std::u32string& cps);  // alignment i -> [i, i+1)
};

// NormalizedString::transform: `dest` yields each new code point with a change of +1 (inserted: takes
// the alignment of the code point before it, or (0,0) at the very start), 0 (replaces the next old
// code point, takes its alignment) or -N (replaces the next one and removes the N after it);
// `initial_offset` old code points are removed at the start.
void transform(NormStr& n, const std::vector<std::pair<char32_t, int>>& dest, size_t initial_offset);

// ---- normalizers (tokenizers/src/normalizers/{bert,unicode,strip,utils}.rs) ----
struct NormalizerOp {
  enum class Kind { kBert, kLowercase, kNfd, kStripAccents };
  Kind kind = Kind::kBert;
  // kBert options (BertNormalizer); strip_accents already resolved (null -> lowercase).
  bool clean_text = true, handle_chinese_chars = true, strip_accents = true, lowercase = true;
};
void normalize(NormStr& n, const std::vector<NormalizerOp>& ops);
void bert_normalize(NormStr& n, const NormalizerOp& op);

// TweetEval preprocessing with alignment back to the given code points.
NormStr tweet_normalize(const std::u32string& cps);

// ---- pre-tokenizers ----
// tokenizers/src/pre_tokenizers/bert.rs: split on whitespace (removed) and punctuation (isolated).
void bert_pre_tokenize(const std::u32string& s, std::vector<std::pair<uint32_t, uint32_t>>& words);
// tokenizers/src/pre_tokenizers/byte_level.rs: the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// evaluated by hand over the Oniguruma classes; every code point lands in exactly one piece.
void gpt2_split(const char32_t* s, size_t n, std::vector<std::pair<uint32_t, uint32_t>>& pieces);

struct PreTokenizerCfg {
  enum class Kind { kNone, kBert, kByteLevel, kWhitespaceSplit };
  Kind kind = Kind::kBert;
  bool add_prefix_space = false;  // ByteLevel
  bool use_regex = true;          // ByteLevel
};

// A model token before post-processing. Offsets are original code points.
struct RawToken {
  int32_t id;
  uint32_t start, end;
  uint16_t lead_spaces = 0, trail_spaces = 0;  // for ByteLevel offset trimming ('Ġ' / whitespace chars)
};

// ---- models ----

// tokenizers/src/models/wordpiece/mod.rs: greedy longest-match-first.
struct WordPiece {
  Vocab vocab;
  int32_t unk_id = -1;
  std::string unk_token = "[UNK]";
  std::string prefix = "##";
  size_t max_input_chars_per_word = 100;
  size_t max_token_bytes = 0;  // longest vocab entry without the prefix
  void finalize();             // builds the lookup tables; call after changing the fields above
  // `word`: UTF-8 bytes of one pre-token; `align`: per byte, the original span of its code point.
  void tokenize(std::string_view word, const Align* align, std::vector<RawToken>& out) const;
  // The pieces of `word` as byte ranges (one [UNK] covering the word when it cannot be split).
  void pieces(std::string_view word, std::vector<WordPieceSpan>& out) const;

 private:
  // A word's first piece is looked up in `vocab` itself; the following pieces in cont_, an index over the
  // vocabulary's entries that start with the prefix, keyed by their bytes after it (no second copy).
  StrIndex cont_;
  size_t max_initial_bytes_ = 0, max_cont_bytes_ = 0;
};

// tokenizers/src/models/bpe/{model,word}.rs over the byte-level alphabet (pre_tokenizers/byte_level.rs
// bytes_char): the vocabulary is kept as raw bytes, merges by rank.
class Bpe {
 public:
  Vocab vocab;  // token string (byte-level alphabet) -> id, as in vocab.json
  std::optional<int32_t> unk_id;
  bool ignore_merges = false;
  bool fuse_unk = false;

  // Builds the byte tables; `merges` are pairs of token strings in rank order, `where(i)` names the
  // i-th merge in error messages.
  void build(const std::vector<std::pair<std::string, std::string>>& merges,
             const std::function<std::string(size_t)>& where);
  // `cache`: this thread's word cache (thread_word_cache()), or nullptr to merge every word afresh.
  void tokenize(std::string_view bytes, const Align* align, std::vector<RawToken>& out,
                WordCache* cache = nullptr) const;

  // The 256-entry byte <-> code point map of GPT-2.
  static const char32_t* byte_to_char();
  // Converts a token of the byte-level alphabet back to raw bytes; false if it holds other chars.
  static bool to_bytes(std::string_view token, std::string& bytes);

 private:
  void merge_word(std::string_view bytes, std::vector<WordPieceSpan>& out) const;

  Vocab byte_vocab_;  // raw bytes -> id (built only with ignore_merges, its one use)
  int32_t byte_id_[256];
  FlatU64Map<std::pair<int32_t, int32_t>> merges_;  // (left<<32|right) -> (rank, new id)
};

// Word caches (HF caches up to 10k BPE words; tern caches WordPiece words too). One per thread and
// tokenizer, keyed by a unique id (never reused, unlike an address), so threads never contend on a lock;
// a thread keeps the caches of its last kCachesPerThread tokenizers. 32,768 words (~1.3 MB a cache, the
// arena's pages resident as it fills): 16,384 saved 0.66 MB but, once a stream's distinct words outnumber
// it, BPE merges them again after each emptying (tern tokenize RoBERTa on the sentiment test set x8,
// user CPU medians of 5 runs: 0.67 s against 0.47 s; BERT and 156k IRA tweets: no difference).
constexpr size_t kWordCacheCapacity = 32768;
constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kCachesPerThread = 4;
uint64_t new_cache_id();
WordCache* thread_word_cache(uint64_t id);

// Per-thread counters of the paths taken (tests check that the fast path and the caches are used).
struct PathCounts {
  uint64_t fast_texts = 0, general_texts = 0;  // encode_raw calls by path (a fast-path fallback is general)
  uint64_t cache_hits = 0, cache_misses = 0;   // word cache look-ups
};
PathCounts& path_counts();

// ---- added tokens (tokenizers/src/tokenizer/added_vocabulary.rs) ----
struct AddedToken {
  std::string content;
  std::u32string pattern;  // content, normalized when `normalized`
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = true;
};

// A piece of the input after splitting on added tokens: either an added token id or text.
struct Split {
  int32_t id;     // -1 = text
  uint32_t b, e;  // [b, e) in the string that was split
};
// find_matches: leftmost-longest matches of `tokens` (indices into `all`) in `s`, honouring single_word,
// lstrip and rstrip; the gaps come back as text splits (empty input -> one empty text split).
void split_added(const std::u32string& s, const std::vector<AddedToken>& all,
                 const std::vector<size_t>& tokens, std::vector<Split>& out);

// ---- post-processing (tokenizers/src/processors/{template,bert,roberta,byte_level}.rs) ----
struct TemplatePiece {
  bool special = false;
  std::vector<int32_t> ids;  // special: the ids it adds
  int seq = 0;               // sequence: 0 = A, 1 = B
  int32_t type_id = 0;
};
struct PostProcessor {
  bool trim_offsets = false;  // ByteLevel / RobertaProcessing offset trimming
  bool trim_add_prefix_space = false;
  bool has_template = false;
  std::vector<TemplatePiece> single, pair;
  bool zero_type_ids = false;  // RobertaProcessing: every type id is 0
  size_t added(bool is_pair) const;
};

}  // namespace tern::tok::detail

namespace tern::tok {

struct Tokenizer::Impl {
  std::string model_type;  // "wordpiece" | "bpe"
  std::string origin;
  std::vector<detail::NormalizerOp> normalizer;
  detail::PreTokenizerCfg pre;
  detail::WordPiece wordpiece;
  detail::Bpe bpe;
  std::vector<detail::AddedToken> added;
  std::vector<size_t> added_raw, added_norm;  // indices of non-normalized / normalized added tokens
  detail::PostProcessor post;
  int32_t pad_id = 0;
  // The model vocabulary's tokens plus the added tokens (which win): id -> token, sorted by id (see
  // vocab_ids_are_indices); token -> id
  // for added tokens (looked up before the vocabulary); vocabulary size counting added tokens once.
  // id_to_token's second: a model vocabulary entry index, or kAddedRef | an index into `added`.
  static constexpr uint32_t kAddedRef = 0x80000000u;
  std::vector<std::pair<int32_t, uint32_t>> id_to_token;
  bool vocab_ids_are_indices = false;  // vocabulary entry i has id i: id_to_token lists the added tokens only
  std::string_view token_of_ref(uint32_t ref) const {
    return ref & kAddedRef ? std::string_view(added[ref & ~kAddedRef].content) : model_vocab().token(ref);
  }
  detail::Vocab added_to_id;
  size_t vocab_size = 0;
  const detail::Vocab& model_vocab() const { return model_type == "wordpiece" ? wordpiece.vocab : bpe.vocab; }

  void finalize();  // fills the lookup tables and the added-token index lists
  // The model tokens of one text (no special tokens, no truncation).
  // `groups` (optional) receives, per pre-token or added token in order, (end index in `out`, is added).
  // `fast`: use the one-pass fast path and the word caches where they apply (same tokens); false runs
  // the plain pipeline stage by stage (the reference twin tests compare the fast path against).
  void encode_raw(std::string_view text, bool tweets, std::vector<detail::RawToken>& out,
                  std::vector<std::pair<uint32_t, bool>>* groups = nullptr, bool fast = true) const;

  // ---- fast paths (finalize() decides whether one applies) ----
  // kBertWordPiece: [BertNormalizer] + BertPreTokenizer + WordPiece, no normalized added tokens: one pass
  // over the bytes normalizes each code point on its own and splits words as it goes (the general
  // pipeline is taken for a text holding an added token, invalid UTF-8, or a code point whose
  // decomposition keeps a combining mark). kByteLevelBpe: no normalizer + ByteLevel (no prefix space) +
  // BPE: the GPT-2 pieces are cut from the text's own bytes (general pipeline for invalid UTF-8 or an
  // added token).
  enum class Fast { kNone, kBertWordPiece, kByteLevelBpe };
  Fast fast = Fast::kNone;
  detail::NormalizerOp fast_op;   // kBertWordPiece: the normalizer's options (all off without one)
  uint8_t ascii_class[128] = {};  // kBertWordPiece: 0 word char, 1 dropped, 2 space, 3 punctuation
  char ascii_norm[128] = {};      // kBertWordPiece: the normalized ASCII char (lowercased or not)
  bool added_first[256] = {};     // first bytes of non-normalized added tokens
  uint64_t cache_id = detail::new_cache_id();
  // False when the text needs the general pipeline (`out` is then to be discarded).
  bool encode_fast(std::string_view text, std::vector<detail::RawToken>& out,
                   std::vector<std::pair<uint32_t, bool>>* groups) const;
  bool has_added_token_at(std::string_view text, size_t i) const;
  void encode(std::string_view a, const std::string_view* b, const EncodeOptions& opt, Encoding& e) const;
};

}  // namespace tern::tok
