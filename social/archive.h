// Reads tweet archives (snscrape JSONL, Twitter API v2 / v1.1 JSON lines, CSV / TSV with a column map) into
// Tweet records through tern's streaming record reader. Bad rows are returned, never thrown.
#pragma once
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "social/tweet.h"

namespace tern::social {

struct ArchiveOptions {
  // Tweet field -> column (CSV/TSV) or dotted JSON path. Fields: id text time author author_id hashtags
  // mentions urls reply_to quoted retweeted retweet_flag likes retweets replies quotes account_created.
  // Unmapped fields are looked up under common names (docs/social-trends.md).
  std::map<std::string, std::string> map;
  std::string group_by;  // column / dotted path whose value(s) name the tweet's trend(s); "" = hashtags
  std::string format;    // "" / auto (by extension, else sniffed), jsonl, csv, tsv, text
  std::string encoding;  // "" = UTF-8, else an iconv name
  bool replace_invalid_utf8 = false;
};

// Parses "field=column,field=column" into opt.map; throws tern::Error on an unknown field.
void parse_field_map(const std::string& spec, ArchiveOptions& opt);

struct BadRow {
  std::string file;
  int64_t line = 0;
  std::string reason;
};

class ArchiveReader {
 public:
  ArchiveReader(const std::string& path, const ArchiveOptions& opt);
  ~ArchiveReader();
  enum class Result { Tweet, Bad, End };
  // The next tweet (Result::Tweet), or a bad row with its reason (Result::Bad), or the end.
  Result next(Tweet& t, BadRow& bad);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes bad rows as JSON lines {"file":..., "line": N, "reason": "..."} to a file (created at the first bad
// row) or, with an empty path, to stderr.
class BadRowWriter {
 public:
  explicit BadRowWriter(std::string path);
  ~BadRowWriter();
  void operator()(const BadRow& b);
  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  int64_t count_ = 0;
};

// Streams every input through on_tweet / on_bad in order. Returns the number of bad rows.
int64_t read_archives(const std::vector<std::string>& paths, const ArchiveOptions& opt,
                      const std::function<void(const Tweet&)>& on_tweet,
                      const std::function<void(const BadRow&)>& on_bad);

}  // namespace tern::social
