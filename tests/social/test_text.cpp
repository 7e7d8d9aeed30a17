// The text helpers that define the metrics: normalisation, hashtags, URLs, times, durations.
#include <gtest/gtest.h>

#include "social/tweet.h"
#include "tensor/check.h"

using namespace tern::social;

TEST(SocialText, NormalizeLowersDropsUrlsMentionsCollapsesSpace) {
  EXPECT_EQ(normalize_text("  Hello   @Bob_1 WORLD https://t.co/xYz \n www.example.com/a  !"),
            "hello world !");
  EXPECT_EQ(normalize_text("RT @user: Vote NOW"), "rt : vote now");
  EXPECT_EQ(normalize_text("ÉCOLE Ünïcode"), "école ünïcode");
  EXPECT_EQ(normalize_text("mail me: a@b.com"), "mail me: a@b.com");  // '@' inside a word is no mention
  EXPECT_EQ(normalize_text(""), "");
  EXPECT_EQ(normalize_text("\t \n"), "");
}

TEST(SocialText, Hashtags) {
  EXPECT_EQ(extract_hashtags("#GoBackModi and #gobackmodi, #TNWelcomesModi! #2019 x#no #año #a_b"),
            (std::vector<std::string>{"gobackmodi", "tnwelcomesmodi", "año", "a_b"}));
  // U+FE0F (a mark) after an emoji does not glue the next hashtag to a word.
  EXPECT_EQ(extract_hashtags("\xE2\x9D\xA4\xEF\xB8\x8F#Mayweather"),
            (std::vector<std::string>{"mayweather"}));
  EXPECT_TRUE(extract_hashtags("no tags here # alone").empty());
  EXPECT_EQ(extract_mentions("hi @Bob and @bob @x_1"), (std::vector<std::string>{"bob", "x_1"}));
}

TEST(SocialText, Urls) {
  EXPECT_EQ(extract_urls("see https://a.b/c?d=1, and http://x.y/ plus www.z.com"),
            (std::vector<std::string>{"https://a.b/c?d=1,", "http://x.y/", "www.z.com"}));
  EXPECT_EQ(canonical_url("HTTPS://Example.COM/Path/"), "https://example.com/Path");
  EXPECT_EQ(canonical_url("https://a.b/c?d=1,"), "https://a.b/c?d=1");
  EXPECT_EQ(canonical_url("https://example.com"), "https://example.com");
}

TEST(SocialText, Times) {
  const int64_t t = 1503792334;  // 2017-08-27 00:05:34 UTC
  EXPECT_EQ(parse_time("2017-08-27 00:05:34"), t);
  EXPECT_EQ(parse_time("2017-08-27T00:05:34Z"), t);
  EXPECT_EQ(parse_time("2017-08-27T00:05:34.250+00:00"), t);
  EXPECT_EQ(parse_time("2017-08-27T02:05:34+02:00"), t);
  EXPECT_EQ(parse_time("2017-08-26 20:05:34 -0400"), t);
  EXPECT_EQ(parse_time("Sun Aug 27 00:05:34 +0000 2017"), t);
  EXPECT_EQ(parse_time("8/27/2017 0:05:34"), t);
  EXPECT_EQ(parse_time("8/27/2017 0:05"), t - 34);
  EXPECT_EQ(parse_time("1503792334"), t);
  EXPECT_EQ(parse_time("1503792334000"), t);
  EXPECT_EQ(parse_time("2017-08-27"), t - 334);
  EXPECT_EQ(parse_time("yesterday"), kNoTime);
  EXPECT_EQ(parse_time("2017-13-01 00:00"), kNoTime);
  EXPECT_EQ(parse_time(""), kNoTime);
  EXPECT_EQ(format_time(t), "2017-08-27T00:05:34Z");
}

TEST(SocialText, Durations) {
  EXPECT_EQ(parse_duration("60s", "--window"), 60);
  EXPECT_EQ(parse_duration("10m", "--bucket"), 600);
  EXPECT_EQ(parse_duration("2h", "x"), 7200);
  EXPECT_EQ(parse_duration("45", "x"), 45);
  EXPECT_THROW(parse_duration("ten", "--window"), tern::Error);
  EXPECT_THROW(parse_duration("5 weeks", "--window"), tern::Error);
}

TEST(SocialText, ContentChars) {
  EXPECT_EQ(content_chars("#mayweather \xF0\x9F\x98\x82\xF0\x9F\x98\x82 !!"), 0);
  EXPECT_EQ(content_chars("vote now #x 2day"), 11);
}
