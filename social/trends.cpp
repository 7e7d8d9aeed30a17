// Trend metrics. The two non-obvious reductions that make them streaming:
//  - mean_gap_minutes: a user's gaps between time-consecutive tweets sum to (last - first), so the pooled
//    mean is sum_u (max_u - min_u) / sum_u (n_u - 1), whatever the input order;
//  - duplicates: the earliest post of a normalised text (by time, then input order) is the original, every
//    other post a duplicate, so user u posted n_u - (texts whose earliest post is u's) duplicates.
#include "social/trends.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tensor/check.h"

namespace tern::social {

namespace {

uint64_t hash64(std::string_view s) {
  // FNV-1a 64 then a murmur finaliser: distinct texts collide with probability ~n^2 / 2^65.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

struct UserStat {
  int64_t n = 0;
  int64_t min_t = 0, max_t = 0;
  int64_t originals = 0;  // filled at finish
};

struct FirstPost {
  int64_t time;
  int64_t seq;
  uint32_t user;
};

struct Trend {
  int64_t tweets = 0, likes = 0, retweets = 0, quotes = 0, replies = 0, more_rt = 0;
  bool has_counts = false;
  std::unordered_map<uint32_t, UserStat> users;
  std::unordered_map<uint64_t, FirstPost> texts;
  std::unordered_map<int64_t, int64_t> volume;
  int64_t first_time = kNoTime, last_time = kNoTime;
};

}  // namespace

struct TrendAccumulator::Impl {
  TrendOptions opt;
  std::unordered_map<std::string, uint32_t> user_index;
  std::vector<std::string> user_names;
  std::vector<int64_t> user_created;
  std::unordered_map<std::string, Trend> trends;
  int64_t seq = 0;
  int64_t without_trend = 0;
};

TrendAccumulator::TrendAccumulator(const TrendOptions& opt) : impl_(std::make_unique<Impl>()) {
  TERN_CHECK(opt.bucket_seconds > 0, "bucket must be positive, got " << opt.bucket_seconds << " s");
  impl_->opt = opt;
}
TrendAccumulator::~TrendAccumulator() = default;

void TrendAccumulator::add(const Tweet& t) {
  auto& im = *impl_;
  int64_t seq = im.seq++;
  const auto& tags = t.groups.empty() ? t.hashtags : t.groups;
  if (tags.empty()) {
    ++im.without_trend;
    return;
  }
  auto [uit, fresh] = im.user_index.try_emplace(t.account(), static_cast<uint32_t>(im.user_names.size()));
  uint32_t user = uit->second;
  if (fresh) {
    im.user_names.push_back(t.display());
    im.user_created.push_back(kNoTime);
  } else if (im.user_names[user].empty()) {
    im.user_names[user] = t.display();
  }
  if (t.account_created != kNoTime) im.user_created[user] = t.account_created;
  uint64_t text_hash = hash64(normalize_text(t.text));
  int64_t bucket = static_cast<int64_t>(std::floor(static_cast<double>(t.time) / im.opt.bucket_seconds)) *
                   im.opt.bucket_seconds;
  for (size_t k = 0; k < tags.size(); ++k) {
    bool repeated = false;  // a tweet belongs to each trend once
    for (size_t q = 0; q < k; ++q) repeated |= tags[q] == tags[k];
    if (repeated) continue;
    Trend& tr = im.trends[tags[k]];
    ++tr.tweets;
    if (t.likes >= 0 || t.retweets >= 0 || t.quotes >= 0 || t.replies >= 0) tr.has_counts = true;
    tr.likes += std::max<int64_t>(t.likes, 0);
    tr.retweets += std::max<int64_t>(t.retweets, 0);
    tr.quotes += std::max<int64_t>(t.quotes, 0);
    tr.replies += std::max<int64_t>(t.replies, 0);
    if (std::max<int64_t>(t.retweets, 0) > std::max<int64_t>(t.likes, 0)) ++tr.more_rt;
    auto [us, ufresh] = tr.users.try_emplace(user);
    if (ufresh) {
      us->second.min_t = us->second.max_t = t.time;
    } else {
      us->second.min_t = std::min(us->second.min_t, t.time);
      us->second.max_t = std::max(us->second.max_t, t.time);
    }
    ++us->second.n;
    auto [tx, tfresh] = tr.texts.try_emplace(text_hash, FirstPost{t.time, seq, user});
    if (!tfresh && (t.time < tx->second.time || (t.time == tx->second.time && seq < tx->second.seq)))
      tx->second = FirstPost{t.time, seq, user};
    ++tr.volume[bucket];
    tr.first_time = tr.first_time == kNoTime ? t.time : std::min(tr.first_time, t.time);
    tr.last_time = tr.last_time == kNoTime ? t.time : std::max(tr.last_time, t.time);
  }
}

TrendReport TrendAccumulator::finish() const {
  const auto& im = *impl_;
  TrendReport r;
  r.tweets = im.seq;
  r.tweets_without_trend = im.without_trend;
  r.bucket_seconds = im.opt.bucket_seconds;
  std::vector<const std::pair<const std::string, Trend>*> order;
  for (const auto& kv : im.trends)
    if (kv.second.tweets >= im.opt.min_tweets) order.push_back(&kv);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->second.tweets != b->second.tweets ? a->second.tweets > b->second.tweets : a->first < b->first;
  });
  for (const auto* kv : order) {
    const Trend& tr = kv->second;
    TrendMetrics m;
    m.trend = kv->first;
    m.tweets = tr.tweets;
    m.likes = tr.likes;
    m.retweets = tr.retweets;
    m.quotes = tr.quotes;
    m.replies = tr.replies;
    m.has_counts = tr.has_counts;
    m.pct_more_retweets_than_likes = 100.0 * tr.more_rt / tr.tweets;
    m.distinct_texts = static_cast<int64_t>(tr.texts.size());
    m.pct_duplicates = 100.0 * (tr.tweets - m.distinct_texts) / tr.tweets;
    m.distinct_users = static_cast<int64_t>(tr.users.size());
    m.tweets_per_user = static_cast<double>(tr.tweets) / m.distinct_users;
    m.retweets_per_user = static_cast<double>(tr.retweets) / m.distinct_users;
    int64_t gap_sum = 0, gap_n = 0;
    for (const auto& [u, s] : tr.users) {
      gap_sum += s.max_t - s.min_t;
      gap_n += s.n - 1;
    }
    m.gap_pairs = gap_n;
    if (gap_n > 0) m.mean_gap_minutes = static_cast<double>(gap_sum) / gap_n / 60.0;
    std::unordered_map<uint32_t, int64_t> originals;
    for (const auto& [h, fp] : tr.texts) ++originals[fp.user];
    std::vector<DuplicatePoster> dp;
    for (const auto& [u, s] : tr.users) {
      auto it = originals.find(u);
      int64_t d = s.n - (it == originals.end() ? 0 : it->second);
      if (d > 0) dp.push_back({im.user_names[u], d});
    }
    std::sort(dp.begin(), dp.end(), [](const auto& a, const auto& b) {
      return a.duplicates != b.duplicates ? a.duplicates > b.duplicates : a.user < b.user;
    });
    if (static_cast<int>(dp.size()) > im.opt.top_posters) dp.resize(static_cast<size_t>(im.opt.top_posters));
    m.top_duplicate_posters = std::move(dp);
    // Accounts created in the trend's week: created at most 7 days before the trend's first tweet.
    int64_t with_created = 0, new_tweets = 0;
    for (const auto& [u, s] : tr.users) {
      int64_t c = im.user_created[u];
      if (c == kNoTime) continue;
      with_created += s.n;
      if (c >= tr.first_time - 7 * 86400) new_tweets += s.n;
    }
    if (with_created > 0) m.pct_new_account_tweets = 100.0 * new_tweets / tr.tweets;
    m.first_time = tr.first_time;
    m.last_time = tr.last_time;
    int64_t b0 =
        static_cast<int64_t>(std::floor(static_cast<double>(tr.first_time) / im.opt.bucket_seconds)) *
        im.opt.bucket_seconds;
    // Every bucket from the first to the last tweet (zeros included) unless that is much longer than the
    // buckets with tweets (a trend spread over years): then only the non-empty buckets.
    int64_t nb = (tr.last_time - b0) / im.opt.bucket_seconds + 1;
    if (nb <= 500 || nb <= 4 * static_cast<int64_t>(tr.volume.size())) {
      m.volume.reserve(static_cast<size_t>(nb));
      for (int64_t b = b0; b <= tr.last_time; b += im.opt.bucket_seconds) {
        auto it = tr.volume.find(b);
        m.volume.emplace_back(b, it == tr.volume.end() ? 0 : it->second);
      }
    } else {
      std::vector<std::pair<int64_t, int64_t>> v(tr.volume.begin(), tr.volume.end());
      std::sort(v.begin(), v.end());
      m.volume = std::move(v);
    }
    r.trends.push_back(std::move(m));
  }
  // Pairs: intersections from each user's trend list (sparse).
  size_t np = r.trends.size();
  if (im.opt.pairs_top > 0) np = std::min<size_t>(np, static_cast<size_t>(im.opt.pairs_top));
  std::unordered_map<uint32_t, std::vector<uint32_t>> user_trends;
  for (size_t i = 0; i < np; ++i)
    for (const auto& [u, s] : im.trends.at(r.trends[i].trend).users)
      user_trends[u].push_back(static_cast<uint32_t>(i));
  std::unordered_map<uint64_t, int64_t> common;
  for (auto& [u, list] : user_trends)
    for (size_t x = 0; x < list.size(); ++x)
      for (size_t y = x + 1; y < list.size(); ++y) {
        uint32_t a = std::min(list[x], list[y]), b = std::max(list[x], list[y]);
        ++common[static_cast<uint64_t>(a) * np + b];
      }
  auto make = [&](size_t a, size_t b, int64_t c) {
    TrendPair p;
    p.a = static_cast<uint32_t>(a);
    p.b = static_cast<uint32_t>(b);
    p.common_users = c;
    p.union_users = r.trends[a].distinct_users + r.trends[b].distinct_users - c;
    p.pct_common_users = p.union_users ? 100.0 * c / p.union_users : 0.0;
    return p;
  };
  const int64_t npairs = static_cast<int64_t>(np) * (static_cast<int64_t>(np) - 1) / 2;
  if (im.opt.all_pairs || npairs <= TrendOptions::kDensePairs) {
    r.pairs.reserve(static_cast<size_t>(npairs));
    for (size_t a = 0; a < np; ++a)
      for (size_t b = a + 1; b < np; ++b) {
        auto c = common.find(static_cast<uint64_t>(a) * np + b);
        r.pairs.push_back(make(a, b, c == common.end() ? 0 : c->second));
      }
  } else {
    r.zero_pairs_omitted = true;
    std::vector<std::pair<uint64_t, int64_t>> nz(common.begin(), common.end());
    std::unordered_map<uint64_t, int64_t>().swap(common);
    std::sort(nz.begin(), nz.end());
    r.pairs.reserve(nz.size());
    for (const auto& [key, c] : nz) r.pairs.push_back(make(key / np, key % np, c));
  }
  return r;
}

