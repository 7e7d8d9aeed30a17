// Every trend metric on hand-built archives whose answers are known by construction: duplicates by time
// (not input order), unsorted times, per-user gaps, common users, retweet / like ties, volume buckets,
// new accounts, a hashtag repeated within a tweet, --group-by.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "social/trends.h"

using namespace tern::social;

namespace {

Tweet mk(const std::string& user, int64_t time, const std::string& text, int64_t likes = -1,
         int64_t rts = -1) {
  Tweet t;
  t.author_name = user;
  t.time = time;
  t.text = text;
  t.hashtags = extract_hashtags(text);
  t.likes = likes;
  t.retweets = rts;
  return t;
}

const TrendMetrics& find(const TrendReport& r, const std::string& name) {
  for (const auto& m : r.trends)
    if (m.trend == name) return m;
  throw std::runtime_error("no trend " + name);
}

// Trend a: five tweets by u1 (3), u2, u3, in this input order (times unsorted):
//   T1 u1 t=1000 "Hello #A world"                 likes 5 rts 10   rts > likes
//   T2 u2 t=400  "hello #a   WORLD https://x.co/1" likes 3 rts 3    tie: not counted
//   T3 u1 t=100  "@bob Hello #A world"             likes 0 rts 1    rts > likes
//   T4 u3 t=700  "Other text #A #B"                likes 2 rts 1
//   T5 u1 t=1600 "other text #a #b #A"             likes 0 rts 0    #a twice: one tweet of a
// Normalised texts: "hello #a world" (T1 T2 T3), "other text #a #b" (T4), "other text #a #b #a" (T5).
// Earliest "hello #a world" is T3 (u1, t=100), so T2 (u2) and T1 (u1) are the duplicates.
// Trend c: T6 u4 t=50 "#C solo".
TrendReport build(const TrendOptions& opt = {}) {
  TrendAccumulator acc(opt);
  acc.add(mk("u1", 1000, "Hello #A world", 5, 10));
  acc.add(mk("u2", 400, "hello #a   WORLD https://x.co/1", 3, 3));
  acc.add(mk("u1", 100, "@bob Hello #A world", 0, 1));
  acc.add(mk("u3", 700, "Other text #A #B", 2, 1));
  acc.add(mk("u1", 1600, "other text #a #b #A", 0, 0));
  acc.add(mk("u4", 50, "#C solo", 0, 0));
  acc.add(mk("u5", 60, "no trend at all", 0, 0));
  return acc.finish();
}

}  // namespace

