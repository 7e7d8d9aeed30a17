// Coordination networks by sort + sliding window, graph analysis by igraph.
#include "social/coordinate.h"

#include <igraph.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tensor/check.h"
#include "weights/h5_arrays.h"

namespace tern::social {

namespace {

const char* kTypeNames[kCoTypes] = {"co_retweet", "co_tweet",   "co_link",
                                    "co_reply",   "co_hashtag", "co_similarity"};

struct Event {
  uint32_t key;
  uint32_t user;
  int64_t time;
};

struct KeyTable {
  std::unordered_map<std::string, uint32_t> index;
  std::vector<std::string> example;  // a text that carried the key (first seen)
  uint32_t intern(const std::string& key, const std::string& ex) {
    auto [it, fresh] = index.try_emplace(key, static_cast<uint32_t>(example.size()));
    if (fresh) example.push_back(ex);
    return it->second;
  }
};

constexpr uint32_t kNone = 0xffffffffu;

struct SimEvent {
  int64_t time;
  uint32_t user;
  uint32_t row;   // embedding row
  uint32_t key;   // example key (the tweet's text)
  uint64_t text;  // hash of the normalised text
};

uint64_t hash64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool parse_int64(const std::string& s, int64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

struct EdgeAcc {
  std::array<uint32_t, kCoTypes> w{};
  std::array<uint32_t, kCoTypes> ex{kNone, kNone, kNone, kNone, kNone, kNone};  // an example key per type
};

// igraph calls return codes; its default handler aborts, so tern installs the ignoring one and checks.
void ig(igraph_error_t e, const char* what) {
  if (e != IGRAPH_SUCCESS) TERN_FAIL("igraph " << what << " failed: " << igraph_strerror(e));
}

struct IgraphInit {
  IgraphInit() {
    igraph_set_error_handler(igraph_error_handler_ignore);
    igraph_set_warning_handler(igraph_warning_handler_ignore);
    igraph_set_attribute_table(&igraph_cattribute_table);
  }
};
void igraph_init_once() {
  static IgraphInit init;
}

}  // namespace

const char* co_type_name(CoType t) {
  return kTypeNames[static_cast<int>(t)];
}

CoType parse_co_type(const std::string& s) {
  for (int i = 0; i < kCoTypes; ++i)
    if (s == kTypeNames[i] || s == kTypeNames[i] + 3) return static_cast<CoType>(i);
  TERN_FAIL("unknown coordination type '" << s
                                          << "' (types: retweet, tweet, link, reply, hashtag, similarity)");
}

struct Coordinator::Impl {
  CoordOptions opt;
  std::unordered_map<std::string, uint32_t> user_index;
  std::vector<std::string> user_names;
  std::vector<int64_t> user_tweets;
  std::array<std::vector<Event>, kCoTypes> events;
  std::array<KeyTable, kCoTypes> keys;
  std::unordered_map<std::string, std::string> retweet_parent;  // retweet id -> retweeted id
  int64_t tweets = 0;
  // co_similarity
  std::vector<float> emb;  // (rows, dim), unit rows
  int64_t dim = 0;
  std::unordered_map<int64_t, uint32_t> row_of;  // id or line -> row
  bool by_id = false;
  std::vector<SimEvent> sim;