namespace {

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

std::ofstream open_out(const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  if (!f) TERN_FAIL("cannot write " << path);
  return f;
}

void close_out(std::ofstream& f, const std::string& path) {
  f.close();
  if (!f) TERN_FAIL("write failed: " << path);
}

}  // namespace

void write_trends_json(const TrendReport& r, const std::string& path) {
  // Written piece by piece (one trend, one pair at a time): the pairs grow with trends², so no whole
  // document is built in memory.
  std::ofstream file;
  std::ostream* os = &std::cout;
  if (path != "-") {
    file = open_out(path);
    os = &file;
  }
  std::ostream& f = *os;
  auto dump = [](const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  };
  f << "{\"trends\": {";
  bool first = true;
  for (const auto& m : r.trends) {
    nlohmann::ordered_json t;
    t["tweets"] = m.tweets;
    auto count = [&](int64_t v) {
      return m.has_counts ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
    };
    t["likes"] = count(m.likes);
    t["retweets"] = count(m.retweets);
    t["quotes"] = count(m.quotes);
    t["replies"] = count(m.replies);
    t["pct_more_retweets_than_likes"] =
        m.has_counts ? nlohmann::ordered_json(m.pct_more_retweets_than_likes) : nlohmann::ordered_json();
    t["pct_duplicates"] = m.pct_duplicates;
    t["distinct_users"] = m.distinct_users;
    t["tweets_per_user"] = m.tweets_per_user;
    t["retweets_per_user"] =
        m.has_counts ? nlohmann::ordered_json(m.retweets_per_user) : nlohmann::ordered_json();
    t["mean_gap_minutes"] =
        m.mean_gap_minutes ? nlohmann::ordered_json(*m.mean_gap_minutes) : nlohmann::ordered_json();
    auto& tp = t["top_duplicate_posters"] = nlohmann::ordered_json::array();
    for (const auto& d : m.top_duplicate_posters)
      tp.push_back({{"user", d.user}, {"duplicates", d.duplicates}});
    t["pct_new_account_tweets"] = m.pct_new_account_tweets ? nlohmann::ordered_json(*m.pct_new_account_tweets)
                                                           : nlohmann::ordered_json();
    t["first_time"] = format_time(m.first_time);
    t["last_time"] = format_time(m.last_time);
    auto& v = t["volume"] = nlohmann::ordered_json::array();
    for (const auto& [b, n] : m.volume) v.push_back({format_time(b), n});
    f << (first ? "\n" : ",\n") << dump(nlohmann::ordered_json(m.trend)) << ": " << dump(t);
    first = false;
  }
  f << "\n},\n\"pairs\": [";
  first = true;
  for (const auto& p : r.pairs) {
    nlohmann::ordered_json o = {{"a", r.trends[p.a].trend},
                                {"b", r.trends[p.b].trend},
                                {"pct_common_users", p.pct_common_users},
                                {"common_users", p.common_users},
                                {"union_users", p.union_users}};
    f << (first ? "\n" : ",\n") << dump(o);
    first = false;
  }
  f << "\n],\n\"zero_pairs_omitted\": " << (r.zero_pairs_omitted ? "true" : "false")
    << ", \"bucket_seconds\": " << r.bucket_seconds << ", \"tweets_read\": " << r.tweets
    << ", \"tweets_without_trend\": " << r.tweets_without_trend << "}\n";
  if (path != "-") {
    close_out(file, path);
  } else {
    f.flush();
    if (!f) TERN_FAIL("write failed: <stdout>");
  }
}

