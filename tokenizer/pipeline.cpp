// Normalizers, pre-tokenizers and added-token splitting (see pipeline.h for which HF file each mirrors).
#include <utf8proc.h>

#include <algorithm>

#include "tokenizer/pipeline.h"
#include "tokenizer/unicode.h"

namespace tern::tok::detail {

void fail(const std::string& msg) {
  throw TokenizerError(msg);
}

NormStr NormStr::slice(size_t b, size_t e) const {
  NormStr r;
  r.s.assign(s, b, e - b);
  r.a.assign(a.begin() + b, a.begin() + e);
  return r;
}

NormStr NormStr::from_original(const std::u32string& cps) {
  NormStr r;
  r.s = cps;
  r.a.resize(cps.size());
  for (uint32_t i = 0; i < cps.size(); ++i) r.a[i] = {i, i + 1};
  return r;
}

void transform(NormStr& n, const std::vector<std::pair<char32_t, int>>& dest, size_t initial_offset) {
  NormStr out;
  out.s.reserve(dest.size());
  out.a.reserve(dest.size());
  size_t offset = initial_offset;  // position in the old string
  for (const auto& [c, change] : dest) {
    Align al;
    if (change > 0) {
      al = offset < 1 ? Align{0, 0} : n.a[offset - 1];
    } else {
      if (offset >= n.a.size()) fail("internal error: normalizer transform ran past the string");
      al = n.a[offset];
      offset += 1 + static_cast<size_t>(-change);
    }
    out.s.push_back(c);
    out.a.push_back(al);
  }
  n = std::move(out);
}

namespace {

void lowercase(NormStr& n) {
  bool any = false;
  for (char32_t c : n.s) {
    char32_t o[3];
    if (uni::to_lower(c, o) != 1 || o[0] != c) {
      any = true;
      break;
    }
  }
  if (!any) return;
  NormStr out;
  out.s.reserve(n.size() + 4);
  out.a.reserve(n.size() + 4);
  for (size_t i = 0; i < n.size(); ++i) {
    char32_t o[3];
    const int k = uni::to_lower(n.s[i], o);
    // Extra code points of a multi-char lowercase are "inserted": they take the alignment of the char
    // before them, which is this one (NormalizedString::lowercase).
    for (int j = 0; j < k; ++j) {
      out.s.push_back(o[j]);
      out.a.push_back(n.a[i]);
    }
  }
  n = std::move(out);
}

// NormalizedString::nfd: decompose each char (first code point replaces it, the others are inserted),
// then order each run of non-starters by combining class, the change markers travelling with their
// code points, and apply positionally as unicode-normalization-alignments + transform() do.
void nfd(NormStr& n) {
  bool any = false;
  for (char32_t c : n.s) {
    if (c < 0xC0) continue;  // nothing below U+00C0 decomposes or combines
    char32_t o[4];
    if (uni::nfd(c, o) != 1 || o[0] != c || uni::combining_class(c) != 0) {
      any = true;
      break;
    }
  }
  if (!any) return;
  std::vector<std::pair<char32_t, int>> dest;
  dest.reserve(n.size() + 8);
  std::vector<int> ccc;
  ccc.reserve(n.size() + 8);
  for (char32_t c : n.s) {
    char32_t o[4];
    const int k = uni::nfd(c, o);
    for (int j = 0; j < k; ++j) {
      dest.emplace_back(o[j], j == 0 ? 0 : 1);
      ccc.push_back(uni::combining_class(o[j]));
    }
  }
  // Canonical ordering: stable sort of each maximal run of code points with ccc != 0.
  for (size_t i = 0; i < dest.size();) {
    if (ccc[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < dest.size() && ccc[j] != 0) ++j;
    if (j - i > 1) {
      std::vector<size_t> idx(j - i);
      for (size_t k = 0; k < idx.size(); ++k) idx[k] = i + k;
      std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return ccc[x] < ccc[y]; });
      std::vector<std::pair<char32_t, int>> tmp;
      std::vector<int> tmpc;
      for (size_t k : idx) {
        tmp.push_back(dest[k]);
        tmpc.push_back(ccc[k]);
      }
      std::copy(tmp.begin(), tmp.end(), dest.begin() + i);
      std::copy(tmpc.begin(), tmpc.end(), ccc.begin() + i);
    }
    i = j;
  }
  transform(n, dest, 0);
}

// Keeps the code points for which keep() holds; kept ones keep their alignment (NormalizedString::filter).
template <class F>
void filter(NormStr& n, F keep) {
  size_t w = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    if (keep(n.s[i])) {
      n.s[w] = n.s[i];
      n.a[w] = n.a[i];
      ++w;
    }
  }
  n.s.resize(w);
  n.a.resize(w);
}

bool is_combining_mark(char32_t c) {
  if (uni::flags(c) & uni::kMn) return true;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
  return p->category == UTF8PROC_CATEGORY_MC || p->category == UTF8PROC_CATEGORY_ME;
}

}  // namespace

