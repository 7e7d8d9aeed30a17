// Training against Hugging Face (transformers 5.17 / torch 2.11, see ../shared/fixtures/README.md and
// tests/data/PROVENANCE.txt): for every model fixture, the loss and every parameter's gradient, then 5 steps
// of torch.optim.AdamW(lr 1e-3, wd 0.01 on all parameters); and the 50-step fine-tune trajectory of
// tweet-bert-mini (losses, lr, gradient norms before clipping, parameters and validation logits after).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "nn/model.h"
#include "tokenizer/tokenizer.h"
#include "train/dataset.h"
#include "train/model_loss.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"

using namespace tern;
using namespace tern::train;
namespace fs = std::filesystem;

namespace {

float scalar(const std::string& ref, const std::string& name) {
  TensorMap t = read_h5_arrays(ref, std::vector<std::string>{name});
  return t.at(name).f32()[0];
}

struct GradDiff {
  float max_abs = 0, rel = 0, big = 0;  // max |a - b|, that divided by max |b|, and max |b|
};

GradDiff diff(const float* a, const float* b, int64_t n) {
  float m = 0, big = 0;
  for (int64_t i = 0; i < n; ++i) {
    m = std::max(m, std::fabs(a[i] - b[i]));
    big = std::max(big, std::fabs(b[i]));
  }
  return {m, big > 0 ? m / big : m, big};
}

std::vector<std::string> fixtures() {
  std::vector<std::string> out;
  for (const char* n : {"bert_model", "bert_seqcls_multi19", "bert_seqcls_regr1", "bert_seqcls_single3",
                        "distilbert_seqcls6", "roberta_seqcls3"})
    out.push_back(std::string("tests/data/tiny/") + n);
  const std::string rv = "../shared/fixtures/real-vocab";
  if (fs::exists(rv))
    for (const auto& e : fs::directory_iterator(rv))
      if (fs::exists(e.path() / "reference.h5")) out.push_back(e.path().string());
  return out;
}

std::unique_ptr<Model> load(const std::string& dir) {
  ModelBundle b = import_hf(dir);
  auto m = Model::from_bundle(b, dir);
  m->pack();
  m->zero_grad();
  return m;
}

void check_fixture(const std::string& dir) {
  SCOPED_TRACE(dir);
  const std::string ref = dir + "/reference.h5";
  GradBatch batch = read_grad_batch(ref);
  // ---- Loss and gradients ----
  {
    auto m = load(dir);
    const double loss = model_loss_and_backward(*m, batch);
    const float want = scalar(ref, "train/loss");
    EXPECT_NEAR(loss, want, 1e-5) << "loss";
    TensorMap grads = read_h5_group(ref, "grads");
    const ParamArena& a = m->arena();
    size_t compared = 0;
    float worst_abs = 0, worst_rel = 0;  // rel: over tensors with max |grad| > 1e-6 (key biases are ~0)
    std::string worst_name;
    for (const ParamSlice& s : a.slices) {
      const std::string hf = hf_param_name(*m, s.param->name);
      auto it = grads.find(hf);
      ASSERT_NE(it, grads.end()) << "no reference gradient for " << hf;
      ASSERT_EQ(it->second.numel(), s.size) << hf;
      GradDiff d = diff(a.grads + s.offset, it->second.f32(), s.size);
      EXPECT_TRUE(d.max_abs <= 1e-5f || d.rel <= 1e-3f)
          << hf << ": max |diff| " << d.max_abs << ", relative to max |grad| " << d.rel;
      worst_abs = std::max(worst_abs, d.max_abs);
      if (d.big > 1e-6f && d.rel > worst_rel) worst_rel = d.rel, worst_name = hf;
      ++compared;
    }
    EXPECT_EQ(compared, grads.size()) << "every reference gradient is a parameter";
    std::printf("  %-48s loss %.7f (HF %.7f, diff %.1e)  %zu grads: max abs diff %.1e, max rel %.1e (%s)\n",
                dir.c_str(), loss, want, std::fabs(loss - want), compared, worst_abs, worst_rel,
                worst_name.c_str());
  }
  // ---- 5 AdamW steps: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on every parameter ----
  {
    auto m = load(dir);
    AdamWOptions o;
    o.weight_decay = 0.01;
    AdamW adam(m->arena(), o);
    TensorMap want = read_h5_arrays(ref, std::vector<std::string>{"train/adamw_losses"});
    const float* wl = want.at("train/adamw_losses").f32();
    float worst_loss = 0;
    for (int k = 0; k < 5; ++k) {
      m->zero_grad();
      const double l = model_loss_and_backward(*m, batch);
      EXPECT_NEAR(l, wl[k], 1e-5) << "AdamW loss " << k;
      worst_loss = std::max(worst_loss, static_cast<float>(std::fabs(l - wl[k])));
      adam.step(m->arena(), 1e-3);
    }
    m->zero_grad();
    const double after = model_loss_and_backward(*m, batch);
    EXPECT_NEAR(after, scalar(ref, "train/loss_after_5_steps"), 1e-5);
    TensorMap pa = read_h5_group(ref, "train/params_after_5_steps");
    float worst_p = 0;
    for (const auto& [name, t] : pa) {
      const ParamSlice* s = nullptr;
      for (const ParamSlice& x : m->arena().slices)
        if (hf_param_name(*m, x.param->name) == name) s = &x;
      ASSERT_NE(s, nullptr) << name;
      GradDiff d = diff(m->arena().values + s->offset, t.f32(), s->size);
      EXPECT_LE(d.max_abs, 1e-5f) << name << " after 5 AdamW steps";
      worst_p = std::max(worst_p, d.max_abs);
    }
    std::printf("  %-48s AdamW: 5 losses max diff %.1e, after %.1e, %zu params max diff %.1e\n", dir.c_str(),
                worst_loss, std::fabs(after - scalar(ref, "train/loss_after_5_steps")), pa.size(), worst_p);
  }
}

}  // namespace

