#include "social/tweeteval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "infer/predictor.h"
#include "tensor/check.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/multitask.h"
#include "train/trainer.h"

namespace tern::social {

namespace fs = std::filesystem;
using nlohmann::json;

const char* tweeteval_metric_name(TweetEvalMetric m) {
  switch (m) {
    case TweetEvalMetric::MacroF1:
      return "macro_f1";
    case TweetEvalMetric::MacroRecall:
      return "macro_recall";
    case TweetEvalMetric::F1Class1:
      return "f1_class1";
    case TweetEvalMetric::StanceFavorAgainst:
      return "mean_f1_against_favor";
  }
  return "";
}

double tweeteval_score(TweetEvalMetric m, const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                       int64_t L) {
  TERN_CHECK(gold.size() == pred.size() && !gold.empty(),
             "tweeteval_score: " << gold.size() << " gold labels, " << pred.size() << " predictions");
  const train::ClassReport r = train::classification_report(gold, pred, L);
  switch (m) {
    case TweetEvalMetric::MacroF1:
      return r.macro_f1;
    case TweetEvalMetric::MacroRecall:
      return r.macro_recall;
    case TweetEvalMetric::F1Class1:
      TERN_CHECK(L >= 2, "tweeteval_score: F1 of class 1 needs 2 classes");
      return r.f1[1];
    case TweetEvalMetric::StanceFavorAgainst:
      TERN_CHECK(L == 3, "tweeteval_score: stance has 3 classes (none, against, favor)");
      return (r.f1[1] + r.f1[2]) / 2;
  }
  return 0;
}

const std::vector<TweetEvalTask>& tweeteval_tasks() {
  static const std::vector<TweetEvalTask> t = {
      {"emoji",
       {"❤", "😍",  "😂", "💕", "🔥", "😊", "😎", "✨", "💙",    "😘",
        "📷", "🇺🇸", "☀", "💜", "😉", "💯", "😁", "🎄", "📸", "😜"},
       TweetEvalMetric::MacroF1,
       {}},
      {"emotion", {"anger", "joy", "optimism", "sadness"}, TweetEvalMetric::MacroF1, {}},
      {"hate", {"not-hate", "hate"}, TweetEvalMetric::MacroF1, {}},
      {"irony", {"non_irony", "irony"}, TweetEvalMetric::F1Class1, {}},
      {"offensive", {"not-offensive", "offensive"}, TweetEvalMetric::MacroF1, {}},
      {"sentiment", {"negative", "neutral", "positive"}, TweetEvalMetric::MacroRecall, {}},
      {"stance",
       {"none", "against", "favor"},
       TweetEvalMetric::StanceFavorAgainst,
       {"abortion", "atheism", "climate", "feminist", "hillary"}},
  };
  return t;
}

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A unit of training: a task, or one stance target.
struct Unit {
  const TweetEvalTask* task;
  std::string target;  // stance target, else empty
  std::string name() const { return target.empty() ? task->name : task->name + "_" + target; }
  std::string dir(const std::string& data) const {
    return data + "/" + task->name + (target.empty() ? "" : "/" + target);
  }
};

train::Dataset read_split(const TweetEvalOptions& o, const Unit& u, const std::string& split) {
  train::LabelSpec spec{train::Task::Single, u.task->labels, static_cast<int64_t>(u.task->labels.size())};
  if (u.task->name == "sentiment" && split == "train") {
    // The official sentiment train text is absent; the reconstruction from SemEval 2013-2016 replaces it
    // (its PROVENANCE; read with csv.QUOTE_NONE as the fixtures and the shipped default model were).
    train::ReadOptions ro;
    ro.text_field = "text";
    ro.label_fields = {"label"};
    ro.quoting = train::Quoting::None;
    return train::read_dataset(u.dir(o.data_dir) + "/train_reconstructed_from_semeval.tsv.gz", spec, ro);
  }
  return train::read_dataset(u.dir(o.data_dir) + "/" + split, spec);
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (int64_t i = n - 1; i > 0; --i) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    std::swap(p[i], p[static_cast<int64_t>(z % static_cast<uint64_t>(i + 1))]);
  }
  return p;
}

