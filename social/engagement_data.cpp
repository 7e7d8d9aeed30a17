// Engagement prediction: reading tweet tables, times, look-ahead-free features, metrics.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "infer/predictor.h"
#include "infer/record_reader.h"
#include "social/engagement.h"
#include "social/tweet.h"
#include "tensor/check.h"

namespace tern::social::eng {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    std::string part = s.substr(start, p == std::string::npos ? std::string::npos : p - start);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    out.push_back(part);
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t civil_time(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
    return kNoTime;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

bool read_digits(const std::string& s, size_t& i, int min_d, int max_d, int64_t& v) {
  v = 0;
  int n = 0;
  while (i < s.size() && n < max_d && std::isdigit(static_cast<unsigned char>(s[i]))) {
    v = v * 10 + (s[i] - '0');
    ++i;
    ++n;
  }
  return n >= min_d;
}

const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};

int64_t parse_with_format(const std::string& s, const std::string& f, bool* naive) {
  int64_t y = 1970, mo = 1, d = 1, h = 0, mi = 0, sec = 0, off = 0;
  bool has_off = false, epoch = false;
  int64_t epoch_v = 0;
  size_t i = 0;
  for (size_t k = 0; k < f.size(); ++k) {
    if (f[k] != '%') {
      if (f[k] == ' ') {
        while (i < s.size() && s[i] == ' ') ++i;
        continue;
      }
      if (i >= s.size() || s[i] != f[k]) return kNoTime;
      ++i;
      continue;
    }
    if (++k >= f.size()) return kNoTime;
    char c = f[k];
    bool ok = true;
    switch (c) {
      case 'Y':
        ok = read_digits(s, i, 4, 4, y);
        break;
      case 'y':
        ok = read_digits(s, i, 2, 2, y);
        y += y < 69 ? 2000 : 1900;
        break;
      case 'm':
        ok = read_digits(s, i, 1, 2, mo);
        break;
      case 'd':
      case 'e':
        while (c == 'e' && i < s.size() && s[i] == ' ') ++i;
        ok = read_digits(s, i, 1, 2, d);
        break;
      case 'H':
        ok = read_digits(s, i, 1, 2, h);
        break;
      case 'M':
        ok = read_digits(s, i, 1, 2, mi);
        break;
      case 'S':
        ok = read_digits(s, i, 1, 2, sec);
        if (ok && i < s.size() && s[i] == '.') {  // fractions are allowed and dropped
          ++i;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
        break;
      case 's':
        ok = read_digits(s, i, 1, 12, epoch_v);
        epoch = true;
        break;
      case 'b':
      case 'h': {
        if (i + 3 > s.size()) return kNoTime;
        std::string m3 = s.substr(i, 3);
        for (auto& ch : m3) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        mo = 0;
        for (int j = 0; j < 12; ++j)
          if (m3 == kMonths[j]) mo = j + 1;
        ok = mo != 0;
        i += 3;
        while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;  // "%b" takes "March"
        break;
      }
      case 'a':
      case 'A':
      case 'Z':  // a word (week day, zone name): skipped
        ok = i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]));
        while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
        break;
      case 'z': {
        if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
          ++i;
          has_off = true;
          break;
        }
        size_t j = i;
        while (j < s.size() &&
               (s[j] == '+' || s[j] == '-' || s[j] == ':' || std::isdigit(static_cast<unsigned char>(s[j]))))
          ++j;
        ok = parse_utc_offset(s.substr(i, j - i), off);
        has_off = true;
        i = j;
        break;
      }
      case '%':
        ok = i < s.size() && s[i++] == '%';
        break;
      default:
        return kNoTime;
    }
    if (!ok) return kNoTime;
  }
  while (i < s.size() && s[i] == ' ') ++i;
  if (i != s.size()) return kNoTime;
  if (naive) *naive = !has_off && !epoch;
  if (epoch) return epoch_v;
  int64_t t = civil_time(y, mo, d, h, mi, sec);
  return t == kNoTime ? t : t - off;
}

}  // namespace

