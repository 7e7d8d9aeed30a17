// Open-addressing hash tables for the tokenizer's hot lookups (internal): vocabulary pieces, BPE merges and
// the per-thread word caches. Keys are byte strings kept in one arena, probed linearly in a power-of-two
// table at most half full; lookups take a string_view and allocate nothing.
#pragma once
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

// A vocabulary: token -> id, entries in insertion order (a later assignment to a token replaces its id),
// looked up through a FlatStrMap. The subset of std::unordered_map's interface the loader uses: find() ==
// end(), it->second, operator[], range-for over {first, second}.
class Vocab {
 public:
  struct Entry {
    std::string first;
    int32_t second;
  };
  using const_iterator = const Entry*;
  Vocab() = default;
  Vocab(std::initializer_list<std::pair<std::string, int32_t>> l) {
    for (const auto& [k, v] : l) (*this)[k] = v;
  }
  const_iterator find(std::string_view key) const {
    const uint32_t* i = index_.find(key);
    return i ? entries_.data() + *i : end();
  }
  int32_t& operator[](std::string_view key) {
    const uint32_t i = index_.insert(key, static_cast<uint32_t>(entries_.size()));
    if (i == entries_.size()) entries_.push_back({std::string(key), 0});
    return entries_[i].second;
  }
  const_iterator begin() const { return entries_.data(); }
  const_iterator end() const { return entries_.data() + entries_.size(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void reserve(size_t n) {
    index_.reserve(n);
    entries_.reserve(n);
  }
  void clear() {
    index_.clear();
    entries_.clear();
  }
  // token -> id as a FlatStrMap, copied from the index without rehashing.
  void copy_to(FlatStrMap<int32_t>& out) const {
    index_.map_values_into(out, [&](uint32_t i) { return entries_[i].second; });
  }

 private:
  FlatStrMap<uint32_t> index_;
  std::vector<Entry> entries_;
};

// A model's output for one word: pieces (id, byte start, byte length) of the word's bytes.
struct WordPieceSpan {
  int32_t id;
  uint32_t start, len;
};

// Per-thread cache word bytes -> pieces (tweets repeat words a lot). When it holds `capacity` words it is
// emptied and starts again (bounded memory, follows a stream whose vocabulary drifts).
class WordCache {
 public:
  explicit WordCache(size_t capacity = 32768) : capacity_(capacity) {}
  // The cached pieces of `word` (nullptr if not cached); *n receives their count.
  const WordPieceSpan* find(std::string_view word, uint64_t h, size_t* n) const {
    const Entry* e = map_.find(word, h);
    if (!e) return nullptr;
    *n = e->count;
    return pieces_.data() + e->first;
  }
  void insert(std::string_view word, uint64_t h, const WordPieceSpan* p, size_t n) {
    if (map_.size() >= capacity_) {
      map_.clear();
      pieces_.clear();
    }
    const Entry e{static_cast<uint32_t>(pieces_.size()), static_cast<uint32_t>(n)};
    pieces_.insert(pieces_.end(), p, p + n);
    map_.insert(word, h, e);
  }
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    uint32_t first = 0, count = 0;
  };
  size_t capacity_;
  FlatStrMap<Entry> map_;
  std::vector<WordPieceSpan> pieces_;
};

}  // namespace tern::tok::detail