TEST(SocialTrends, EveryMetricOfAHandBuiltTrend) {
  TrendReport r = build();
  EXPECT_EQ(r.tweets, 7);
  EXPECT_EQ(r.tweets_without_trend, 1);
  ASSERT_EQ(r.trends.size(), 3u);
  EXPECT_EQ(r.trends[0].trend, "a");  // by tweets, descending
  EXPECT_EQ(r.trends[1].trend, "b");
  EXPECT_EQ(r.trends[2].trend, "c");
  const TrendMetrics& a = find(r, "a");
  EXPECT_EQ(a.tweets, 5);
  EXPECT_EQ(a.likes, 10);
  EXPECT_EQ(a.retweets, 15);
  EXPECT_EQ(a.quotes, 0);
  EXPECT_EQ(a.replies, 0);
  EXPECT_DOUBLE_EQ(a.pct_more_retweets_than_likes, 40.0);  // T1, T3; the 3 = 3 tie is not "more"
  EXPECT_EQ(a.distinct_texts, 3);
  EXPECT_DOUBLE_EQ(a.pct_duplicates, 40.0);  // (5 - 3) / 5
  EXPECT_EQ(a.distinct_users, 3);
  EXPECT_DOUBLE_EQ(a.tweets_per_user, 5.0 / 3);
  EXPECT_DOUBLE_EQ(a.retweets_per_user, 5.0);
  // u1's tweets sorted: 100, 1000, 1600 -> gaps 900 s, 600 s; u2, u3 have one tweet each.
  ASSERT_TRUE(a.mean_gap_minutes.has_value());
  EXPECT_DOUBLE_EQ(*a.mean_gap_minutes, 12.5);
  EXPECT_EQ(a.gap_pairs, 2);
  ASSERT_EQ(a.top_duplicate_posters.size(), 2u);
  EXPECT_EQ(a.top_duplicate_posters[0].user, "u1");  // 1 duplicate each: ties by name
  EXPECT_EQ(a.top_duplicate_posters[0].duplicates, 1);
  EXPECT_EQ(a.top_duplicate_posters[1].user, "u2");
  EXPECT_EQ(a.top_duplicate_posters[1].duplicates, 1);
  EXPECT_EQ(a.first_time, 100);
  EXPECT_EQ(a.last_time, 1600);
  // 10-minute buckets: [0,600): 100, 400; [600,1200): 700, 1000; [1200,1800): 1600.
  EXPECT_EQ(a.volume, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {600, 2}, {1200, 1}}));
  EXPECT_FALSE(a.pct_new_account_tweets.has_value());  // no creation dates in this archive

  const TrendMetrics& b = find(r, "b");
  EXPECT_EQ(b.tweets, 2);
  EXPECT_EQ(b.distinct_users, 2);
  EXPECT_DOUBLE_EQ(b.pct_duplicates, 0.0);
  ASSERT_TRUE(b.mean_gap_minutes.has_value() == false);  // u3 and u1 one tweet each in b
  EXPECT_TRUE(b.top_duplicate_posters.empty());

  const TrendMetrics& c = find(r, "c");
  EXPECT_EQ(c.tweets, 1);
  EXPECT_DOUBLE_EQ(c.tweets_per_user, 1.0);

  // Pairs: a = {u1,u2,u3}, b = {u3,u1}, c = {u4}.
  ASSERT_EQ(r.pairs.size(), 3u);
  for (const auto& p : r.pairs) {
    if (r.trends[p.a].trend == "a" && r.trends[p.b].trend == "b") {
      EXPECT_EQ(p.common_users, 2);
      EXPECT_EQ(p.union_users, 3);
      EXPECT_DOUBLE_EQ(p.pct_common_users, 200.0 / 3);
    } else {
      EXPECT_EQ(p.common_users, 0);
      EXPECT_DOUBLE_EQ(p.pct_common_users, 0.0);
    }
  }
}

TEST(SocialTrends, InputOrderDoesNotMatter) {
  // The same tweets in reverse order give the same metrics (the archive is not in time order).
  TrendAccumulator acc;
  std::vector<Tweet> ts = {
      mk("u1", 1000, "Hello #A world", 5, 10),     mk("u2", 400, "hello #a   WORLD https://x.co/1", 3, 3),
      mk("u1", 100, "@bob Hello #A world", 0, 1),  mk("u3", 700, "Other text #A #B", 2, 1),
      mk("u1", 1600, "other text #a #b #A", 0, 0), mk("u4", 50, "#C solo", 0, 0)};
  for (auto it = ts.rbegin(); it != ts.rend(); ++it) acc.add(*it);
  TrendReport r = acc.finish();
  const TrendMetrics& a = find(r, "a");
  EXPECT_DOUBLE_EQ(*a.mean_gap_minutes, 12.5);
  ASSERT_EQ(a.top_duplicate_posters.size(), 2u);
  EXPECT_EQ(a.top_duplicate_posters[0].user, "u1");
  EXPECT_EQ(a.top_duplicate_posters[1].user, "u2");
  EXPECT_DOUBLE_EQ(a.pct_duplicates, 40.0);
}

TEST(SocialTrends, DuplicateTimeTiesGoToInputOrderAndTopTenCut) {
  TrendAccumulator acc;
  // Same text, same second: the first in the input is the original.
  acc.add(mk("first", 5000, "same #d"));
  acc.add(mk("second", 5000, "same #d"));
  // Twelve users each post "spam #d" twice after "first" posted it: 24 duplicates, 2 each.
  acc.add(mk("first", 4000, "spam #d"));
  for (int u = 0; u < 12; ++u)
    for (int k = 0; k < 2; ++k) acc.add(mk("user" + std::to_string(100 + u), 6000 + 10 * u + k, "SPAM  #d"));
  // A thirteenth with three duplicates tops the list.
  for (int k = 0; k < 3; ++k) acc.add(mk("zz", 7000 + k, "spam #d"));
  TrendReport r = acc.finish();
  const TrendMetrics& d = find(r, "d");
  EXPECT_EQ(d.tweets, 2 + 1 + 24 + 3);
  EXPECT_EQ(d.distinct_texts, 2);
  ASSERT_EQ(d.top_duplicate_posters.size(), 10u);
  EXPECT_EQ(d.top_duplicate_posters[0].user, "zz");
  EXPECT_EQ(d.top_duplicate_posters[0].duplicates, 3);
  EXPECT_EQ(d.top_duplicate_posters[1].user, "user100");
  EXPECT_EQ(d.top_duplicate_posters[1].duplicates, 2);
  EXPECT_EQ(d.top_duplicate_posters[9].user, "user108");
  for (const auto& p : d.top_duplicate_posters) EXPECT_NE(p.user, "first");
  bool second_listed = false;  // "second" has 1 duplicate: below the top ten (eleven users have more)
  for (const auto& p : d.top_duplicate_posters) second_listed |= p.user == "second";
  EXPECT_FALSE(second_listed);
}