TEST(Fixtures, LossGradientsAndAdamW) {
  const auto all = fixtures();
  if (all.size() == 6) std::printf("  (../shared/fixtures/real-vocab not found: tiny fixtures only)\n");
  for (const auto& d : all) check_fixture(d);
}

// HF's first 50 fine-tuning steps of tweet-bert-mini (finetune_trajectory/reference.h5, attribute recipe):
// dropout 0, AdamW(lr 1e-4, wd 0.01 except biases and LayerNorm weights), linear warm-up 5 steps then decay
// to 0 at step 50, clipping at 1.0, batches of 32 from the fixture, new head from init_new_params.
TEST(Fixtures, FinetuneTrajectory) {
  const std::string dir = "../shared/fixtures/finetune_trajectory",
                    model = "../shared/models/tweet-bert-mini";
  if (!fs::exists(dir + "/reference.h5") || !fs::exists(model + "/config.json"))
    GTEST_SKIP() << dir << " or " << model << " not found: ../shared is absent";
  const std::string ref = dir + "/reference.h5";
  ModelBundle b = import_hf(model);
  ModelConfig cfg =
      parse_config(config_with_head(b.config_json, "BertForSequenceClassification",
                                    {"negative", "neutral", "positive"}, ProblemType::SingleLabel),
                   model);
  ModelOptions mo;
  mo.force_head = true;
  mo.bind.init_missing = true;
  Model m(cfg, std::move(b.tensors), model, mo);
  TensorMap init = read_safetensors(dir + "/init_new_params.safetensors");
  ParamArena& a = m.pack();
  for (const auto& [name, t] : init) {
    const ParamSlice& s = arena_slice(a, name);
    Tensor f = t.to(DType::F32);
    ASSERT_EQ(f.numel(), s.size) << name;
    std::memcpy(a.values + s.offset, f.f32(), s.size * sizeof(float));
  }
  EXPECT_EQ(init.size(), 4u);
  AdamWOptions o;
  o.weight_decay = 0.01;
  o.exclude_no_decay = true;
  AdamW adam(a, o);
  LinearSchedule sched{1e-4, 5, 50};
  TensorMap tr = read_h5_group(ref, "train");
  const float* losses = tr.at("losses").f32();
  const float* lrs = tr.at("lr_before_step").f32();
  const float* norms = tr.at("grad_norm_before_clip").f32();
  LossOptions lo;  // CrossEntropyLoss
  float dl_first = 0, dl_all = 0, dn_first = 0, dn_all = 0, dlr = 0;
  for (int step = 0; step < 50; ++step) {
    char g[16];
    std::snprintf(g, sizeof g, "batches/%02d", step);
    TensorMap bt = read_h5_group(ref, g);
    Inputs in{bt.at("input_ids"), bt.at("attention_mask"), Tensor()};
    m.zero_grad();
    const std::vector<float> y =
        targets_from_labels(bt.at("labels"), LossKind::CrossEntropy, bt.at("input_ids").size(0), 3);
    const double l = loss_and_backward(m, in, y, lo);
    const double n = clip_grad_norm(a, 1.0);
    const double lr = sched.lr_at(step);
    adam.step(a, lr);
    const float el = std::fabs(static_cast<float>(l) - losses[step]);
    const float en = std::fabs(static_cast<float>(n) - norms[step]) / norms[step];
    dlr = std::max(dlr, static_cast<float>(std::fabs(lr - lrs[step]) / 1e-4));
    dl_all = std::max(dl_all, el), dn_all = std::max(dn_all, en);
    if (step < 10) {
      dl_first = std::max(dl_first, el), dn_first = std::max(dn_first, en);
      EXPECT_NEAR(l, losses[step], 2e-5) << "loss of step " << step;
      EXPECT_LT(en, 1e-4) << "grad norm of step " << step << ": " << n << " vs " << norms[step];
    }
    EXPECT_LT(el, 1e-3) << "loss of step " << step;
    EXPECT_LT(en, 1e-2) << "grad norm of step " << step;
  }
  EXPECT_LT(dlr, 1e-6);
  // Parameters and validation logits after the 50 steps.
  TensorMap pa = read_h5_group(ref, "params_after");
  float dp = 0;
  for (const auto& [name, t] : pa) {
    if (name == "word_embeddings_rows") continue;
    if (name == "bert.embeddings.word_embeddings.weight[rows]") {
      const ParamSlice& s = arena_slice(a, "bert.embeddings.word_embeddings.weight");
      const Tensor& rows = pa.at("word_embeddings_rows");
      const int64_t C = cfg.hidden;
      for (int64_t r = 0; r < rows.numel(); ++r)
        dp = std::max(dp, diff(a.values + s.offset + rows.i64()[r] * C, t.f32() + r * C, C).max_abs);
      continue;
    }
    const ParamSlice& s = arena_slice(a, name);
    dp = std::max(dp, diff(a.values + s.offset, t.f32(), s.size).max_abs);
  }
  EXPECT_LT(dp, 1e-4) << "parameters after 50 steps";
  TensorMap val = read_h5_group(ref, "val");
  ModelOutputs vo = m.forward(val.at("input_ids"), val.at("attention_mask"), Tensor());
  const float dv = diff(vo.logits.f32(), val.at("logits_after").f32(), vo.logits.numel()).max_abs;
  EXPECT_LT(dv, 1e-3) << "validation logits after 50 steps";
  std::printf(
      "  trajectory: loss |diff| steps 0-9 %.1e, all 50 %.1e; grad norm rel diff 0-9 %.1e, all %.1e; "
      "lr %.1e; params after %.1e; val logits %.1e\n",
      dl_first, dl_all, dn_first, dn_all, dlr, dp, dv);
}

