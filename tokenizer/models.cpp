// WordPiece and byte-level BPE models (see pipeline.h).
#include <algorithm>
#include <atomic>
#include <memory>

#include "tokenizer/pipeline.h"
#include "tokenizer/unicode.h"

namespace tern::tok::detail {

// ---------------- WordPiece: tokenizers/src/models/wordpiece/mod.rs ----------------

void WordPiece::finalize() {
  vocab.shrink_to_fit();
  max_token_bytes = 0;
  max_initial_bytes_ = max_cont_bytes_ = 0;
  size_t n_cont = 0;
  for (const auto& [tok, id] : vocab) n_cont += tok.compare(0, prefix.size(), prefix) == 0;
  cont_.reset(n_cont, vocab.size());
  const size_t skip = prefix.size();
  auto cont_key = [&](uint32_t e) { return vocab.token(e).substr(skip); };
  size_t added = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string_view tok = it->first;
    size_t len = tok.size();
    max_initial_bytes_ = std::max(max_initial_bytes_, tok.size());
    if (tok.compare(0, prefix.size(), prefix) == 0) {
      len -= prefix.size();
      cont_.add(it.index(), hash_bytes(tok.substr(skip)), ++added, cont_key);
      max_cont_bytes_ = std::max(max_cont_bytes_, len);
    }
    max_token_bytes = std::max(max_token_bytes, len);
  }
  auto it = vocab.find(unk_token);
  unk_id = it == vocab.end() ? -1 : it->second;
}

void WordPiece::pieces(std::string_view word, std::vector<WordPieceSpan>& out) const {
  out.clear();
  if (word.empty()) return;
  auto unk = [&]() {
    if (unk_id < 0) fail("WordPiece: the unk token '" + unk_token + "' is not in the vocabulary");
    out.clear();
    out.push_back({unk_id, 0, static_cast<uint32_t>(word.size())});
  };
  // Count code points (continuation bytes are 10xxxxxx).
  size_t nchars = 0;
  for (unsigned char b : word) nchars += (b & 0xC0) != 0x80;
  if (nchars > max_input_chars_per_word) return unk();

  size_t start = 0;
  while (start < word.size()) {
    // The longest piece a vocab entry can match; then back off one code point at a time. A piece after
    // the first is looked up without its prefix in the table of prefixed entries.
    const size_t skip = prefix.size();
    auto cont_key = [&](uint32_t e) { return vocab.token(e).substr(skip); };
    size_t end = std::min(word.size(), start + (start == 0 ? max_initial_bytes_ : max_cont_bytes_));
    while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    int32_t found = -1;
    while (end > start) {
      const std::string_view piece = word.substr(start, end - start);
      const uint64_t h = hash_bytes(piece);
      const uint32_t e = start == 0 ? vocab.index_of(piece, h) : cont_.find(piece, h, cont_key);
      if (e != StrIndex::kNone) {
        found = vocab.id(e);
        break;
      }
      --end;
      while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    }
    if (found < 0) return unk();
    out.push_back({found, static_cast<uint32_t>(start), static_cast<uint32_t>(end - start)});
    start = end;
  }
}

void WordPiece::tokenize(std::string_view word, const Align* align, std::vector<RawToken>& out) const {
  thread_local std::vector<WordPieceSpan> spans;
  pieces(word, spans);
  for (const auto& p : spans) out.push_back({p.id, align[p.start].start, align[p.start + p.len - 1].end});
}

// ---------------- BPE: tokenizers/src/models/bpe/{model,word}.rs ----------------

const char32_t* Bpe::byte_to_char() {
  // pre_tokenizers/byte_level.rs bytes_char(): printable bytes map to themselves, the others to 256+n.
  static const auto table = [] {
    std::vector<char32_t> t(256, 0);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) t[b] = direct[b] ? char32_t(b) : char32_t(256 + n++);
    return t;
  }();
  return table.data();
}

bool Bpe::to_bytes(std::string_view token, std::string& bytes) {
  static const auto inverse = [] {
    std::vector<int> inv(512, -1);
    const char32_t* t = byte_to_char();
    for (int b = 0; b < 256; ++b) inv[t[b]] = b;
    return inv;
  }();
  bytes.clear();
  const auto* s = reinterpret_cast<const unsigned char*>(token.data());
  for (size_t i = 0; i < token.size();) {
    bool bad = false;
    const char32_t c = uni::decode_one(s, token.size(), &i, &bad);
    if (bad || c >= 512 || inverse[c] < 0) return false;
    bytes.push_back(static_cast<char>(inverse[c]));
  }
  return true;
}

void Bpe::build(const std::vector<std::pair<std::string, std::string>>& merges,
                const std::function<std::string(size_t)>& where) {
  vocab.shrink_to_fit();
  byte_vocab_.clear();
  std::string bytes;
  if (ignore_merges) {
    for (const auto& [tok, id] : vocab)
      if (to_bytes(tok, bytes) && byte_vocab_.find(bytes) == byte_vocab_.end()) byte_vocab_[bytes] = id;
    byte_vocab_.shrink_to_fit();
  }
  const char32_t* b2c = byte_to_char();
  for (int b = 0; b < 256; ++b) {
    std::string s;
    uni::append_utf8(s, b2c[b]);
    auto it = vocab.find(s);
    byte_id_[b] = it == vocab.end() ? -1 : it->second;
  }
  merges_.clear();
  merges_.reserve(merges.size());
  auto find_id = [&](std::string_view t) {  // -1: not in the vocabulary (ids are >= 0)
    const uint32_t e = vocab.index_of(t);
    return e == StrIndex::kNone ? int32_t{-1} : vocab.id(e);
  };
  std::string ab;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    ab.assign(a).append(b);
    const int32_t ia = find_id(a), ib = find_id(b), inew = find_id(ab);
    const char* missing = ia < 0 ? "its left token" : ib < 0 ? "its right token" : nullptr;
    if (missing)
      fail(where(rank) + ": merge '" + a + " " + b + "': " + missing + " is not in the vocabulary");
    if (inew < 0)
      fail(where(rank) + ": merge '" + a + " " + b + "' makes '" + a + b +
           "', which is not in the vocabulary");
    const uint64_t key = (uint64_t(uint32_t(ia)) << 32) | uint32_t(ib);
    merges_.insert(key, std::make_pair(int32_t(rank), inew));  // the first (lowest) rank wins
  }
}

