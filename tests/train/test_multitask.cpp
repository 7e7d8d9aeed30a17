// Multi-task training on the tiny fixture: a step on a batch of task a changes head a and the shared
// encoder and leaves head b exactly as it was (no gradient, no weight decay, no AdamW state); a mixed batch
// changes both; the saved ONE model file reloads with every head and gives the same logits. AdamW's
// per-slice step equals the plain step when every slice is active.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "infer/annotate.h"
#include "infer/predictor.h"
#include "nn/multi_head.h"
#include "tensor/check.h"
#include "tests/util/test_util.h"
#include "tests/util/tiny_model.h"
#include "train/dataset.h"
#include "train/multitask.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
using tern::test::ScratchDir;

namespace {

// The tiny BERT fixture with the first 1000 lines of the bert-base-uncased vocabulary. Its own classifier
// is dropped by the multi-task trainer (heads are named per task).
std::string tiny_model(const ScratchDir& s) {
  return tern::test::save_tiny_model("bert_seqcls_single3", s.path("tiny.h5"));
}

train::Dataset rows(int n, int L, int salt) {
  train::Dataset d;
  d.source = "memory";
  for (int i = 0; i < n; ++i) {
    d.texts.push_back("the tweet " + std::to_string(i) + " [unused" + std::to_string((i + salt) % 50) + "]");
    d.targets.push_back(static_cast<float>((i * 7 + salt) % L));
    d.lines.push_back(i + 1);
  }
  return d;
}

std::vector<train::MultiTaskHead> two_tasks() {
  train::MultiTaskHead a, b;
  a.name = "task_a";
  a.labels = {"x", "y", "z"};
  a.train = rows(10, 3, 1);
  b.name = "task_b";
  b.labels = {"no", "yes"};
  b.train = rows(12, 2, 5);
  b.loss_weight = 0.5f;
  return {a, b};
}

train::MultiTaskOptions options(const std::string& model) {
  train::MultiTaskOptions o;
  o.model_path = model;
  o.batch_size = 4;
  o.steps = 10;
  o.lr = 1e-3;
  o.warmup_fraction = 0;  // the first step has a non-zero learning rate
  o.weight_decay = 0.01;  // a head stepped with zero gradient would still change by decay
  o.no_decay_bias_ln = false;
  o.dropout = 0.f;
  return o;
}

std::map<std::string, std::vector<float>> snapshot(Model& m) {
  std::map<std::string, std::vector<float>> out;
  for (const ParamSlice& s : m.arena().slices)
    out[s.param->name].assign(m.arena().values + s.offset, m.arena().values + s.offset + s.size);
  return out;
}

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

}  // namespace

TEST(MultiTask, AStepOnTaskAChangesHeadAAndTheEncoderOnly) {
  ScratchDir s;
  train::MultiTaskTrainer t(options(tiny_model(s)), two_tasks());
  const auto& heads = t.model().loaded()->heads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0]->name(), "task_a");
  EXPECT_EQ(heads[1]->name(), "task_b");
  EXPECT_EQ(heads[0]->num_outputs(), 3);
  EXPECT_EQ(heads[1]->num_outputs(), 2);

  const auto before = snapshot(t.model());
  const double loss = t.step({{0, 0}, {0, 3}, {0, 7}});
  EXPECT_TRUE(std::isfinite(loss) && loss > 0);
  const auto after = snapshot(t.model());
  int a_changed = 0, b_changed = 0, enc_changed = 0, a_params = 0, b_params = 0;
  for (const auto& [name, v] : before) {
    const bool changed = v != after.at(name);
    if (starts_with(name, "task_a.")) {
      ++a_params;
      a_changed += changed;
    } else if (starts_with(name, "task_b.")) {
      ++b_params;
      b_changed += changed;
    } else {
      enc_changed += changed;
    }
  }
  EXPECT_EQ(a_params, 2);  // BERT head: task_a.classifier.weight / .bias
  EXPECT_EQ(b_params, 2);
  EXPECT_EQ(a_changed, 2);
  EXPECT_EQ(b_changed, 0) << "head b changed by a step on a batch of task a only";
  EXPECT_GT(enc_changed, 10);  // embeddings, layers, pooler

  // Task b alone: head a stays, head b moves.
  const auto before2 = snapshot(t.model());
  t.step({{1, 2}, {1, 11}});
  const auto after2 = snapshot(t.model());
  EXPECT_EQ(before2.at("task_a.classifier.weight"), after2.at("task_a.classifier.weight"));
  EXPECT_EQ(before2.at("task_a.classifier.bias"), after2.at("task_a.classifier.bias"));
  EXPECT_NE(before2.at("task_b.classifier.weight"), after2.at("task_b.classifier.weight"));
  // A mixed batch moves both.
  t.step({{0, 1}, {1, 4}});
  const auto after3 = snapshot(t.model());
  EXPECT_NE(after2.at("task_a.classifier.weight"), after3.at("task_a.classifier.weight"));
  EXPECT_NE(after2.at("task_b.classifier.weight"), after3.at("task_b.classifier.weight"));
  EXPECT_EQ(t.steps_done(), 3);
  EXPECT_THROW(t.step({{2, 0}}), tern::Error);
  EXPECT_THROW(t.step({{0, 10}}), tern::Error);
}

