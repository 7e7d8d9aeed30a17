// Engagement prediction: time formats (hand values), target specs, row accounting, look-ahead-free
// features and training, ridge against hand-solved systems, metrics and losses against hand values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "social/engagement.h"
#include "tensor/check.h"
#include "tests/util/test_util.h"
#include "weights/model_file.h"

namespace eng = tern::social::eng;
using tern::test::ScratchDir;
using tern::test::write_bytes;

namespace {
constexpr int64_t kNo = std::numeric_limits<int64_t>::min();
}

// 2018-10-10 20:19:24 UTC = 1539202764 (calendar.timegm).
TEST(EngagementTime, EveryDefaultKind) {
  bool naive = false;
  EXPECT_EQ(eng::parse_time_text("2018-10-10T20:19:24Z", "", &naive), 1539202764);
  EXPECT_FALSE(naive);
  EXPECT_EQ(eng::parse_time_text("2018-10-10T22:19:24+02:00"), 1539202764);
  EXPECT_EQ(eng::parse_time_text("2018-10-10T20:19:24.000000000+00:00"), 1539202764);  // cps3235's layout
  EXPECT_EQ(eng::parse_time_text("2018-10-10 20:19:24", "", &naive), 1539202764);
  EXPECT_TRUE(naive);
  EXPECT_EQ(eng::parse_time_text("2018-10-10 20:19", "", &naive), 1539202740);
  EXPECT_TRUE(naive);
  EXPECT_EQ(eng::parse_time_text("Wed Oct 10 20:19:24 +0000 2018", "", &naive), 1539202764);
  EXPECT_FALSE(naive);
  EXPECT_EQ(eng::parse_time_text("1539202764"), 1539202764);       // epoch seconds
  EXPECT_EQ(eng::parse_time_text("1539202764000"), 1539202764);    // epoch milliseconds
  EXPECT_EQ(eng::parse_time_text("1539202764000.0"), 1539202764);  // twint's pandas layout
  // twint's CSV layout: a zone name, taken as naive local time (the offset comes from another column).
  EXPECT_EQ(eng::parse_time_text("2022-03-05 12:47:21 Arabian Standard Time", "", &naive), 1646484441);
  EXPECT_TRUE(naive);
  EXPECT_EQ(eng::parse_time_text(""), kNo);
  EXPECT_EQ(eng::parse_time_text("yesterday"), kNo);
  EXPECT_EQ(eng::parse_time_text("2018-13-10 20:19"), kNo);
  EXPECT_EQ(eng::parse_time_text(std::string(400, '9')), kNo);  // digits, but no time
}

TEST(EngagementTime, StrptimeFormats) {
  EXPECT_EQ(eng::parse_time_text("10/10/2018 20:19", "%d/%m/%Y %H:%M"), 1539202740);
  EXPECT_EQ(eng::parse_time_text("Oct 10, 2018 8:19:24 +0000", "%b %d, %Y %H:%M:%S %z"),
            1539202764 - 12 * 3600);
  EXPECT_EQ(eng::parse_time_text("Wed, 10 Oct 18 22:19:24 +0200", "%a, %d %b %y %H:%M:%S %z"), 1539202764);
  EXPECT_EQ(eng::parse_time_text("1539202764", "%s"), 1539202764);
  EXPECT_EQ(eng::parse_time_text("20181010-201924Z", "%Y%m%d-%H%M%S%z"), 1539202764);
  bool naive = false;
  EXPECT_EQ(eng::parse_time_text("2018-10-10 20:19:24 AST", "%Y-%m-%d %H:%M:%S %Z", &naive), 1539202764);
  EXPECT_TRUE(naive);
  EXPECT_EQ(eng::parse_time_text("10/10/2018 20:19 extra", "%d/%m/%Y %H:%M"), kNo);  // trailing text
  EXPECT_EQ(eng::parse_time_text("2018-10-10", "%d/%m/%Y"), kNo);
  EXPECT_EQ(eng::parse_time_text("10/10/2018", "%d/%m/%Y %q"), kNo);  // unknown directive
  int64_t off = 0;
  EXPECT_TRUE(eng::parse_utc_offset("+0400", off));
  EXPECT_EQ(off, 4 * 3600);
  EXPECT_TRUE(eng::parse_utc_offset("-05:30", off));
  EXPECT_EQ(off, -(5 * 3600 + 30 * 60));
  EXPECT_FALSE(eng::parse_utc_offset("Arabian", off));
}

