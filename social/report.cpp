// tern report: one pass over the archives feeds the trend metrics, the coordination network and the report's
// own tallies (accounts, duplicate texts, labels over time); the page is report_page.cpp with the data
// inline.
#include "social/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "infer/record_reader.h"
#include "social/report_page.h"
#include "tensor/check.h"

namespace tern::social {

namespace {

using ojson = nlohmann::ordered_json;

std::string label_of(const nlohmann::json& j, const std::string& field) {
  const nlohmann::json* v = infer::find_field(j, field);
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return v->dump();
}

std::string id_of(const nlohmann::json& j) {
  auto it = j.find("id");
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return it->dump();
}

struct DupText {
  int64_t tweets = 0;
  std::vector<uint32_t> users;  // distinct, capped
  std::string text;
};

constexpr size_t kUserCap = 50;

}  // namespace

ReportSummary write_report(const std::vector<std::string>& inputs, const ArchiveOptions& archive,
                           const TrendOptions& trend_opt, CoordOptions coord_opt, const ReportOptions& opt,
                           BadRowWriter& bad_rows, const std::string& out_html) {
  ReportSummary sum;
  coord_opt.layout = true;
  TrendAccumulator trends(trend_opt);
  Coordinator coord(coord_opt);
  std::unordered_map<std::string, uint32_t> account_index;
  std::vector<std::string> account_names;
  std::vector<int64_t> account_tweets;
  std::unordered_map<std::string, DupText> texts;
  // Predictions: by id when the first line has one, else the n-th prediction labels the n-th tweet.
  std::unique_ptr<infer::RecordReader> pred;
  infer::Record prec;
  std::unordered_map<std::string, std::string> by_id;
  bool lockstep = false;
  std::string first_label;
  bool first_pending = false;
  if (!opt.predictions.empty()) {
    infer::ReaderOptions ro;
    ro.format = infer::InputFormat::Jsonl;
    pred = std::make_unique<infer::RecordReader>(opt.predictions, ro);
    if (pred->next(prec)) {
      TERN_CHECK(prec.error.empty(), opt.predictions << ":" << prec.line << ": " << prec.error);
      if (!id_of(prec.json()).empty()) {
        do {
          TERN_CHECK(prec.error.empty(), opt.predictions << ":" << prec.line << ": " << prec.error);
          by_id[id_of(prec.json())] = label_of(prec.json(), opt.label_field);
        } while (pred->next(prec));
        pred.reset();
      } else {
        lockstep = true;
        first_label = label_of(prec.json(), opt.label_field);
        first_pending = true;
      }
    }
  }
  // (trend, bucket) -> label counts, kept for every trend and cut to the top ones at the end.
  std::vector<std::string> label_names;
  std::unordered_map<std::string, uint32_t> label_index;
  std::unordered_map<std::string, std::map<int64_t, std::vector<int64_t>>> label_series;
  bool preds_done = false;
  auto next_label = [&](const Tweet& t, std::string& label) -> bool {
    if (!by_id.empty()) {
      // tern infer writes the input line as the id when the archive has none.
      auto it = by_id.find(t.id.empty() ? std::to_string(t.line) : t.id);
      if (it == by_id.end()) return false;
      label = it->second;
      return true;
    }
    if (!lockstep || preds_done) return false;
    if (first_pending) {
      first_pending = false;
      label = first_label;
      return true;
    }
    if (!pred->next(prec)) {
      preds_done = true;
      return false;
    }
    TERN_CHECK(prec.error.empty(), opt.predictions << ":" << prec.line << ": " << prec.error);
    label = label_of(prec.json(), opt.label_field);
    return true;
  };
  read_archives(
      inputs, archive,
      [&](const Tweet& t) {
        ++sum.tweets;
        trends.add(t);
        coord.add(t);
        auto [it, fresh] =
            account_index.try_emplace(t.account(), static_cast<uint32_t>(account_names.size()));
        if (fresh) {
          account_names.push_back(t.display());
          account_tweets.push_back(0);
        }
        ++account_tweets[it->second];
        std::string norm = normalize_text(t.text);
        if (!norm.empty()) {
          DupText& d = texts[norm];
          if (d.tweets++ == 0) d.text = norm;
          if (d.users.size() < kUserCap &&
              std::find(d.users.begin(), d.users.end(), it->second) == d.users.end())
            d.users.push_back(it->second);
        }
        std::string label;
        if (next_label(t, label) && !label.empty()) {
          ++sum.predictions_joined;
          auto [li, lfresh] = label_index.try_emplace(label, static_cast<uint32_t>(label_names.size()));
          if (lfresh) label_names.push_back(label);
          int64_t b =
              static_cast<int64_t>(std::floor(static_cast<double>(t.time) / trend_opt.bucket_seconds)) *
              trend_opt.bucket_seconds;
          const auto& tags = t.groups.empty() ? t.hashtags : t.groups;
          for (const auto& tag : tags) {
            auto& v = label_series[tag][b];
            if (v.size() <= li->second) v.resize(li->second + 1, 0);
            ++v[li->second];
          }
        }
      },
      [&](const BadRow& b) { bad_rows(b); });
  sum.bad_rows = bad_rows.count();
  TrendReport tr = trends.finish();
  CoordResult cr = coord.finish();
  sum.trends = static_cast<int64_t>(tr.trends.size());
  sum.coordinated_accounts = static_cast<int64_t>(cr.accounts.size());

  ojson d;
  d["title"] = opt.title;
  d["tweets"] = sum.tweets;
  d["trend_count"] = tr.trends.size();
  d["accounts"] = account_names.size();
  d["bucket_seconds"] = tr.bucket_seconds;
  d["window_seconds"] = cr.options.window_seconds;
  d["min_weight"] = cr.options.min_weight;
  d["top_trends"] = opt.top_trends;
  auto& jt = d["trends"] = ojson::array();
  for (size_t i = 0; i < tr.trends.size() && i < 50; ++i) {
    const auto& m = tr.trends[i];
    ojson o;
    o["trend"] = m.trend;
    o["tweets"] = m.tweets;
    o["distinct_users"] = m.distinct_users;
    o["tweets_per_user"] = m.tweets_per_user;
    o["pct_duplicates"] = m.pct_duplicates;
    o["pct_more_retweets_than_likes"] = m.has_counts ? ojson(m.pct_more_retweets_than_likes) : ojson();
    o["likes"] = m.has_counts ? ojson(m.likes) : ojson();
    o["retweets"] = m.has_counts ? ojson(m.retweets) : ojson();
    o["retweets_per_user"] = m.has_counts ? ojson(m.retweets_per_user) : ojson();
    o["mean_gap_minutes"] = m.mean_gap_minutes ? ojson(*m.mean_gap_minutes) : ojson();
    auto& tp = o["top_duplicate_posters"] = ojson::array();
    for (const auto& p : m.top_duplicate_posters)
      tp.push_back({{"user", p.user}, {"duplicates", p.duplicates}});
    auto& v = o["volume"] = ojson::array();
    if (static_cast<int>(i) < opt.top_trends)
      for (const auto& [b, n] : m.volume) v.push_back({b, n});
    jt.push_back(std::move(o));
  }
  std::unordered_set<std::string> coordinated;
  for (const auto& a : cr.accounts) coordinated.insert(a.name);
  std::vector<uint32_t> order(account_names.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  size_t ntop = std::min<size_t>(15, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(ntop), order.end(),
                    [&](uint32_t a, uint32_t b) {
                      return account_tweets[a] != account_tweets[b] ? account_tweets[a] > account_tweets[b]
                                                                    : account_names[a] < account_names[b];
                    });
  auto& ta = d["top_accounts"] = ojson::array();
  for (size_t i = 0; i < ntop; ++i)
    ta.push_back({{"name", account_names[order[i]]},
                  {"tweets", account_tweets[order[i]]},
                  {"coordinated", coordinated.count(account_names[order[i]]) > 0}});
  std::vector<const DupText*> dups;
  for (const auto& [k, v] : texts)
    if (v.tweets > 1) dups.push_back(&v);
  std::sort(dups.begin(), dups.end(), [](const DupText* a, const DupText* b) {
    return a->tweets != b->tweets ? a->tweets > b->tweets : a->text < b->text;
  });
  auto& jd = d["duplicates"] = ojson::array();
  for (size_t i = 0; i < dups.size() && i < 15; ++i)
    jd.push_back({{"text", dups[i]->text},
                  {"tweets", dups[i]->tweets},
                  {"accounts", dups[i]->users.size()},
                  {"accounts_capped", dups[i]->users.size() >= kUserCap}});
  if (!opt.predictions.empty()) {
    ojson L;
    L["joined"] = sum.predictions_joined;
    L["names"] = label_names;
    auto& lt = L["trends"] = ojson::array();
    for (size_t i = 0; i < tr.trends.size() && static_cast<int>(i) < std::min(opt.top_trends, 4); ++i) {
      auto it = label_series.find(tr.trends[i].trend);
      if (it == label_series.end()) continue;
      ojson o;
      o["trend"] = tr.trends[i].trend;
      auto& bs = o["buckets"] = ojson::array();
      for (auto [b, v] : it->second) {
        v.resize(label_names.size(), 0);
        bs.push_back({b, v});
      }
      lt.push_back(std::move(o));
    }
    d["labels"] = std::move(L);
  } else {
    d["labels"] = nullptr;
  }
  // Graph: the strongest accounts and the edges among them.
  std::vector<uint32_t> gorder(cr.accounts.size());
  for (uint32_t i = 0; i < gorder.size(); ++i) gorder[i] = i;
  std::sort(gorder.begin(), gorder.end(), [&](uint32_t a, uint32_t b) {
    return cr.accounts[a].strength != cr.accounts[b].strength
               ? cr.accounts[a].strength > cr.accounts[b].strength
               : cr.accounts[a].name < cr.accounts[b].name;
  });
  if (static_cast<int64_t>(gorder.size()) > opt.max_graph_accounts)
    gorder.resize(static_cast<size_t>(opt.max_graph_accounts));
  std::unordered_map<uint32_t, uint32_t> gid;
  ojson G;
  auto& nodes = G["nodes"] = ojson::array();
  for (uint32_t a : gorder) {
    gid[a] = static_cast<uint32_t>(nodes.size());
    const auto& x = cr.accounts[a];
    nodes.push_back({{"name", x.name},
                     {"x", x.x},
                     {"y", x.y},
                     {"component", x.component},
                     {"cluster", x.cluster},
                     {"strength", x.strength},
                     {"tweets", x.tweets},
                     {"examples", x.examples}});
  }
  auto& edges = G["edges"] = ojson::array();
  for (const auto& e : cr.edges) {
    auto ia = gid.find(e.a), ib = gid.find(e.b);
    if (ia == gid.end() || ib == gid.end()) continue;
    std::string types;
    for (int k = 0; k < kCoTypes; ++k)
      if (e.weight[k])
        types += (types.empty() ? "" : ", ") + std::string(co_type_name(static_cast<CoType>(k))) + " " +
                 std::to_string(e.weight[k]);
    edges.push_back({ia->second, ib->second, e.total, types});
  }
  d["graph"] = std::move(G);
  auto& comps = d["components"] = ojson::array();
  for (size_t i = 0; i < cr.components.size() && i < 15; ++i) {
    const auto& c = cr.components[i];
    std::string types;
    for (int k = 0; k < kCoTypes; ++k)
      if (c.weight[k])
        types += (types.empty() ? "" : ", ") + std::string(co_type_name(static_cast<CoType>(k))) + " " +
                 std::to_string(c.weight[k]);
    std::vector<std::string> top;
    for (size_t j = 0; j < c.accounts.size() && j < 5; ++j) top.push_back(cr.accounts[c.accounts[j]].name);
    comps.push_back({{"id", i},
                     {"size", c.accounts.size()},
                     {"types", types},
                     {"top", top},
                     {"example", c.examples.empty() ? "" : c.examples[0].second}});
  }
  // Inline data: '<' escaped so no text can close the script element.
  std::string data = d.dump(-1, ' ', false, ojson::error_handler_t::replace);
  std::string safe;
  safe.reserve(data.size());
  for (char c : data) {
    if (c == '<')
      safe += "\\u003c";
    else
      safe += c;
  }
  std::ofstream f(out_html, std::ios::binary);
  if (!f) TERN_FAIL("cannot write " << out_html);
  f << kReportHead << safe << kReportTail;
  f.close();
  if (!f) TERN_FAIL("write failed: " << out_html);
  return sum;
}

}  // namespace tern::social
