// End to end: tern grad against the fixtures' reference gradients (always), and tern train / eval / resume
// on real tweets with the real-vocab fixture model + the bert-base-uncased tokenizer (../shared; skipped
// when absent). The cmd_* functions are called directly, as cli/main.cpp does.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "nn/model.h"
#include "tests/util/test_util.h"
#include "train/dataset.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
namespace fs = std::filesystem;

namespace {

int run(int (*cmd)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cmd(static_cast<int>(argv.size()), argv.data());
}

using Scratch = tern::test::ScratchDir;

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.numel(), b.numel());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.f32()[i] - b.f32()[i]));
  return m;
}

}  // namespace

TEST(CliGrad, MatchesReferenceGradients) {
  Scratch s;
  for (const char* name : {"bert_seqcls_single3", "bert_seqcls_multi19", "bert_seqcls_regr1", "bert_model"}) {
    const std::string dir = std::string("tests/data/tiny/") + name, ref = dir + "/reference.h5";
    // Through a tern model file, as a user would.
    const std::string model = s.path(std::string(name) + ".h5");
    save_model(model, import_hf(dir));
    const std::string out = s.path(std::string(name) + "_grads.h5");
    ASSERT_EQ(
        run(cli::cmd_grad, {"grad", "--model", model, "--input", ref, "--output", out, "--threads", "1"}), 0);
    TensorMap got = read_h5_group(out, "grads"), want = read_h5_group(ref, "grads");
    EXPECT_EQ(got.size(), want.size()) << name;
    float worst = 0;
    for (const auto& [n, t] : want) {
      ASSERT_TRUE(got.count(n)) << name << ": no gradient " << n;
      worst = std::max(worst, max_abs_diff(got.at(n), t));
    }
    EXPECT_LT(worst, 1e-5f) << name;
    const float loss = read_h5_arrays(out, std::vector<std::string>{"loss"}).at("loss").f32()[0];
    const float ref_loss =
        read_h5_arrays(ref, std::vector<std::string>{"train/loss"}).at("train/loss").f32()[0];
    EXPECT_NEAR(loss, ref_loss, 1e-5) << name;
  }
  // No labels for a model with a head: a clear error.
  const std::string bad = s.path("nolabels.h5");
  TensorMap in = read_h5_arrays("tests/data/tiny/bert_seqcls_single3/reference.h5",
                                std::vector<std::string>{"input_ids", "attention_mask"}, "inputs");
  write_h5_arrays(bad, in);
  EXPECT_THROW(run(cli::cmd_grad, {"grad", "--model", s.path("bert_seqcls_single3.h5"), "--input", bad,
                                   "--output", s.path("x.h5")}),
               Error);
}

namespace {

// The real-vocab BERT fixture (vocab 30522, hidden 64) with the real bert-base-uncased tokenizer, as a
// tern model file with a sentiment head.
std::string make_model(const Scratch& s) {
  ModelBundle b = import_hf("../shared/fixtures/real-vocab/bert_seqcls_single3");
  const std::string tk = "tests/data/tokenizer/bert-base-uncased/";
  b.tokenizer_files["vocab.txt"] = train::read_text_file(tk + "vocab.txt.gz");
  b.tokenizer_files["tokenizer_config.json"] = train::read_text_file(tk + "tokenizer_config.json");
  b.tokenizer_files["special_tokens_map.json"] = train::read_text_file(tk + "special_tokens_map.json");
  const std::string p = s.path("model.h5");
  save_model(p, b);
  return p;
}

}  // namespace

