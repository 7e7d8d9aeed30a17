// tern trends: per-trend manipulation metrics over tweet archives (docs/social-trends.md).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "social/archive.h"
#include "social/trends.h"
#include "tensor/check.h"

namespace tern::cli {

int cmd_trends(int argc, char** argv) {
  CLI::App app{
      "Per-trend metrics (hashtags, or a --group-by field) over tweet archives; see docs/social-trends.md",
      "tern trends"};
  init_app(app);
  std::vector<std::string> inputs;
  std::string out, json_path, group_by, bucket = "10m", map, errors;
  int64_t min_tweets = 1, pairs_top = 0;
  bool all_pairs = false;
  app.add_option("archives", inputs,
                 "archives: JSONL (snscrape, Twitter API v2/v1.1), CSV, TSV; .gz ok; - = stdin")
      ->required();
  app.add_option("--out", out, "directory for trends.csv, pairs.csv, volume.csv, duplicate_posters.csv");
  app.add_option("--json", json_path, "write all metrics as one JSON object to FILE (- = stdout)");
  app.add_option("--group-by", group_by,
                 "trend = this field's value (column or dotted JSON path), not hashtags");
  app.add_option("--bucket", bucket, "volume series bucket (60s, 10m, 1h, ...)");
  app.add_option("--map", map,
                 "field=column,... (fields: id text time author author_id hashtags mentions urls "
                 "reply_to quoted retweeted retweet_flag likes retweets replies quotes account_created)");
  app.add_option("--min-tweets", min_tweets, "leave out trends with fewer tweets");
  app.add_option("--pairs-top", pairs_top,
                 "pct_common_users among the N largest trends only (0 = every pair)");
  add_switch(app, "--all-pairs", all_pairs,
             "list every pair even beyond 2,000,000 pairs (else only pairs with a "
             "common user are listed then; the others are 0 %)");
  app.add_option("--errors", errors,
                 "bad rows as JSON lines (default <json>.errors.jsonl, else <out>/errors.jsonl, "
                 "else stderr)");
  ArchiveInputFlags input;
  add_archive_input_options(app, input);
  if (!parse_args(app, argc, argv)) return 0;
  if (out.empty() && json_path.empty()) TERN_FAIL("one of --out or --json is required (see --help)");
  social::ArchiveOptions ao;
  social::parse_field_map(map, ao);
  ao.group_by = group_by;
  ao.format = input.format;
  ao.encoding = input.encoding;
  ao.replace_invalid_utf8 = input.invalid_utf8 == "replace";
  social::TrendOptions to;
  to.bucket_seconds = social::parse_duration(bucket, "--bucket");
  to.min_tweets = min_tweets;
  to.pairs_top = pairs_top;
  to.all_pairs = all_pairs;
  if (errors.empty())
    errors = !json_path.empty() && json_path != "-" ? json_path + ".errors.jsonl"
             : !out.empty()                         ? out + "/errors.jsonl"
                                                    : "";
  social::BadRowWriter bad(errors);
  social::TrendAccumulator acc(to);
  social::read_archives(
      inputs, ao, [&](const social::Tweet& t) { acc.add(t); }, [&](const social::BadRow& b) { bad(b); });
  social::TrendReport r = acc.finish();
  if (!out.empty()) social::write_trends_csv(r, out);
  if (!json_path.empty()) social::write_trends_json(r, json_path);
  std::fprintf(stderr, "tern trends: %lld tweets, %zu trends, %zu pairs%s, %lld bad rows%s%s\n",
               static_cast<long long>(r.tweets), r.trends.size(), r.pairs.size(),
               r.zero_pairs_omitted ? " (with a common user; --all-pairs for all)" : "",
               static_cast<long long>(bad.count()), bad.count() ? " -> " : "",
               bad.count() ? (errors.empty() ? "<stderr>" : errors.c_str()) : "");
  return bad.count() ? 3 : 0;
}

}  // namespace tern::cli
