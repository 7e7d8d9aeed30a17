// One tweet as the social analyses see it, whatever archive format it came from, and the text helpers
// that define the metrics (normalised text, hashtags, URLs, times).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace tern::social {

constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

struct Tweet {
  std::string id;
  std::string author_id;              // stable account key when the archive has one
  std::string author_name;            // handle / screen name when present
  int64_t time = kNoTime;             // Unix seconds, UTC (naive archive times are taken as UTC)
  std::string text;                   // the tweet's own text ("RT @user: ..." for a retweet)
  std::vector<std::string> hashtags;  // lower-case, without '#', order of first appearance, once each
  std::vector<std::string> mentions;  // lower-case, without '@'
  std::vector<std::string> urls;      // expanded when the archive has them, else as in the text
  std::string reply_to;               // replied-to tweet id
  std::string quoted_id;              // quoted tweet id
  std::string retweeted_id;           // retweeted (root) tweet id
  bool is_retweet = false;            // a retweet even when the archive has no retweeted id
  int64_t likes = -1, retweets = -1, replies = -1, quotes = -1;  // -1: absent
  int64_t account_created = kNoTime;
  std::vector<std::string> groups;  // values of the --group-by field (trends other than hashtags)
  std::string file;
  int64_t line = 0;

  // The account key used everywhere: author id when present, else the name.
  const std::string& account() const { return author_id.empty() ? author_name : author_id; }
  // The account as shown in outputs: the name when present, else the id.
  const std::string& display() const { return author_name.empty() ? author_id : author_name; }
};

// Lower-case (Unicode), URLs and @mentions removed, whitespace runs collapsed to one space, trimmed.
std::string normalize_text(std::string_view text);
// Letters and digits of a (normalised) text outside #hashtags: how much a text says beyond tags and emoji.
int content_chars(std::string_view text);
// Unicode lower-case of a UTF-8 string (invalid bytes kept).
std::string to_lower(std::string_view s);
// '#tag' occurrences: '#' not preceded by a word character, then letters / digits / '_' / marks (at least
// one that is not a digit); lower-case, without '#', once each in order of first appearance.
std::vector<std::string> extract_hashtags(std::string_view text);
std::vector<std::string> extract_mentions(std::string_view text);
std::vector<std::string> extract_urls(std::string_view text);  // http(s)://... and www....
// Canonical URL for co-link: scheme and host lower-cased, a trailing '/' and trailing punctuation dropped.
std::string canonical_url(std::string_view url);
// Parses ISO 8601 / "YYYY-MM-DD HH:MM[:SS]" (optional fraction, Z or +HH[:]MM offset), Twitter v1
// "Wed Oct 10 20:19:24 +0000 2018", "M/D/YYYY H:MM[:SS]", and Unix seconds or milliseconds. kNoTime if not.
int64_t parse_time(std::string_view s);
// "2017-08-27T04:05:34Z"
std::string format_time(int64_t t);

}  // namespace tern::social

namespace tern::social {
// "60s", "10m", "1h", "2d" or plain seconds -> seconds; throws tern::Error naming `what` otherwise.
int64_t parse_duration(const std::string& s, const std::string& what);
}  // namespace tern::social
