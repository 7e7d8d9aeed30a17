// Text helpers behind the metric definitions (docs/social-trends.md).
#include <utf8proc.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "social/tweet.h"

namespace tern::social {

namespace {

// Decodes one code point at s[i]; returns its byte length (1 for an invalid byte, cp = -1).
int decode(std::string_view s, size_t i, int32_t& cp) {
  utf8proc_int32_t c;
  auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                            static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  if (n <= 0) {
    cp = -1;
    return 1;
  }
  cp = c;
  return static_cast<int>(n);
}

bool is_word_cp(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 128) return std::isalnum(cp) || cp == '_';
  auto cat = utf8proc_category(cp);
  // Letters, decimal digits, connector punctuation; marks (e.g. U+FE0F after an emoji) are not word starts.
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || cat == UTF8PROC_CATEGORY_ND ||
         cat == UTF8PROC_CATEGORY_PC;
}

bool is_space_cp(int32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v') return true;
  if (cp < 128 || cp < 0) return false;
  auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool starts_with_ci(std::string_view s, size_t i, const char* p) {
  size_t n = std::strlen(p);
  if (i + n > s.size()) return false;
  for (size_t k = 0; k < n; ++k)
    if (ascii_lower(s[i + k]) != p[k]) return false;
  return true;
}

// Length of a URL starting at s[i] (0 if none): "http://", "https://" or "www." then non-space bytes.
size_t url_len(std::string_view s, size_t i) {
  char c0 = ascii_lower(s[i]);
  if (c0 != 'h' && c0 != 'w') return 0;
  if (!(starts_with_ci(s, i, "http://") || starts_with_ci(s, i, "https://") || starts_with_ci(s, i, "www.")))
    return 0;
  if (i > 0 && is_word_cp(static_cast<unsigned char>(s[i - 1]))) return 0;
  size_t j = i;
  while (j < s.size()) {
    int32_t cp;
    int n = decode(s, j, cp);
    if (is_space_cp(cp)) break;
    j += n;
  }
  return j - i;
}

void append_cp(std::string& out, int32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
}

bool prev_is_word(std::string_view s, size_t i) {
  if (i == 0) return false;
  size_t k = i - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  int32_t cp;
  decode(s, k, cp);
  return is_word_cp(cp);
}

// Tag after a sigil at s[i] ('#' or '@'); returns the byte length of the tag (without the sigil).
size_t tag_len(std::string_view s, size_t i, bool mention) {
  size_t j = i + 1;
  while (j < s.size()) {
    int32_t cp;
    int n = decode(s, j, cp);
    if (mention ? !(cp >= 0 && cp < 128 && (std::isalnum(cp) || cp == '_')) : !is_word_cp(cp)) {
      if (!mention && cp >= 0 && utf8proc_category(cp) >= UTF8PROC_CATEGORY_MN &&
          utf8proc_category(cp) <= UTF8PROC_CATEGORY_ME) {
        j += n;  // combining marks belong to the tag
        continue;
      }
      break;
    }
    j += n;
  }
  return j - i - 1;
}

}  // namespace

int content_chars(std::string_view s) {
  int n = 0;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '#' && !prev_is_word(s, i)) {
      size_t t = tag_len(s, i, false);
      if (t > 0) {
        i += t + 1;
        continue;
      }
    }
    int32_t cp;
    int len = decode(s, i, cp);
    if (cp >= 0 && is_word_cp(cp) && cp != '_') ++n;
    i += len;
  }
  return n;
}

std::string to_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 128) {
      out += ascii_lower(static_cast<char>(c));
      ++i;
      continue;
    }
    int32_t cp;
    int n = decode(s, i, cp);
    if (cp < 0)
      out += s[i];
    else
      append_cp(out, utf8proc_tolower(cp));
    i += n;
  }
  return out;
}

std::string normalize_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (size_t i = 0; i < s.size();) {
    if (size_t u = url_len(s, i)) {
      i += u;
      pending_space = true;
      continue;
    }
    if (s[i] == '@' && !prev_is_word(s, i)) {
      size_t n = tag_len(s, i, true);
      if (n > 0) {
        i += n + 1;
        continue;
      }
    }
    int32_t cp;
    int n = decode(s, i, cp);
    if (is_space_cp(cp)) {
      pending_space = true;
    } else {
      if (pending_space && !out.empty()) out += ' ';
      pending_space = false;
      if (cp < 0)
        out += s[i];
      else if (cp < 128)
        out += ascii_lower(static_cast<char>(cp));
      else
        append_cp(out, utf8proc_tolower(cp));
    }
    i += n;
  }
  return out;
}

static std::vector<std::string> extract_tags(std::string_view s, char sigil) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != sigil || prev_is_word(s, i)) continue;
    size_t n = tag_len(s, i, sigil == '@');
    if (n == 0) continue;
    std::string_view tag = s.substr(i + 1, n);
    bool all_digits = true;
    for (char c : tag) all_digits &= std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (sigil == '#' && all_digits) continue;
    std::string t = to_lower(tag);
    bool seen = false;
    for (const auto& o : out) seen |= o == t;
    if (!seen) out.push_back(std::move(t));
    i += n;
  }
  return out;
}

std::vector<std::string> extract_hashtags(std::string_view text) {
  return extract_tags(text, '#');
}
std::vector<std::string> extract_mentions(std::string_view text) {
  return extract_tags(text, '@');
}

std::vector<std::string> extract_urls(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    if (size_t u = url_len(s, i)) {
      out.emplace_back(s.substr(i, u));
      i += u;
    } else {
      ++i;
    }
  }
  return out;
}