bool parse_utc_offset(const std::string& s, int64_t& seconds) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  int sign = s[0] == '-' ? -1 : 1;
  size_t i = 1;
  int64_t hh, mm = 0;
  if (!read_digits(s, i, 2, 2, hh)) return false;
  if (i < s.size() && s[i] == ':') ++i;
  if (i < s.size() && !read_digits(s, i, 2, 2, mm)) return false;
  if (i != s.size() || hh > 14 || mm > 59) return false;
  seconds = sign * (hh * 3600 + mm * 60);
  return true;
}

int64_t parse_time_text(const std::string& s0, const std::string& format, bool* naive) {
  std::string s = s0;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  if (naive) *naive = false;
  if (s.empty()) return kNoTime;
  if (!format.empty()) return parse_with_format(s, format, naive);
  // Epoch seconds / milliseconds (an integer or "1275676317000.0").
  bool numeric = !s.empty();
  for (char c : s) numeric &= std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  if (numeric) {
    if (s.size() < 9) return kNoTime;
    double v = std::strtod(s.c_str(), nullptr);
    if (!(v < 1e17)) return kNoTime;  // not a time (and no float -> int64 overflow)
    if (v > 1e11) v /= 1000;
    return static_cast<int64_t>(std::floor(v));
  }
  int64_t t = social::parse_time(s);
  if (t != kNoTime) {
    if (naive) {
      // Naive when no zone: nothing after the time but digits, ':', '.', ' ' (ISO / "YYYY-MM-DD HH:MM").
      bool zone = false;
      if (s.size() > 10 && std::isdigit(static_cast<unsigned char>(s[0])) && s[4] == '-') {
        for (size_t k = 10; k < s.size(); ++k)
          if (s[k] == 'Z' || s[k] == 'z' || s[k] == '+' || s[k] == '-' ||
              std::isalpha(static_cast<unsigned char>(s[k])))
            zone = zone || !(s[k] == 'T' && k == 10);
        *naive = !zone;
      } else if (s.find('/') != std::string::npos) {
        *naive = true;
      }
    }
    return t;
  }
  // "YYYY-MM-DD HH:MM:SS <zone name>" (twint's CSV layout): the zone name is taken as naive local time.
  for (const char* f : {"%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S %Z %Z", "%Y-%m-%d %H:%M:%S %Z %Z %Z",
                        "%Y-%m-%d %H:%M:%S %Z %Z %Z %Z"}) {
    bool nv = false;
    int64_t t2 = parse_with_format(s, f, &nv);
    if (t2 != kNoTime) {
      if (naive) *naive = true;
      return t2;
    }
  }
  return kNoTime;
}

std::vector<TargetSpec> parse_targets(const std::string& spec) {
  static const std::map<std::string, std::vector<std::string>> known = {
      {"likes",
       {"like_count", "likes", "favorite_count", "favorites", "favourites", "nlikes", "likes_count",
        "likeCount", "public_metrics.like_count", "favorite_count"}},
      {"retweets",
       {"retweet_count", "retweets", "nretweets", "retweets_count", "retweetCount",
        "public_metrics.retweet_count"}},
      {"replies",
       {"reply_count", "replies", "nreplies", "replies_count", "replyCount", "public_metrics.reply_count"}},
      {"quotes", {"quote_count", "quotes", "quotes_count", "quoteCount", "public_metrics.quote_count"}},
  };
  std::vector<TargetSpec> out;
  for (const auto& part : split(spec, ',')) {
    if (part.empty()) TERN_FAIL("--targets '" << spec << "': an empty target name");
    TargetSpec t;
    size_t eq = part.find('=');
    if (eq == std::string::npos) {
      t.name = part;
      auto it = known.find(part);
      t.columns = it != known.end() ? it->second : std::vector<std::string>{part};
    } else {
      t.name = part.substr(0, eq);
      t.columns = split(part.substr(eq + 1), '|');
      for (const auto& c : t.columns)
        if (c.empty()) TERN_FAIL("--targets '" << spec << "': an empty column name in '" << part << "'");
      if (t.name.empty()) TERN_FAIL("--targets '" << spec << "': an empty target name in '" << part << "'");
    }
    for (const auto& o : out)
      if (o.name == t.name) TERN_FAIL("--targets '" << spec << "': target '" << t.name << "' given twice");
    out.push_back(std::move(t));
  }
  if (out.empty()) TERN_FAIL("--targets: no target");
  return out;
}

