// Coordination networks: every co-action type just inside and just outside the window, retweets of
// retweets, combined weights and --min-weight, components from igraph, the output files, and the sliding
// window's cost on one heavily shared key (pairs only within the window, never all pairs).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "social/coordinate.h"
#include "tensor/check.h"
#include "weights/h5_arrays.h"

using namespace tern::social;

namespace {

Tweet mk(const std::string& user, int64_t time, const std::string& text) {
  Tweet t;
  t.author_name = user;
  t.time = time;
  t.text = text;
  t.hashtags = extract_hashtags(text);
  t.urls = extract_urls(text);
  return t;
}

CoordOptions only(CoType type) {
  CoordOptions o;
  o.types.fill(false);
  o.types[static_cast<int>(type)] = true;
  return o;
}

// "a|b" -> weight of that type, names sorted within the pair.
std::map<std::string, int64_t> edges(const CoordResult& r, CoType type) {
  std::map<std::string, int64_t> m;
  for (const auto& e : r.edges) {
    int64_t w = e.weight[static_cast<int>(type)];
    if (!w) continue;
    std::string a = r.accounts[e.a].name, b = r.accounts[e.b].name;
    if (b < a) std::swap(a, b);
    m[a + "|" + b] = w;
  }
  return m;
}

using Edges = std::map<std::string, int64_t>;

}  // namespace

TEST(SocialCoordinate, CoRetweetWindowEdges) {
  Coordinator c(only(CoType::Retweet));
  auto rt = [](const std::string& u, int64_t t, const std::string& id) {
    Tweet x = mk(u, t, "RT @orig: something");
    x.is_retweet = true;
    x.retweeted_id = id;
    return x;
  };
  c.add(rt("u1", 1000, "X"));
  c.add(rt("u2", 1060, "X"));  // 60 s after u1: inside (inclusive)
  c.add(rt("u3", 1121, "X"));  // 61 s after u2, 91 s after u1@1030: outside for both
  c.add(rt("u4", 1181, "X"));  // 60 s after u3: inside
  c.add(rt("u5", 1000, "Y"));  // another tweet at the same time: not with u1
  c.add(rt("u1", 1030, "X"));  // u1 again at 1030: pairs with u2 (30 s) but never with itself
  CoordResult r = c.finish();
  EXPECT_EQ(edges(r, CoType::Retweet), (Edges{{"u1|u2", 2}, {"u3|u4", 1}}));
  // Components by size, then name.
  ASSERT_EQ(r.components.size(), 2u);
  EXPECT_EQ(r.components[0].accounts.size(), 2u);
  EXPECT_EQ(r.accounts[r.components[0].accounts[0]].name, "u1");
  EXPECT_EQ(r.accounts[r.components[1].accounts[0]].name, "u3");
}

TEST(SocialCoordinate, CoRetweetByTextWhenNoIdsAndRetweetsOfRetweets) {
  CoordOptions o = only(CoType::Retweet);
  {
    Coordinator c(o);  // IRA-style: retweets flagged, no ids: identical normalised text is the key
    Tweet a = mk("t1", 0, "Same retweeted text"), b = mk("t2", 59, "same RETWEETED text"),
          d = mk("t3", 30, "other");
    a.is_retweet = b.is_retweet = d.is_retweet = true;
    c.add(a);
    c.add(b);
    c.add(d);
    EXPECT_EQ(edges(c.finish(), CoType::Retweet), (Edges{{"t1|t2", 1}}));
  }
  {
    Coordinator c(o);  // r1 retweets "orig"; r2 retweets the retweet r1 (its id), r3 retweets "orig"
    Tweet r1 = mk("r1", 0, "RT @o: x"), r2 = mk("r2", 20, "RT @r1: x"), r3 = mk("r3", 40, "RT @o: x");
    r1.id = "rt1";
    r1.retweeted_id = "orig";
    r2.id = "rt2";
    r2.retweeted_id = "rt1";  // seen before its parent would also work: resolved at the end
    r3.retweeted_id = "orig";
    for (Tweet* t : {&r1, &r2, &r3}) t->is_retweet = true;
    c.add(r2);
    c.add(r1);
    c.add(r3);
    EXPECT_EQ(edges(c.finish(), CoType::Retweet), (Edges{{"r1|r2", 1}, {"r1|r3", 1}, {"r2|r3", 1}}));
  }
}

TEST(SocialCoordinate, CoTweetNormalisedTextWindow) {
  Coordinator c(only(CoType::Tweet));
  c.add(mk("a", 0, "Vote for candidate X today https://t.co/1"));
  c.add(mk("b", 60, "@someone vote  for CANDIDATE x today https://t.co/2"));  // same normalised text, 60 s
  c.add(mk("c", 121, "vote for candidate x today"));                          // 61 s after b: outside
  c.add(mk("d", 10, "vote for candidate x tomorrow"));                        // different text
  c.add(mk("e", 0, "\xF0\x9F\x98\x82 #tag https://t.co/3"));                  // too little text: no co-tweet
  c.add(mk("f", 1, "\xF0\x9F\x98\x82 #tag https://t.co/4"));
  Tweet rt = mk("g", 5, "Vote for candidate X today");  // a retweet is a co-retweet, not a co-tweet
  rt.is_retweet = true;
  c.add(rt);
  EXPECT_EQ(edges(c.finish(), CoType::Tweet), (Edges{{"a|b", 1}}));
}

