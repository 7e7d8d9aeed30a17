// Per-trend manipulation metrics (docs/social-trends.md), computed in one streaming pass: memory grows with
// distinct (trend, user) and (trend, text) pairs, not with the number of tweets.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "social/tweet.h"

namespace tern::social {

struct TrendOptions {
  int64_t bucket_seconds = 600;  // volume series bucket
  int64_t min_tweets = 1;        // trends with fewer tweets are left out of the results
  int64_t pairs_top = 0;         // pct_common_users for the N largest trends only (0 = every pair)
  // Every pair, 0 % included, is listed while there are at most kDensePairs of them (or always with
  // all_pairs); beyond that only pairs with a common user (the others are 0 % by definition).
  bool all_pairs = false;
  static constexpr int64_t kDensePairs = 2'000'000;
  int top_posters = 10;
};

struct DuplicatePoster {
  std::string user;
  int64_t duplicates = 0;
};

struct TrendMetrics {
  std::string trend;
  int64_t tweets = 0;
  int64_t likes = 0, retweets = 0, quotes = 0, replies = 0;
  bool has_counts = false;  // some tweet carried engagement counts
  double pct_more_retweets_than_likes = 0;
  double pct_duplicates = 0;
  int64_t distinct_texts = 0;
  int64_t distinct_users = 0;
  double tweets_per_user = 0, retweets_per_user = 0;
  std::optional<double> mean_gap_minutes;  // none when no user has two tweets
  int64_t gap_pairs = 0;
  std::vector<DuplicatePoster> top_duplicate_posters;
  std::optional<double> pct_new_account_tweets;  // none when no account creation dates
  int64_t first_time = kNoTime, last_time = kNoTime;
  std::vector<std::pair<int64_t, int64_t>> volume;  // (bucket start, tweets), every bucket first..last
};

struct TrendPair {
  uint32_t a = 0, b = 0;  // indices into TrendReport::trends, a < b
  int64_t common_users = 0, union_users = 0;
  double pct_common_users = 0;
};

struct TrendReport {
  int64_t tweets = 0;  // tweets read
  int64_t tweets_without_trend = 0;
  int64_t bucket_seconds = 600;
  std::vector<TrendMetrics> trends;  // by tweets, descending, then name
  std::vector<TrendPair> pairs;      // by (a, b)
  bool zero_pairs_omitted = false;   // too many pairs: only those with a common user are listed
};

class TrendAccumulator {
 public:
  explicit TrendAccumulator(const TrendOptions& opt = {});
  ~TrendAccumulator();
  void add(const Tweet& t);  // the tweet joins every trend it carries (hashtags, or groups when non-empty)
  TrendReport finish() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writers (throw tern::Error naming the file on I/O failure).
void write_trends_json(const TrendReport& r, const std::string& path);
// trends.csv, pairs.csv, volume.csv, duplicate_posters.csv in dir (created if absent).
void write_trends_csv(const TrendReport& r, const std::string& dir);

}  // namespace tern::social