TEST(MultiTask, LossWeightScalesTheHeadsGradient) {
  // With loss weight 0 a task's rows give a zero gradient: its head (active: its task is in the batch)
  // only gets AdamW's decoupled weight decay, p * (1 - lr * wd), exactly.
  ScratchDir s;
  auto tasks = two_tasks();
  tasks[1].loss_weight = 0.f;
  train::MultiTaskTrainer t(options(tiny_model(s)), tasks);
  const auto before = snapshot(t.model());
  const double loss = t.step({{1, 0}, {1, 1}});
  EXPECT_EQ(loss, 0.0);
  const auto after = snapshot(t.model());
  const auto& w0 = before.at("task_b.classifier.weight");
  const auto& w1 = after.at("task_b.classifier.weight");
  for (size_t i = 0; i < w0.size(); ++i)
    EXPECT_FLOAT_EQ(w1[i], w0[i] * static_cast<float>(1.0 - 1e-3 * 0.01));
}

TEST(MultiTask, SavedModelReloadsWithAllHeadsAndTheSameLogits) {
  ScratchDir s;
  train::MultiTaskTrainer t(options(tiny_model(s)), two_tasks());
  for (int i = 0; i < 4; ++i) {
    size_t k = 9;
    t.train_step(&k);
    EXPECT_LT(k, 2u);
  }
  const std::vector<std::string> texts = {"the tweet 3 [unused7]", "a b c", "the the the tweet"};
  const std::vector<float> za = t.predict(0, texts), zb = t.predict(1, texts);
  ASSERT_EQ(za.size(), 9u);
  ASSERT_EQ(zb.size(), 6u);
  const std::string path = s.path("multi.h5");
  t.save(path, {{"name", "tiny-multi"}});

  std::vector<MultiHeadInfo> infos;
  auto lm = load_multi_head_model(path, &infos);
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "task_a");
  EXPECT_EQ(infos[0].labels, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(infos[1].labels, (std::vector<std::string>{"no", "yes"}));
  ASSERT_EQ(lm->heads().size(), 2u);
  EXPECT_EQ(lm->metadata().at("name"), "tiny-multi");
  EXPECT_TRUE(lm->initialised().empty());
  // Same tokens through a runner of the reloaded model: the same logits.
  ModelRunner r(lm);
  const infer::Encoded e = infer::encode_texts(t.tokenizer(), texts, 64, false);
  for (size_t i = 0; i < texts.size(); ++i) {
    const int64_t row = static_cast<int64_t>(i);
    train::Inputs in = train::make_batch(e, &row, 1);
    ModelOutputs o = r.forward(in.input_ids, in.attention_mask, in.token_type_ids);
    ASSERT_EQ(o.head_logits.size(), 2u);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(o.head_logits[0].f32()[c], za[i * 3 + c], 1e-5) << i << " " << c;
    for (int c = 0; c < 2; ++c) EXPECT_NEAR(o.head_logits[1].f32()[c], zb[i * 2 + c], 1e-5) << i << " " << c;
  }
  // A plain load (no heads from the metadata) refuses the head tensors instead of dropping them.
  EXPECT_THROW(load_model_shared(path), tern::Error);
}

