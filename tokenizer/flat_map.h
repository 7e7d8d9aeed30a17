// Open-addressing hash tables for the tokenizer's hot lookups (internal): vocabulary pieces, BPE merges and
// the per-thread word caches. Keys are byte strings kept in one arena, probed linearly in a power-of-two
// table at most half full; lookups take a string_view and allocate nothing.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tern::tok::detail {

// 64-bit hash of a byte string: 8-byte words mixed by multiply-xorshift (short keys, fast, good spread).
inline uint64_t hash_bytes(const char* p, size_t n) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (n * kMul);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}
inline uint64_t hash_bytes(std::string_view s) {
  return hash_bytes(s.data(), s.size());
}

// Byte string -> V. insert() keeps the first value of a key. clear() keeps the memory.
template <class V>
class FlatStrMap {
 public:
  FlatStrMap() { rehash(16); }
  size_t size() const { return size_; }
  size_t arena_bytes() const { return keys_.size(); }

  const V* find(std::string_view key) const { return find(key, hash_bytes(key)); }
  const V* find(std::string_view key, uint64_t h) const {
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.len == kEmpty) return nullptr;
      if (s.tag == tag && s.len == key.size() &&
          std::memcmp(keys_.data() + s.off, key.data(), key.size()) == 0)
        return &s.value;
    }
  }
  // Returns the stored value (the existing one when the key was there).
  V& insert(std::string_view key, const V& value) { return insert(key, hash_bytes(key), value); }
  V& insert(std::string_view key, uint64_t h, const V& value) {
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.size() * 2);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.len == kEmpty) break;
      if (s.tag == tag && s.len == key.size() &&
          std::memcmp(keys_.data() + s.off, key.data(), key.size()) == 0)
        return s.value;
    }
    Slot& s = slots_[i];
    s.off = keys_.size();
    s.len = static_cast<uint32_t>(key.size());
    s.tag = tag;
    s.value = value;
    keys_.append(key.data(), key.size());
    ++size_;
    return s.value;
  }
  void clear() {
    for (Slot& s : slots_) s.len = kEmpty;
    keys_.clear();
    size_ = 0;
  }
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }
  // The same keys with the values f(value): a copy of the table, nothing rehashed.
  template <class W, class F>
  void map_values_into(FlatStrMap<W>& out, F f) const {
    out.slots_.resize(slots_.size());
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      auto& o = out.slots_[i];
      o.off = s.off;
      o.len = s.len;
      o.tag = s.tag;
      o.value = s.len == kEmpty ? W{} : f(s.value);
    }
    out.keys_ = keys_;
    out.mask_ = mask_;
    out.size_ = size_;
  }

 private:
  template <class>
  friend class FlatStrMap;
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    size_t off = 0;
    uint32_t len = kEmpty;
    uint32_t tag = 0;  // high half of the hash: most mismatches fail here without touching the key
    V value{};
  };
  void rehash(size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.len == kEmpty) continue;
      const uint64_t h = hash_bytes(keys_.data() + s.off, s.len);
      size_t i = h & mask_;
      while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string keys_;
  size_t mask_ = 0, size_ = 0;
};