  void load_embeddings(const std::string& path) {
    std::vector<H5ArraySpec> specs = {{"embeddings", 2, H5Kind::Float, true},
                                      {"ids", 1, H5Kind::Int, false},
                                      {"lines", 1, H5Kind::Int, false}};
    TensorMap m = read_h5_arrays(path, specs);
    const Tensor& e = m.at("embeddings");
    const int64_t n = e.size(0);
    dim = e.size(1);
    TERN_CHECK(n < 0xffffffffLL, path << ": too many embeddings (" << n << ")");
    emb.assign(e.f32(), e.f32() + n * dim);
    // Centre: raw transformer embeddings share a large common direction (mean-pooled ones have cosines
    // near 1 for unrelated tweets), so the mean embedding is subtracted before the cosine.
    std::vector<double> mean(static_cast<size_t>(dim), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < dim; ++c) mean[c] += emb[i * dim + c];
    for (int64_t c = 0; c < dim; ++c) mean[c] /= std::max<int64_t>(n, 1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < dim; ++c) emb[i * dim + c] -= static_cast<float>(mean[c]);
    for (int64_t i = 0; i < n; ++i) {
      double norm = 0;
      for (int64_t c = 0; c < dim; ++c) norm += static_cast<double>(emb[i * dim + c]) * emb[i * dim + c];
      float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.f;
      for (int64_t c = 0; c < dim; ++c) emb[i * dim + c] *= inv;
    }
    auto ids = m.find("ids");
    auto lines = m.find("lines");
    TERN_CHECK(ids != m.end() || lines != m.end(),
               path << ": has neither 'ids' nor 'lines' to join embeddings to tweets");
    by_id = ids != m.end();
    const Tensor& key = by_id ? ids->second : lines->second;
    TERN_CHECK(key.size(0) == n, path << ": " << (by_id ? "ids" : "lines") << " has " << key.size(0)
                                      << " entries for " << n << " embeddings");
    for (int64_t i = 0; i < n; ++i) row_of.emplace(key.i64()[i], static_cast<uint32_t>(i));
  }
};

Coordinator::Coordinator(const CoordOptions& opt) : impl_(std::make_unique<Impl>()) {
  TERN_CHECK(opt.window_seconds >= 0, "window must be >= 0 s, got " << opt.window_seconds);
  TERN_CHECK(opt.min_weight >= 1, "min weight must be >= 1, got " << opt.min_weight);
  TERN_CHECK(opt.min_similarity >= -1 && opt.min_similarity <= 1,
             "min similarity must be in [-1, 1], got " << opt.min_similarity);
  impl_->opt = opt;
  if (!opt.embeddings.empty()) {
    impl_->opt.types[static_cast<int>(CoType::Similarity)] = true;
    impl_->load_embeddings(opt.embeddings);
  } else {
    impl_->opt.types[static_cast<int>(CoType::Similarity)] = false;
  }
}
Coordinator::~Coordinator() = default;

void Coordinator::add(const Tweet& t) {
  auto& im = *impl_;
  ++im.tweets;
  auto [uit, fresh] = im.user_index.try_emplace(t.account(), static_cast<uint32_t>(im.user_names.size()));
  uint32_t u = uit->second;
  if (fresh) {
    im.user_names.push_back(t.display());
    im.user_tweets.push_back(0);
  }
  ++im.user_tweets[u];
  auto push = [&](CoType type, const std::string& key) {
    int k = static_cast<int>(type);
    if (!im.opt.types[k] || key.empty()) return;
    im.events[k].push_back({im.keys[k].intern(key, t.text), u, t.time});
  };
  if (t.is_retweet) {
    if (!t.retweeted_id.empty()) {
      push(CoType::Retweet, t.retweeted_id);
      if (!t.id.empty()) im.retweet_parent.emplace(t.id, t.retweeted_id);
    } else {
      std::string n = normalize_text(t.text);
      if (!n.empty()) push(CoType::Retweet, "text:" + n);
    }
  } else {
    std::string norm = normalize_text(t.text);
    if (content_chars(norm) >= im.opt.min_text_chars) push(CoType::Tweet, norm);
    std::vector<std::string> seen;
    for (const auto& url : t.urls) {
      std::string c = canonical_url(url);
      if (c.empty() || std::find(seen.begin(), seen.end(), c) != seen.end()) continue;
      seen.push_back(c);
      push(CoType::Link, c);
    }
    if (static_cast<int>(t.hashtags.size()) >= im.opt.min_hashtags && !t.hashtags.empty()) {
      std::string seq;
      for (const auto& h : t.hashtags) seq += (seq.empty() ? "#" : " #") + h;
      push(CoType::Hashtag, seq);
    }
  }
  if (!t.reply_to.empty()) push(CoType::Reply, t.reply_to);
  if (!im.emb.empty() && !t.is_retweet) {
    int64_t key = 0;
    bool ok = im.by_id ? parse_int64(t.id, key) : (key = t.line, true);
    auto it = ok ? im.row_of.find(key) : im.row_of.end();
    if (it != im.row_of.end()) {
      const int k = static_cast<int>(CoType::Similarity);
      uint32_t ex = im.keys[k].intern(std::to_string(it->second), t.text);
      im.sim.push_back({t.time, u, it->second, ex, hash64(normalize_text(t.text))});
    }
  }
}

CoordResult Coordinator::finish() {
  auto& im = *impl_;
  CoordResult r;
  r.options = im.opt;
  r.tweets = im.tweets;
  r.accounts_seen = static_cast<int64_t>(im.user_names.size());
  // Retweets of retweets: a retweeted id that is itself a retweet in the archive resolves to its root.
  {
    int k = static_cast<int>(CoType::Retweet);
    KeyTable& kt = im.keys[k];
    std::vector<uint32_t> remap(kt.example.size());
    for (uint32_t i = 0; i < remap.size(); ++i) remap[i] = i;
    std::vector<std::pair<std::string, uint32_t>> entries(kt.index.begin(), kt.index.end());
    bool any = false;
    for (const auto& [id, idx] : entries) {
      std::string root = id;
      for (int hop = 0; hop < 64; ++hop) {
        auto it = im.retweet_parent.find(root);
        if (it == im.retweet_parent.end() || it->second == root) break;
        root = it->second;
      }
      if (root != id) {
        remap[idx] = kt.intern(root, kt.example[idx]);
        any = true;
      }
    }
    if (any)
      for (auto& e : im.events[k]) e.key = remap[e.key];
    im.retweet_parent.clear();
  }
  // Sliding window per key.
  std::unordered_map<uint64_t, EdgeAcc> acc;
  const int64_t win = im.opt.window_seconds;
  for (int k = 0; k < kCoTypes; ++k) {
    auto& ev = im.events[k];
    r.actions[k] = static_cast<int64_t>(ev.size());
    std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
      if (a.key != b.key) return a.key < b.key;
      if (a.time != b.time) return a.time < b.time;
      return a.user < b.user;
    });
    size_t start = 0;
    for (size_t i = 0; i < ev.size(); ++i) {
      if (i == 0 || ev[i].key != ev[i - 1].key) start = i;
      while (ev[i].time - ev[start].time > win) ++start;
      for (size_t j = start; j < i; ++j) {
        if (ev[j].user == ev[i].user) continue;
        uint32_t a = std::min(ev[i].user, ev[j].user), b = std::max(ev[i].user, ev[j].user);
        EdgeAcc& e = acc[(static_cast<uint64_t>(a) << 32) | b];
        ++e.w[k];
        if (e.ex[k] == kNone) e.ex[k] = ev[i].key;
      }
    }
    std::vector<Event>().swap(ev);
  }
  // co_similarity: a window slides over all embedded tweets in time order; each pair inside it is one dot
  // product (cost: tweets x tweets-per-window x dim).
  {
    const int k = static_cast<int>(CoType::Similarity);
    auto& sv = im.sim;
    r.actions[k] = static_cast<int64_t>(sv.size());
    std::sort(sv.begin(), sv.end(), [](const SimEvent& a, const SimEvent& b) {
      return a.time != b.time ? a.time < b.time : a.row < b.row;
    });
    const float thr = static_cast<float>(im.opt.min_similarity);
    const int64_t dim = im.dim;
    size_t start = 0;
    for (size_t i = 0; i < sv.size(); ++i) {
      while (sv[i].time - sv[start].time > win) ++start;
      const float* x = &im.emb[sv[i].row * dim];
      for (size_t j = start; j < i; ++j) {
        if (sv[j].user == sv[i].user || sv[j].text == sv[i].text) continue;
        const float* y = &im.emb[sv[j].row * dim];
        float dot = 0;
        for (int64_t c = 0; c < dim; ++c) dot += x[c] * y[c];
        if (dot < thr) continue;
        uint32_t a = std::min(sv[i].user, sv[j].user), b = std::max(sv[i].user, sv[j].user);
        EdgeAcc& e = acc[(static_cast<uint64_t>(a) << 32) | b];
        ++e.w[k];
        if (e.ex[k] == kNone) e.ex[k] = sv[i].key;
      }
    }
    std::vector<SimEvent>().swap(sv);
  }
  // Kept edges, in a deterministic order.
  std::vector<std::pair<uint64_t, const EdgeAcc*>> kept;
  for (const auto& [key, e] : acc) {
    int64_t total = 0;
    for (int k = 0; k < kCoTypes; ++k) total += e.w[k];
    if (total >= im.opt.min_weight) kept.emplace_back(key, &e);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::unordered_map<uint32_t, uint32_t> vid;
  std::vector<uint32_t> users;
  auto vertex = [&](uint32_t u) {
    auto [it, fresh] = vid.try_emplace(u, static_cast<uint32_t>(users.size()));
    if (fresh) users.push_back(u);
    return it->second;
  };
  for (const auto& [key, e] : kept) {
    CoordEdge ce;
    ce.a = vertex(static_cast<uint32_t>(key >> 32));
    ce.b = vertex(static_cast<uint32_t>(key & 0xffffffffu));
    for (int k = 0; k < kCoTypes; ++k) {
      ce.weight[k] = e->w[k];
      ce.total += e->w[k];
    }
    r.edges.push_back(ce);
  }
  r.accounts.resize(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    r.accounts[i].name = im.user_names[users[i]];
    r.accounts[i].tweets = im.user_tweets[users[i]];
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto& ce = r.edges[i];
    for (int k = 0; k < kCoTypes; ++k) {
      if (!ce.weight[k]) continue;
      r.accounts[ce.a].by_type[k] += ce.weight[k];
      r.accounts[ce.b].by_type[k] += ce.weight[k];
      const std::string& ex = im.keys[k].example[kept[i].second->ex[k]];
      for (uint32_t v : {ce.a, ce.b}) {
        auto& exs = r.accounts[v].examples;
        if (static_cast<int64_t>(exs.size()) < im.opt.max_examples &&
            std::find(exs.begin(), exs.end(), ex) == exs.end())
          exs.push_back(ex);
      }
    }
  }
  const igraph_integer_t n = static_cast<igraph_integer_t>(users.size());
  if (n == 0) return r;
  igraph_init_once();
  igraph_t g;
  igraph_vector_int_t el;
  ig(igraph_vector_int_init(&el, 2 * static_cast<igraph_integer_t>(r.edges.size())), "vector");
  igraph_vector_t w;
  igraph_vector_init(&w, static_cast<igraph_integer_t>(r.edges.size()));
  for (size_t i = 0; i < r.edges.size(); ++i) {
    VECTOR(el)[2 * i] = r.edges[i].a;
    VECTOR(el)[2 * i + 1] = r.edges[i].b;
    VECTOR(w)[i] = static_cast<double>(r.edges[i].total);
  }
  ig(igraph_create(&g, &el, n, IGRAPH_UNDIRECTED), "create");
  igraph_vector_int_destroy(&el);
  igraph_vector_int_t memb, csize, clus;
  igraph_vector_int_init(&memb, 0);
  igraph_vector_int_init(&csize, 0);
  igraph_vector_int_init(&clus, 0);
  igraph_integer_t ncomp = 0;
  igraph_vector_t strength;
  igraph_vector_init(&strength, 0);
  igraph_rng_seed(igraph_rng_default(), 12345);
  ig(igraph_connected_components(&g, &memb, &csize, &ncomp, IGRAPH_WEAK), "connected_components");
  ig(igraph_strength(&g, &strength, igraph_vss_all(), IGRAPH_ALL, IGRAPH_LOOPS, &w), "strength");
  // Leiden with the modularity objective (node weights = strength, resolution 1 / 2m), as CooRnet does with
  // Louvain but faster on large components and with connected clusters.
  double total_w = 0;
  for (igraph_integer_t i = 0; i < igraph_vector_size(&w); ++i) total_w += VECTOR(w)[i];
  igraph_integer_t nclus = 0;
  ig(igraph_community_leiden(&g, &w, &strength, 1.0 / (2.0 * total_w), 0.01, false, 2, &clus, &nclus,
                             nullptr),
     "community_leiden");
  if (im.opt.layout) {
    igraph_matrix_t xy;
    igraph_matrix_init(&xy, 0, 0);
    ig(igraph_layout_fruchterman_reingold(&g, &xy, false, 500, std::sqrt(static_cast<double>(n)),
                                          IGRAPH_LAYOUT_AUTOGRID, nullptr, nullptr, nullptr, nullptr,
                                          nullptr),
       "layout_fruchterman_reingold");
    for (igraph_integer_t i = 0; i < n; ++i) {
      r.accounts[i].x = MATRIX(xy, i, 0);
      r.accounts[i].y = MATRIX(xy, i, 1);
    }
    igraph_matrix_destroy(&xy);
  }
  // Components numbered by size (descending), then by their first account's name.
  std::vector<int64_t> comp_order(static_cast<size_t>(ncomp));
  std::vector<std::string> comp_first(static_cast<size_t>(ncomp));
  for (igraph_integer_t i = 0; i < n; ++i) {
    auto c = VECTOR(memb)[i];
    if (comp_first[c].empty() || r.accounts[i].name < comp_first[c]) comp_first[c] = r.accounts[i].name;
  }
  for (int64_t c = 0; c < ncomp; ++c) comp_order[c] = c;
  std::sort(comp_order.begin(), comp_order.end(), [&](int64_t a, int64_t b) {
    if (VECTOR(csize)[a] != VECTOR(csize)[b]) return VECTOR(csize)[a] > VECTOR(csize)[b];
    return comp_first[a] < comp_first[b];
  });
  std::vector<int64_t> comp_rank(static_cast<size_t>(ncomp));
  for (int64_t i = 0; i < ncomp; ++i) comp_rank[comp_order[i]] = i;
  r.components.resize(static_cast<size_t>(ncomp));
  for (igraph_integer_t i = 0; i < n; ++i) {
    auto& a = r.accounts[i];
    a.component = comp_rank[VECTOR(memb)[i]];
    a.cluster = VECTOR(clus)[i];
    a.strength = VECTOR(strength)[i];
    r.components[a.component].accounts.push_back(static_cast<uint32_t>(i));
  }
  std::vector<std::map<std::pair<int, uint32_t>, int64_t>> comp_examples(static_cast<size_t>(ncomp));
  for (size_t i = 0; i < r.edges.size(); ++i) {
    const auto& e = r.edges[i];
    auto& c = r.components[r.accounts[e.a].component];
    ++c.edges;
    for (int k = 0; k < kCoTypes; ++k) {
      c.weight[k] += e.weight[k];
      if (e.weight[k]) comp_examples[r.accounts[e.a].component][{k, kept[i].second->ex[k]}] += e.weight[k];
    }
  }
  for (int64_t ci = 0; ci < ncomp; ++ci) {
    auto& c = r.components[ci];
    std::sort(c.accounts.begin(), c.accounts.end(), [&](uint32_t a, uint32_t b) {
      if (r.accounts[a].strength != r.accounts[b].strength)
        return r.accounts[a].strength > r.accounts[b].strength;
      return r.accounts[a].name < r.accounts[b].name;
    });
    std::vector<int64_t> cl;
    for (uint32_t a : c.accounts) cl.push_back(r.accounts[a].cluster);
    std::sort(cl.begin(), cl.end());
    c.clusters = std::unique(cl.begin(), cl.end()) - cl.begin();
    std::vector<std::pair<int64_t, std::pair<int, uint32_t>>> ex;
    for (const auto& [key, wsum] : comp_examples[ci]) ex.push_back({-wsum, key});
    std::sort(ex.begin(), ex.end());
    for (size_t i = 0; i < ex.size() && i < 5; ++i)
      c.examples.emplace_back(static_cast<CoType>(ex[i].second.first),
                              im.keys[ex[i].second.first].example[ex[i].second.second]);
  }
  igraph_vector_int_destroy(&memb);
  igraph_vector_int_destroy(&csize);
  igraph_vector_int_destroy(&clus);
  igraph_vector_destroy(&strength);
  igraph_vector_destroy(&w);
  igraph_destroy(&g);
  return r;
}

void write_graphml(const CoordResult& r, const std::string& path) {
  igraph_init_once();
  igraph_t g;
  igraph_vector_int_t el;
  igraph_vector_int_init(&el, 2 * static_cast<igraph_integer_t>(r.edges.size()));
  for (size_t i = 0; i < r.edges.size(); ++i) {
    VECTOR(el)[2 * i] = r.edges[i].a;
    VECTOR(el)[2 * i + 1] = r.edges[i].b;
  }
  ig(igraph_create(&g, &el, static_cast<igraph_integer_t>(r.accounts.size()), IGRAPH_UNDIRECTED), "create");
  igraph_vector_int_destroy(&el);
  for (size_t i = 0; i < r.accounts.size(); ++i) {
    const auto& a = r.accounts[i];
    auto v = static_cast<igraph_integer_t>(i);
    SETVAS(&g, "name", v, a.name.c_str());
    SETVAN(&g, "component", v, static_cast<double>(a.component));
    SETVAN(&g, "cluster", v, static_cast<double>(a.cluster));
    SETVAN(&g, "strength", v, a.strength);
    SETVAN(&g, "tweets", v, static_cast<double>(a.tweets));
  }
  for (size_t i = 0; i < r.edges.size(); ++i) {
    const auto& e = r.edges[i];
    auto id = static_cast<igraph_integer_t>(i);
    SETEAN(&g, "weight", id, static_cast<double>(e.total));
    std::string types;
    for (int k = 0; k < kCoTypes; ++k) {
      SETEAN(&g, kTypeNames[k], id, static_cast<double>(e.weight[k]));
      if (e.weight[k]) types += (types.empty() ? "" : "+") + std::string(kTypeNames[k]);
    }
    SETEAS(&g, "types", id, types.c_str());
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    igraph_destroy(&g);
    TERN_FAIL("cannot write " << path);
  }
  igraph_error_t err = igraph_write_graph_graphml(&g, f, false);
  bool ok = std::fclose(f) == 0;
  igraph_destroy(&g);
  ig(err, "write_graph_graphml");
  if (!ok) TERN_FAIL("write failed: " << path);
}

namespace {
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}
}  // namespace