nlohmann::json RowCounts::to_json() const {
  return {{"read", read},
          {"used", used},
          {"bad", bad},
          {"replaced", replaced},
          {"skipped",
           {{"no_text", no_text},
            {"no_time", no_time},
            {"no_target", no_target},
            {"retweets_excluded", retweets_excluded},
            {"duplicates", duplicates}}}};
}

namespace {

// A JSON value as text (strings verbatim, numbers printed), "" for null / absent.
std::string value_text(const nlohmann::json* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number_unsigned()) return std::to_string(v->get<uint64_t>());
  if (v->is_number_float()) {
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", v->get<double>());
    return b;
  }
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return v->dump();
}

// A non-negative count, or NaN when empty / not a number.
double count_value(const nlohmann::json* v) {
  if (!v || v->is_null()) return kNaN;
  if (v->is_number()) {
    double d = v->get<double>();
    return std::isfinite(d) && d >= 0 ? d : kNaN;
  }
  if (!v->is_string()) return kNaN;
  std::string s = v->get<std::string>();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());  // "1,234"
  if (s.empty()) return kNaN;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return kNaN;
  std::string rest(end);
  if (rest == "K" || rest == "k")
    d *= 1e3;
  else if (rest == "M" || rest == "m")
    d *= 1e6;
  else if (!rest.empty())
    return kNaN;
  return std::isfinite(d) && d >= 0 ? d : kNaN;
}

const nlohmann::json* first_of(const nlohmann::json& obj, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (const auto* v = infer::find_field(obj, n)) return v;
  return nullptr;
}

}  // namespace