std::vector<int64_t> argmax_rows(const std::vector<float>& z, int64_t L) {
  const int64_t N = static_cast<int64_t>(z.size()) / L;
  std::vector<int64_t> out(N);
  for (int64_t i = 0; i < N; ++i)
    out[i] = std::max_element(z.begin() + i * L, z.begin() + (i + 1) * L) - (z.begin() + i * L);
  return out;
}

std::vector<int64_t> gold_ids(const train::Dataset& d) {
  std::vector<int64_t> g;
  for (float y : d.targets) g.push_back(static_cast<int64_t>(y));
  return g;
}

void write_lines(const std::string& path, const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += std::to_string(x) + "\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << s;
    TERN_CHECK(f.good(), "cannot write " << tmp);
  }
  fs::rename(tmp, path);
}

void write_text(const std::string& path, const std::string& s) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << s;
    if (!f.good()) TERN_FAIL("cannot write " << tmp);
  }
  fs::rename(tmp, path);
}

// The training rows of a unit under the budget: a JSONL file for the Trainer, and the epochs.
struct Plan {
  std::string path;
  int64_t rows = 0, epochs = 1;
};
Plan plan_training(const TweetEvalOptions& o, const Unit& u, const train::Dataset& d,
                   const std::string& dir) {
  Plan p;
  const int64_t N = static_cast<int64_t>(d.size()), E = o.budget.examples;
  std::vector<int64_t> rows;
  if (N > E) {
    std::vector<int64_t> perm = seeded_permutation(N, o.seed);
    rows.assign(perm.begin(), perm.begin() + E);
    std::sort(rows.begin(), rows.end());
    p.epochs = 1;
  } else {
    rows.resize(N);
    std::iota(rows.begin(), rows.end(), 0);
    p.epochs = std::clamp<int64_t>(std::llround(static_cast<double>(E) / std::max<int64_t>(1, N)), 1,
                                   o.budget.max_epochs);
  }
  p.rows = static_cast<int64_t>(rows.size());
  std::string s;
  for (int64_t r : rows) {
    json j = {{"text", d.texts[r]}, {"label", u.task->labels[static_cast<size_t>(d.targets[r])]}};
    s += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  }
  p.path = dir + "/" + u.name() + ".train.jsonl";
  write_text(p.path, s);
  return p;
}