void bert_normalize(NormStr& n, const NormalizerOp& op) {
  if (op.clean_text) {
    // do_clean_text: drop NUL, U+FFFD and controls, then whitespace -> ' '.
    size_t w = 0;
    for (size_t i = 0; i < n.size(); ++i) {
      const char32_t c = n.s[i];
      const uint8_t f = uni::flags(c);
      if (f & uni::kControl) continue;  // the table includes NUL and U+FFFD
      n.s[w] = (f & uni::kCleanSpace) ? U' ' : c;
      n.a[w] = n.a[i];
      ++w;
    }
    n.s.resize(w);
    n.a.resize(w);
  }
  if (op.handle_chinese_chars) {
    bool any = false;
    for (char32_t c : n.s) any = any || uni::is_chinese_char(c);
    if (any) {
      // (' ', +1), (c, 0), (' ', +1): each inserted space takes the alignment of the char before it.
      NormStr out;
      out.s.reserve(n.size() + 16);
      out.a.reserve(n.size() + 16);
      for (size_t i = 0; i < n.size(); ++i) {
        const char32_t c = n.s[i];
        if (uni::is_chinese_char(c)) {
          out.s.push_back(U' ');
          out.a.push_back(i == 0 ? Align{0, 0} : n.a[i - 1]);
          out.s.push_back(c);
          out.a.push_back(n.a[i]);
          out.s.push_back(U' ');
          out.a.push_back(n.a[i]);
        } else {
          out.s.push_back(c);
          out.a.push_back(n.a[i]);
        }
      }
      n = std::move(out);
    }
  }
  if (op.strip_accents) {
    nfd(n);
    filter(n, [](char32_t c) { return !(uni::flags(c) & uni::kMn); });
  }
  if (op.lowercase) lowercase(n);
}

void normalize(NormStr& n, const std::vector<NormalizerOp>& ops) {
  for (const auto& op : ops) {
    switch (op.kind) {
      case NormalizerOp::Kind::kBert:
        bert_normalize(n, op);
        break;
      case NormalizerOp::Kind::kLowercase:
        lowercase(n);
        break;
      case NormalizerOp::Kind::kNfd:
        nfd(n);
        break;
      case NormalizerOp::Kind::kStripAccents:
        filter(n, [](char32_t c) { return !is_combining_mark(c); });
        break;
    }
  }
}

NormStr tweet_normalize(const std::u32string& cps) {
  // cardiffnlp preprocess(): text.split(" "), '@x…' -> '@user', 'http…' -> 'http', " ".join(...).
  // A replacement keeps the alignment of the prefix it shares with the word; its remaining code points
  // map to the rest of the word, so offsets still cover the text as given.
  NormStr out;
  out.s.reserve(cps.size());
  out.a.reserve(cps.size());
  size_t i = 0;
  const size_t n = cps.size();
  while (true) {
    size_t j = i;
    while (j < n && cps[j] != U' ') ++j;
    const size_t len = j - i;
    std::u32string_view word(cps.data() + i, len), repl;
    bool replace = false;
    if (len > 1 && word[0] == U'@') {
      repl = U"@user";
      replace = true;
    } else if (len >= 4 && word.substr(0, 4) == U"http") {
      repl = U"http";
      replace = true;
    }
    if (replace) {
      size_t p = 0;
      while (p < repl.size() && p < len && repl[p] == word[p]) ++p;
      const size_t m = std::min(p, repl.size() - 1);
      for (size_t k = 0; k < repl.size(); ++k) {
        out.s.push_back(repl[k]);
        out.a.push_back(k < m ? Align{uint32_t(i + k), uint32_t(i + k + 1)}
                              : Align{uint32_t(i + m), uint32_t(j)});
      }
    } else {
      for (size_t k = i; k < j; ++k) {
        out.s.push_back(cps[k]);
        out.a.push_back({uint32_t(k), uint32_t(k + 1)});
      }
    }
    if (j >= n) break;
    out.s.push_back(U' ');
    out.a.push_back({uint32_t(j), uint32_t(j + 1)});
    i = j + 1;
  }
  return out;
}

void bert_pre_tokenize(const std::u32string& s, std::vector<std::pair<uint32_t, uint32_t>>& words) {
  words.clear();
  uint32_t start = 0;
  const uint32_t n = static_cast<uint32_t>(s.size());
  for (uint32_t i = 0; i < n; ++i) {
    const char32_t c = s[i];
    const uint8_t f = uni::flags(c);
    const bool punct = (f & uni::kPunct) != 0;  // includes every ASCII punctuation char
    if (f & uni::kSpace) {
      if (i > start) words.emplace_back(start, i);
      start = i + 1;
    } else if (punct) {
      if (i > start) words.emplace_back(start, i);
      words.emplace_back(i, i + 1);
      start = i + 1;
    }
  }
  if (n > start) words.emplace_back(start, n);
}