std::string canonical_url(std::string_view u) {
  while (!u.empty() && std::strchr(".,;:!?)]}\"'>", u.back())) u.remove_suffix(1);
  std::string out(u);
  size_t scheme = out.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t host_end = out.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = out.size();
  for (size_t i = 0; i < host_end; ++i)
    out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
  while (out.size() > host_start && out.back() == '/') out.pop_back();
  return out;
}

namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_int(std::string_view s, size_t& i, int min_digits, int max_digits, int64_t& v) {
  int n = 0;
  v = 0;
  while (i < s.size() && n < max_digits && std::isdigit(static_cast<unsigned char>(s[i]))) {
    v = v * 10 + (s[i] - '0');
    ++i;
    ++n;
  }
  return n >= min_digits;
}

int64_t make_time(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t sec) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return kNoTime;
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
         mi * 60 + sec;
}

// Optional time-zone suffix at s[i]: Z, +HH, +HHMM, +HH:MM (spaces before it allowed). Returns false on junk.
bool read_offset(std::string_view s, size_t& i, int64_t& off) {
  off = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i == s.size()) return true;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
    return i == s.size();
  }
  if (s.substr(i) == "UTC" || s.substr(i) == "GMT") return true;
  if (s[i] != '+' && s[i] != '-') return false;
  int sign = s[i] == '-' ? -1 : 1;
  ++i;
  int64_t hh, mm = 0;
  if (!read_int(s, i, 2, 2, hh)) return false;
  if (i < s.size() && s[i] == ':') ++i;
  if (i < s.size() && !read_int(s, i, 2, 2, mm)) return false;
  off = sign * (hh * 3600 + mm * 60);
  return i == s.size();
}

}  // namespace

int64_t parse_time(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return kNoTime;
  size_t i = 0;
  int64_t y, mo, d, h = 0, mi = 0, sec = 0;
  // Unix seconds / milliseconds.
  bool numeric = true;
  for (char c : s) numeric &= (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
  if (numeric && s.size() >= 9 && s.find('-') == std::string_view::npos) {
    double v = std::strtod(std::string(s).c_str(), nullptr);
    if (v > 1e11) v /= 1000;
    return static_cast<int64_t>(v);
  }
  // YYYY-MM-DD[ T]HH:MM[:SS[.fff]][offset]
  if (read_int(s, i, 4, 4, y) && i < s.size() && s[i] == '-') {
    ++i;
    if (!read_int(s, i, 1, 2, mo) || i >= s.size() || s[i] != '-') return kNoTime;
    ++i;
    if (!read_int(s, i, 1, 2, d)) return kNoTime;
    if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
      ++i;
      if (!read_int(s, i, 1, 2, h) || i >= s.size() || s[i] != ':') return kNoTime;
      ++i;
      if (!read_int(s, i, 2, 2, mi)) return kNoTime;
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!read_int(s, i, 2, 2, sec)) return kNoTime;
        if (i < s.size() && s[i] == '.') {
          ++i;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
      }
    }
    int64_t off;
    if (!read_offset(s, i, off)) return kNoTime;
    int64_t t = make_time(y, mo, d, h, mi, sec);
    return t == kNoTime ? t : t - off;
  }
  // M/D/YYYY H:MM[:SS]
  i = 0;
  if (read_int(s, i, 1, 2, mo) && i < s.size() && s[i] == '/') {
    ++i;
    if (!read_int(s, i, 1, 2, d) || i >= s.size() || s[i] != '/') return kNoTime;
    ++i;
    if (!read_int(s, i, 4, 4, y)) return kNoTime;
    if (i < s.size() && s[i] == ' ') {
      ++i;
      if (!read_int(s, i, 1, 2, h) || i >= s.size() || s[i] != ':') return kNoTime;
      ++i;
      if (!read_int(s, i, 2, 2, mi)) return kNoTime;
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!read_int(s, i, 2, 2, sec)) return kNoTime;
      }
    }
    if (i != s.size()) return kNoTime;
    return make_time(y, mo, d, h, mi, sec);
  }
  // Twitter v1: "Wed Oct 10 20:19:24 +0000 2018"
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() >= 30 && s[3] == ' ' && s[7] == ' ') {
    mo = 0;
    for (int k = 0; k < 12; ++k)
      if (s.substr(4, 3) == kMonths[k]) mo = k + 1;
    if (mo == 0) return kNoTime;
    i = 8;
    if (!read_int(s, i, 1, 2, d) || s[i] != ' ') return kNoTime;
    ++i;
    if (!read_int(s, i, 2, 2, h) || s[i++] != ':' || !read_int(s, i, 2, 2, mi) || s[i++] != ':' ||
        !read_int(s, i, 2, 2, sec))
      return kNoTime;
    size_t sp = s.rfind(' ');
    size_t j = sp + 1;
    if (!read_int(s, j, 4, 4, y) || j != s.size()) return kNoTime;
    int64_t off;
    size_t k = i;
    std::string_view offs = s.substr(0, sp);
    if (!read_offset(offs, k, off)) return kNoTime;
    int64_t t = make_time(y, mo, d, h, mi, sec);
    return t == kNoTime ? t : t - off;
  }
  return kNoTime;
}

std::string format_time(int64_t t) {
  if (t == kNoTime) return "";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace tern::social

#include "tensor/check.h"

namespace tern::social {

int64_t parse_duration(const std::string& s, const std::string& what) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  std::string unit = s.substr(i);
  int64_t mul = unit.empty() || unit == "s"    ? 1
                : unit == "m" || unit == "min" ? 60
                : unit == "h"                  ? 3600
                : unit == "d"                  ? 86400
                                               : 0;
  if (i == 0 || i > 12 || mul == 0)
    TERN_FAIL(what << ": expected a duration like 60s, 10m, 1h, got '" << s << "'");
  return std::stoll(s.substr(0, i)) * mul;
}

}  // namespace tern::social