void write_trends_csv(const TrendReport& r, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) TERN_FAIL("cannot create " << dir << ": " << ec.message());
  std::string p = dir + "/trends.csv";
  auto f = open_out(p);
  f << "trend,tweets,likes,retweets,quotes,replies,pct_more_retweets_than_likes,pct_duplicates,distinct_"
       "users,"
       "tweets_per_user,retweets_per_user,mean_gap_minutes,pct_new_account_tweets,first_time,last_time\n";
  for (const auto& m : r.trends) {
    auto c = [&](int64_t v) { return m.has_counts ? std::to_string(v) : std::string(); };
    f << csv_cell(m.trend) << ',' << m.tweets << ',' << c(m.likes) << ',' << c(m.retweets) << ','
      << c(m.quotes) << ',' << c(m.replies) << ','
      << (m.has_counts ? num(m.pct_more_retweets_than_likes) : "") << ',' << num(m.pct_duplicates) << ','
      << m.distinct_users << ',' << num(m.tweets_per_user) << ','
      << (m.has_counts ? num(m.retweets_per_user) : "") << ','
      << (m.mean_gap_minutes ? num(*m.mean_gap_minutes) : "") << ','
      << (m.pct_new_account_tweets ? num(*m.pct_new_account_tweets) : "") << ',' << format_time(m.first_time)
      << ',' << format_time(m.last_time) << '\n';
  }
  close_out(f, p);
  p = dir + "/pairs.csv";
  f = open_out(p);
  f << "a,b,common_users,union_users,pct_common_users\n";
  for (const auto& x : r.pairs)
    f << csv_cell(r.trends[x.a].trend) << ',' << csv_cell(r.trends[x.b].trend) << ',' << x.common_users << ','
      << x.union_users << ',' << num(x.pct_common_users) << '\n';
  close_out(f, p);
  p = dir + "/volume.csv";
  f = open_out(p);
  f << "trend,bucket_start,tweets\n";
  for (const auto& m : r.trends)
    for (const auto& [b, n] : m.volume) f << csv_cell(m.trend) << ',' << format_time(b) << ',' << n << '\n';
  close_out(f, p);
  p = dir + "/duplicate_posters.csv";
  f = open_out(p);
  f << "trend,rank,user,duplicates\n";
  for (const auto& m : r.trends)
    for (size_t i = 0; i < m.top_duplicate_posters.size(); ++i)
      f << csv_cell(m.trend) << ',' << i + 1 << ',' << csv_cell(m.top_duplicate_posters[i].user) << ','
        << m.top_duplicate_posters[i].duplicates << '\n';
  close_out(f, p);
}

}  // namespace tern::social