// uint64 key -> V (BPE merges: (left id << 32 | right id) -> (rank, new id)). Keys must not be ~0.
template <class V>
class FlatU64Map {
 public:
  FlatU64Map() { rehash(16); }
  size_t size() const { return size_; }
  const V* find(uint64_t key) const {
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }
  // Keeps the first value of a key; returns false when the key was there.
  bool insert(uint64_t key, const V& value) {
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.size() * 2);
    size_t i = mix(key) & mask_;
    for (; slots_[i].key != kEmpty; i = (i + 1) & mask_)
      if (slots_[i].key == key) return false;
    slots_[i] = {key, value};
    ++size_;
    return true;
  }
  void clear() {
    slots_.assign(16, Slot{});
    mask_ = 15;
    size_ = 0;
  }
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    V value{};
  };
  static uint64_t mix(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
  }
  void rehash(size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = mix(s.key) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

// An open-addressing index of 32-bit slots over entries kept elsewhere (internal): a slot holds the entry's
// index + 1 in its low log2(capacity) bits and the top bits of the key's hash above them (0 = empty), so
// most probes of another key fail without touching the entries. `key_of(i)` gives entry i's key; the table
// is a power of two and at most half full. 4 bytes a slot (FlatStrMap: 24 and a copy of every key).
class StrIndex {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  StrIndex() { reset(16); }
  size_t capacity() const { return slots_.size(); }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(uint32_t); }
  // The entry whose key is `key` (hash `h`), or kNone.
  template <class KeyOf>
  uint32_t find(std::string_view key, uint64_t h, const KeyOf& key_of) const {
    const uint32_t tag = tag_of(h);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t s = slots_[i];
      if (s == 0) return kNone;
      if ((s & ~imask_) == tag) {
        const uint32_t e = (s & imask_) - 1;
        const std::string_view k = key_of(e);
        if (k.size() == key.size() && std::memcmp(k.data(), key.data(), key.size()) == 0) return e;
      }
    }
  }
  // Adds entry `e` (its key, hash `h`, must not be in the table yet); `n` = entries after adding it.
  template <class KeyOf>
  void add(uint32_t e, uint64_t h, size_t n, const KeyOf& key_of) {
    if (2 * n > slots_.size()) {
      size_t cap = slots_.size();
      while (2 * n > cap) cap *= 2;
      rebuild(cap, key_of);  // the entries in the table so far
    }
    place(e, h);
  }
  // An empty table for `n` entries (no growth while they are added) whose indices are below `limit`
  // (0: below n, the table then indexes entries 0..n-1).
  void reset(size_t n, size_t limit = 0) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    min_imask_ = 0;
    while (min_imask_ < limit && min_imask_ != 0xFFFFFFFFu)
      min_imask_ = 2 * min_imask_ + 1;  // all ones, holds index + 1 <= limit
    slots_.assign(cap, 0);
    slots_.shrink_to_fit();
    set_mask(cap);
  }

 private:
  uint32_t tag_of(uint64_t h) const { return static_cast<uint32_t>(h >> 32) & ~imask_; }
  void set_mask(size_t cap) {
    mask_ = cap - 1;
    // Entries 0..cap/2-1 (a table of its own entries) need log2(cap) bits for index + 1; more if the
    // entries it indexes go higher (reset's `limit`).
    imask_ = std::max(static_cast<uint32_t>(mask_), min_imask_);
  }
  void place(uint32_t e, uint64_t h) {
    size_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = tag_of(h) | (e + 1);
  }
  // Rebuilds the table at `cap` slots from the entries already in it (their keys rehashed).
  template <class KeyOf>
  void rebuild(size_t cap, const KeyOf& key_of) {
    std::vector<uint32_t> old = std::move(slots_);
    const uint32_t old_imask = imask_;
    slots_.assign(cap, 0);
    set_mask(cap);
    for (uint32_t s : old) {
      if (s == 0) continue;
      const uint32_t e = (s & old_imask) - 1;
      place(e, hash_bytes(key_of(e)));
    }
  }
  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
  uint32_t imask_ = 0, min_imask_ = 0;
};

// A vocabulary: token -> id, entries in insertion order (a later assignment to a token replaces its id).
// The tokens are one contiguous byte string with an offset per entry (no std::string per token), looked
// up through a StrIndex. The subset of std::unordered_map's interface the loader uses: find() == end(),
// it->second, operator[], range-for over {first, second} (first is a string_view into the vocabulary).
class Vocab {
 public:
  struct Entry {
    std::string_view first;
    int32_t second;
  };
  class const_iterator {
   public:
    const_iterator(const Vocab* v, uint32_t i) : v_(v), i_(i) {}
    Entry operator*() const { return {v_->token(i_), v_->id(i_)}; }
    const Entry* operator->() const {
      e_ = **this;
      return &e_;
    }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }
    uint32_t index() const { return i_; }

