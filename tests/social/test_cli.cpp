// tern trends / coordinate as a user runs them: outputs, the bad-row policy (errors file, exit 3),
// option errors (exit 1, naming the option), --help with defaults, a missing input (exit 1 naming it).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/social/social_fixture.h"
#include "tests/util/test_util.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST(SocialCli, TrendsJsonCsvAndBadRows) {
  std::string d = tern::social::test::out_dir("cli_trends");
  tern::social::test::write_fixture(d);
  auto r = tern::test::run_tern("trends " + d + "/archive.jsonl --json " + d + "/t.json --out " + d + "/csv",
                                "", 30);
  EXPECT_EQ(r.code, 3) << r.out;  // one bad row
  nlohmann::json j = nlohmann::json::parse(std::ifstream(d + "/t.json"));
  const auto& w = j["trends"]["welcomex"];
  EXPECT_EQ(w["tweets"], 12 + 4 + 6);
  EXPECT_EQ(w["distinct_users"], 4 + 6);
  EXPECT_EQ(j["trends"]["gobackx"]["tweets"], 12);
  EXPECT_EQ(j["trends"]["rally"]["tweets"], 12);
  // welcomex: the campaign's 12 texts are 3 distinct (9 duplicates), 4 identical retweets (3 duplicates).
  EXPECT_NEAR(w["pct_duplicates"].get<double>(), 100.0 * 12 / 22, 1e-9);
  // pct_common_users(welcomex, gobackx) = 6 persons common / 16 in the union.
  bool found = false;
  for (const auto& p : j["pairs"])
    if (p["a"] == "welcomex" && p["b"] == "gobackx") {
      EXPECT_NEAR(p["pct_common_users"].get<double>(), 100.0 * 6 / 16, 1e-9);
      found = true;
    }
  EXPECT_TRUE(found);
  std::string errors = slurp(d + "/t.json.errors.jsonl");
  nlohmann::json e = nlohmann::json::parse(errors.substr(0, errors.find('\n')));
  EXPECT_EQ(e["line"], 29);
  EXPECT_EQ(e["file"], d + "/archive.jsonl");
  EXPECT_FALSE(e["reason"].get<std::string>().empty());
  for (const char* f : {"trends.csv", "pairs.csv", "volume.csv", "duplicate_posters.csv"})
    EXPECT_TRUE(std::filesystem::exists(d + "/csv/" + f)) << f;
  EXPECT_EQ(slurp(d + "/csv/trends.csv").substr(0, 12), "trend,tweets");
}

TEST(SocialCli, CoordinateFindsThePlantedCampaign) {
  std::string d = tern::social::test::out_dir("cli_coord");
  tern::social::test::write_fixture(d);
  auto r = tern::test::run_tern("coordinate " + d + "/archive.jsonl --edges " + d + "/e.csv --graphml " + d +
                                    "/g.graphml --components " + d + "/c.json --errors " + d + "/bad.jsonl",
                                "", 30);
  EXPECT_EQ(r.code, 3) << r.out;
  nlohmann::json c = nlohmann::json::parse(std::ifstream(d + "/c.json"));
  ASSERT_EQ(c["components"].size(), 1u) << c.dump(1);
  EXPECT_EQ(c["components"][0]["size"], 4);
  // Each pair of the four: 3 co-tweets, 3 co-hashtag (#welcomex #rally is two tags: below 3, so 0),
  // 1 co-retweet.
  EXPECT_EQ(c["components"][0]["types"]["co_tweet"], 6 * 3);
  EXPECT_EQ(c["components"][0]["types"]["co_retweet"], 6);
  EXPECT_FALSE(c["components"][0]["types"].contains("co_hashtag"));
  std::string edges = slurp(d + "/e.csv");
  EXPECT_NE(edges.find("camp_a,camp_b,co_tweet,3"), std::string::npos) << edges;
  EXPECT_EQ(edges.find("person"), std::string::npos);
  EXPECT_NE(slurp(d + "/g.graphml").find("camp_d"), std::string::npos);
  EXPECT_NE(slurp(d + "/bad.jsonl").find("\"line\":29"), std::string::npos);
}

TEST(SocialCli, OptionErrorsHelpAndMissingInput) {
  auto help = tern::test::run_tern("trends --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--bucket TEXT=10m"), std::string::npos) << help.out;
  auto chelp = tern::test::run_tern("coordinate --help");
  EXPECT_EQ(chelp.code, 0);
  EXPECT_NE(chelp.out.find("--window TEXT=60s"), std::string::npos) << chelp.out;
  EXPECT_NE(chelp.out.find("--min-weight INT=1"), std::string::npos);
  // Usage errors are tern::Errors that name the option (exit 1), as in every tern command.
  auto bogus = tern::test::run_tern("trends x.jsonl --json a.json --bogus 1");
  EXPECT_EQ(bogus.code, 1);
  EXPECT_NE(bogus.out.find("--bogus"), std::string::npos) << bogus.out;
  auto twice = tern::test::run_tern("trends x.jsonl --json a.json --json b.json");
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.out.find("--json"), std::string::npos) << twice.out;
  EXPECT_EQ(tern::test::run_tern("trends x.jsonl --json a.json --all-pairs=1").code,
            1);                                                     // a switch has no value
  EXPECT_EQ(tern::test::run_tern("trends --json a.json").code, 1);  // no input
  EXPECT_EQ(tern::test::run_tern("trends x.jsonl").code, 1);        // no output
  EXPECT_EQ(tern::test::run_tern("coordinate x.jsonl --edges e.csv --window soon").code, 1);
  EXPECT_EQ(tern::test::run_tern("report x.jsonl").code, 1);  // --out required
  EXPECT_EQ(tern::test::run_tern("coordinate x.jsonl --edges e.csv --types similarity").code, 1);
  EXPECT_EQ(tern::test::run_tern("coordinate x.jsonl --edges e.csv --types telepathy").code, 1);
  auto missing = tern::test::run_tern("trends /nonexistent/archive.jsonl --json /tmp/x.json");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("/nonexistent/archive.jsonl"), std::string::npos) << missing.out;
}

TEST(SocialCli, RealArchivesFromShared) {
  const std::string may = "../shared/data/fte_mayweather_mcgregor_hashtag/tweets.csv.gz";
  if (!std::filesystem::exists(may)) GTEST_SKIP() << "../shared/data absent: real-archive check skipped";
  std::string d = tern::social::test::out_dir("cli_real");
  auto r = tern::test::run_tern("trends " + may + " --json " + d + "/m.json --pairs-top 5", "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(d + "/m.json"));
  // The five fight hashtags as counted in the dataset's PROVENANCE (hashtags glued to a preceding word, as
  // "the#MayweathervMcgregor", are not hashtags here: 1 to 2 fewer each).
  EXPECT_EQ(j["trends"]["mayweathervmcgregor"]["tweets"], 4591);
  EXPECT_EQ(j["trends"]["mcgregor"]["tweets"], 2431);
  EXPECT_EQ(j["tweets_read"], 12118);
}