TEST(CliTrain, TrainEvalResumeDeterministic) {
  const std::string data = "../shared/data/tweeteval/sentiment";
  if (!fs::exists("../shared/fixtures/real-vocab/bert_seqcls_single3") || !fs::exists(data))
    GTEST_SKIP() << "../shared is absent";
  Scratch s;
  const std::string model = make_model(s);
  // 160 real validation tweets as training data (CSV with quoting), 64 as validation (TweetEval files).
  train::Dataset val =
      train::read_dataset(data + "/val", {train::Task::Single, {"negative", "neutral", "positive"}, 3});
  {
    std::ofstream f(s.path("train.csv"));
    f << "label,text\n";
    for (int i = 0; i < 160; ++i) {
      std::string t;
      for (char c : val.texts[i]) t += c == '"' ? std::string("\"\"") : std::string(1, c);
      f << static_cast<int>(val.targets[i]) << ",\"" << t << "\"\n";
    }
    std::ofstream vt(s.path("dev_text.txt")), vl(s.path("dev_labels.txt"));
    for (int i = 160; i < 224; ++i)
      vt << val.texts[i] << "\n", vl << static_cast<int>(val.targets[i]) << "\n";
  }
  auto train_args = [&](const std::string& out, int epochs) {
    return std::vector<std::string>{"train",
                                    "--model",
                                    model,
                                    "--train",
                                    s.path("train.csv"),
                                    "--val",
                                    s.path("dev"),
                                    "--labels",
                                    "negative,neutral,positive",
                                    "--epochs",
                                    std::to_string(epochs),
                                    "--batch-size",
                                    "16",
                                    "--lr",
                                    "5e-4",
                                    "--warmup",
                                    "0.1",
                                    "--max-length",
                                    "48",
                                    "--metric",
                                    "macro_recall",
                                    "--seed",
                                    "7",
                                    "--threads",
                                    "2",
                                    "--no-decay-bias-ln",
                                    "--out",
                                    out,
                                    "--no-progress"};
  };
  // Two epochs straight.
  const std::string full = s.path("full.h5");
  auto straight = train_args(full, 2);
  straight.insert(straight.end(), {"--save-last", s.path("full_last.h5")});
  ASSERT_EQ(run(cli::cmd_train, straight), 0);
  // One epoch (160 / 16 = 10 steps), saving the last state, then resume to two.
  auto one = train_args(s.path("best1.h5"), 2);
  one.insert(one.end(), {"--save-last", s.path("last.h5"), "--max-steps", "10"});
  ASSERT_EQ(run(cli::cmd_train, one), 0);
  auto two = train_args(s.path("resumed.h5"), 2);
  two.insert(two.end(), {"--resume", s.path("last.h5"), "--save-last", s.path("resumed_last.h5")});
  ASSERT_EQ(run(cli::cmd_train, two), 0);

  ModelBundle a = load_model(s.path("last.h5"));
  nlohmann::json ta = nlohmann::json::parse(a.metadata.at("training"));
  EXPECT_EQ(ta["state"]["epochs_done"], 1);
  EXPECT_EQ(ta["state"]["step"], 10);
  EXPECT_EQ(ta["recipe"]["total_steps"], 20);
  EXPECT_EQ(ta["recipe"]["warmup_steps"], 2);  // ceil(0.1 * 20)
  EXPECT_TRUE(a.extra.count("adamw.step"));
  EXPECT_TRUE(a.extra.count("adamw.exp_avg.classifier.weight"));

  // Resuming gives bit for bit the state of the straight run (same seed and threads).
  ModelBundle f = load_model(full), fl = load_model(s.path("full_last.h5")),
              rl = load_model(s.path("resumed_last.h5"));
  nlohmann::json tf = nlohmann::json::parse(fl.metadata.at("training"));
  nlohmann::json tr = nlohmann::json::parse(rl.metadata.at("training"));
  ASSERT_EQ(tf["epochs"].size(), 2u);
  ASSERT_EQ(tr["epochs"].size(), 2u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_EQ(tf["epochs"][e]["train_loss"], tr["epochs"][e]["train_loss"]) << "epoch " << e + 1;
    EXPECT_EQ(tf["epochs"][e]["val"]["macro_recall"], tr["epochs"][e]["val"]["macro_recall"])
        << "epoch " << e + 1;
  }
  EXPECT_EQ(tf["best"], tr["best"]);
  for (const auto& [n, t] : fl.tensors) {
    ASSERT_TRUE(rl.tensors.count(n)) << n;
    EXPECT_EQ(max_abs_diff(t, rl.tensors.at(n)), 0.f) << n;
  }
  for (const auto& [n, t] : fl.extra) {
    if (t.dtype() == DType::F32) EXPECT_EQ(max_abs_diff(t, rl.extra.at(n)), 0.f) << n;
  }
  // Training moved the weights.
  ModelBundle init = load_model(model);
  EXPECT_GT(max_abs_diff(init.tensors.at("classifier.weight"), fl.tensors.at("classifier.weight")), 1e-4f);

  // The checkpoint is self-contained: config with labels and problem type, tokenizer.
  ModelConfig cfg = parse_config(f.config_json, "best");
  EXPECT_EQ(cfg.labels, (std::vector<std::string>{"negative", "neutral", "positive"}));
  EXPECT_EQ(cfg.problem_type, ProblemType::SingleLabel);
  EXPECT_TRUE(f.tokenizer_files.count("vocab.txt"));

  // tern eval reproduces the recorded val metrics of the best epoch.
  testing::internal::CaptureStdout();
  ASSERT_EQ(
      run(cli::cmd_eval, {"eval", "--model", full, "--input", s.path("dev_text.txt"), "--threads", "2"}), 0);
  const std::string out = testing::internal::GetCapturedStdout();
  nlohmann::json ev = nlohmann::json::parse(out);
  nlohmann::json tb = nlohmann::json::parse(f.metadata.at("training"));
  const int64_t best = tb["best"]["epoch"].get<int64_t>();
  EXPECT_EQ(tb["best"], tf["best"]);
  EXPECT_NEAR(ev["macro_recall"].get<double>(), tb["epochs"][best - 1]["val"]["macro_recall"].get<double>(),
              1e-12);
  EXPECT_EQ(ev["n"], 64);
}