void gpt2_split(const char32_t* s, size_t n, std::vector<std::pair<uint32_t, uint32_t>>& pieces) {
  pieces.clear();
  // Classes of the regex: letter, number, whitespace, other ([^\s\p{L}\p{N}]).
  enum Cls { kL, kN, kS, kO };
  auto cls = [](char32_t c) -> Cls {
    if (c < 0x80) {  // fast path, same answers as the tables
      if ((c | 32) >= 'a' && (c | 32) <= 'z') return kL;
      if (c >= '0' && c <= '9') return kN;
      if (c == ' ' || (c >= 9 && c <= 13)) return kS;
      return kO;
    }
    const uint8_t f = uni::flags(c);
    if (f & uni::kLetter) return kL;
    if (f & uni::kNumber) return kN;
    if (f & uni::kSpace) return kS;
    return kO;
  };
  size_t i = 0;
  while (i < n) {
    const char32_t c = s[i];
    // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive, tried first)
    if (c == U'\'' && i + 1 < n) {
      const char32_t c1 = s[i + 1];
      size_t len = 0;
      if (c1 == U's' || c1 == U't' || c1 == U'm' || c1 == U'd') {
        len = 2;
      } else if (i + 2 < n) {
        const char32_t c2 = s[i + 2];
        if ((c1 == U'r' && c2 == U'e') || (c1 == U'v' && c2 == U'e') || (c1 == U'l' && c2 == U'l')) len = 3;
      }
      if (len) {
        pieces.emplace_back(i, i + len);
        i += len;
        continue;
      }
    }
    const Cls k = cls(c);
    size_t j = i;
    if (c == U' ' && i + 1 < n && cls(s[i + 1]) != kS) {
      // ' ?\p{L}+' | ' ?\p{N}+' | ' ?[^\s\p{L}\p{N}]+' with the optional space
      const Cls k1 = cls(s[i + 1]);
      j = i + 1;
      while (j < n && cls(s[j]) == k1) ++j;
    } else if (k != kS) {
      while (j < n && cls(s[j]) == k) ++j;
    } else {
      // \s+(?!\S) | \s+ : a whitespace run followed by a non-space gives its last char to what follows
      while (j < n && cls(s[j]) == kS) ++j;
      if (j < n && j - i >= 2) --j;
    }
    pieces.emplace_back(i, j);
    i = j;
  }
}

void split_added(const std::u32string& s, const std::vector<AddedToken>& all,
                 const std::vector<size_t>& tokens, std::vector<Split>& out) {
  out.clear();
  const uint32_t n = static_cast<uint32_t>(s.size());
  if (n == 0) {
    out.push_back({-1, 0, 0});
    return;
  }
  auto is_ws = [](char32_t c) { return (uni::flags(c) & uni::kSpace) != 0; };
  auto is_word = [](char32_t c) {  // char::is_alphanumeric
    const uint8_t f = uni::flags(c);
    return (f & (uni::kLetter | uni::kNumber)) != 0;
  };
  uint32_t start_offset = 0;
  uint32_t i = 0;
  while (i < n) {
    // Leftmost-longest: the longest token that starts at i (aho-corasick MatchKind::LeftmostLongest).
    size_t best = SIZE_MAX, best_len = 0;
    for (size_t t : tokens) {
      const std::u32string& p = all[t].pattern;
      if (p.size() > best_len && p.size() <= n - i && p[0] == s[i] && s.compare(i, p.size(), p) == 0) {
        best = t;
        best_len = p.size();
      }
    }
    if (best == SIZE_MAX) {
      ++i;
      continue;
    }
    const AddedToken& tok = all[best];
    uint32_t start = i, stop = i + static_cast<uint32_t>(best_len);
    i = stop;
    if (tok.single_word) {
      const bool start_space = start == 0 || !is_word(s[start - 1]);
      const bool stop_space = stop == n || !is_word(s[stop]);
      if (!start_space || !stop_space) continue;  // discarded; the search resumes after it
    }
    if (tok.lstrip) {
      uint32_t ns = start;
      while (ns > 0 && is_ws(s[ns - 1])) --ns;
      start = std::max(ns, start_offset);
    }
    if (tok.rstrip) {
      while (stop < n && is_ws(s[stop])) ++stop;
      i = stop;
    }
    if (start > start_offset) out.push_back({-1, start_offset, start});
    out.push_back({tok.id, start, stop});
    start_offset = stop;
  }
  if (start_offset != n) out.push_back({-1, start_offset, n});
}

size_t PostProcessor::added(bool is_pair) const {
  if (!has_template) return 0;
  size_t k = 0;
  for (const auto& p : is_pair ? pair : single)
    if (p.special) k += p.ids.size();
  return k;
}

}  // namespace tern::tok::detail
