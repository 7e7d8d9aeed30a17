// Archive schemas -> Tweet: snscrape JSONL, Twitter API v2 responses with includes, CSV with a column map,
// and the bad-row policy (reported with file and line, the run goes on).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "social/archive.h"
#include "tensor/check.h"

using namespace tern::social;
namespace fs = std::filesystem;

namespace {

std::string write_file(const std::string& name, const std::string& body) {
  fs::path d = fs::temp_directory_path() / ("tern_social_archive_" + std::to_string(getpid()));
  fs::create_directories(d);
  std::ofstream(d / name, std::ios::binary) << body;
  return (d / name).string();
}

struct Read {
  std::vector<Tweet> tweets;
  std::vector<BadRow> bad;
};

Read read(const std::string& path, const ArchiveOptions& opt = {}) {
  Read r;
  read_archives(
      {path}, opt, [&](const Tweet& t) { r.tweets.push_back(t); },
      [&](const BadRow& b) { r.bad.push_back(b); });
  return r;
}

}  // namespace

TEST(SocialArchive, Snscrape) {
  std::string line1 =
      R"({"id": 11, "rawContent": "RT @orig: Big #News today https://t.co/a", "content": "ignored",
          "date": "2022-01-02T03:04:05+00:00",
          "user": {"id": 7, "username": "alice", "created": "2021-12-30T00:00:00+00:00"},
          "likeCount": 1, "retweetCount": 5, "replyCount": 2, "quoteCount": 0,
          "retweetedTweet": {"id": 10, "rawContent": "Big #News today", "user": {"id": 8, "username": "orig"}},
          "hashtags": ["News"], "links": [{"url": "https://example.com/story", "tcourl": "https://t.co/a"}],
          "mentionedUsers": [{"username": "orig"}]})";
  std::string line2 =
      R"({"id": 12, "rawContent": "replying #A #b", "date": "2022-01-02T03:05:00+00:00",
          "user": {"id": 9, "username": "bob"}, "inReplyToTweetId": 11, "quotedTweet": {"id": 3}})";
  for (auto& c : line1)
    if (c == '\n') c = ' ';
  for (auto& c : line2)
    if (c == '\n') c = ' ';
  Read r = read(write_file("s.jsonl", line1 + "\n" + line2 + "\n"));
  ASSERT_EQ(r.tweets.size(), 2u);
  ASSERT_TRUE(r.bad.empty());
  const Tweet& a = r.tweets[0];
  EXPECT_EQ(a.id, "11");
  EXPECT_EQ(a.text,
            "RT @orig: Big #News today https://t.co/a");  // its own rawContent, not the retweeted text
  EXPECT_EQ(a.author_id, "7");
  EXPECT_EQ(a.author_name, "alice");
  EXPECT_EQ(a.time, 1641092645);
  EXPECT_EQ(a.account_created, 1640822400);
  EXPECT_EQ(a.hashtags, (std::vector<std::string>{"news"}));
  EXPECT_EQ(a.urls, (std::vector<std::string>{"https://example.com/story"}));  // expanded, not t.co
  EXPECT_EQ(a.mentions, (std::vector<std::string>{"orig"}));
  EXPECT_EQ(a.retweeted_id, "10");
  EXPECT_TRUE(a.is_retweet);
  EXPECT_EQ(a.likes, 1);
  EXPECT_EQ(a.retweets, 5);
  EXPECT_EQ(a.replies, 2);
  EXPECT_EQ(a.quotes, 0);
  const Tweet& b = r.tweets[1];
  EXPECT_EQ(b.hashtags, (std::vector<std::string>{"a", "b"}));  // from the text: no hashtags field
  EXPECT_EQ(b.reply_to, "11");
  EXPECT_EQ(b.quoted_id, "3");
  EXPECT_FALSE(b.is_retweet);
  EXPECT_EQ(b.likes, -1);
  EXPECT_EQ(a.line, 1);
  EXPECT_EQ(b.line, 2);
}

TEST(SocialArchive, TwitterApiV2WithIncludes) {
  std::string line =
      R"({"data": {"id": "100", "text": "RT @x: hello #Tag", "author_id": "55", "created_at": "2021-05-01T10:00:00.000Z",)"
      R"( "entities": {"hashtags": [{"tag": "Tag"}], "urls": [{"url": "https://t.co/q", "expanded_url": "https://ex.org/p"}]},)"
      R"( "referenced_tweets": [{"type": "retweeted", "id": "99"}],)"
      R"( "public_metrics": {"like_count": 0, "retweet_count": 4, "reply_count": 1, "quote_count": 2}},)"
      R"( "includes": {"users": [{"id": "55", "username": "carol", "created_at": "2021-04-30T00:00:00.000Z"}]}})";
  Read r = read(write_file("v2.jsonl", line + "\n"));
  ASSERT_EQ(r.tweets.size(), 1u);
  const Tweet& t = r.tweets[0];
  EXPECT_EQ(t.id, "100");
  EXPECT_EQ(t.author_id, "55");
  EXPECT_EQ(t.author_name, "carol");
  EXPECT_EQ(t.account_created, 1619740800);
  EXPECT_EQ(t.retweeted_id, "99");
  EXPECT_EQ(t.hashtags, (std::vector<std::string>{"tag"}));
  EXPECT_EQ(t.urls, (std::vector<std::string>{"https://ex.org/p"}));
  EXPECT_EQ(t.retweets, 4);
  EXPECT_EQ(t.quotes, 2);
  EXPECT_EQ(t.time, 1619863200);
}

