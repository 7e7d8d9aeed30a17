// tern coordinate: account x account coordination networks within a time window (docs/social-trends.md).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "social/archive.h"
#include "social/coordinate.h"
#include "tensor/check.h"

namespace tern::cli {

int cmd_coordinate(int argc, char** argv) {
  CLI::App app{
      "Coordination networks (co-retweet, co-tweet, co-link, co-reply, co-hashtag) over tweet archives; "
      "see docs/social-trends.md",
      "tern coordinate"};
  init_app(app);
  std::vector<std::string> inputs;
  std::string window = "60s", graphml, edges, components, map, errors;
  std::string types = "retweet,tweet,link,reply,hashtag";
  int64_t min_weight = 1;
  std::string embeddings;
  double min_similarity = 0.9;
  int min_hashtags = 3, min_text_chars = 10;
  app.add_option("archives", inputs,
                 "archives: JSONL (snscrape, Twitter API v2/v1.1), CSV, TSV; .gz ok; - = stdin")
      ->required();
  app.add_option("--window", window, "actions at most this far apart coordinate (60s, 5m, ...; inclusive)");
  app.add_option("--min-weight", min_weight,
                 "keep an edge when its coordinated events, summed over types, reach this");
  app.add_option("--types", types, "comma-separated co-action types: retweet,tweet,link,reply,hashtag");
  app.add_option("--min-hashtags", min_hashtags, "co-hashtag: only hashtag sequences at least this long");
  app.add_option("--min-text-chars", min_text_chars,
                 "co-tweet: only texts with at least this many letters / digits outside hashtags");
  app.add_option(
      "--embeddings", embeddings,
      "co-similarity: HDF5 from tern infer --embeddings (embeddings, ids / lines), joined by id, else line");
  app.add_option("--min-similarity", min_similarity,
                 "co-similarity: minimum cosine of two tweets' embeddings");
  app.add_option("--graphml", graphml, "write the network as GraphML (igraph)");
  app.add_option("--edges", edges, "write the edge list CSV: source,target,type,weight");
  app.add_option("--components", components, "write components / clusters with accounts and examples (JSON)");
  app.add_option("--map", map, "field=column,... as in tern trends");
  app.add_option("--errors", errors, "bad rows as JSON lines (default <first output>.errors.jsonl)");
  ArchiveInputFlags input;
  add_archive_input_options(app, input);
  if (!parse_args(app, argc, argv)) return 0;
  if (graphml.empty() && edges.empty() && components.empty())
    TERN_FAIL("one of --graphml, --edges or --components is required (see --help)");
  social::ArchiveOptions ao;
  social::parse_field_map(map, ao);
  ao.format = input.format;
  ao.encoding = input.encoding;
  ao.replace_invalid_utf8 = input.invalid_utf8 == "replace";
  social::CoordOptions co;
  co.window_seconds = social::parse_duration(window, "--window");
  co.min_weight = min_weight;
  co.min_hashtags = min_hashtags;
  co.min_text_chars = min_text_chars;
  co.embeddings = embeddings;
  co.min_similarity = min_similarity;
  co.types.fill(false);
  size_t pos = 0;
  while (pos <= types.size()) {
    size_t c = types.find(',', pos);
    std::string t = types.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
    pos = c == std::string::npos ? types.size() + 1 : c + 1;
    if (!t.empty()) co.types[static_cast<int>(social::parse_co_type(t))] = true;
  }
  if (co.types[static_cast<int>(social::CoType::Similarity)] && embeddings.empty()) {
    TERN_FAIL("--types similarity needs --embeddings FILE (see --help)");
  }
  if (errors.empty())
    errors = (!components.empty() ? components : !edges.empty() ? edges : graphml) + ".errors.jsonl";
  social::BadRowWriter bad(errors);
  social::Coordinator coord(co);
  social::read_archives(
      inputs, ao, [&](const social::Tweet& t) { coord.add(t); }, [&](const social::BadRow& b) { bad(b); });
  social::CoordResult r = coord.finish();
  if (!graphml.empty()) social::write_graphml(r, graphml);
  if (!edges.empty()) social::write_edges_csv(r, edges);
  if (!components.empty()) social::write_components_json(r, components);
  std::fprintf(stderr,
               "tern coordinate: %lld tweets, %lld accounts, %zu coordinated in %zu components, %zu edges, "
               "%lld bad rows%s%s\n",
               static_cast<long long>(r.tweets), static_cast<long long>(r.accounts_seen), r.accounts.size(),
               r.components.size(), r.edges.size(), static_cast<long long>(bad.count()),
               bad.count() ? " -> " : "", bad.count() ? errors.c_str() : "");
  return bad.count() ? 3 : 0;
}

}  // namespace tern::cli
