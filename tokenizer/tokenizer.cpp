// The encode pipeline (tokenizers/src/tokenizer/mod.rs encode_single_sequence + post_process),
// truncation (utils/truncation.rs), padding (utils/padding.rs) and the batch API.
#include "tokenizer/tokenizer.h"

#include <omp.h>

#include <algorithm>
#include <exception>

#include "tokenizer/pipeline.h"
#include "tokenizer/unicode.h"

namespace tern::tok {

using detail::Align;
using detail::NormStr;
using detail::RawToken;

void Tokenizer::Impl::finalize() {
  const detail::Vocab& v = model_vocab();
  added_to_id.clear();
  id_to_token.clear();
  id_to_token.reserve(v.size() + added.size());
  // Entry i with id i (vocab.txt, most tokenizer.json files): the vocabulary answers id -> token itself and
  // id_to_token holds only the added tokens.
  vocab_ids_are_indices = true;
  for (uint32_t i = 0; i < v.size() && vocab_ids_are_indices; ++i)
    vocab_ids_are_indices = v.id(i) == int32_t(i);
  if (!vocab_ids_are_indices)
    for (uint32_t i = 0; i < v.size(); ++i) id_to_token.emplace_back(v.id(i), i);
  vocab_size = v.size();
  for (size_t k = 0; k < added.size(); ++k) {
    const auto& a = added[k];
    if (v.find(a.content) == v.end() && added_to_id.find(a.content) == added_to_id.end()) ++vocab_size;
    added_to_id[a.content] = a.id;
    id_to_token.emplace_back(a.id, kAddedRef | static_cast<uint32_t>(k));
  }
  // By id; of several tokens with one id the last one set wins (an added token over the vocabulary).
  std::stable_sort(id_to_token.begin(), id_to_token.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  size_t w = 0;
  for (size_t i = 0; i < id_to_token.size(); ++i) {
    if (w > 0 && id_to_token[w - 1].first == id_to_token[i].first)
      id_to_token[w - 1] = id_to_token[i];
    else
      id_to_token[w++] = id_to_token[i];
  }
  id_to_token.resize(w);
  id_to_token.shrink_to_fit();
  added_to_id.shrink_to_fit();
  added_raw.clear();
  added_norm.clear();
  for (size_t i = 0; i < added.size(); ++i) {
    auto& a = added[i];
    std::u32string cps;
    uni::decode_utf8(a.content, cps);
    if (a.normalized) {
      NormStr n = NormStr::from_original(cps);
      detail::normalize(n, normalizer);
      a.pattern = n.s;
    } else {
      a.pattern = cps;
    }
    if (a.pattern.empty()) continue;  // HF never matches an empty token
    (a.normalized ? added_norm : added_raw).push_back(i);
  }
  if (model_type == "wordpiece") wordpiece.finalize();

  // Fast paths.
  std::fill(std::begin(added_first), std::end(added_first), false);
  for (size_t i : added_raw) added_first[static_cast<unsigned char>(added[i].content[0])] = true;
  fast = Fast::kNone;
  using K = detail::NormalizerOp::Kind;
  const bool bert_norm = normalizer.empty() || (normalizer.size() == 1 && normalizer[0].kind == K::kBert);
  if (model_type == "wordpiece" && pre.kind == detail::PreTokenizerCfg::Kind::kBert && bert_norm &&
      added_norm.empty()) {
    fast = Fast::kBertWordPiece;
    fast_op = normalizer.empty() ? detail::NormalizerOp{K::kBert, false, false, false, false} : normalizer[0];
    for (int c = 0; c < 128; ++c) {
      const uint8_t f = uni::flags(static_cast<char32_t>(c));
      const uint8_t space = fast_op.clean_text ? (uni::kCleanSpace | uni::kSpace) : uni::kSpace;
      ascii_class[c] = (fast_op.clean_text && (f & uni::kControl)) ? 1
                       : (f & space)                               ? 2
                       : (f & uni::kPunct)                         ? 3
                                                                   : 0;
      ascii_norm[c] = static_cast<char>(fast_op.lowercase && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  } else if (model_type == "bpe" && pre.kind == detail::PreTokenizerCfg::Kind::kByteLevel &&
             normalizer.empty() && !pre.add_prefix_space && added_norm.empty()) {
    fast = Fast::kByteLevelBpe;
  }
}

bool Tokenizer::Impl::has_added_token_at(std::string_view text, size_t i) const {
  if (!added_first[static_cast<unsigned char>(text[i])]) return false;
  for (size_t k : added_raw)
    if (text.compare(i, added[k].content.size(), added[k].content) == 0) return true;
  return false;
}

namespace {

// Per-thread scratch buffers: fresh memory is slow, tweets are many and short.
struct Scratch {
  std::u32string cps;
  std::vector<detail::Split> splits, splits2;
  std::vector<std::pair<uint32_t, uint32_t>> words;
  std::string bytes;
  std::vector<Align> byte_align;
  std::vector<uint32_t> cp_byte;  // byte offset of each code point (and the end)
  std::vector<detail::WordPieceSpan> spans;
};
thread_local Scratch tls;

uint16_t count_ws(const std::u32string& s, bool leading) {
  uint16_t k = 0;
  if (leading) {
    for (size_t i = 0; i < s.size() && (uni::flags(s[i]) & uni::kSpace); ++i) ++k;
  } else {
    for (size_t i = s.size(); i > 0 && (uni::flags(s[i - 1]) & uni::kSpace); --i) ++k;
  }
  return k;
}

}  // namespace

namespace {

// WordPiece on one word through the thread's word cache (nullptr: no cache).
void wordpiece_word(const detail::WordPiece& wp, std::string_view w, const Align* al,
                    std::vector<RawToken>& out, detail::WordCache* cache,
                    std::vector<detail::WordPieceSpan>& spans) {
  const detail::WordPieceSpan* p = nullptr;
  size_t count = 0;
  if (cache && w.size() <= detail::kMaxCachedWordBytes) {
    const uint64_t h = detail::hash_bytes(w);
    p = cache->find(w, h, &count);
    ++(p ? detail::path_counts().cache_hits : detail::path_counts().cache_misses);
    if (!p) {
      wp.pieces(w, spans);
      cache->insert(w, h, spans.data(), spans.size());
      p = spans.data();
      count = spans.size();
    }
  } else {
    wp.pieces(w, spans);
    p = spans.data();
    count = spans.size();
  }
  for (size_t k = 0; k < count; ++k)
    out.push_back({p[k].id, al[p[k].start].start, al[p[k].start + p[k].len - 1].end});
}

}  // namespace

bool Tokenizer::Impl::encode_fast(std::string_view text, std::vector<RawToken>& out,
                                  std::vector<std::pair<uint32_t, bool>>* groups) const {
  Scratch& sc = tls;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  detail::WordCache* cache = detail::thread_word_cache(cache_id);
  if (fast == Fast::kBertWordPiece) {
    sc.bytes.clear();
    sc.byte_align.clear();
    auto flush = [&]() {
      if (sc.bytes.empty()) return;
      wordpiece_word(wordpiece, sc.bytes, sc.byte_align.data(), out, cache, sc.spans);
      if (groups) groups->emplace_back(static_cast<uint32_t>(out.size()), false);
      sc.bytes.clear();
      sc.byte_align.clear();
    };
    // Appends one normalized code point of original code point `ci` to the current word.
    auto append = [&](char32_t c, uint32_t ci) {
      const size_t before = sc.bytes.size();
      uni::append_utf8(sc.bytes, c);
      sc.byte_align.insert(sc.byte_align.end(), sc.bytes.size() - before, Align{ci, ci + 1});
    };
    const detail::NormalizerOp& op = fast_op;
    uint32_t ci = 0;  // index of the current original code point
    for (size_t i = 0; i < n; ++ci) {
      const unsigned char b = s[i];
      if (added_first[b] && has_added_token_at(text, i)) return false;
      if (b < 0x80) {
        ++i;
        switch (ascii_class[b]) {
          case 0:
            sc.bytes.push_back(ascii_norm[b]);
            sc.byte_align.push_back({ci, ci + 1});
            break;
          case 1:
            break;
          case 2:
            flush();
            break;
          default:
            flush();
            sc.bytes.push_back(static_cast<char>(b));
            sc.byte_align.push_back({ci, ci + 1});
            flush();
        }
        continue;
      }
      bool bad = false;
      const char32_t c = uni::decode_one(s, n, &i, &bad);
      if (bad) return false;
      // BertNormalizer on this code point alone: clean, isolate CJK, NFD + drop Mn, lowercase.
      const uint8_t f = uni::flags(c);
      if (op.clean_text && (f & uni::kControl)) continue;
      if (op.clean_text && (f & uni::kCleanSpace)) {
        flush();
        continue;
      }
      const bool isolate = op.handle_chinese_chars && uni::is_chinese_char(c);
      char32_t norm[12];
      int k = 0;
      if (op.strip_accents) {
        char32_t d[4];
        const int m = uni::nfd(c, d);
        for (int j = 0; j < m; ++j) {
          if (uni::flags(d[j]) & uni::kMn) continue;
          // A mark that stays could be reordered with its neighbours' marks (canonical ordering).
          if (uni::combining_class(d[j]) != 0) return false;
          if (op.lowercase)
            k += uni::to_lower(d[j], norm + k);
          else
            norm[k++] = d[j];
        }
      } else if (op.lowercase) {
        k = uni::to_lower(c, norm);
      } else {
        norm[k++] = c;
      }
      if (isolate) flush();
      // BertPreTokenizer on the normalized code points.
      for (int j = 0; j < k; ++j) {
        const uint8_t g = uni::flags(norm[j]);
        if (g & uni::kSpace) {
          flush();
        } else if (g & uni::kPunct) {
          flush();
          append(norm[j], ci);
          flush();
        } else {
          append(norm[j], ci);
        }
      }
      if (isolate) flush();
    }
    flush();
    return true;
  }
  // kByteLevelBpe: decode (code points and their byte offsets), then the GPT-2 pieces over the text's bytes.
  sc.cps.clear();
  sc.cp_byte.clear();
  sc.byte_align.resize(n);
  for (size_t i = 0; i < n;) {
    const unsigned char b = s[i];
    if (added_first[b] && has_added_token_at(text, i)) return false;
    const uint32_t ci = static_cast<uint32_t>(sc.cps.size());
    sc.cp_byte.push_back(static_cast<uint32_t>(i));
    const size_t at = i;
    if (b < 0x80) {
      sc.cps.push_back(b);
      ++i;
    } else {
      bool bad = false;
      sc.cps.push_back(uni::decode_one(s, n, &i, &bad));
      if (bad) return false;
    }
    for (size_t j = at; j < i; ++j) sc.byte_align[j] = {ci, ci + 1};
  }
  sc.cp_byte.push_back(static_cast<uint32_t>(n));
  if (sc.cps.empty()) return true;
  auto piece = [&](uint32_t pb, uint32_t pe) {
    const uint32_t bb = sc.cp_byte[pb], be = sc.cp_byte[pe];
    bpe.tokenize(text.substr(bb, be - bb), sc.byte_align.data() + bb, out, cache);
    if (groups) groups->emplace_back(static_cast<uint32_t>(out.size()), false);
  };
  if (pre.use_regex) {
    detail::gpt2_split(sc.cps.data(), sc.cps.size(), sc.words);
    for (const auto& [pb, pe] : sc.words) piece(pb, pe);
  } else {
    piece(0, static_cast<uint32_t>(sc.cps.size()));
  }
  return true;
}

void Tokenizer::Impl::encode_raw(std::string_view text, bool tweets, std::vector<RawToken>& out,
                                 std::vector<std::pair<uint32_t, bool>>* groups, bool fast_ok) const {
  out.clear();
  if (groups) groups->clear();
  if (fast_ok && !tweets && fast != Fast::kNone) {
    if (encode_fast(text, out, groups)) {
      ++detail::path_counts().fast_texts;
      return;
    }
    out.clear();
    if (groups) groups->clear();
  }
  ++detail::path_counts().general_texts;
  detail::WordCache* cache = fast_ok ? detail::thread_word_cache(cache_id) : nullptr;
  auto close_group = [&](bool is_added) {
    if (groups) groups->emplace_back(static_cast<uint32_t>(out.size()), is_added);
  };
  Scratch& sc = tls;
  sc.cps.clear();
  uni::decode_utf8(text, sc.cps);
  const NormStr input = tweets ? detail::tweet_normalize(sc.cps) : NormStr::from_original(sc.cps);

  // Runs the pre-tokenizer and the model over n[b, e) (already normalized).
  auto model_pass = [&](const NormStr& n, uint32_t b, uint32_t e) {
    if (b >= e) return;
    auto run_model = [&](const char32_t* s, const Align* al, size_t len, const Align* prefix_align) {
      sc.bytes.clear();
      sc.byte_align.clear();
      if (prefix_align) {
        sc.bytes.push_back(' ');
        sc.byte_align.push_back(*prefix_align);
      }
      for (size_t i = 0; i < len; ++i) {
        const size_t before = sc.bytes.size();
        uni::append_utf8(sc.bytes, s[i]);
        sc.byte_align.insert(sc.byte_align.end(), sc.bytes.size() - before, al[i]);
      }
      if (sc.bytes.empty()) return;
      if (model_type == "wordpiece")
        wordpiece_word(wordpiece, sc.bytes, sc.byte_align.data(), out, cache, sc.spans);
      else
        bpe.tokenize(sc.bytes, sc.byte_align.data(), out, cache);
      close_group(false);
    };
    const char32_t* s = n.s.data() + b;
    const Align* al = n.a.data() + b;
    const size_t len = e - b;
    switch (pre.kind) {
      case detail::PreTokenizerCfg::Kind::kNone:
        run_model(s, al, len, nullptr);
        break;
      case detail::PreTokenizerCfg::Kind::kBert:
      case detail::PreTokenizerCfg::Kind::kWhitespaceSplit: {
        std::u32string piece(s, len);
        if (pre.kind == detail::PreTokenizerCfg::Kind::kBert) {
          detail::bert_pre_tokenize(piece, sc.words);
        } else {  // WhitespaceSplit: split on char::is_whitespace, removed
          sc.words.clear();
          uint32_t st = 0;
          for (uint32_t i = 0; i <= len; ++i) {
            if (i == len || (uni::flags(piece[i]) & uni::kSpace)) {
              if (i > st) sc.words.emplace_back(st, i);
              st = i + 1;
            }
          }
        }
        const auto words = sc.words;  // run_model reuses scratch buffers, not this list
        for (const auto& [wb, we] : words) run_model(s + wb, al + wb, we - wb, nullptr);
        break;
      }
      case detail::PreTokenizerCfg::Kind::kByteLevel: {
        // add_prefix_space: NormalizedString::prepend(" ") — the space takes the first char's alignment.
        std::u32string buf;
        std::vector<Align> abuf;
        const char32_t* ps = s;
        const Align* pa = al;
        size_t plen = len;
        if (pre.add_prefix_space && s[0] != U' ') {
          buf.reserve(len + 1);
          buf.push_back(U' ');
          buf.append(s, len);
          abuf.reserve(len + 1);
          abuf.push_back(al[0]);
          abuf.insert(abuf.end(), al, al + len);
          ps = buf.data();
          pa = abuf.data();
          plen = len + 1;
        }
        if (pre.use_regex) {
          std::vector<std::pair<uint32_t, uint32_t>> pieces;
          detail::gpt2_split(ps, plen, pieces);
          for (const auto& [pb, pe] : pieces) run_model(ps + pb, pa + pb, pe - pb, nullptr);
        } else {
          run_model(ps, pa, plen, nullptr);
        }
        break;
      }
    }
  };

  auto added_token = [&](int32_t id, const Align& first, const Align& last) {
    RawToken t{id, first.start, last.end};
    for (const auto& a : added) {
      if (a.id == id) {
        std::u32string c;
        uni::decode_utf8(a.content, c);
        t.lead_spaces = count_ws(c, true);
        t.trail_spaces = count_ws(c, false);
        break;
      }
    }
    out.push_back(t);
    close_group(true);
  };

  std::vector<detail::Split> splits;
  if (added_raw.empty()) {
    splits.push_back({-1, 0, static_cast<uint32_t>(input.size())});
  } else {
    detail::split_added(input.s, added, added_raw, splits);
  }
  for (const auto& sp : splits) {
    if (sp.id >= 0) {
      added_token(sp.id, input.a[sp.b], input.a[sp.e - 1]);
      continue;
    }
    NormStr seg = input.slice(sp.b, sp.e);
    detail::normalize(seg, normalizer);
    if (added_norm.empty()) {
      model_pass(seg, 0, static_cast<uint32_t>(seg.size()));
      continue;
    }
    std::vector<detail::Split> sub;
    detail::split_added(seg.s, added, added_norm, sub);
    for (const auto& s2 : sub) {
      if (s2.id >= 0)
        added_token(s2.id, seg.a[s2.b], seg.a[s2.e - 1]);
      else
        model_pass(seg, s2.b, s2.e);
    }
  }
}

namespace {

void truncate(std::vector<RawToken>& t, size_t n, Side side) {
  if (t.size() <= n) return;
  if (side == Side::kRight)
    t.resize(n);
  else
    t.erase(t.begin(), t.end() - static_cast<std::ptrdiff_t>(n));
}

// byte_level.rs process_offsets: drop leading / trailing spaces ('Ġ') from each token's offsets.
void trim_offsets(std::vector<RawToken>& toks, bool add_prefix_space) {
  for (size_t i = 0; i < toks.size(); ++i) {
    RawToken& t = toks[i];
    size_t lead = t.lead_spaces;
    const size_t trail = t.trail_spaces;
    if (lead > 0) {
      const bool is_first = i == 0 || t.start == 0;
      if (is_first && add_prefix_space && lead == 1) lead = 0;
      t.start = static_cast<uint32_t>(std::min<size_t>(t.start + lead, t.end));
    }
    if (trail > 0 && t.end >= trail) t.end = static_cast<uint32_t>(std::max<size_t>(t.end - trail, t.start));
  }
}

void push(Encoding& e, int32_t id, int32_t type, int32_t special, int32_t seq, int32_t s, int32_t en) {
  e.ids.push_back(id);
  e.type_ids.push_back(type);
  e.attention_mask.push_back(1);
  e.special_tokens_mask.push_back(special);
  e.sequence_ids.push_back(seq);
  e.offsets.emplace_back(s, en);
}

}  // namespace

namespace {

// tokenizer/pre_tokenizer.rs tokenize_with_limit (tokenizers >= 0.23): with truncation on, HF tokenizes
// pre-tokens only until the sequence holds `max_tokens` (the full max_length) tokens, from the right or
// the left; already-tokenized splits (added tokens) count but do not stop it. The capped lengths are what
// the truncation strategy then compares, which decides how a pair is cut.
void limit_tokens(std::vector<RawToken>& t, const std::vector<std::pair<uint32_t, bool>>& groups,
                  size_t max_tokens, Side side) {
  if (t.size() <= max_tokens) return;
  size_t total = 0;
  if (side == Side::kRight) {
    for (const auto& [end, is_added] : groups) {
      total = end;
      if (!is_added && total >= max_tokens) {
        t.resize(end);
        return;
      }
    }
  } else {
    for (size_t g = groups.size(); g-- > 0;) {
      const uint32_t begin = g == 0 ? 0 : groups[g - 1].first;
      total = t.size() - begin;
      if (!groups[g].second && total >= max_tokens) {
        t.erase(t.begin(), t.begin() + begin);
        return;
      }
    }
  }
}

}  // namespace

void Tokenizer::Impl::encode(std::string_view a, const std::string_view* b, const EncodeOptions& opt,
                             Encoding& e) const {
  thread_local std::vector<RawToken> ta, tb;
  thread_local std::vector<std::pair<uint32_t, bool>> groups;
  ta.clear();
  tb.clear();
  const bool limit = opt.max_length > 0;
  encode_raw(a, opt.normalize_tweets, ta, limit ? &groups : nullptr, opt.use_fast_paths);
  // Tokenizer::do_tokenize: the first sequence is not limited under only_second.
  if (limit && opt.strategy != TruncationStrategy::kOnlySecond)
    limit_tokens(ta, groups, opt.max_length, opt.truncation_side);
  if (b) {
    encode_raw(*b, opt.normalize_tweets, tb, limit ? &groups : nullptr, opt.use_fast_paths);
    if (limit) limit_tokens(tb, groups, opt.max_length, opt.truncation_side);
  }

  if (opt.max_length > 0) {
    const size_t n_added = opt.add_special_tokens ? post.added(b != nullptr) : 0;
    if (opt.max_length < n_added)
      detail::fail("max_length " + std::to_string(opt.max_length) + " is shorter than the " +
                   std::to_string(n_added) + " special tokens the tokenizer adds");
    const size_t max_len = opt.max_length - n_added;
    // utils/truncation.rs truncate_encodings
    if (max_len == 0) {
      ta.clear();
      tb.clear();
    } else if (ta.size() + tb.size() > max_len) {
      const size_t to_remove = ta.size() + tb.size() - max_len;
      if (opt.strategy == TruncationStrategy::kLongestFirst) {
        if (b) {
          size_t n1 = ta.size(), n2 = tb.size();
          const bool swap = n1 > n2;
          if (swap) std::swap(n1, n2);
          if (n1 > max_len)
            n2 = n1;
          else
            n2 = std::max(n1, max_len - n1);
          if (n1 + n2 > max_len) {
            n1 = max_len / 2;
            n2 = n1 + max_len % 2;
          }
          if (swap) std::swap(n1, n2);
          truncate(ta, n1, opt.truncation_side);
          truncate(tb, n2, opt.truncation_side);
        } else {
          truncate(ta, ta.size() - to_remove, opt.truncation_side);
        }
      } else {
        if (opt.strategy == TruncationStrategy::kOnlySecond && !b)
          detail::fail("truncation strategy only_second needs a pair of texts");
        auto& target = opt.strategy == TruncationStrategy::kOnlyFirst ? ta : tb;
        if (target.size() <= to_remove)
          detail::fail("truncation: the sequence to truncate is too short for max_length " +
                       std::to_string(opt.max_length));
        truncate(target, target.size() - to_remove, opt.truncation_side);
      }
    }
  }

  if (post.trim_offsets) {
    trim_offsets(ta, post.trim_add_prefix_space);
    trim_offsets(tb, post.trim_add_prefix_space);
  }

  e.ids.clear();
  e.type_ids.clear();
  e.attention_mask.clear();
  e.special_tokens_mask.clear();
  e.sequence_ids.clear();
  e.offsets.clear();
  const size_t total = ta.size() + tb.size() + (opt.add_special_tokens ? post.added(b != nullptr) : 0);
  e.ids.reserve(total);
  e.type_ids.reserve(total);
  e.attention_mask.reserve(total);
  e.special_tokens_mask.reserve(total);
  e.sequence_ids.reserve(total);
  e.offsets.reserve(total);
  auto emit_seq = [&](const std::vector<RawToken>& t, int seq, int32_t type) {
    for (const auto& r : t) push(e, r.id, type, 0, seq, int32_t(r.start), int32_t(r.end));
  };
  if (post.has_template) {
    for (const auto& p : b ? post.pair : post.single) {
      if (p.special) {
        if (!opt.add_special_tokens) continue;
        for (int32_t id : p.ids) push(e, id, p.type_id, 1, -1, 0, 0);
      } else {
        emit_seq(p.seq == 0 ? ta : tb, p.seq, p.type_id);
      }
    }
  } else {
    emit_seq(ta, 0, 0);
    if (b) emit_seq(tb, 1, post.zero_type_ids ? 0 : 1);
  }
}

// ---------------- public API ----------------

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& opt) const {
  Encoding e;
  impl_->encode(text, nullptr, opt, e);
  return e;
}

Encoding Tokenizer::encode_pair(std::string_view first, std::string_view second,
                                const EncodeOptions& opt) const {
  Encoding e;
  impl_->encode(first, &second, opt, e);
  return e;
}

void Tokenizer::encode_into(std::string_view text, const EncodeOptions& opt, Encoding& out) const {
  impl_->encode(text, nullptr, opt, out);
}

void Tokenizer::encode_pair_into(std::string_view first, std::string_view second, const EncodeOptions& opt,
                                 Encoding& out) const {
  impl_->encode(first, &second, opt, out);
}

namespace {

template <class F>
void parallel_for(size_t n, int num_threads, F f) {
  std::exception_ptr err;
  const int nt = num_threads > 0 ? num_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 32) num_threads(nt)
  for (long i = 0; i < static_cast<long>(n); ++i) {
    try {
      f(static_cast<size_t>(i));
    } catch (...) {
#pragma omp critical(tern_tok_batch_error)
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, const EncodeOptions& opt,
                                              const PaddingOptions& pad_opt, int num_threads) const {
  std::vector<Encoding> out(texts.size());
  parallel_for(texts.size(), num_threads, [&](size_t i) { impl_->encode(texts[i], nullptr, opt, out[i]); });
  pad(out, pad_opt);
  return out;
}

std::vector<Encoding> Tokenizer::encode_batch_pairs(
    const std::vector<std::pair<std::string, std::string>>& pairs, const EncodeOptions& opt,
    const PaddingOptions& pad_opt, int num_threads) const {
  std::vector<Encoding> out(pairs.size());
  parallel_for(pairs.size(), num_threads, [&](size_t i) {
    const std::string_view second = pairs[i].second;
    impl_->encode(pairs[i].first, &second, opt, out[i]);
  });
  pad(out, pad_opt);
  return out;
}

void Tokenizer::pad(std::vector<Encoding>& batch, const PaddingOptions& opt) const {
  if (opt.mode == PaddingOptions::Mode::kNone || batch.empty()) return;
  size_t target = opt.length;
  if (opt.mode == PaddingOptions::Mode::kLongest) {
    target = 0;
    for (const auto& e : batch) target = std::max(target, e.size());
  }
  if (opt.pad_to_multiple_of > 0 && target % opt.pad_to_multiple_of != 0)
    target += opt.pad_to_multiple_of - target % opt.pad_to_multiple_of;
  const int32_t pid = impl_->pad_id;
  for (auto& e : batch) {
    if (e.size() >= target) continue;
    const size_t k = target - e.size();
    auto fill = [&](auto& v, auto value) {
      using V = typename std::decay_t<decltype(v)>::value_type;
      if (opt.side == Side::kRight)
        v.insert(v.end(), k, V(value));
      else
        v.insert(v.begin(), k, V(value));
    };
    fill(e.ids, pid);
    fill(e.type_ids, 0);
    fill(e.attention_mask, 0);
    fill(e.special_tokens_mask, 1);
    fill(e.sequence_ids, -1);
    fill(e.offsets, std::pair<int32_t, int32_t>(0, 0));
  }
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto a = impl_->added_to_id.find(token);
  if (a != impl_->added_to_id.end()) return a->second;
  const detail::Vocab& v = impl_->model_vocab();
  auto it = v.find(token);
  if (it == v.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const auto& t = impl_->id_to_token;
  auto it = std::lower_bound(t.begin(), t.end(), id, [](const auto& e, int32_t x) { return e.first < x; });
  if (it != t.end() && it->first == id) return std::string(impl_->token_of_ref(it->second));
  const detail::Vocab& v = impl_->model_vocab();
  if (impl_->vocab_ids_are_indices && id >= 0 && static_cast<size_t>(id) < v.size())
    return std::string(v.token(static_cast<uint32_t>(id)));
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}
int32_t Tokenizer::pad_id() const {
  return impl_->pad_id;
}
const std::string& Tokenizer::model_type() const {
  return impl_->model_type;
}
size_t Tokenizer::num_special_tokens(bool pair) const {
  return impl_->post.added(pair);
}

std::string normalize_tweet(std::string_view text) {
  std::u32string cps;
  uni::decode_utf8(text, cps);
  const NormStr n = detail::tweet_normalize(cps);
  std::string out;
  out.reserve(text.size());
  for (char32_t c : n.s) uni::append_utf8(out, c);
  return out;
}

std::string sanitize_utf8(std::string_view text, size_t* replaced) {
  return uni::sanitize_utf8(text, replaced);
}

size_t count_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t bad = 0;
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    bool b = false;
    uni::decode_one(s, n, &i, &b);
    bad += b;
  }
  return bad;
}

}  // namespace tern::tok