TEST(SocialArchive, CsvWithColumnMap) {
  std::string csv =
      "author_id,content,publish_date,post_type,n_likes\n"
      "troll_a,\"Vote, now #X\",2016-10-01 12:00:00,R,3\n"
      "troll_b,\"multi\nline #Y\",10/1/2016 12:01,,\n";
  ArchiveOptions opt;
  parse_field_map("text=content,time=publish_date,retweet_flag=post_type,likes=n_likes", opt);
  Read r = read(write_file("ira.csv", csv), opt);
  ASSERT_EQ(r.tweets.size(), 2u);
  EXPECT_EQ(r.tweets[0].author_id, "troll_a");
  EXPECT_EQ(r.tweets[0].display(), "troll_a");
  EXPECT_EQ(r.tweets[0].text, "Vote, now #X");
  EXPECT_TRUE(r.tweets[0].is_retweet);  // post_type R
  EXPECT_EQ(r.tweets[0].likes, 3);
  EXPECT_EQ(r.tweets[1].text, "multi\nline #Y");
  EXPECT_FALSE(r.tweets[1].is_retweet);
  EXPECT_EQ(r.tweets[1].likes, -1);
  EXPECT_EQ(r.tweets[1].time - r.tweets[0].time, 60);
  EXPECT_EQ(r.tweets[1].hashtags, (std::vector<std::string>{"y"}));
  // Unknown fields and malformed items are errors that name them.
  ArchiveOptions bad;
  EXPECT_THROW(parse_field_map("txt=content", bad), tern::Error);
  EXPECT_THROW(parse_field_map("text", bad), tern::Error);
}

TEST(SocialArchive, BadRowsAreReportedAndSkipped) {
  std::string body =
      R"({"id": 1, "rawContent": "ok #a", "date": "2022-01-01T00:00:00Z", "user": {"username": "u"}})"
      "\n{not json\n"
      R"({"id": 3, "rawContent": "no time", "user": {"username": "u"}})"
      "\n"
      R"({"id": 4, "rawContent": "bad time", "date": "someday", "user": {"username": "u"}})"
      "\n"
      R"({"id": 5, "rawContent": "no author", "date": "2022-01-01T00:00:00Z"})"
      "\n"
      R"({"id": 6, "rawContent": "ok too", "date": "2022-01-01T00:00:09Z", "user": {"username": "v"}})"
      "\n";
  std::string path = write_file("bad.jsonl", body);
  Read r = read(path);
  ASSERT_EQ(r.tweets.size(), 2u);
  ASSERT_EQ(r.bad.size(), 4u);
  EXPECT_EQ(r.bad[0].line, 2);
  EXPECT_EQ(r.bad[1].line, 3);
  EXPECT_NE(r.bad[1].reason.find("no time"), std::string::npos);
  EXPECT_EQ(r.bad[2].line, 4);
  EXPECT_NE(r.bad[2].reason.find("someday"), std::string::npos);
  EXPECT_EQ(r.bad[3].line, 5);
  EXPECT_NE(r.bad[3].reason.find("author"), std::string::npos);
  EXPECT_EQ(r.bad[0].file, path);
  EXPECT_EQ(r.tweets[1].id, "6");
}

TEST(SocialArchive, RealSnscrapeSample) {
  // tests/data/sample/mayweather_sample.jsonl: 40 real tweets in snscrape layout (see
  // tests/data/PROVENANCE.txt).
  Read r = read("tests/data/sample/mayweather_sample.jsonl");
  ASSERT_EQ(r.tweets.size(), 40u);
  EXPECT_TRUE(r.bad.empty());
  const Tweet& t = r.tweets[0];
  EXPECT_EQ(t.id, "901656910939770881");
  EXPECT_EQ(t.author_name, "aaLiysr");
  EXPECT_EQ(t.time, 1503792334);
  EXPECT_EQ(t.hashtags, (std::vector<std::string>{"mcgregor"}));  // from the hashtags field
  EXPECT_TRUE(t.mentions.empty());  // "mentionedUsers": null -> from the text: none
  EXPECT_EQ(t.urls, (std::vector<std::string>{"https://t.co/mJHDvLfIVc"}));  // no links field: from the text
  EXPECT_FALSE(t.is_retweet);
}