std::vector<Row> read_tables(const std::vector<std::string>& paths, const TableOptions& opt,
                             RowCounts& counts, const std::function<void(const BadRow&)>& on_bad) {
  static const std::vector<std::string> text_defaults = {"text",       "full_text", "tweet",
                                                         "rawContent", "content",   "data.text"};
  static const std::vector<std::string> time_defaults = {"created_at", "date",     "timestamp",
                                                         "time",       "datetime", "data.created_at"};
  static const std::vector<std::string> id_defaults = {"id", "id_str", "tweet_id", "data.id"};
  TERN_CHECK(!opt.targets.empty(), "engagement: no targets");
  std::vector<Row> rows;
  std::unordered_map<std::string, size_t> by_id;
  std::vector<char> dropped;
  auto bad = [&](const std::string& file, int64_t line, const std::string& why) {
    if (on_bad) on_bad({file, line, why});
  };
  for (const auto& path : paths) {
    infer::ReaderOptions ro;
    ro.format = infer::input_format_from_name(opt.format);
    ro.encoding = opt.encoding;
    ro.invalid_utf8 = opt.replace_invalid_utf8 ? infer::InvalidUtf8::Replace : infer::InvalidUtf8::Error;
    infer::RecordReader reader(path, ro);
    infer::Record rec;
    while (reader.next(rec)) {
      ++counts.read;
      if (!rec.error.empty()) {
        ++counts.bad;
        bad(reader.name(), rec.line, rec.error);
        continue;
      }
      if (rec.utf8_replaced) ++counts.replaced;
      const nlohmann::json& o = rec.json();
      const nlohmann::json* tv =
          opt.text_field.empty() ? first_of(o, text_defaults) : infer::find_field(o, opt.text_field);
      if (!tv || !tv->is_string() || tv->get<std::string>().empty()) {
        ++counts.no_text;
        bad(reader.name(), rec.line,
            "no text in field '" + (opt.text_field.empty() ? std::string("text") : opt.text_field) + "'");
        continue;
      }
      Row r;
      r.text = tv->get<std::string>();
      r.file = reader.name();
      r.line = rec.line;
      if (opt.exclude_retweets && r.text.rfind("RT @", 0) == 0) {
        ++counts.retweets_excluded;
        continue;  // counted, asked for: not a bad row
      }
      const nlohmann::json* timev =
          opt.time_field.empty() ? first_of(o, time_defaults) : infer::find_field(o, opt.time_field);
      std::string ts = value_text(timev);
      bool naive = false;
      r.time = parse_time_text(ts, opt.time_format, &naive);
      if (r.time != kNoTime && naive && !opt.utc_offset_field.empty()) {
        int64_t off = 0;
        if (parse_utc_offset(value_text(infer::find_field(o, opt.utc_offset_field)), off)) r.time -= off;
      }
      if (r.time == kNoTime) {
        ++counts.no_time;
        bad(reader.name(), rec.line,
            ts.empty()
                ? "no time in field '" + (opt.time_field.empty() ? "created_at" : opt.time_field) + "'"
                : "time '" + ts + "' not understood" +
                      (opt.time_format.empty() ? "" : " with --time-format '" + opt.time_format + "'"));
        continue;
      }
      bool missing = false;
      std::string missing_name;
      for (const auto& t : opt.targets) {
        double v = count_value(first_of(o, t.columns));
        if (std::isnan(v) && !missing) {
          missing = true;
          missing_name = t.name;
        }
        r.y.push_back(v);
      }
      if (missing && opt.require_targets) {
        ++counts.no_target;
        bad(
            reader.name(), rec.line, "no numeric '" + missing_name + "' (columns " + [&] {
              std::string s;
              for (const auto& t : opt.targets)
                if (t.name == missing_name)
                  for (const auto& c : t.columns) s += (s.empty() ? "" : "|") + c;
              return s;
            }() + ")");
        continue;
      }
      if (!opt.author_field.empty()) r.author = value_text(infer::find_field(o, opt.author_field));
      r.id = value_text(opt.id_field.empty() ? first_of(o, id_defaults) : infer::find_field(o, opt.id_field));
      if (!r.id.empty()) {
        auto it = by_id.find(r.id);
        if (it != by_id.end()) {
          ++counts.duplicates;
          dropped[it->second] = 1;
        }
        by_id[r.id] = rows.size();
      }
      rows.push_back(std::move(r));
      dropped.push_back(0);
    }
  }
  std::vector<Row> kept;
  kept.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    if (!dropped[i]) kept.push_back(std::move(rows[i]));
  std::stable_sort(kept.begin(), kept.end(), [](const Row& a, const Row& b) { return a.time < b.time; });
  counts.used = static_cast<int64_t>(kept.size());
  return kept;
}

// ---- Context features ----