TEST(SocialTrends, NewAccountsGroupByAndMissingCounts) {
  TrendAccumulator acc;
  Tweet t1 = mk("old", 10 * 86400, "x #n");
  t1.account_created = 0;  // 10 days before the trend's first tweet
  Tweet t2 = mk("new", 10 * 86400 + 60, "y #n");
  t2.account_created = 10 * 86400 - 7 * 86400;  // exactly 7 days before the first tweet: in the week
  Tweet t3 = mk("unknown", 10 * 86400 + 120, "z #n");
  acc.add(t1);
  acc.add(t2);
  acc.add(t2);
  acc.add(t3);
  TrendReport r = acc.finish();
  const TrendMetrics& n = find(r, "n");
  ASSERT_TRUE(n.pct_new_account_tweets.has_value());
  EXPECT_DOUBLE_EQ(*n.pct_new_account_tweets, 50.0);  // 2 of 4 tweets come from "new"
  EXPECT_FALSE(n.has_counts);

  TrendAccumulator g;
  Tweet a = mk("u", 0, "#ignored when grouping");
  a.groups = {"en"};
  Tweet b = mk("v", 0, "#ignored");
  b.groups = {"de", "en", "en"};  // once per trend
  g.add(a);
  g.add(b);
  TrendReport gr = g.finish();
  ASSERT_EQ(gr.trends.size(), 2u);
  EXPECT_EQ(find(gr, "en").tweets, 2);
  EXPECT_EQ(find(gr, "de").tweets, 1);
  EXPECT_DOUBLE_EQ(gr.pairs[0].pct_common_users, 50.0);
}

TEST(SocialTrends, JsonHasExactlyTheMetricNames) {
  TrendReport r = build();
  std::string path =
      (std::filesystem::temp_directory_path() / ("tern_trends_" + std::to_string(getpid()) + ".json"))
          .string();
  write_trends_json(r, path);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(path));
  const auto& a = j["trends"]["a"];
  for (const char* k : {"tweets", "likes", "retweets", "quotes", "replies", "pct_more_retweets_than_likes",
                        "pct_duplicates", "distinct_users", "tweets_per_user", "retweets_per_user",
                        "mean_gap_minutes", "top_duplicate_posters"})
    EXPECT_TRUE(a.contains(k)) << k;
  EXPECT_EQ(a["tweets"], 5);
  EXPECT_DOUBLE_EQ(a["mean_gap_minutes"].get<double>(), 12.5);
  EXPECT_EQ(a["top_duplicate_posters"][0]["user"], "u1");
  ASSERT_EQ(j["pairs"].size(), 3u);
  EXPECT_EQ(j["pairs"][0]["a"], "a");
  EXPECT_EQ(j["pairs"][0]["b"], "b");
  EXPECT_NEAR(j["pairs"][0]["pct_common_users"].get<double>(), 66.6667, 1e-3);
  std::filesystem::remove(path);
}

TEST(SocialTrends, PairsTopLimitsPairs) {
  TrendOptions opt;
  opt.pairs_top = 2;
  TrendReport r = build(opt);
  ASSERT_EQ(r.pairs.size(), 1u);
  EXPECT_EQ(r.trends[r.pairs[0].a].trend, "a");
  EXPECT_EQ(r.trends[r.pairs[0].b].trend, "b");
  EXPECT_FALSE(r.zero_pairs_omitted);
}