TEST(SocialCoordinate, CoLinkCoReplyCoHashtag) {
  {
    Coordinator c(only(CoType::Link));
    Tweet a = mk("a", 0, "read"), b = mk("b", 45, "look"), d = mk("d", 106, "see"), e = mk("e", 0, "x");
    a.urls = {"https://Example.com/story/"};
    b.urls = {"https://example.com/story", "https://example.com/story"};  // once per tweet
    d.urls = {"https://example.com/story"};                               // 61 s after b
    e.urls = {"https://example.com/other"};
    for (Tweet* t : {&a, &b, &d, &e}) c.add(*t);
    EXPECT_EQ(edges(c.finish(), CoType::Link), (Edges{{"a|b", 1}}));
  }
  {
    Coordinator c(only(CoType::Reply));
    Tweet a = mk("a", 100, "no"), b = mk("b", 40, "no!"), d = mk("d", 38, "hm"), e = mk("e", 100, "?");
    a.reply_to = b.reply_to = d.reply_to = "777";
    e.reply_to = "778";
    // a-b 60 s apart (inside); d at 38: 2 s from b (inside), 62 s from a (outside).
    for (Tweet* t : {&a, &b, &d, &e}) c.add(*t);
    EXPECT_EQ(edges(c.finish(), CoType::Reply), (Edges{{"a|b", 1}, {"b|d", 1}}));
  }
  {
    Coordinator c(only(CoType::Hashtag));
    c.add(mk("a", 0, "#x #y #z go"));
    c.add(mk("b", 60, "totally different words #X #Y #Z"));  // same sequence: inside
    c.add(mk("d", 30, "#y #x #z"));                          // other order: another sequence
    c.add(mk("e", 121, "#x #y #z"));                         // 61 s after b
    c.add(mk("f", 0, "#x #y"));                              // two tags: below --min-hashtags 3
    c.add(mk("g", 1, "#x #y"));
    EXPECT_EQ(edges(c.finish(), CoType::Hashtag), (Edges{{"a|b", 1}}));
  }
}

TEST(SocialCoordinate, CombinedWeightsMinWeightAndOutputs) {
  CoordOptions o;  // all default types
  o.min_weight = 2;
  Coordinator c(o);
  // p and q: one co-tweet + one co-link (combined 2, kept); r and s: one co-tweet only (dropped).
  Tweet p = mk("p", 0, "Join the rally downtown tonight"), q = mk("q", 5, "join the rally downtown tonight");
  p.urls = q.urls = {"https://rally.example/1"};
  c.add(p);
  c.add(q);
  c.add(mk("r", 1000, "Another coordinated message here"));
  c.add(mk("s", 1001, "another coordinated message here"));
  CoordResult r = c.finish();
  ASSERT_EQ(r.edges.size(), 1u);
  EXPECT_EQ(r.edges[0].total, 2);
  EXPECT_EQ(r.edges[0].weight[static_cast<int>(CoType::Tweet)], 1);
  EXPECT_EQ(r.edges[0].weight[static_cast<int>(CoType::Link)], 1);
  ASSERT_EQ(r.accounts.size(), 2u);
  EXPECT_EQ(r.accounts[0].component, 0);
  EXPECT_DOUBLE_EQ(r.accounts[0].strength, 2.0);
  EXPECT_FALSE(r.accounts[0].examples.empty());
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].weight[static_cast<int>(CoType::Tweet)], 1);

  std::string dir =
      (std::filesystem::temp_directory_path() / ("tern_coord_" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  write_edges_csv(r, dir + "/e.csv");
  std::ifstream ef(dir + "/e.csv");
  std::stringstream es;
  es << ef.rdbuf();
  EXPECT_EQ(es.str(), "source,target,type,weight\np,q,co_tweet,1\np,q,co_link,1\n");
  write_graphml(r, dir + "/g.graphml");
  std::ifstream gf(dir + "/g.graphml");
  std::stringstream gs;
  gs << gf.rdbuf();
  EXPECT_NE(gs.str().find("<graphml"), std::string::npos);
  EXPECT_NE(gs.str().find("<data key=\"name\">p</data>"), std::string::npos);
  EXPECT_NE(gs.str().find("<edge source=\"n0\" target=\"n1\">"), std::string::npos);
  EXPECT_NE(gs.str().find("co_tweet+co_link"), std::string::npos);
  write_components_json(r, dir + "/c.json");
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/c.json"));
  EXPECT_EQ(j["coordinated_accounts"], 2);
  EXPECT_EQ(j["components"][0]["size"], 2);
  EXPECT_EQ(j["components"][0]["types"]["co_link"], 1);
  EXPECT_EQ(j["components"][0]["accounts"][0]["name"], "p");
  std::filesystem::remove_all(dir);
}

TEST(SocialCoordinate, TwoCampaignsTwoComponentsAndClusters) {
  Coordinator c;
  for (int k = 0; k < 5; ++k)
    for (int u = 0; u < 4; ++u)
      c.add(mk("camp1_" + std::to_string(u), 10000 * k + u,
               "Campaign one message number " + std::to_string(k)));
  for (int k = 0; k < 3; ++k)
    for (int u = 0; u < 3; ++u)
      c.add(mk("camp2_" + std::to_string(u), 500000 + 10000 * k + u,
               "Second campaign text " + std::to_string(k)));
  c.add(mk("organic", 3, "Campaign one message number 0 but my own words"));
  CoordResult r = c.finish();
  ASSERT_EQ(r.components.size(), 2u);
  EXPECT_EQ(r.components[0].accounts.size(), 4u);
  EXPECT_EQ(r.components[1].accounts.size(), 3u);
  EXPECT_EQ(r.components[0].edges, 6);
  EXPECT_EQ(r.components[0].weight[static_cast<int>(CoType::Tweet)], 6 * 5);
  EXPECT_EQ(r.components[0].clusters, 1);
  for (const auto& a : r.accounts) EXPECT_NE(a.name, "organic");
}

TEST(SocialCoordinate, SlidingWindowIsLinearInWindowNotQuadratic) {
  // 100k retweets of one tweet, one every 10 s by distinct accounts: each pairs with the 6 before it.
  Coordinator c(only(CoType::Retweet));
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    Tweet t = mk("acct" + std::to_string(i), 10LL * i, "RT");
    t.is_retweet = true;
    t.retweeted_id = "viral";
    c.add(t);
  }
  CoordResult r = c.finish();
  EXPECT_EQ(r.edges.size(), static_cast<size_t>(6 * n - 21));  // 6 per account, fewer for the first six
  EXPECT_EQ(r.components.size(), 1u);
}