   private:
    const Vocab* v_;
    uint32_t i_;
    mutable Entry e_{};
  };
  Vocab() { off_.push_back(0); }
  Vocab(std::initializer_list<std::pair<std::string, int32_t>> l) : Vocab() {
    for (const auto& [k, v] : l) (*this)[k] = v;
  }
  // Entry i's token and id (i < size()).
  std::string_view token(uint32_t i) const {
    return std::string_view(blob_.data() + off_[i], off_[i + 1] - off_[i]);
  }
  int32_t id(uint32_t i) const { return ids_are_indices_ ? static_cast<int32_t>(i) : ids_[i]; }
  // The entry index of `key` (hash `h` = hash_bytes(key)), or StrIndex::kNone.
  uint32_t index_of(std::string_view key, uint64_t h) const {
    return index_.find(key, h, [this](uint32_t e) { return token(e); });
  }
  uint32_t index_of(std::string_view key) const { return index_of(key, hash_bytes(key)); }
  const_iterator find(std::string_view key) const {
    const uint32_t i = index_of(key);
    return i == StrIndex::kNone ? end() : const_iterator(this, i);
  }
  int32_t& operator[](std::string_view key) {
    materialize_ids();
    const uint64_t h = hash_bytes(key);
    const uint32_t i = index_of(key, h);
    if (i != StrIndex::kNone) return ids_[i];
    const uint32_t e = static_cast<uint32_t>(size());
    blob_.append(key.data(), key.size());
    off_.push_back(static_cast<uint32_t>(blob_.size()));
    ids_.push_back(0);
    index_.add(e, h, size(), [this](uint32_t x) { return token(x); });
    return ids_.back();
  }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, static_cast<uint32_t>(size())); }
  size_t size() const { return off_.size() - 1; }
  bool empty() const { return size() == 0; }
  void reserve(size_t n) {
    if (empty()) index_.reset(n);
    off_.reserve(n + 1);
    ids_.reserve(n);
  }
  void clear() {
    index_.reset(0);
    blob_.clear();
    off_.assign(1, 0);
    ids_.clear();
    ids_are_indices_ = false;
  }
  // Gives back the memory growth left unused (call once the vocabulary is complete); when every entry's id
  // is its index (vocab.txt, most tokenizer.json files) the ids are not stored at all.
  void shrink_to_fit() {
    blob_.shrink_to_fit();
    off_.shrink_to_fit();
    bool identity = !ids_are_indices_;
    for (uint32_t i = 0; i < ids_.size() && identity; ++i) identity = ids_[i] == static_cast<int32_t>(i);
    if (identity) {
      ids_ = std::vector<int32_t>();
      ids_are_indices_ = true;
    }
    ids_.shrink_to_fit();
    if (index_.capacity() > 16 && 8 * size() < index_.capacity()) {  // reserved far too large
      StrIndex fresh;
      fresh.reset(size());
      for (uint32_t e = 0; e < size(); ++e)
        fresh.add(e, hash_bytes(token(e)), e + 1, [this](uint32_t x) { return token(x); });
      index_ = std::move(fresh);
    }
  }
  // Heap bytes held (tests and memory reports).
  size_t memory_bytes() const {
    return blob_.capacity() + off_.capacity() * sizeof(uint32_t) + ids_.capacity() * sizeof(int32_t) +
           index_.memory_bytes();
  }

 private:
  std::string blob_;           // the tokens, back to back
  std::vector<uint32_t> off_;  // entry i is blob_[off_[i], off_[i + 1])
  std::vector<int32_t> ids_;   // empty when ids_are_indices_
  bool ids_are_indices_ = false;
  StrIndex index_;
  void materialize_ids() {  // before a change
    if (!ids_are_indices_) return;
    ids_.resize(size());
    for (uint32_t i = 0; i < ids_.size(); ++i) ids_[i] = static_cast<int32_t>(i);
    ids_are_indices_ = false;
  }
};

// A model's output for one word: pieces (id, byte start, byte length) of the word's bytes.
struct WordPieceSpan {
  int32_t id;
  uint32_t start, len;
};