std::vector<float> context_features(const std::vector<Row>& rows, int history, int64_t& dim,
                                    std::vector<std::string>* names, bool trend) {
  TERN_CHECK(history >= 1, "history must be >= 1, got " << history);
  const int64_t N = static_cast<int64_t>(rows.size());
  const int64_t K = rows.empty() ? 0 : static_cast<int64_t>(rows[0].y.size());
  std::vector<std::string> nm;
  auto name = [&](const std::string& s) { nm.push_back(s); };
  // Layout (names kept in step with the values below).
  name("hour_sin");
  name("hour_cos");
  name("weekday_sin");
  name("weekday_cos");
  for (int d = 0; d < 7; ++d) name("weekday_" + std::to_string(d));
  name("log_gap_hours");
  name("has_previous");
  name("log_tweets_24h");
  if (trend) {
    name("log_previous_tweets");
    name("log_days_since_first");
  }
  name("log_chars");
  name("is_reply");
  name("has_url");
  name("mentions");
  name("hashtags");
  name("is_retweet");
  name("history_fill");
  for (int64_t k = 0; k < K; ++k) {
    for (int j = 0; j < history; ++j) name("y" + std::to_string(k) + "_prev" + std::to_string(j + 1));
    name("y" + std::to_string(k) + "_window_mean");
    name("y" + std::to_string(k) + "_window_median");
    name("y" + std::to_string(k) + "_window_max");
    name("y" + std::to_string(k) + "_all_mean");
  }
  dim = static_cast<int64_t>(nm.size());
  if (names) *names = nm;
  std::vector<float> X(static_cast<size_t>(N * dim), 0.f);
  struct AuthorState {
    std::vector<int64_t> idx;  // previous rows of this author, in time order
    std::vector<double> sum;   // per target, sum of log1p over all previous
    int64_t first_time = 0;
  };
  std::unordered_map<std::string, AuthorState> st;
  const double kPi = 3.14159265358979323846;
  std::vector<double> w;
  for (int64_t i = 0; i < N; ++i) {
    const Row& r = rows[i];
    float* x = &X[static_cast<size_t>(i * dim)];
    AuthorState& a = st[r.author];
    if (a.idx.empty()) {
      a.sum.assign(K, 0.0);
      a.first_time = r.time;
    }
    int64_t c = 0;
    int64_t sod = ((r.time % 86400) + 86400) % 86400;
    double hour = sod / 3600.0;
    int64_t days = (r.time - sod) / 86400;
    int wd = static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday: Monday = 0
    x[c++] = static_cast<float>(std::sin(2 * kPi * hour / 24));
    x[c++] = static_cast<float>(std::cos(2 * kPi * hour / 24));
    x[c++] = static_cast<float>(std::sin(2 * kPi * wd / 7));
    x[c++] = static_cast<float>(std::cos(2 * kPi * wd / 7));
    for (int d = 0; d < 7; ++d) x[c++] = wd == d ? 1.f : 0.f;
    const int64_t P = static_cast<int64_t>(a.idx.size());
    double gap_h = P ? std::max<int64_t>(0, r.time - rows[a.idx.back()].time) / 3600.0 : 0;
    x[c++] = static_cast<float>(std::log1p(gap_h));
    x[c++] = P ? 1.f : 0.f;
    int64_t n24 = 0;
    for (int64_t j = P - 1; j >= 0 && r.time - rows[a.idx[j]].time <= 86400; --j) ++n24;
    x[c++] = static_cast<float>(std::log1p(static_cast<double>(n24)));
    if (trend) {
      x[c++] = static_cast<float>(std::log1p(static_cast<double>(P)));
      x[c++] = static_cast<float>(std::log1p(std::max<int64_t>(0, r.time - a.first_time) / 86400.0));
    }
    x[c++] = static_cast<float>(std::log1p(static_cast<double>(r.text.size())));
    x[c++] = !r.text.empty() && r.text[0] == '@' ? 1.f : 0.f;
    x[c++] = r.text.find("http") != std::string::npos ? 1.f : 0.f;
    x[c++] = static_cast<float>(std::count(r.text.begin(), r.text.end(), '@'));
    x[c++] = static_cast<float>(std::count(r.text.begin(), r.text.end(), '#'));
    x[c++] = r.text.rfind("RT @", 0) == 0 ? 1.f : 0.f;
    const int64_t H = std::min<int64_t>(history, P);
    x[c++] = static_cast<float>(history - H) / static_cast<float>(history);
    for (int64_t k = 0; k < K; ++k) {
      w.clear();
      for (int64_t j = 0; j < H; ++j) {
        double v = rows[a.idx[P - 1 - j]].y[k];
        w.push_back(std::isnan(v) ? 0.0 : std::log1p(v));
      }
      double mean = w.empty() ? 0 : std::accumulate(w.begin(), w.end(), 0.0) / static_cast<double>(w.size());
      for (int j = 0; j < history; ++j) x[c++] = static_cast<float>(j < H ? w[j] : mean);
      std::vector<double> s = w;
      std::sort(s.begin(), s.end());
      double med =
          s.empty() ? 0 : (s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]));
      x[c++] = static_cast<float>(mean);
      x[c++] = static_cast<float>(med);
      x[c++] = static_cast<float>(s.empty() ? 0 : s.back());
      x[c++] = static_cast<float>(P ? a.sum[k] / static_cast<double>(P) : 0);
    }
    TERN_CHECK(c == dim, "context feature layout: " << c << " != " << dim);
    // Row i is now in the past of the rows after it.
    a.idx.push_back(i);
    for (int64_t k = 0; k < K; ++k)
      if (!std::isnan(r.y[k])) a.sum[k] += std::log1p(r.y[k]);
  }
  return X;
}

