#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tern::tok::uni {
namespace {

struct CpRange {
  char32_t lo, hi;
};
struct CpMap {
  char32_t cp;
  int n;
  char32_t out[4];
};

#include "tokenizer/unicode_tables.inc"

constexpr char32_t kMaxCp = 0x10FFFF;

// The flags of every code point, built once as a flat byte table (1.1 MB, freed again) and kept as a
// two-level table: per block of kBlock code points an index into the list of distinct blocks (most blocks
// are all zeros or all one value: 232 distinct of 8,704), 46 KB in all (flags_table_bytes()).
constexpr int kBlockBits = 7;
constexpr char32_t kBlock = char32_t{1} << kBlockBits;
constexpr size_t kBlocks = (kMaxCp + 1) / kBlock;

std::vector<uint8_t> build_flat_flags() {
  std::vector<uint8_t> flags(kMaxCp + 1, 0);
  auto set = [&](const CpRange* r, size_t n, uint8_t bit) {
    for (size_t i = 0; i < n; ++i)
      for (char32_t c = r[i].lo; c <= r[i].hi; ++c) flags[c] |= bit;
  };
#define TERN_SET(tab, bit) set(tab, sizeof(tab) / sizeof(tab[0]), bit)
  TERN_SET(k_control, kControl);
  TERN_SET(k_whitespace, kCleanSpace);
  TERN_SET(k_mn, kMn);
  TERN_SET(k_punct, kPunct);
  TERN_SET(k_split_ws, kSpace);
  TERN_SET(k_L, kLetter);
  TERN_SET(k_N, kNumber);
#undef TERN_SET
  for (const auto& m : k_nfd) flags[m.cp] |= kHasMap;
  for (const auto& m : k_lower) flags[m.cp] |= kHasMap;
  for (char32_t c = 0xAC00; c <= 0xD7A3; ++c) flags[c] |= kHasMap;  // Hangul syllables
  return flags;
}

struct Tables {
  uint16_t block[kBlocks];      // code point >> kBlockBits -> index of its block in `blocks`
  std::vector<uint8_t> blocks;  // distinct blocks of kBlock flags, back to back
  Tables() {
    const std::vector<uint8_t> flat = build_flat_flags();
    std::unordered_map<std::string_view, uint16_t> index;  // a block's bytes -> its index in `blocks`
    for (size_t b = 0; b < kBlocks; ++b) {
      const std::string_view key(reinterpret_cast<const char*>(flat.data()) + b * kBlock, kBlock);
      const auto [it, is_new] = index.emplace(key, static_cast<uint16_t>(index.size()));
      if (is_new) blocks.insert(blocks.end(), key.begin(), key.end());
      block[b] = it->second;
    }
    blocks.shrink_to_fit();
  }
  uint8_t get(char32_t c) const {
    return blocks[(size_t{block[c >> kBlockBits]} << kBlockBits) | (c & (kBlock - 1))];
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

template <size_t N>
const CpMap* find_map(const CpMap (&tab)[N], char32_t c) {
  auto it = std::lower_bound(std::begin(tab), std::end(tab), c,
                             [](const CpMap& m, char32_t x) { return m.cp < x; });
  return (it != std::end(tab) && it->cp == c) ? it : nullptr;
}

}  // namespace

uint8_t flags(char32_t c) {
  return c <= kMaxCp ? tables().get(c) : 0;
}

std::vector<uint8_t> flat_flags_for_tests() {
  return build_flat_flags();
}

size_t flags_table_bytes() {
  return sizeof(Tables) + tables().blocks.capacity();
}

int nfd(char32_t c, char32_t out[4]) {
  if (!(flags(c) & kHasMap)) {
    out[0] = c;
    return 1;
  }
  if (c >= 0xAC00 && c <= 0xD7A3) {  // Hangul syllable: algorithmic decomposition (Unicode 3.12)
    const char32_t s = c - 0xAC00;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    if (s % 28 == 0) return 2;
    out[2] = 0x11A7 + s % 28;
    return 3;
  }
  if (const CpMap* m = find_map(k_nfd, c)) {
    std::copy(m->out, m->out + m->n, out);
    return m->n;
  }
  out[0] = c;
  return 1;
}

int to_lower(char32_t c, char32_t out[3]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  if (flags(c) & kHasMap) {
    if (const CpMap* m = find_map(k_lower, c)) {
      std::copy(m->out, m->out + m->n, out);
      return m->n;
    }
  }
  out[0] = c;
  return 1;
}

int combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
  return p ? p->combining_class : 0;
}

size_t decode_utf8(std::string_view in, std::u32string& out) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0, bad = 0;
  out.reserve(out.size() + n);
  while (i < n) {
    if (s[i] < 0x80) {
      out.push_back(s[i++]);
      continue;
    }
    bool b = false;
    out.push_back(decode_one(s, n, &i, &b));
    bad += b;
  }
  return bad;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string sanitize_utf8(std::string_view in, size_t* replaced) {
  std::u32string cps;
  const size_t bad = decode_utf8(in, cps);
  if (replaced) *replaced = bad;
  if (bad == 0) return std::string(in);
  std::string out;
  out.reserve(in.size() + 2 * bad);
  for (char32_t c : cps) append_utf8(out, c);
  return out;
}

}  // namespace tern::tok::uni
