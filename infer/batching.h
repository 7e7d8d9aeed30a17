// Tokenise-and-batch, shared by inference (Predictor) and training / evaluation (train/): token ids of
// texts, a length order for batches of similar length, and right-padded batch buffers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tern::tok {
class Tokenizer;
}

namespace tern::infer {

// Token ids of texts for one tokenizer: truncated to max_length (special tokens included), unpadded.
struct Encoded {
  std::vector<std::vector<int32_t>> ids;
  int32_t pad_id = 0;
  size_t size() const { return ids.size(); }
};

// Encodes in parallel (`threads` 0: tern's thread count). max_length 0: no truncation. Tokenizer errors
// become tern::Error.
Encoded encode_texts(const tok::Tokenizer& tk, const std::vector<std::string>& texts, int64_t max_length,
                     bool normalize_tweets, int threads = 0);

// Row numbers 0..N-1 stably sorted by token count: consecutive rows make batches with little padding, and
// the batches depend only on the texts (the same input gives the same batches, hence the same floats).
std::vector<int64_t> length_order(const Encoded& e);

// The longest of rows[0..n) (at least 1): the width of their batch.
int64_t batch_width(const Encoded& e, const int64_t* rows, int64_t n);

// rows[0..n) of `e` right-padded to width T (HF DataCollatorWithPadding): ids (n, T) with pad_id after a
// row's end, mask (n, T) 1 on real tokens.
void pad_rows(const Encoded& e, const int64_t* rows, int64_t n, int64_t T, int64_t* ids, int64_t* mask);

// rows[0..n) of `e` packed back to back (no padding): ids (sum of their lengths) and offsets (n + 1), for
// the packed forward (nn's PackedInput). An empty row is packed as one pad token so that every sequence
// has a first token. Returns the number of tokens.
int64_t pack_rows(const Encoded& e, const int64_t* rows, int64_t n, std::vector<int64_t>& ids,
                  std::vector<int64_t>& offsets);

}  // namespace tern::infer