TEST(EngagementTargets, Specs) {
  auto t = eng::parse_targets("likes=favorites,retweets,replies=nreplies|replies_count");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name, "likes");
  EXPECT_EQ(t[0].columns, std::vector<std::string>{"favorites"});
  EXPECT_EQ(t[1].columns.front(), "retweet_count");  // a known name brings its usual columns
  EXPECT_EQ(t[2].columns, (std::vector<std::string>{"nreplies", "replies_count"}));
  EXPECT_NE(tern::test::error_of([] { eng::parse_targets("likes,,replies"); }).find("empty"),
            std::string::npos);
  EXPECT_NE(tern::test::error_of([] { eng::parse_targets("likes=,replies"); }).find("likes="),
            std::string::npos);
  EXPECT_NE(tern::test::error_of([] { eng::parse_targets("likes,likes"); }).find("twice"), std::string::npos);
}

TEST(EngagementRead, EveryRowCounted) {
  ScratchDir d;
  // Line 1 header; 2 good; 3 invalid UTF-8; 4 no text; 5 bad time; 6 no likes; 7 retweet; 8 duplicate of
  // 2 (kept: the later row); 9 good, earlier time (sorted first); 10 "1,234" likes.
  std::string csv =
      "id,created_at,text,likes,retweets\n"
      "1,2020-01-02 10:00:00,first,10,1\n"
      "2,2020-01-02 11:00:00,bad \xff byte,10,1\n"
      "3,2020-01-02 12:00:00,,10,1\n"
      "4,someday,no time,10,1\n"
      "5,2020-01-02 13:00:00,no likes,,1\n"
      "6,2020-01-02 14:00:00,RT @x: hi,0,5\n"
      "1,2020-01-02 10:00:00,first again,12,2\n"
      "7,2020-01-01 09:00:00,earliest,3,0\n"
      "8,2020-01-03 09:00:00,big,\"1,234\",7\n";
  write_bytes(d.file("t.csv"), csv);
  eng::TableOptions o;
  o.targets = eng::parse_targets("likes,retweets");
  o.exclude_retweets = true;
  eng::RowCounts c;
  std::vector<eng::BadRow> bad;
  auto rows = eng::read_tables({d.file("t.csv")}, o, c, [&](const eng::BadRow& b) { bad.push_back(b); });
  EXPECT_EQ(c.read, 9);
  EXPECT_EQ(c.bad, 1);
  EXPECT_EQ(c.no_text, 1);
  EXPECT_EQ(c.no_time, 1);
  EXPECT_EQ(c.no_target, 1);
  EXPECT_EQ(c.retweets_excluded, 1);
  EXPECT_EQ(c.duplicates, 1);
  EXPECT_EQ(c.used, 3);
  EXPECT_EQ(c.read,
            c.used + c.bad + c.no_text + c.no_time + c.no_target + c.retweets_excluded + c.duplicates);
  ASSERT_EQ(bad.size(), 4u);
  EXPECT_EQ(bad[0].line, 3);
  EXPECT_NE(bad[2].reason.find("someday"), std::string::npos);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].text, "earliest");
  EXPECT_EQ(rows[1].text, "first again");
  EXPECT_EQ(rows[1].y[0], 12);
  EXPECT_EQ(rows[2].y[0], 1234);
  // --invalid-utf8 replace keeps the row and counts it.
  o.replace_invalid_utf8 = true;
  eng::RowCounts c2;
  rows = eng::read_tables({d.file("t.csv")}, o, c2);
  EXPECT_EQ(c2.bad, 0);
  EXPECT_EQ(c2.replaced, 1);
  EXPECT_EQ(c2.used, 4);
}

namespace {
std::vector<eng::Row> random_rows(int n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<eng::Row> rows;
  int64_t t = 1500000000;
  for (int i = 0; i < n; ++i) {
    eng::Row r;
    t += 60 + static_cast<int64_t>(g() % 20000);
    r.time = t;
    r.author = "a" + std::to_string(g() % 3);
    r.text = std::string(1 + g() % 50, 'x') + (g() % 2 ? " http://t.co" : "") + (g() % 3 ? "" : " @b");
    r.y = {static_cast<double>(g() % 5000), static_cast<double>(g() % 300)};
    r.id = std::to_string(i);
    rows.push_back(r);
  }
  return rows;
}
}  // namespace

