// Account x account coordination networks (docs/social-trends.md): two accounts are linked each time they
// perform the same action (retweet the same tweet, post the same normalised text, share the same URL, reply
// to the same tweet, use the same hashtag sequence) within the time window of each other. Found by sorting
// the actions by (key, time) and sliding the window over each key, never by comparing all pairs of tweets.
// Graph algorithms (components, Leiden clusters, strength, layout, GraphML) come from igraph.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "social/tweet.h"

namespace tern::social {

enum class CoType { Retweet = 0, Tweet, Link, Reply, Hashtag, Similarity };
constexpr int kCoTypes = 6;
const char* co_type_name(CoType t);          // "co_retweet", "co_tweet", ...
CoType parse_co_type(const std::string& s);  // "co_retweet" or "retweet"; throws tern::Error

struct CoordOptions {
  int64_t window_seconds = 60;  // actions at most this far apart (inclusive) coordinate
  int64_t min_weight = 1;       // an edge is kept when its weight summed over the types reaches this
  std::array<bool, kCoTypes> types{true, true, true, true, true, false};
  int min_hashtags = 3;      // co-hashtag: a tweet's hashtag sequence needs at least this many tags
  int min_text_chars = 10;   // co-tweet: letters / digits outside hashtags the normalised text needs
  int64_t max_examples = 3;  // example tweets per account
  // co_similarity: tern embeddings (HDF5 from `tern infer --embeddings`: float32 (N, C) `embeddings`, int64
  // `ids` and / or `lines`), joined to tweets by id when the file has ids, else by input line. Two tweets
  // coordinate when their cosine is >= min_similarity and their normalised texts differ (identical texts
  // are co-tweets already). Enables the type.
  std::string embeddings;
  double min_similarity = 0.9;
  bool layout = false;  // 2-D positions for the report (igraph Fruchterman-Reingold)
};

struct CoordAccount {
  std::string name;  // display name (author name, else id)
  int64_t component = -1;
  int64_t cluster = -1;  // Leiden cluster (igraph, modularity, weighted), numbered over the whole graph
  double strength = 0;   // summed weight of its kept edges
  int64_t tweets = 0;    // tweets it posted in the archive
  std::array<int64_t, kCoTypes> by_type{};  // its strength per type
  std::vector<std::string> examples;        // some of its coordinated tweets (texts)
  double x = 0, y = 0;                      // layout, when asked
};

struct CoordEdge {
  uint32_t a = 0, b = 0;  // indices into CoordResult::accounts
  std::array<int64_t, kCoTypes> weight{};
  int64_t total = 0;
};

struct CoordComponent {
  std::vector<uint32_t> accounts;  // by strength, descending
  std::array<int64_t, kCoTypes> weight{};
  int64_t edges = 0;
  int64_t clusters = 0;
  std::vector<std::pair<CoType, std::string>> examples;  // coordinated texts / keys, most shared first
};

struct CoordResult {
  int64_t tweets = 0;
  int64_t accounts_seen = 0;
  std::array<int64_t, kCoTypes> actions{};  // actions per type considered
  std::vector<CoordAccount> accounts;       // accounts in at least one kept edge
  std::vector<CoordEdge> edges;
  std::vector<CoordComponent> components;  // by size, descending
  CoordOptions options;
};

class Coordinator {
 public:
  explicit Coordinator(const CoordOptions& opt = {});
  ~Coordinator();
  void add(const Tweet& t);
  CoordResult finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

void write_graphml(const CoordResult& r, const std::string& path);
void write_edges_csv(const CoordResult& r, const std::string& path);  // source,target,type,weight
void write_components_json(const CoordResult& r, const std::string& path);

}  // namespace tern::social
