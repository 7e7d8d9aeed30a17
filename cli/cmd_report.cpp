// tern report: one self-contained HTML report (trends, accounts, duplicates, labels, coordination graph).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "social/report.h"

namespace tern::cli {

int cmd_report(int argc, char** argv) {
  CLI::App app{"Self-contained HTML report over tweet archives (opens offline); see docs/social-trends.md",
               "tern report"};
  init_app(app);
  std::vector<std::string> inputs;
  std::string out, predictions, label_field = "label", title = "tern report", bucket = "10m", window = "60s";
  std::string map, errors, group_by;
  int64_t min_weight = 1, max_graph = 300;
  int top_trends = 8;
  app.add_option("archives", inputs,
                 "archives: JSONL (snscrape, Twitter API v2/v1.1), CSV, TSV; .gz ok; - = stdin")
      ->required();
  app.add_option("--out", out, "the HTML file to write")->required();
  app.add_option("--infer", predictions,
                 "tern infer predictions (JSONL): joined by \"id\", else line by line");
  app.add_option("--label-field", label_field, "the predicted label's field in --infer lines");
  app.add_option("--title", title, "report title");
  app.add_option("--bucket", bucket, "time bucket of the charts");
  app.add_option("--group-by", group_by, "trend = this field's value instead of hashtags");
  app.add_option("--top-trends", top_trends, "trends drawn in the charts");
  app.add_option("--window", window, "coordination window");
  app.add_option("--min-weight", min_weight, "coordination: minimum combined edge weight");
  app.add_option("--max-graph-accounts", max_graph,
                 "accounts drawn in the coordination graph (strongest first)");
  app.add_option("--map", map, "field=column,... as in tern trends");
  app.add_option("--errors", errors, "bad rows as JSON lines (default <out>.errors.jsonl)");
  ArchiveInputFlags input;
  add_archive_input_options(app, input);
  if (!parse_args(app, argc, argv)) return 0;
  social::ArchiveOptions ao;
  social::parse_field_map(map, ao);
  ao.group_by = group_by;
  ao.format = input.format;
  ao.encoding = input.encoding;
  social::TrendOptions to;
  to.bucket_seconds = social::parse_duration(bucket, "--bucket");
  to.pairs_top = 50;
  social::CoordOptions co;
  co.window_seconds = social::parse_duration(window, "--window");
  co.min_weight = min_weight;
  social::ReportOptions ro;
  ro.title = title;
  ro.top_trends = top_trends;
  ro.max_graph_accounts = max_graph;
  ro.predictions = predictions;
  ro.label_field = label_field;
  if (errors.empty()) errors = out + ".errors.jsonl";
  social::BadRowWriter bad(errors);
  auto s = social::write_report(inputs, ao, to, co, ro, bad, out);
  std::fprintf(stderr,
               "tern report: %lld tweets, %lld trends, %lld coordinated accounts, %lld predictions joined, "
               "%lld bad rows%s%s -> %s\n",
               static_cast<long long>(s.tweets), static_cast<long long>(s.trends),
               static_cast<long long>(s.coordinated_accounts), static_cast<long long>(s.predictions_joined),
               static_cast<long long>(bad.count()), bad.count() ? " -> " : "",
               bad.count() ? errors.c_str() : "", out.c_str());
  return bad.count() ? 3 : 0;
}

}  // namespace tern::cli