// Row i's context features and transformer window depend only on rows before it: altering every row after
// a cut (targets, texts, authors, times, their order, how many there are) leaves rows up to the cut alone.
TEST(EngagementFeatures, NoLookAhead) {
  auto rows = random_rows(300, 7);
  int64_t dim = 0;
  std::vector<std::string> names;
  auto X = eng::context_features(rows, 5, dim, &names);
  ASSERT_EQ(static_cast<int64_t>(names.size()), dim);
  auto P = eng::previous_rows(rows, 4);
  const int cut = 200;
  auto alt = rows;
  std::mt19937_64 g(99);
  for (int i = cut; i < 300; ++i) {
    alt[i].y = {static_cast<double>(g() % 100000), static_cast<double>(g() % 100000)};
    alt[i].text = "changed " + std::to_string(g());
    alt[i].author = "a" + std::to_string(g() % 4);
  }
  std::shuffle(alt.begin() + cut, alt.end(), g);
  for (int i = cut; i < 300; ++i) alt[i].time = rows[cut].time + static_cast<int64_t>(g() % 1000000);
  std::stable_sort(alt.begin() + cut, alt.end(),
                   [](const eng::Row& a, const eng::Row& b) { return a.time < b.time; });
  alt.resize(260);
  int64_t dim2 = 0;
  auto X2 = eng::context_features(alt, 5, dim2);
  auto P2 = eng::previous_rows(alt, 4);
  ASSERT_EQ(dim, dim2);
  for (int i = 0; i < cut; ++i) {
    for (int64_t f = 0; f < dim; ++f) {
      ASSERT_EQ(X[i * dim + f], X2[i * dim + f]) << "row " << i << " " << names[f];
    }
  }
  for (int i = 0; i < cut * 4; ++i) ASSERT_EQ(P[i], P2[i]);
  // Windows hold earlier rows of the same author only.
  for (int i = 0; i < 300; ++i)
    for (int j = 0; j < 4; ++j) {
      int64_t p = P[i * 4 + j];
      if (p < 0) continue;
      EXPECT_LT(p, i);
      EXPECT_EQ(rows[p].author, rows[i].author);
    }
  // And the features do change when the past changes (the test can fail).
  auto past = rows;
  past[cut - 2].y[0] += 1000;
  auto X3 = eng::context_features(past, 5, dim2);
  bool differs = false;
  for (int64_t f = 0; f < dim; ++f) differs |= X3[(cut - 1) * dim + f] != X[(cut - 1) * dim + f];
  if (rows[cut - 2].author == rows[cut - 1].author) EXPECT_TRUE(differs);
}

TEST(EngagementFeatures, HandValues) {
  std::vector<eng::Row> rows(3);
  rows[0].time = 0;  // Thursday 1970-01-01 00:00
  rows[1].time = 3600 * 6;
  rows[2].time = 3600 * 30;
  rows[0].y = {std::expm1(1.0)};
  rows[1].y = {std::expm1(3.0)};
  rows[2].y = {0};
  for (auto& r : rows) r.text = "@a hi";
  int64_t dim = 0;
  std::vector<std::string> names;
  auto X = eng::context_features(rows, 2, dim, &names);
  auto at = [&](int i, const std::string& n) {
    auto it = std::find(names.begin(), names.end(), n);
    EXPECT_NE(it, names.end()) << n;
    return X[i * dim + (it - names.begin())];
  };
  EXPECT_FLOAT_EQ(at(0, "weekday_3"), 1.f);
  EXPECT_FLOAT_EQ(at(1, "hour_sin"), 1.f);  // 06:00
  EXPECT_FLOAT_EQ(at(2, "weekday_4"), 1.f);
  EXPECT_FLOAT_EQ(at(1, "log_gap_hours"), static_cast<float>(std::log1p(6.0)));
  EXPECT_FLOAT_EQ(at(2, "log_gap_hours"), static_cast<float>(std::log1p(24.0)));
  EXPECT_FLOAT_EQ(at(0, "has_previous"), 0.f);
  EXPECT_FLOAT_EQ(at(2, "y0_prev1"), 3.f);  // most recent first
  EXPECT_FLOAT_EQ(at(2, "y0_prev2"), 1.f);
  EXPECT_FLOAT_EQ(at(1, "y0_prev2"), 1.f);  // missing slot: the mean of what there is
  EXPECT_FLOAT_EQ(at(2, "y0_window_mean"), 2.f);
  EXPECT_FLOAT_EQ(at(2, "y0_window_max"), 3.f);
  EXPECT_FLOAT_EQ(at(2, "log_tweets_24h"), static_cast<float>(std::log1p(1.0)));  // 06:00 is 24 h before
  EXPECT_FLOAT_EQ(at(0, "is_reply"), 1.f);
}