TEST(SocialCoordinate, CoSimilarityFromEmbeddingsInsideAndOutsideTheWindow) {
  // Rows: t1 (u1, 0 s) e1; t2 (u2, 60 s) cos 0.95 with e1; t3 (u3, 121 s) = e1 but 61 s after t2;
  // t4 (u4, 30 s) orthogonal; t5 (u5, 10 s) = e1 with t1's very text (a co-tweet, not a co-similarity);
  // t6 (u6, 20 s) cos 0.85 with e1 and 0.64 with e2: below 0.9.
  // Rows 7..12 (ids no tweet has) are the negated rows 1..6: the file's mean is 0, so the centring before the
  // cosine changes nothing here.
  std::vector<float> e = {1, 0, 0, 0.95f, 0.3122499f, 0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0.85f, -0.5267827f, 0};
  for (int i = 0; i < 18; ++i) e.push_back(-e[i]);
  std::vector<int64_t> ids = {101, 102, 103, 104, 105, 106, 201, 202, 203, 204, 205, 206};
  tern::TensorMap arrays;
  arrays["embeddings"] = tern::Tensor::from_data(e.data(), {12, 3});
  arrays["ids"] = tern::Tensor::from_data(ids.data(), {12});
  std::string path =
      (std::filesystem::temp_directory_path() / ("tern_sim_" + std::to_string(getpid()) + ".h5")).string();
  tern::write_h5_arrays(path, arrays);
  CoordOptions o = only(CoType::Tweet);
  o.types[static_cast<int>(CoType::Tweet)] = false;
  o.embeddings = path;
  o.min_similarity = 0.9;
  Coordinator c(o);
  const char* texts[] = {"first words here", "second phrasing",  "third",
                         "unrelated",        "First words here", "sixth"};
  const int64_t times[] = {0, 60, 121, 30, 10, 20};
  for (int i = 0; i < 6; ++i) {
    Tweet t = mk("u" + std::to_string(i + 1), times[i], texts[i]);
    t.id = std::to_string(ids[i]);
    c.add(t);
  }
  Tweet missing = mk("u9", 5, "no embedding for this one");
  missing.id = "999";
  c.add(missing);
  CoordResult r = c.finish();
  EXPECT_EQ(r.actions[static_cast<int>(CoType::Similarity)], 6);  // the seventh tweet has no embedding
  EXPECT_EQ(edges(r, CoType::Similarity), (Edges{{"u1|u2", 1}, {"u2|u5", 1}}));
  std::filesystem::remove(path);
  // A file without ids or lines cannot be joined.
  tern::TensorMap bare;
  bare["embeddings"] = tern::Tensor::from_data(e.data(), {12, 3});
  tern::write_h5_arrays(path, bare);
  EXPECT_THROW(Coordinator{o}, tern::Error);
  std::filesystem::remove(path);
}