TEST(MultiTask, InferAnnotatesEveryHeadFromOneModelFile) {
  ScratchDir s;
  train::MultiTaskTrainer t(options(tiny_model(s)), two_tasks());
  t.train_step();
  t.train_step();
  const std::vector<std::string> texts = {"the tweet 3 [unused7]", "a b c", "the the the tweet", "tweet"};
  const std::vector<float> za = t.predict(0, texts), zb = t.predict(1, texts);
  const std::string path = s.path("multi.h5");
  t.save(path, {{"name", "tiny-multi"}, {"max_length", "64"}});

  // The Predictor: one InferModel per head, named after it, the trainer's logits.
  const auto heads = infer::InferModel::load_heads(path);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0]->info().name, "task_a");
  EXPECT_EQ(heads[1]->info().labels, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(heads[0]->info().kind, infer::OutputKind::Single);
  infer::Predictor p(heads);
  const auto res = p.predict(texts);
  ASSERT_EQ(res.size(), 2u);
  ASSERT_EQ(res[0].logits.size(), za.size());
  ASSERT_EQ(res[1].logits.size(), zb.size());
  for (size_t i = 0; i < za.size(); ++i) EXPECT_NEAR(res[0].logits[i], za[i], 1e-5) << i;
  for (size_t i = 0; i < zb.size(); ++i) EXPECT_NEAR(res[1].logits[i], zb[i], 1e-5) << i;
  // A plain model file is one InferModel, as load() gives it.
  EXPECT_EQ(infer::InferModel::load_heads(tiny_model(s)).size(), 1u);

  // tern infer's library call: every row carries both tasks' label and probabilities.
  std::string in;
  for (const auto& x : texts) in += x + "\n";
  tern::test::write_bytes(s.path("in.txt"), in);
  infer::AnnotateOptions ao;
  ao.models = {path};
  ao.input = s.path("in.txt");
  ao.output = s.path("out.jsonl");
  infer::annotate(ao);
  std::istringstream rows(tern::test::read_bytes(s.path("out.jsonl")));
  std::string line;
  size_t n = 0;
  while (std::getline(rows, line)) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("task_a") && j.contains("task_b")) << line;
    EXPECT_EQ(j["task_a"]["probs"].size(), 3u);
    EXPECT_EQ(j["task_b"]["probs"].size(), 2u);
    const float* z = &zb[n * 2];
    EXPECT_EQ(j["task_b"]["label"], z[1] > z[0] ? "yes" : "no");
    ++n;
  }
  EXPECT_EQ(n, texts.size());
}

TEST(MultiTask, HeadsMetadataErrorsNameTheFile) {
  EXPECT_TRUE(multi_heads_from_metadata({}, "m.h5").empty());
  try {
    multi_heads_from_metadata({{"heads", "[{\"name\": \"a\"}]"}}, "m.h5");
    FAIL() << "no error";
  } catch (const tern::Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.h5: metadata 'heads'[0]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(multi_heads_from_metadata({{"heads", "{"}}, "m.h5"), tern::Error);
  EXPECT_THROW(
      multi_heads_from_metadata(
          {{"heads", "[{\"name\":\"a\",\"labels\":[\"x\"]},{\"name\":\"a\",\"labels\":[\"y\"]}]"}}, "m.h5"),
      tern::Error);
  const std::vector<MultiHeadInfo> h = {{"a", {"x", "y"}, ProblemType::SingleLabel}};
  const auto back = multi_heads_from_metadata({{"heads", multi_heads_metadata(h)}}, "m.h5");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].labels, h[0].labels);
  EXPECT_EQ(back[0].problem_type, ProblemType::SingleLabel);
}

TEST(MultiTask, StepActiveWithEverySliceEqualsStep) {
  ScratchDir s;
  const std::string p = tiny_model(s);
  auto make = [&]() {
    ModelBundle b = load_model(p);
    return Model::from_bundle(b, p);
  };
  auto m1 = make(), m2 = make();
  ParamArena& a1 = m1->pack();
  ParamArena& a2 = m2->pack();
  ASSERT_EQ(a1.size, a2.size);
  train::AdamWOptions ao;
  ao.weight_decay = 0.01;
  ao.exclude_no_decay = true;
  train::AdamW o1(a1, ao), o2(a2, ao);
  const std::vector<bool> all(a2.slices.size(), true);
  for (int step = 0; step < 3; ++step) {
    for (int64_t i = 0; i < a1.size; ++i) a1.grads[i] = a2.grads[i] = std::sin(0.37 * i + step) * 1e-2f;
    o1.step(a1, 1e-3);
    o2.step_active(a2, 1e-3, all);
  }
  EXPECT_EQ(std::memcmp(a1.values, a2.values, a1.size * sizeof(float)), 0);
  // An inactive slice does not move, and its own step count starts when it first steps.
  std::vector<bool> none(a2.slices.size(), false);
  std::vector<float> before(a2.values, a2.values + a2.size);
  o2.step_active(a2, 1e-3, none);
  EXPECT_EQ(std::memcmp(before.data(), a2.values, a2.size * sizeof(float)), 0);
  EXPECT_THROW(o2.step_active(a2, 1e-3, std::vector<bool>(3, true)), tern::Error);
}