// Per-thread cache word bytes -> pieces (tweets repeat words a lot). When it holds `capacity` words (or its
// byte arena is full) it is emptied and starts again (bounded memory, follows a stream whose vocabulary
// drifts). Each word is one record in the arena: key length, piece count, the key's bytes, then per piece
// its id (4 bytes), start and length (1 byte each); a 4-byte slot of the table holds the record's offset
// + 1 in its low bits (32,768 words: 20) and top bits of the word's hash above them.
// Words longer than 255 bytes or with more than 255 pieces are not cached (callers cache <= 64 bytes).
class WordCache {
 public:
  explicit WordCache(size_t capacity = 32768)
      : capacity_(std::min<size_t>(std::max<size_t>(capacity, 1), size_t{1} << 24)) {
    size_t cap = 16;
    while (cap < 2 * capacity_) cap *= 2;
    slots_.assign(cap, 0);
    mask_ = cap - 1;
    arena_limit_ = capacity_ * kArenaBytesPerWord;
    while (omask_ < arena_limit_) omask_ = 2 * omask_ + 1;  // holds a record offset + 1
  }
  // The cached pieces of `word` (nullptr if not cached); *n receives their count. The pointer is valid
  // until the next call on this cache.
  const WordPieceSpan* find(std::string_view word, uint64_t h, size_t* n) const {
    const uint32_t tag = static_cast<uint32_t>(h >> 32) & ~omask_;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s & ~omask_) != tag) continue;
      const unsigned char* r = reinterpret_cast<const unsigned char*>(arena_.data()) + (s & omask_) - 1;
      if (r[0] != word.size() || std::memcmp(r + 2, word.data(), word.size()) != 0) continue;
      const size_t count = r[1];
      const unsigned char* p = r + 2 + word.size();
      for (size_t k = 0; k < count; ++k, p += kPieceBytes) {
        std::memcpy(&out_[k].id, p, 4);
        out_[k].start = p[4];
        out_[k].len = p[5];
      }
      *n = count;
      return out_;
    }
  }
  void insert(std::string_view word, uint64_t h, const WordPieceSpan* p, size_t n) {
    if (word.size() > 255 || n > 255) return;
    for (size_t k = 0; k < n; ++k)
      if (p[k].start > 255 || p[k].len > 255) return;
    const size_t bytes = 2 + word.size() + n * kPieceBytes;
    if (size_ >= capacity_ || arena_.size() + bytes > arena_limit_) clear();
    if (arena_.capacity() < arena_limit_) arena_.reserve(arena_limit_);
    const uint32_t off = static_cast<uint32_t>(arena_.size());
    arena_.push_back(static_cast<char>(word.size()));
    arena_.push_back(static_cast<char>(n));
    arena_.append(word.data(), word.size());
    for (size_t k = 0; k < n; ++k) {
      char piece[kPieceBytes];
      std::memcpy(piece, &p[k].id, 4);
      piece[4] = static_cast<char>(p[k].start);
      piece[5] = static_cast<char>(p[k].len);
      arena_.append(piece, kPieceBytes);
    }
    size_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = (static_cast<uint32_t>(h >> 32) & ~omask_) | (off + 1);
    ++size_;
  }
  size_t size() const { return size_; }
  // Heap bytes held (the arena is reserved at its limit on first use).
  size_t memory_bytes() const { return slots_.capacity() * sizeof(uint32_t) + arena_.capacity(); }

 private:
  static constexpr size_t kPieceBytes = 6;
  // Arena bytes a word may use on average before the cache is emptied (tweets: ~16 a word).
  static constexpr size_t kArenaBytesPerWord = 24;
  void clear() {
    std::fill(slots_.begin(), slots_.end(), 0u);
    arena_.clear();
    size_ = 0;
  }
  size_t capacity_, size_ = 0, mask_ = 0, arena_limit_ = 0;
  uint32_t omask_ = 0;  // the low bits of a slot: record offset + 1 (0 = empty); above them: hash tag bits
  std::vector<uint32_t> slots_;
  std::string arena_;
  mutable WordPieceSpan out_[256];
};

}  // namespace tern::tok::detail