void Bpe::merge_word(std::string_view bytes, std::vector<WordPieceSpan>& out) const {
  out.clear();
  if (ignore_merges) {
    if (const auto it = byte_vocab_.find(bytes); it != byte_vocab_.end()) {
      out.push_back({it->second, 0, uint32_t(bytes.size())});
      return;
    }
  }
  // Symbols: one per byte (each byte is one char of the byte-level string), as a linked list.
  struct Sym {
    int32_t id;
    int32_t prev, next;
    uint32_t start, len;
  };
  // word.rs merge_all: a min-heap on (rank, pos); stale entries are skipped when popped.
  struct Merge {
    int32_t rank, pos, new_id;
    bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Sym> sym;
  thread_local std::vector<Merge> heap;
  sym.clear();
  heap.clear();
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int32_t id = byte_id_[static_cast<unsigned char>(bytes[i])];
    if (id < 0) {
      if (!unk_id) continue;  // no unk token: HF drops the char
      if (fuse_unk && !sym.empty() && sym.back().id == *unk_id) {
        sym.back().len += 1;
        continue;
      }
      sym.push_back({*unk_id, 0, 0, uint32_t(i), 1});
    } else {
      sym.push_back({id, 0, 0, uint32_t(i), 1});
    }
  }
  const int32_t n = static_cast<int32_t>(sym.size());
  for (int32_t i = 0; i < n; ++i) {
    sym[i].prev = i - 1;
    sym[i].next = i + 1 < n ? i + 1 : -1;
  }
  auto lookup = [&](int32_t a, int32_t b) -> const std::pair<int32_t, int32_t>* {
    return merges_.find((uint64_t(uint32_t(a)) << 32) | uint32_t(b));
  };
  auto push = [&](const Merge& m) {
    heap.push_back(m);
    std::push_heap(heap.begin(), heap.end());
  };
  for (int32_t i = 0; i + 1 < n; ++i)
    if (auto m = lookup(sym[i].id, sym[i + 1].id)) push({m->first, i, m->second});
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Merge top = heap.back();
    heap.pop_back();
    Sym& cur = sym[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    Sym& right = sym[cur.next];
    auto m = lookup(cur.id, right.id);
    if (!m || m->second != top.new_id) continue;  // expired entry
    cur.id = top.new_id;
    cur.len += right.len;
    right.len = 0;
    const int32_t right_next = right.next;
    cur.next = right_next;
    if (right_next >= 0) sym[right_next].prev = top.pos;
    if (cur.prev >= 0)
      if (auto mp = lookup(sym[cur.prev].id, cur.id)) push({mp->first, cur.prev, mp->second});
    if (cur.next >= 0)
      if (auto mn = lookup(cur.id, sym[cur.next].id)) push({mn->first, top.pos, mn->second});
  }
  for (const Sym& s : sym)
    if (s.len) out.push_back({s.id, s.start, s.len});
}

namespace {
std::atomic<uint64_t> g_next_cache_id{1};
}  // namespace

uint64_t new_cache_id() {
  return g_next_cache_id.fetch_add(1);
}

PathCounts& path_counts() {
  thread_local PathCounts c;
  return c;
}

WordCache* thread_word_cache(uint64_t id) {
  struct Slot {
    uint64_t id = 0;
    std::unique_ptr<WordCache> cache;
  };
  thread_local Slot slots[kCachesPerThread];
  thread_local size_t next = 0;
  for (Slot& s : slots)
    if (s.id == id) return s.cache.get();
  Slot& s = slots[next];  // the oldest one goes
  next = (next + 1) % kCachesPerThread;
  s.id = id;
  s.cache = std::make_unique<WordCache>(kWordCacheCapacity);
  return s.cache.get();
}

void Bpe::tokenize(std::string_view bytes, const Align* align, std::vector<RawToken>& out,
                   WordCache* cache) const {
  if (bytes.empty()) return;
  thread_local std::vector<WordPieceSpan> local;
  const WordPieceSpan* pieces = nullptr;
  size_t count = 0;
  uint64_t h = 0;
  if (cache && bytes.size() <= kMaxCachedWordBytes) {
    h = hash_bytes(bytes);
    pieces = cache->find(bytes, h, &count);
    ++(pieces ? path_counts().cache_hits : path_counts().cache_misses);
  } else {
    cache = nullptr;
  }
  if (!pieces) {
    merge_word(bytes, local);
    pieces = local.data();
    count = local.size();
    if (cache) cache->insert(bytes, h, pieces, count);
  }
  for (size_t k = 0; k < count; ++k) {
    const auto [id, pos, len] = pieces[k];
    RawToken t{id, align[pos].start, align[pos + len - 1].end};
    // Leading / trailing spaces of the token string ('Ġ' = byte 0x20) for ByteLevel offset trimming.
    uint16_t lead = 0, trail = 0;
    while (lead < len && bytes[pos + lead] == ' ') ++lead;
    while (trail < len && bytes[pos + len - 1 - trail] == ' ') ++trail;
    t.lead_spaces = lead;
    t.trail_spaces = trail;
    out.push_back(t);
  }
}

}  // namespace tern::tok::detail
