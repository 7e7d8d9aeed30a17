// tern::tok — WordPiece (BERT) and byte-level BPE (RoBERTa / GPT-2) tokenizers that give exactly the ids
// and offsets of Hugging Face tokenizers (Rust, 0.23), loaded from the files users have (vocab.txt,
// vocab.json + merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json).
// Depends on nothing else of tern. See docs/tokenizer.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tern::tok {

// Every error of the tokenizer library; the message names the file (and line or JSON path).
class TokenizerError : public std::runtime_error {
 public:
  explicit TokenizerError(const std::string& what) : std::runtime_error(what) {}
};

// One encoded sequence (or pair), special tokens included. All vectors have size() entries.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> attention_mask;       // 1 = real token, 0 = padding
  std::vector<int32_t> special_tokens_mask;  // 1 = added by the post-processor (or padding)
  std::vector<int32_t> sequence_ids;         // 0 / 1 = which input; -1 = special token or padding
  // [start, end) in code points of the input text (after the invalid-UTF-8 replacement), as Hugging
  // Face reports them; special and padding tokens get (0, 0). For a pair, offsets of the second
  // sequence's tokens refer to the second text.
  std::vector<std::pair<int32_t, int32_t>> offsets;
  size_t size() const { return ids.size(); }
};

enum class TruncationStrategy { kLongestFirst, kOnlyFirst, kOnlySecond };
enum class Side { kRight, kLeft };

struct EncodeOptions {
  bool add_special_tokens = true;
  // 0 = no truncation. Otherwise the maximum total length INCLUDING the special tokens, as Hugging Face's
  // `truncation=True, max_length=N`; pairs are cut longest-first by default.
  size_t max_length = 0;
  TruncationStrategy strategy = TruncationStrategy::kLongestFirst;
  Side truncation_side = Side::kRight;
  // TweetEval / cardiffnlp preprocessing before tokenizing (see normalize_tweet()); offsets still refer
  // to the text as given.
  bool normalize_tweets = false;
  // false: the plain stage-by-stage pipeline without fast paths or word caches (the same ids and
  // offsets; for tests and benchmarks of the fast path).
  bool use_fast_paths = true;
};

struct PaddingOptions {
  enum class Mode { kNone, kLongest, kFixed };
  Mode mode = Mode::kNone;
  size_t length = 0;              // kFixed: pad every encoding to this length (longer ones stay as they are)
  size_t pad_to_multiple_of = 0;  // 0 = off
  Side side = Side::kRight;
};

class Tokenizer {
 public:
  // `files`: file name -> contents ("vocab.txt", "vocab.json", "merges.txt", "tokenizer.json",
  // "tokenizer_config.json", "special_tokens_map.json"). tokenizer.json wins when present; otherwise the
  // vocab files are used with tokenizer_config.json / special_tokens_map.json settings (do_lower_case,
  // strip_accents, tokenize_chinese_chars, add_prefix_space, trim_offsets, special tokens).
  // `origin` names the source in error messages (a directory or model file).
  static Tokenizer from_files(const std::map<std::string, std::string>& files,
                              const std::string& origin = "");
  // Reads those of the files above that exist in `dir`.
  static Tokenizer from_dir(const std::string& dir);

  Encoding encode(std::string_view text, const EncodeOptions& opt = {}) const;
  Encoding encode_pair(std::string_view first, std::string_view second, const EncodeOptions& opt = {}) const;
  // The same into `out`, whose vectors are cleared and refilled (their memory reused: no allocation
  // per text once they are large enough).
  void encode_into(std::string_view text, const EncodeOptions& opt, Encoding& out) const;
  void encode_pair_into(std::string_view first, std::string_view second, const EncodeOptions& opt,
                        Encoding& out) const;

  // Encodes in parallel with OpenMP (`num_threads` 0 = OpenMP's default); results are in input order.
  // `pad` is applied to the whole batch afterwards.
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const EncodeOptions& opt = {},
                                     const PaddingOptions& pad = {}, int num_threads = 0) const;
  std::vector<Encoding> encode_batch_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                           const EncodeOptions& opt = {}, const PaddingOptions& pad = {},
                                           int num_threads = 0) const;
  // Pads `batch` in place with pad_id(), type id 0, attention 0, offsets (0, 0).
  void pad(std::vector<Encoding>& batch, const PaddingOptions& opt) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;  // vocab or added token
  std::optional<std::string> id_to_token(int32_t id) const;
  size_t vocab_size() const;  // model vocabulary plus added tokens not in it
  int32_t pad_id() const;
  // "wordpiece" or "bpe".
  const std::string& model_type() const;
  // Number of special tokens the post-processor adds (2 for a single BERT / RoBERTa text, 3 / 4 for pairs).
  size_t num_special_tokens(bool pair) const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// TweetEval / cardiffnlp preprocessing (https://github.com/cardiffnlp/tweeteval, model cards' `preprocess`):
// split on ' ', a word that starts with '@' and is longer than 1 becomes "@user", a word that starts
// with "http" becomes "http"; joined again with ' '.
std::string normalize_tweet(std::string_view text);

// `text` with each ill-formed UTF-8 sequence replaced by U+FFFD (the policy encode() applies).
std::string sanitize_utf8(std::string_view text, size_t* replaced = nullptr);
// The number of ill-formed UTF-8 sequences sanitize_utf8 would replace (0: valid UTF-8); allocates nothing.
size_t count_invalid_utf8(std::string_view text);

}  // namespace tern::tok