std::vector<Unit> units_of(const TweetEvalTask& t) {
  std::vector<Unit> u;
  if (t.targets.empty()) u.push_back({&t, ""});
  for (const auto& g : t.targets) u.push_back({&t, g});
  return u;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

json result_json(const TweetEvalTaskResult& r) {
  json j = {{"task", r.task},         {"metric", r.metric},
            {"score", r.score},       {"train_rows", r.train_rows},
            {"examples", r.examples}, {"test_rows", r.test_rows},
            {"seconds", r.seconds},   {"model", r.model}};
  if (!r.sub.empty()) j["per_target"] = r.sub;
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

double mean_all(const std::vector<TweetEvalTaskResult>& v) {
  if (v.size() != tweeteval_tasks().size()) return -1;
  double s = 0;
  for (const auto& r : v) s += r.score;
  return s / static_cast<double>(v.size());
}

void render(const TweetEvalOptions& o, TweetEvalResults& R) {
  R.all_single = mean_all(R.single);
  R.all_multi = mean_all(R.multi);
  json j;
  j["checkpoint"] = R.checkpoint;
  j["command"] = o.command_line;
  j["budget"] = {
      {"examples_per_task", o.budget.examples},
      {"max_epochs", o.budget.max_epochs},
      {"multitask_steps", o.budget.multitask_steps},
      {"max_length", o.max_length},
      {"batch_size", o.batch_size},
      {"lr", o.lr},
      {"warmup_fraction", o.warmup_fraction},
      {"seed", o.seed},
      {"rule",
       "capped-budget run: a (sub)task with more rows than examples_per_task trains 1 epoch on a seeded "
       "random subset of that many rows, a smaller one round(examples/rows) epochs (1..max_epochs) on "
       "all rows; the epoch with the best val metric (macro-F1, sentiment macro-recall) is kept; multi-task: "
       "the last step"}};
  j["single"] = json::array();
  for (const auto& r : R.single) j["single"].push_back(result_json(r));
  j["multi"] = json::array();
  for (const auto& r : R.multi) j["multi"].push_back(result_json(r));
  j["all_single"] = R.all_single >= 0 ? json(R.all_single) : json();
  j["all_multi"] = R.all_multi >= 0 ? json(R.all_multi) : json();
  j["single_seconds"] = R.single_seconds;
  j["multi_seconds"] = R.multi_seconds;
  R.json = j.dump(2) + "\n";

  std::ostringstream md;
  md << "| task | metric | single-task | multi-task | single-task training (rows x epochs) |\n"
     << "|---|---|---|---|---|\n";
  for (const auto& t : tweeteval_tasks()) {
    const TweetEvalTaskResult *s = nullptr, *m = nullptr;
    for (const auto& r : R.single)
      if (r.task == t.name) s = &r;
    for (const auto& r : R.multi)
      if (r.task == t.name) m = &r;
    if (!s && !m) continue;
    md << "| " << t.name << " | " << tweeteval_metric_name(t.metric) << " | "
       << (s ? fmt(s->score) : "not run") << " | " << (m ? fmt(m->score) : "not run") << " | ";
    if (s)
      md << (s->note.empty()
                 ? std::to_string(s->train_rows) + " rows, " + std::to_string(s->examples) + " examples"
                 : s->note);
    md << " |\n";
  }
  md << "| **ALL** | mean of 7 | " << (R.all_single >= 0 ? "**" + fmt(R.all_single) + "**" : "incomplete")
     << " | " << (R.all_multi >= 0 ? "**" + fmt(R.all_multi) + "**" : "incomplete") << " | |\n";
  R.markdown = md.str();
  write_text(o.out_dir + "/results.json", R.json);
  write_text(o.out_dir + "/results.md", R.markdown);
}

}  // namespace

TweetEvalResults run_tweeteval(const TweetEvalOptions& o,
                               const std::function<void(const std::string&)>& log_fn) {
  auto log = [&](const std::string& s) {
    if (log_fn) log_fn(s);
  };
  TERN_CHECK(!o.model_path.empty() && !o.data_dir.empty() && !o.out_dir.empty(),
             "tweeteval: model, data and out are required");
  if (!fs::is_directory(o.data_dir)) TERN_FAIL("tweeteval: data folder " << o.data_dir << " does not exist");
  TERN_CHECK(o.single || o.multitask, "tweeteval: nothing to run (neither single-task nor multi-task)");
  std::vector<const TweetEvalTask*> tasks;
  for (const auto& t : tweeteval_tasks())
    if (o.tasks.empty() || std::find(o.tasks.begin(), o.tasks.end(), t.name) != o.tasks.end())
      tasks.push_back(&t);
  for (const auto& n : o.tasks) {
    bool ok = false;
    for (const auto& t : tweeteval_tasks()) ok = ok || t.name == n;
    if (!ok)
      TERN_FAIL("tweeteval: unknown task '"
                << n << "' (emoji, emotion, hate, irony, offensive, sentiment, stance)");
  }
  for (const auto& [k, v] : o.reuse) {
    bool ok = k == "multitask" && o.multitask;
    for (const auto* t : tasks) ok = ok || (t->name == k && t->targets.empty());
    if (!ok)
      TERN_FAIL("tweeteval: --reuse "
                << k << ": not a selected task (stance cannot be reused; multitask needs --multitask)");
    if (!fs::exists(v)) TERN_FAIL("tweeteval: --reuse " << k << ": " << v << " does not exist");
  }
  fs::create_directories(o.out_dir + "/models");
  fs::create_directories(o.out_dir + "/predictions");
  fs::create_directories(o.out_dir + "/data");
  TweetEvalResults R;
  R.checkpoint = o.model_path;

  // Test sets, read once.
  std::map<std::string, train::Dataset> test;
  for (const auto* t : tasks)
    for (const Unit& u : units_of(*t)) test[u.name()] = read_split(o, u, "test");

  auto predict_file = [&](const std::string& model, const std::vector<std::string>& texts) {
    infer::InferModel::Options io;
    io.max_length = o.max_length;
    auto m = infer::InferModel::load(model, io);
    infer::PredictOptions po;
    po.batch_size = o.eval_batch_size;
    infer::Predictor p({m}, po);
    return p.predict(texts)[0].logits;
  };

  if (o.single) {
    const double t_all = now_s();
    for (const auto* t : tasks) {
      const double t0 = now_s();
      TweetEvalTaskResult res;
      res.task = t->name;
      res.metric = tweeteval_metric_name(t->metric);
      const int64_t L = static_cast<int64_t>(t->labels.size());
      std::vector<int64_t> gold_all, pred_all;
      for (const Unit& u : units_of(*t)) {
        const train::Dataset& te = test.at(u.name());
        std::string model;
        auto reuse = o.reuse.find(t->name);
        if (reuse != o.reuse.end()) {
          model = reuse->second;
          res.note = "reused " + model;
          log("tweeteval: " + u.name() + ": reusing " + model);
        } else {
          const train::Dataset tr = read_split(o, u, "train");
          const Plan p = plan_training(o, u, tr, o.out_dir + "/data");
          model = o.out_dir + "/models/" + u.name() + ".h5";
          log("tweeteval: " + u.name() + ": training on " + std::to_string(p.rows) + " of " +
              std::to_string(tr.size()) + " rows x " + std::to_string(p.epochs) + " epochs");
          train::TrainOptions to;
          to.model_path = o.model_path;
          to.train_path = p.path;
          to.val_path = u.dir(o.data_dir) + "/val";
          to.out_path = model;
          to.task = train::Task::Single;
          to.labels = t->labels;
          to.max_length = o.max_length;
          to.batch_size = o.batch_size;
          to.eval_batch_size = o.eval_batch_size;
          to.epochs = p.epochs;
          to.lr = o.lr;
          to.warmup = train::WarmupSpec::fraction(o.warmup_fraction);
          to.weight_decay = o.weight_decay;
          to.no_decay_bias_ln = true;
          to.seed = o.seed;
          to.clip = 1.0;
          // Selection on val (the epoch with the best official-like metric is kept; 1 epoch: the last).
          to.metric =
              t->metric == TweetEvalMetric::MacroRecall ? train::Metric::MacroRecall : train::Metric::MacroF1;
          to.command_line = o.command_line;
          train::Trainer tr_(to);
          const train::TrainSummary sum = tr_.run();
          res.train_rows += p.rows;
          res.examples += p.rows * p.epochs;
          log("tweeteval: " + u.name() + ": best epoch " + std::to_string(sum.best_epoch) + " of " +
              std::to_string(p.epochs) + ", val " + sum.val_json.substr(0, 200));
        }
        const std::vector<int64_t> pred = argmax_rows(predict_file(model, te.texts), L);
        const std::vector<int64_t> gold = gold_ids(te);
        write_lines(o.out_dir + "/predictions/" + u.name() + ".txt", pred);
        if (!u.target.empty()) res.sub[u.target] = tweeteval_score(t->metric, gold, pred, L);
        gold_all.insert(gold_all.end(), gold.begin(), gold.end());
        pred_all.insert(pred_all.end(), pred.begin(), pred.end());
        res.model += (res.model.empty() ? "" : ";") + model;
      }
      res.test_rows = static_cast<int64_t>(gold_all.size());
      res.score = tweeteval_score(t->metric, gold_all, pred_all, L);
      res.seconds = now_s() - t0;
      log("tweeteval: " + t->name + " single-task " + res.metric + " " + fmt(res.score) + " (" +
          fmt(res.seconds) + " s)");
      R.single.push_back(res);
      R.single_seconds = now_s() - t_all;
      render(o, R);
    }
  }

  if (o.multitask) {
    const double t0 = now_s();
    std::string model;
    std::map<std::string, int64_t> drawn_rows, head_rows;  // per head: examples drawn, training rows
    std::string note;
    auto reuse_mt = o.reuse.find("multitask");
    if (reuse_mt != o.reuse.end()) {
      model = reuse_mt->second;
      note = "reused " + model;
      log("tweeteval: multi-task: scoring " + model);
    } else {
      std::vector<train::MultiTaskHead> heads;
      for (const auto* t : tasks) {
        const std::vector<Unit> us = units_of(*t);
        std::vector<train::Dataset> tr;
        int64_t total = 0;
        for (const Unit& u : us) {
          tr.push_back(read_split(o, u, "train"));
          total += static_cast<int64_t>(tr.back().size());
        }
        auto lw = o.loss_weights.find(t->name);
        for (size_t i = 0; i < us.size(); ++i) {
          train::MultiTaskHead h;
          h.name = us[i].name();
          h.labels = t->labels;
          // Task-balanced: every task gets the same share of the batches; a stance target its share of
          // stance's rows.
          h.sampling_weight = static_cast<double>(tr[i].size()) / static_cast<double>(total);
          h.loss_weight = lw == o.loss_weights.end() ? 1.f : lw->second;
          h.train = std::move(tr[i]);
          heads.push_back(std::move(h));
        }
      }
      train::MultiTaskOptions mo;
      mo.model_path = o.model_path;
      mo.max_length = o.max_length;
      mo.batch_size = o.batch_size;
      mo.steps = o.budget.multitask_steps;
      mo.lr = o.lr;
      mo.warmup_fraction = o.warmup_fraction;
      mo.weight_decay = o.weight_decay;
      mo.seed = o.seed;
      mo.command_line = o.command_line;
      log("tweeteval: multi-task: " + std::to_string(heads.size()) + " heads, " + std::to_string(mo.steps) +
          " steps of " + std::to_string(mo.batch_size));
      train::MultiTaskTrainer mt(mo, std::move(heads));
      double ema = 0;
      for (int64_t s = 0; s < mo.steps; ++s) {
        size_t k = 0;
        const double l = mt.train_step(&k);
        drawn_rows[mt.heads()[k].name] += std::min<int64_t>(mo.batch_size, mt.heads()[k].train.size());
        ema = s == 0 ? l : 0.98 * ema + 0.02 * l;
        if ((s + 1) % 50 == 0 || s + 1 == mo.steps)
          log("tweeteval: multi-task step " + std::to_string(s + 1) + "/" + std::to_string(mo.steps) +
              ", loss (EMA) " + fmt(ema) + ", " + fmt(now_s() - t0) + " s");
      }
      for (const auto& h : mt.heads()) head_rows[h.name] = static_cast<int64_t>(h.train.size());
      model = o.out_dir + "/models/multitask.h5";
      mt.save(model, {{"name", "tweeteval-multi"}});
      note = "one encoder, " + std::to_string(mt.heads().size()) + " heads, " + std::to_string(mo.steps) +
             " steps";
    }
    // Scored from the saved file through tern infer's path (InferModel::load_heads: one InferModel per head).
    infer::InferModel::Options io;
    io.max_length = o.max_length;
    const auto heads = infer::InferModel::load_heads(model, io);
    for (const auto* t : tasks) {
      TweetEvalTaskResult res;
      res.task = t->name;
      res.metric = tweeteval_metric_name(t->metric);
      res.model = model;
      res.note = note;
      const int64_t L = static_cast<int64_t>(t->labels.size());
      std::vector<int64_t> gold_all, pred_all;
      for (const Unit& u : units_of(*t)) {
        std::shared_ptr<const infer::InferModel> h;
        for (const auto& c : heads)
          if (c->info().name == u.name()) h = c;
        if (!h) TERN_FAIL(model << ": no head named " << u.name());
        if (h->info().labels != t->labels)
          TERN_FAIL(model << ": head " << u.name() << " has other labels than the task");
        const train::Dataset& te = test.at(u.name());
        infer::PredictOptions po;
        po.batch_size = o.eval_batch_size;
        infer::Predictor p({h}, po);
        const std::vector<int64_t> pred = argmax_rows(p.predict(te.texts)[0].logits, L);
        const std::vector<int64_t> gold = gold_ids(te);
        write_lines(o.out_dir + "/predictions/" + u.name() + ".multi.txt", pred);
        if (!u.target.empty()) res.sub[u.target] = tweeteval_score(t->metric, gold, pred, L);
        gold_all.insert(gold_all.end(), gold.begin(), gold.end());
        pred_all.insert(pred_all.end(), pred.begin(), pred.end());
        res.train_rows += head_rows[u.name()];
        res.examples += drawn_rows[u.name()];
      }
      res.test_rows = static_cast<int64_t>(gold_all.size());
      res.score = tweeteval_score(t->metric, gold_all, pred_all, L);
      res.seconds = now_s() - t0;
      log("tweeteval: " + t->name + " multi-task " + res.metric + " " + fmt(res.score));
      R.multi.push_back(res);
      R.multi_seconds = now_s() - t0;
      render(o, R);
    }
  }
  render(o, R);
  return R;
}

}  // namespace tern::social
