// A small hand-built snscrape archive shared by the CLI and report tests: two hashtag trends, a planted
// co-tweet / co-retweet campaign of four accounts, organic posters, one bad row, and tern-infer-style
// predictions (one per good tweet, by id).
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace tern::social::test {

inline std::string out_dir(const std::string& name) {
  std::filesystem::path d = std::filesystem::path(TERN_TEST_OUT) / (name + "_" + std::to_string(getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

inline std::string tweet_line(int id, const std::string& user, const std::string& date,
                              const std::string& text, int likes, int rts, const std::string& extra = "") {
  return "{\"id\": " + std::to_string(id) + ", \"rawContent\": \"" + text + "\", \"date\": \"" + date +
         "\", \"user\": {\"id\": \"id_" + user + "\", \"username\": \"" + user +
         "\"}, \"likeCount\": " + std::to_string(likes) + ", \"retweetCount\": " + std::to_string(rts) +
         ", \"replyCount\": 0, \"quoteCount\": 0" + extra + "}\n";
}

// Writes archive.jsonl (28 tweets, then a bad row on line 29) and predictions.jsonl into dir.
inline void write_fixture(const std::string& dir) {
  std::ofstream a(dir + "/archive.jsonl");
  std::ofstream p(dir + "/predictions.jsonl");
  const char* labels[] = {"negative", "neutral", "positive"};
  int id = 1;
  auto add = [&](const std::string& user, const std::string& date, const std::string& text, int likes,
                 int rts, const std::string& extra = "") {
    a << tweet_line(id, user, date, text, likes, rts, extra);
    p << "{\"id\": " << id << ", \"label\": \"" << labels[(id * 7) % 3] << "\"}\n";
    ++id;
  };
  // Planted campaign: four accounts, same text within seconds, three rounds; and a co-retweet round.
  const char* camp[] = {"camp_a", "camp_b", "camp_c", "camp_d"};
  for (int round = 0; round < 3; ++round)
    for (int k = 0; k < 4; ++k)
      add(camp[k], "2024-03-01T1" + std::to_string(round) + ":00:0" + std::to_string(k) + "+00:00",
          "Stand with us now round " + std::to_string(round) + " #WelcomeX #Rally", 2, 40);
  for (int k = 0; k < 4; ++k)
    add(camp[k], "2024-03-01T13:30:1" + std::to_string(k) + "+00:00", "RT @leader: our message #WelcomeX", 0,
        90, ", \"retweetedTweet\": {\"id\": 555, \"rawContent\": \"our message #WelcomeX\"}");
  // Organic posters, minutes apart, own words.
  for (int u = 0; u < 12; ++u)
    add("person" + std::to_string(u),
        "2024-03-01T1" + std::to_string(u % 4) + ":" + std::to_string(10 + 3 * u) + ":00+00:00",
        "my own view number " + std::to_string(u) + (u % 2 ? " #GoBackX" : " #WelcomeX #GoBackX"), 10 + u,
        u % 3);
  a << "{broken json line\n";
}

}  // namespace tern::social::test
