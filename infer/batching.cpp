#include "infer/batching.h"

#include <algorithm>
#include <numeric>

#include "tensor/check.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer.h"

namespace tern::infer {

Encoded encode_texts(const tok::Tokenizer& tk, const std::vector<std::string>& texts, int64_t max_length,
                     bool normalize_tweets, int threads) {
  tok::EncodeOptions eo;
  eo.max_length = static_cast<size_t>(std::max<int64_t>(0, max_length));
  eo.normalize_tweets = normalize_tweets;
  Encoded out;
  out.pad_id = tk.pad_id();
  out.ids.reserve(texts.size());
  // In chunks: a full Encoding (tokens, offsets, masks) is several times the ids kept from it, and a
  // window of 4,096 at once held ~3.7 MB of them (tern infer's peak RSS, docs/results.md).
  constexpr size_t kChunk = 256;
  std::vector<std::string> chunk;
  for (size_t i0 = 0; i0 < texts.size(); i0 += kChunk) {
    const size_t i1 = std::min(texts.size(), i0 + kChunk);
    chunk.assign(texts.begin() + static_cast<std::ptrdiff_t>(i0),
                 texts.begin() + static_cast<std::ptrdiff_t>(i1));
    std::vector<tok::Encoding> enc;
    try {
      enc = tk.encode_batch(chunk, eo, {}, threads > 0 ? threads : num_threads());
    } catch (const tok::TokenizerError& e) {
      TERN_FAIL(e.what());
    }
    for (auto& x : enc) out.ids.push_back(std::move(x.ids));
  }
  return out;
}

std::vector<int64_t> length_order(const Encoded& e) {
  std::vector<int64_t> order(e.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return e.ids[a].size() < e.ids[b].size(); });
  return order;
}

int64_t batch_width(const Encoded& e, const int64_t* rows, int64_t n) {
  int64_t T = 1;
  for (int64_t i = 0; i < n; ++i) T = std::max<int64_t>(T, static_cast<int64_t>(e.ids[rows[i]].size()));
  return T;
}

void pad_rows(const Encoded& e, const int64_t* rows, int64_t n, int64_t T, int64_t* ids, int64_t* mask) {
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = e.ids[rows[i]];
    const int64_t len = static_cast<int64_t>(r.size());
    TERN_CHECK(len <= T, "pad_rows: a row of " << len << " tokens is wider than the batch (" << T << ")");
    for (int64_t t = 0; t < T; ++t) {
      ids[i * T + t] = t < len ? r[t] : e.pad_id;
      mask[i * T + t] = t < len;
    }
  }
}

int64_t pack_rows(const Encoded& e, const int64_t* rows, int64_t n, std::vector<int64_t>& ids,
                  std::vector<int64_t>& offsets) {
  ids.clear();
  offsets.assign(1, 0);
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = e.ids[rows[i]];
    if (r.empty())
      ids.push_back(e.pad_id);
    else
      ids.insert(ids.end(), r.begin(), r.end());
    offsets.push_back(static_cast<int64_t>(ids.size()));
  }
  return static_cast<int64_t>(ids.size());
}

}  // namespace tern::infer