void write_edges_csv(const CoordResult& r, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  if (!f) TERN_FAIL("cannot write " << path);
  f << "source,target,type,weight\n";
  for (const auto& e : r.edges)
    for (int k = 0; k < kCoTypes; ++k)
      if (e.weight[k])
        f << csv_cell(r.accounts[e.a].name) << ',' << csv_cell(r.accounts[e.b].name) << ',' << kTypeNames[k]
          << ',' << e.weight[k] << '\n';
  f.close();
  if (!f) TERN_FAIL("write failed: " << path);
}

void write_components_json(const CoordResult& r, const std::string& path) {
  nlohmann::ordered_json j;
  j["window_seconds"] = r.options.window_seconds;
  j["min_weight"] = r.options.min_weight;
  j["tweets"] = r.tweets;
  j["accounts_seen"] = r.accounts_seen;
  j["coordinated_accounts"] = r.accounts.size();
  j["edges"] = r.edges.size();
  auto& act = j["actions"] = nlohmann::ordered_json::object();
  for (int k = 0; k < kCoTypes; ++k)
    if (r.options.types[k]) act[kTypeNames[k]] = r.actions[k];
  auto& comps = j["components"] = nlohmann::ordered_json::array();
  for (size_t ci = 0; ci < r.components.size(); ++ci) {
    const auto& c = r.components[ci];
    nlohmann::ordered_json o;
    o["id"] = ci;
    o["size"] = c.accounts.size();
    o["edges"] = c.edges;
    o["clusters"] = c.clusters;
    auto& ty = o["types"] = nlohmann::ordered_json::object();
    for (int k = 0; k < kCoTypes; ++k)
      if (c.weight[k]) ty[kTypeNames[k]] = c.weight[k];
    auto& acc = o["accounts"] = nlohmann::ordered_json::array();
    for (uint32_t a : c.accounts) {
      const auto& x = r.accounts[a];
      acc.push_back(
          {{"name", x.name}, {"cluster", x.cluster}, {"strength", x.strength}, {"tweets", x.tweets}});
    }
    auto& ex = o["examples"] = nlohmann::ordered_json::array();
    for (const auto& [t, text] : c.examples)
      ex.push_back({{"type", kTypeNames[static_cast<int>(t)]}, {"text", text}});
    comps.push_back(std::move(o));
  }
  std::ofstream f(path, std::ios::binary);
  if (!f) TERN_FAIL("cannot write " << path);
  f << j.dump(1) << "\n";
  f.close();
  if (!f) TERN_FAIL("write failed: " << path);
}

}  // namespace tern::social