// The data pipeline against the same fixture: the first 1,600 rows of the reconstructed sentiment TSV,
// tokenised with tweet-bert-mini's tokenizer (max length 64) and padded per batch of 32 to the longest,
// give HF's batches/00..49 (ids, mask, shapes, labels) exactly.
TEST(Fixtures, TrajectoryBatchesFromTsv) {
  const std::string ref = "../shared/fixtures/finetune_trajectory/reference.h5",
                    model = "../shared/models/tweet-bert-mini",
                    tsv = "../shared/data/tweeteval/sentiment/train_reconstructed_from_semeval.tsv.gz";
  if (!fs::exists(ref) || !fs::exists(model + "/config.json") || !fs::exists(tsv))
    GTEST_SKIP() << "../shared is absent";
  Dataset d = read_dataset(tsv, {Task::Single, {"negative", "neutral", "positive"}, 3});
  ModelBundle b = import_hf(model);
  const tok::Tokenizer tk = tok::Tokenizer::from_files(b.tokenizer_files, model);
  std::vector<std::string> first(d.texts.begin(), d.texts.begin() + 1600);
  Encoded e = encode_texts(tk, first, 64, false);
  int same = 0;
  for (int step = 0; step < 50; ++step) {
    char g[16];
    std::snprintf(g, sizeof g, "batches/%02d", step);
    TensorMap bt = read_h5_group(ref, g);
    std::vector<int64_t> rows(32);
    for (int i = 0; i < 32; ++i) rows[i] = step * 32 + i;
    Inputs in = make_batch(e, rows.data(), 32);
    ASSERT_EQ(in.input_ids.shape(), bt.at("input_ids").shape()) << g;
    bool eq =
        std::memcmp(in.input_ids.i64(), bt.at("input_ids").i64(), in.input_ids.nbytes()) == 0 &&
        std::memcmp(in.attention_mask.i64(), bt.at("attention_mask").i64(), in.attention_mask.nbytes()) == 0;
    for (int i = 0; i < 32; ++i) eq = eq && d.targets[rows[i]] == bt.at("labels").i64()[i];
    EXPECT_TRUE(eq) << g;
    same += eq;
  }
  EXPECT_EQ(same, 50);
}