// ---- Text features ----

std::vector<std::string> default_extra_models(const std::string& encoder) {
  std::vector<std::string> out;
  std::string enc_path;
  try {
    enc_path = infer::resolve_model(encoder.empty() ? infer::default_model_name() : encoder);
  } catch (const Error&) {
  }
  for (const auto& [name, path] : infer::shipped_models())
    if (path != enc_path) out.push_back(name);
  return out;
}

std::vector<float> text_features(const std::vector<std::string>& texts, const TextFeatureSpec& spec,
                                 int64_t& dim, const std::function<void(int64_t, int64_t)>& progress) {
  std::vector<std::shared_ptr<const infer::InferModel>> models;
  models.push_back(
      infer::InferModel::load(spec.encoder.empty() ? infer::default_model_name() : spec.encoder));
  for (const auto& m : spec.extra) models.push_back(infer::InferModel::load(m));
  infer::PredictOptions po;
  po.batch_size = spec.batch_size;
  po.pool = infer::Pool::Mean;
  infer::Predictor pred(models, po);
  const int64_t C = models[0]->info().hidden;
  std::vector<int64_t> L;
  for (const auto& m : models) L.push_back(static_cast<int64_t>(m->info().labels.size()));
  dim = C;
  for (size_t m = 0; m < models.size(); ++m)
    if (models[m]->info().kind != infer::OutputKind::Encoder) dim += L[m];
  const int64_t N = static_cast<int64_t>(texts.size());
  std::vector<float> X(static_cast<size_t>(N * dim));
  const int64_t window = 512;
  for (int64_t s = 0; s < N; s += window) {
    int64_t e = std::min(N, s + window);
    std::vector<std::string> part(texts.begin() + s, texts.begin() + e);
    auto res = pred.predict(part);
    for (int64_t i = s; i < e; ++i) {
      float* x = &X[static_cast<size_t>(i * dim)];
      std::copy_n(&res[0].embeddings[static_cast<size_t>((i - s) * C)], C, x);
      int64_t c = C;
      for (size_t m = 0; m < models.size(); ++m) {
        if (models[m]->info().kind == infer::OutputKind::Encoder) continue;
        auto p = infer::probabilities(models[m]->info(), &res[m].logits[static_cast<size_t>((i - s) * L[m])]);
        for (float v : p) x[c++] = v;
      }
    }
    if (progress) progress(e, N);
  }
  return X;
}

// ---- Metrics ----

double mae(const std::vector<double>& pred, const std::vector<double>& y) {
  TERN_CHECK(pred.size() == y.size() && !y.empty(),
             "mae: " << pred.size() << " predictions, " << y.size() << " values");
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += std::fabs(pred[i] - y[i]);
  return s / static_cast<double>(y.size());
}

double mae_log1p(const std::vector<double>& pred, const std::vector<double>& y) {
  TERN_CHECK(pred.size() == y.size() && !y.empty(),
             "mae_log1p: " << pred.size() << " predictions, " << y.size() << " values");
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i)
    s += std::fabs(std::log1p(std::max(0.0, pred[i])) - std::log1p(std::max(0.0, y[i])));
  return s / static_cast<double>(y.size());
}

namespace {
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> o(v.size());
  std::iota(o.begin(), o.end(), 0);
  std::stable_sort(o.begin(), o.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < o.size();) {
    size_t j = i;
    while (j + 1 < o.size() && v[o[j + 1]] == v[o[i]]) ++j;
    double avg = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) r[o[k]] = avg;
    i = j + 1;
  }
  return r;
}
}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  TERN_CHECK(a.size() == b.size() && !a.empty(), "spearman: sizes " << a.size() << " and " << b.size());
  auto ra = ranks(a), rb = ranks(b);
  double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / static_cast<double>(ra.size());
  double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / static_cast<double>(rb.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa <= 0 || sbb <= 0) return 0;
  return sab / std::sqrt(saa * sbb);
}

}  // namespace tern::social::eng
