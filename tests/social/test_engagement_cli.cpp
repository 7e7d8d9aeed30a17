// tern engagement train / eval / predict end to end on 160 real tweets (tests/data/engagement, with the
// shipped default model as the encoder) plus two damaged rows: the metrics JSON's exact shape, the row
// accounting, the saved model read back by eval and predict, and option errors.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/util/test_util.h"

using tern::test::run_tern;
using tern::test::ScratchDir;

namespace {

const char* kFixture = "tests/data/engagement/elon_2018_sample.csv";

std::string with_damaged_rows(const ScratchDir& d) {
  std::string csv = tern::test::read_bytes(kFixture);
  EXPECT_GT(csv.size(), 1000u) << kFixture;
  csv += "42,2018-12-31 10:00:00,bad \xff byte,10,1,1\n";  // invalid UTF-8
  csv += "43,2018-12-31 11:00:00,no counts here,,,\n";     // no likes
  tern::test::write_bytes(d.file("data.csv"), csv);
  return d.file("data.csv");
}

std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> s;
  for (const auto& [k, v] : j.items()) s.insert(k);
  return s;
}

}  // namespace

TEST(EngagementCli, TrainEvalPredict) {
  ScratchDir d;
  std::string data = with_damaged_rows(d);
  auto r =
      run_tern("engagement train " + data + " --out " + d.file("m.h5") + " --metrics-json " +
                   d.file("m.json") + " --errors " + d.file("errors.jsonl") + " --epochs 3 --threads 1 -q",
               "", 300);
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json m = nlohmann::json::parse(tern::test::read_bytes(d.file("m.json")));
  EXPECT_EQ(keys(m), (std::set<std::string>{"split", "targets", "rows"}));
  EXPECT_EQ(keys(m["split"]), (std::set<std::string>{"train", "test", "test_from"}));
  EXPECT_EQ(m["split"]["train"], 128);
  EXPECT_EQ(m["split"]["test"], 32);
  EXPECT_EQ(m["split"]["test_from"].get<std::string>().substr(0, 8), "2018-12-");
  EXPECT_EQ(keys(m["targets"]), (std::set<std::string>{"likes", "retweets", "replies"}));
  for (const auto& [t, models] : m["targets"].items()) {
    EXPECT_EQ(keys(models), (std::set<std::string>{"median_baseline", "ridge", "mlp", "transformer"})) << t;
    for (const auto& [name, s] : models.items()) {
      EXPECT_EQ(keys(s), (std::set<std::string>{"mae_log1p", "spearman", "mae"})) << t << " " << name;
      EXPECT_GE(s["mae_log1p"].get<double>(), 0.0);
    }
  }
  // Every row accounted for: 162 read, 160 used, the bad UTF-8 row and the row without likes named.
  EXPECT_EQ(m["rows"]["read"], 162);
  EXPECT_EQ(m["rows"]["used"], 160);
  EXPECT_EQ(m["rows"]["bad"], 1);
  EXPECT_EQ(m["rows"]["skipped"]["no_target"], 1);
  std::string errors = tern::test::read_bytes(d.file("errors.jsonl"));
  EXPECT_NE(errors.find(":162: "), std::string::npos) << errors;
  EXPECT_NE(errors.find(":163: no numeric 'likes'"), std::string::npos) << errors;
  // stdout carries the same JSON.
  EXPECT_EQ(nlohmann::json::parse(r.out.substr(r.out.find('{'))), m);

  r = run_tern("engagement eval --model " + d.file("m.h5") + " --data " + data + " --threads 1 -q", "", 300);
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json e = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(e["split"]["test"], 160);
  EXPECT_EQ(keys(e["targets"]["likes"]),
            (std::set<std::string>{"median_baseline", "ridge", "mlp", "transformer"}));

  r = run_tern("engagement predict --model " + d.file("m.h5") + " " + data + " --out " + d.file("p.jsonl") +
                   " --threads 1 -q",
               "", 300);
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream in(tern::test::read_bytes(d.file("p.jsonl")));
  std::string line;
  int n = 0;
  bool saw_uncounted = false;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j["likes"]["transformer"].is_number_integer()) << line;
    EXPECT_GE(j["retweets"]["ridge"].get<int64_t>(), 0);
    saw_uncounted |= j["id"] == "43";  // predict needs no targets
    ++n;
  }
  EXPECT_EQ(n, 161);
  EXPECT_TRUE(saw_uncounted);
}

TEST(EngagementCli, ReplaceInvalidUtf8AndNamedColumns) {
  ScratchDir d;
  std::string data = with_damaged_rows(d);
  auto r = run_tern("engagement train " + data +
                        " --targets likes=nlikes,shares=nretweets --time-field date --text-field tweet "
                        "--invalid-utf8 replace --no-text-features --models median_baseline,ridge -q",
                    "", 120);
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json m = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(m["rows"]["replaced"], 1);
  EXPECT_EQ(m["rows"]["used"], 161);
  EXPECT_EQ(keys(m["targets"]), (std::set<std::string>{"likes", "shares"}));
  EXPECT_EQ(keys(m["targets"]["likes"]), (std::set<std::string>{"median_baseline", "ridge"}));
}

TEST(EngagementCli, OptionErrorsNameTheProblem) {
  ScratchDir d;
  auto r = run_tern("engagement train " + std::string(kFixture) + " --targets likes= -q", "", 30);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("likes="), std::string::npos) << r.out;
  r = run_tern("engagement train " + std::string(kFixture) + " --loss l3", "", 30);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--loss"), std::string::npos) << r.out;
  r = run_tern("engagement train " + d.file("missing.csv") + " -q", "", 30);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("missing.csv"), std::string::npos) << r.out;
  r = run_tern("engagement eval --model " + std::string(kFixture) + " " + kFixture + " -q", "", 30);
  EXPECT_EQ(r.code, 1);
  r = run_tern("engagement frobnicate", "", 30);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("frobnicate"), std::string::npos) << r.out;
  r = run_tern(
      "engagement train " + std::string(kFixture) + " --time-format '%d/%m/%Y' --no-text-features -q", "",
      30);
  EXPECT_EQ(r.code, 1);  // no row has such a time: a clear error, not an empty model
  EXPECT_NE(r.out.find("usable tweets"), std::string::npos) << r.out;
}
