// The Trainer as a library: typed options, phases called one by one, a reporter that sees every epoch,
// errors that name the option, and nothing printed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/util/test_util.h"
#include "tests/util/tiny_model.h"
#include "train/dataset.h"
#include "train/trainer.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
using tern::test::ScratchDir;

namespace {

// The tiny BERT fixture with the first 1000 lines of the bert-base-uncased vocabulary, and labelled rows.
std::string tiny_model(const ScratchDir& s) {
  return tern::test::save_tiny_model("bert_seqcls_single3", s.path("tiny.h5"));
}

std::string rows(int n, int salt) {
  std::string t = "label,text\n";
  for (int i = 0; i < n; ++i)
    t += std::to_string((i * 7 + salt) % 3) + ",\"the tweet " + std::to_string(i) + " [unused" +
         std::to_string((i + salt) % 50) + "]\"\n";
  return t;
}

struct Recorder : train::TrainReporter {
  std::vector<std::string> notes;
  std::vector<train::EpochReport> epochs;
  std::vector<train::DataReport> data;
  int plans = 0, finishes = 0, early = 0;
  int64_t batches = 0, last_done = 0;
  void note(const std::string& m) override { notes.push_back(m); }
  void data_loaded(const train::DataReport& r) override { data.push_back(r); }
  void plan(const train::PlanReport& p) override {
    ++plans;
    EXPECT_EQ(p.rows, 24);
    EXPECT_EQ(p.steps_per_epoch, 3);
  }
  void epoch_begin(int64_t, int64_t, int64_t b) override { batches = b; }
  void batch_done(int64_t done, int64_t, double loss) override {
    EXPECT_EQ(done, last_done % batches + 1);
    EXPECT_TRUE(std::isfinite(loss));
    last_done = done;
  }
  void epoch_end(const train::EpochReport& r) override { epochs.push_back(r); }
  void early_stopping(const std::string&, int64_t) override { ++early; }
  void finished(const train::TrainSummary&) override { ++finishes; }
};

train::TrainOptions options(const ScratchDir& s) {
  train::TrainOptions o;
  o.model_path = tiny_model(s);
  tern::test::write_bytes(s.path("train.csv"), rows(24, 0));
  tern::test::write_bytes(s.path("val.csv"), rows(12, 1));
  o.train_path = s.path("train.csv");
  o.val_path = s.path("val.csv");
  o.out_path = s.path("best.h5");
  o.labels = {"negative", "neutral", "positive"};
  o.epochs = 2;
  o.batch_size = 8;
  o.max_length = 16;
  o.lr = 1e-3;
  o.seed = 3;
  o.warmup = train::WarmupSpec::fraction(0.25);
  o.dropout = train::DropoutSpec::everywhere(0.1f);
  o.metric = train::Metric::Accuracy;
  return o;
}

}  // namespace

TEST(Trainer, PhasesReportEveryEpochAndPrintNothing) {
  ScratchDir s;
  Recorder rec;
  train::TrainOptions o = options(s);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  train::Trainer t(o, &rec);
  t.build_model();
  EXPECT_EQ(t.labels(), o.labels);
  t.load_data();
  t.prepare();
  t.resume();  // no resume_path: nothing to restore
  const train::EvalReport before = t.evaluate();
  EXPECT_TRUE(t.run_epoch());
  EXPECT_EQ(t.epochs_done(), 1);
  EXPECT_EQ(t.steps_done(), 3);
  EXPECT_FALSE(t.run_epoch());
  EXPECT_FALSE(t.run_epoch());  // finished: nothing more
  t.save(s.path("manual.h5"));
  const std::string out = testing::internal::GetCapturedStdout(),
                    err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "");
  EXPECT_TRUE(std::isfinite(before.loss));
  ASSERT_EQ(rec.data.size(), 2u);
  EXPECT_EQ(rec.data[0].split, "train");
  EXPECT_EQ(rec.data[0].rows, 24u);
  EXPECT_EQ(rec.data[1].split, "val");
  EXPECT_EQ(rec.plans, 1);
  ASSERT_EQ(rec.epochs.size(), 2u);
  EXPECT_EQ(rec.epochs[1].epoch, 2);
  EXPECT_EQ(rec.epochs[1].steps, 6);
  ASSERT_TRUE(rec.epochs[1].val.has_value());
  EXPECT_EQ(rec.epochs[1].val->scalars.count("accuracy"), 1u);
  EXPECT_TRUE(rec.epochs[0].saved_best);  // the first epoch is always the best so far
  // The manual save after the last epoch holds the same state as the run's own checkpoint of that epoch.
  nlohmann::json st = nlohmann::json::parse(load_model(s.path("manual.h5")).metadata.at("training"));
  EXPECT_EQ(st["state"]["epochs_done"], 2);
  EXPECT_EQ(st["state"]["step"], 6);
  EXPECT_EQ(st["recipe"]["warmup_steps"], 2);  // ceil(0.25 * 6)
  EXPECT_EQ(st["recipe"]["metric"], "accuracy");
}

TEST(Trainer, RunEqualsThePhasesAndIsDeterministic) {
  ScratchDir s;
  train::TrainOptions o = options(s);
  o.save_last_path = s.path("last_run.h5");
  train::Trainer(o).run();
  const std::string a = tern::test::read_bytes(s.path("last_run.h5"));
  train::Trainer t(o);
  t.build_model();
  t.load_data();
  t.prepare();
  while (t.run_epoch()) {
  }
  EXPECT_EQ(a, tern::test::read_bytes(s.path("last_run.h5")));
  EXPECT_FALSE(a.empty());
}

TEST(Trainer, ErrorsNameTheOption) {
  ScratchDir s;
  const train::TrainOptions base = options(s);
  auto with = [&](auto change) {
    train::TrainOptions o = base;
    change(o);
    return o;
  };
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) { o.batch_size = 0; })), "batch_size");
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) { o.lr = 0; })), "lr must be > 0");
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) { o.out_path.clear(); })), "out_path");
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) { o.warmup = train::WarmupSpec::fraction(-1); })),
                    "warmup:");
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) { o.dropout = train::DropoutSpec::everywhere(1.f); })),
                    "dropout:");
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) { o.label_count = 0; })), "label_count:");
  EXPECT_TERN_ERROR(train::Trainer(with([](auto& o) {
                      o.class_weights.values = {1, -1, 1};
                    })),
                    "class_weights:");
  auto fails_at_prepare = [&](train::TrainOptions o) {
    train::Trainer t(o);
    t.build_model();
    t.load_data();
    t.prepare();
  };
  EXPECT_TERN_ERROR(fails_at_prepare(with([](auto& o) { o.metric = train::Metric::Mae; })),
                    "metric mae is not a metric of task single");
  EXPECT_TERN_ERROR(fails_at_prepare(with([](auto& o) { o.loss = train::LossKind::Mse; })),
                    "loss mse does not fit task single");
  EXPECT_TERN_ERROR(fails_at_prepare(with([](auto& o) {
                      o.class_weights.values = {1, 2};
                    })),
                    "class_weights: 2 weights for 3 labels");
  // Phases out of order.
  train::Trainer t(base);
  EXPECT_TERN_ERROR(t.load_data(), "build_model()");
  EXPECT_TERN_ERROR(t.run_epoch(), "prepare()");
}