TEST(EngagementMetrics, HandValues) {
  EXPECT_NEAR(eng::spearman({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);  // 1 - 6 * 2 / (4 * 15)
  EXPECT_NEAR(eng::spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(4.5 * 5.0), 1e-12);  // ties
  EXPECT_NEAR(eng::spearman({4, 3, 2, 1}, {1, 2, 3, 4}), -1.0, 1e-12);
  EXPECT_EQ(eng::spearman({5, 5, 5}, {1, 2, 3}), 0.0);
  const double e1 = std::expm1(1.0);
  EXPECT_NEAR(eng::mae_log1p({0, e1}, {e1, e1}), 0.5, 1e-12);
  EXPECT_NEAR(eng::mae_log1p({-5, 0}, {0, 0}), 0.0, 1e-12);  // a negative prediction counts as 0
  EXPECT_NEAR(eng::mae({1, 5}, {2, 2}), 2.0, 1e-12);
}

TEST(EngagementLoss, HandValues) {
  double g = 0;
  EXPECT_DOUBLE_EQ(eng::loss_value(eng::Loss::Mse, 3, 1, 0, &g), 4);
  EXPECT_DOUBLE_EQ(g, 4);
  EXPECT_DOUBLE_EQ(eng::loss_value(eng::Loss::Mae, 1, 3, 0, &g), 2);
  EXPECT_DOUBLE_EQ(g, -1);
  EXPECT_DOUBLE_EQ(eng::loss_value(eng::Loss::Huber, 1.5, 1, 1, &g), 0.125);
  EXPECT_DOUBLE_EQ(g, 0.5);
  EXPECT_DOUBLE_EQ(eng::loss_value(eng::Loss::Huber, 4, 1, 1, &g), 2.5);
  EXPECT_DOUBLE_EQ(g, 1);
  EXPECT_DOUBLE_EQ(eng::loss_value(eng::Loss::Quantile, 1, 3, 0.9, &g), 1.8);  // under: tau * 2
  EXPECT_DOUBLE_EQ(g, -0.9);
  EXPECT_NEAR(eng::loss_value(eng::Loss::Quantile, 3, 1, 0.9, &g), 0.2, 1e-12);  // over: (1 - tau) * 2
  EXPECT_NEAR(g, 0.1, 1e-12);
  EXPECT_THROW(eng::loss_from_name("l3"), tern::Error);
}

TEST(EngagementRidge, HandSolvedSystems) {
  // y = 1 + 2 x exactly: lambda 0 gives w 2, b 1.
  const float X1[] = {0, 1, 2};
  const double y1[] = {1, 3, 5};
  auto r = eng::fit_ridge(X1, 3, 1, y1, 0.0);
  EXPECT_NEAR(r.w[0], 2.0, 1e-9);
  EXPECT_NEAR(r.b, 1.0, 1e-9);
  // lambda 1: centred x (-1, 0, 1), Sxx 2, Sxy 4 -> w = 4 / 3, b = 3 - 4 / 3.
  r = eng::fit_ridge(X1, 3, 1, y1, 1.0);
  EXPECT_NEAR(r.w[0], 4.0 / 3, 1e-9);
  EXPECT_NEAR(r.b, 3.0 - 4.0 / 3, 1e-9);
  // Two features, lambda 2: rows (1,0) (0,1) (1,1) (0,0), y (1, 2, 4, 1). Centred X^T X = [[1, 0], [0, 1]],
  // X^T y (centred) = (1, 2); (I + 2 I) w = (1, 2) -> w = (1/3, 2/3); b = 2 - 0.5 (1/3 + 2/3) = 1.5.
  const float X2[] = {1, 0, 0, 1, 1, 1, 0, 0};
  const double y2[] = {1, 2, 4, 1};
  r = eng::fit_ridge(X2, 4, 2, y2, 2.0);
  EXPECT_NEAR(r.w[0], 1.0 / 3, 1e-9);
  EXPECT_NEAR(r.w[1], 2.0 / 3, 1e-9);
  EXPECT_NEAR(r.b, 1.5, 1e-9);
}

namespace {
// A CSV of one account: likes follow the previous tweets' likes and the hour.
std::string synthetic_csv(int n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::string s = "id,created_at,text,likes,retweets,replies\n";
  double level = 5;
  int64_t t = 1600000000;
  for (int i = 0; i < n; ++i) {
    t += 1800 + static_cast<int64_t>(g() % 30000);
    level = 0.9 * level + 0.1 * (4 + static_cast<double>(g() % 300) / 100);
    bool reply = g() % 2;
    double l = level + (reply ? -1.5 : 0.5) + static_cast<double>(g() % 100) / 200;
    long likes = std::lround(std::expm1(l));
    s += std::to_string(i + 1) + "," + std::to_string(t) + "," + (reply ? "@x thanks" : "big news today") +
         "," + std::to_string(likes) + "," + std::to_string(likes / 10) + "," + std::to_string(likes / 30) +
         "\n";
  }
  return s;
}
}  // namespace

// Training sees only the training period: changing the targets of the held-out (latest) tweets changes the
// test metrics but not one value of the saved models.
TEST(EngagementTrain, HeldOutFutureDoesNotChangeTheModels) {
  ScratchDir d;
  std::string csv = synthetic_csv(200, 3);
  write_bytes(d.file("a.csv"), csv);
  // The same file with the last 40 tweets' likes multiplied (the test split is the latest 20 % = 40).
  std::string alt;
  {
    std::istringstream in(csv);
    std::string line;
    int k = 0;
    while (std::getline(in, line)) {
      if (k > 160) {
        auto p1 = line.find(','), p2 = line.find(',', p1 + 1), p3 = line.find(',', p2 + 1),
             p4 = line.find(',', p3 + 1);
        line = line.substr(0, p3 + 1) + std::to_string(std::stol(line.substr(p3 + 1, p4 - p3 - 1)) * 7 + 3) +
               line.substr(p4);
      }
      alt += line + "\n";
      ++k;
    }
  }
  write_bytes(d.file("b.csv"), alt);
  eng::EngageOptions o;
  o.table.targets = eng::parse_targets("likes,retweets,replies");
  o.text_models = false;
  o.epochs = 4;
  o.window = 3;
  o.history = 4;
  auto m1 = eng::train({d.file("a.csv")}, o, d.file("a.h5"));
  auto m2 = eng::train({d.file("b.csv")}, o, d.file("b.h5"));
  EXPECT_EQ(m1["split"], m2["split"]);
  EXPECT_EQ(m1["split"]["test"], 40);
  EXPECT_NE(m1["targets"]["likes"]["ridge"]["mae"], m2["targets"]["likes"]["ridge"]["mae"]);
  auto b1 = tern::load_model(d.file("a.h5"));
  auto b2 = tern::load_model(d.file("b.h5"));
  auto c1 = nlohmann::json::parse(b1.config_json), c2 = nlohmann::json::parse(b2.config_json);
  EXPECT_EQ(c1["targets"], c2["targets"]);
  EXPECT_EQ(c1["features"], c2["features"]);
  ASSERT_EQ(b1.tensors.size(), b2.tensors.size());
  ASSERT_FALSE(b1.tensors.empty());
  for (const auto& [name, t] : b1.tensors) {
    const auto& u = b2.tensors.at(name);
    ASSERT_EQ(t.numel(), u.numel());
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.f32()[i], u.f32()[i]) << name;
  }
}

TEST(EngagementTrain, LearnedModelsBeatTheMedianOnASignal) {
  ScratchDir d;
  write_bytes(d.file("a.csv"), synthetic_csv(400, 5));
  eng::EngageOptions o;
  o.table.targets = eng::parse_targets("likes");
  o.text_models = false;
  o.epochs = 30;
  auto m = eng::train({d.file("a.csv")}, o, "");
  const auto& t = m["targets"]["likes"];
  double med = t["median_baseline"]["mae_log1p"];
  for (const char* k : {"ridge", "mlp", "transformer"}) EXPECT_LT(t[k]["mae_log1p"].get<double>(), med) << k;
  EXPECT_EQ(m["rows"]["used"], 400);
}

TEST(EngagementTrain, TooFewRowsIsAClearError) {
  ScratchDir d;
  write_bytes(d.file("a.csv"), synthetic_csv(6, 1));
  eng::EngageOptions o;
  o.table.targets = eng::parse_targets("likes");
  o.text_models = false;
  std::string e = tern::test::error_of([&] { eng::train({d.file("a.csv")}, o, ""); });
  EXPECT_NE(e.find("6 usable tweets"), std::string::npos) << e;
}
