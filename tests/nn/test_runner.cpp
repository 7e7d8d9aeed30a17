// LoadedModel shared read-only by ModelRunners: HF parity through a runner, two threads at once giving the
// bits of one, load_model_shared on a tern .h5, and extra (multi-task) heads on one encoder.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "nn/layers.h"
#include "nn/model.h"
#include "tests/util/test_util.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
using tern::test::bit_equal;

namespace {

const char* kTinyNames[] = {"bert_model",          "bert_seqcls_multi19", "bert_seqcls_regr1",
                            "bert_seqcls_single3", "distilbert_seqcls6",  "roberta_seqcls3"};

struct Inputs {
  Tensor ids, mask, tti;
};

Inputs fixture_inputs(const std::string& dir) {
  const std::string ref = dir + "/reference.h5";
  TensorMap in = read_h5_arrays(ref, std::vector<std::string>{"input_ids", "attention_mask"}, "inputs");
  TensorMap tti = read_h5_arrays(ref, std::vector<std::string>{"token_type_ids"}, "inputs", false);
  return {in.at("input_ids"), in.at("attention_mask"),
          tti.count("token_type_ids") ? tti.at("token_type_ids") : Tensor()};
}

// Rows [r0, r1) of an int64 (B, T) tensor (undefined stays undefined).
Tensor rows(const Tensor& t, int64_t r0, int64_t r1) {
  return t.defined() ? t.slice(0, r0, r1).contiguous() : Tensor();
}

float max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.f32()[i] - b.f32()[i]));
  return m;
}

struct Kept {
  Tensor lhs, pooled, logits;
};
Kept keep(const ModelOutputs& o) {
  return {o.last_hidden_state.clone(), o.pooler_output.defined() ? o.pooler_output.clone() : Tensor(),
          o.logits.defined() ? o.logits.clone() : Tensor()};
}

// The fixture's rows without their padding (right-padded rows: real tokens first), as a packed batch.
struct Unpadded {
  std::vector<int64_t> ids, tti, offsets = {0};
  bool has_tti;
  int64_t B;
  explicit Unpadded(const Inputs& in) : has_tti(in.tti.defined()), B(in.ids.size(0)) {
    const int64_t T = in.ids.size(1);
    for (int64_t r = 0; r < B; ++r) {
      for (int64_t t = 0; t < T && in.mask.i64()[r * T + t]; ++t) {
        ids.push_back(in.ids.i64()[r * T + t]);
        tti.push_back(has_tti ? in.tti.i64()[r * T + t] : 0);
      }
      offsets.push_back(static_cast<int64_t>(ids.size()));
    }
  }
  PackedInput input() const {
    PackedInput p;
    p.ids = ids.data();
    p.offsets = offsets.data();
    p.token_type_ids = has_tti ? tti.data() : nullptr;
    p.B = B;
    return p;
  }
};

// The batches a worker runs: the whole fixture batch, then every single row and every prefix, so that the
// runner's buffers are reused at changing shapes.
std::vector<std::pair<int64_t, int64_t>> batches(int64_t B) {
  std::vector<std::pair<int64_t, int64_t>> out = {{0, B}};
  for (int64_t r = 0; r < B; ++r) out.push_back({r, r + 1});
  for (int64_t r = 2; r < B; ++r) out.push_back({0, r});
  return out;
}

}  // namespace

TEST(Runner, MatchesHfAndModelBitForBit) {
  for (const char* name : kTinyNames) {
    const std::string dir = test::kTiny + "/" + name;
    ModelBundle b1 = import_hf(dir), b2 = import_hf(dir);
    std::shared_ptr<const LoadedModel> lm = LoadedModel::from_bundle(b1, dir);
    auto model = Model::from_bundle(b2, dir);
    const Inputs in = fixture_inputs(dir);
    ModelRunner r(lm);
    const ModelOutputs o = r.forward(in.ids, in.mask, in.tti);
    const ModelOutputs m = model->forward(in.ids, in.mask, in.tti);
    EXPECT_TRUE(bit_equal(o.last_hidden_state, m.last_hidden_state)) << name;
    EXPECT_EQ(lm->has_pooler(), model->has_pooler()) << name;
    EXPECT_EQ(lm->has_head(), model->has_head()) << name;
    TensorMap want = read_h5_arrays(dir + "/reference.h5",
                                    std::vector<std::string>{"pooler_output", "logits"}, "outputs", false);
    EXPECT_EQ(o.pooler_output.defined(), want.count("pooler_output") > 0) << name;
    EXPECT_EQ(o.logits.defined(), want.count("logits") > 0) << name;
    if (o.pooler_output.defined()) {
      EXPECT_TRUE(bit_equal(o.pooler_output, m.pooler_output)) << name;
      EXPECT_LT(max_diff(o.pooler_output, want.at("pooler_output")), 1e-4f) << name;
    }
    if (o.logits.defined()) {
      EXPECT_TRUE(bit_equal(o.logits, m.logits)) << name;
      EXPECT_LT(max_diff(o.logits, want.at("logits")), 1e-4f) << name;
      EXPECT_EQ(o.logits.size(1), lm->config().num_labels) << name;
      ASSERT_EQ(o.head_logits.size(), 1u) << name;
      EXPECT_TRUE(bit_equal(o.head_logits[0], o.logits)) << name;
    }
  }
}

// The packed forward (no padding, attention per sequence) on the fixture's rows, stripped of their
// padding: the pooler output and logits match Hugging Face's reference and the padded forward, and each
// sequence's hidden states match the padded forward's rows of real tokens.
TEST(Runner, PackedForwardMatchesPaddedAndHf) {
  for (const char* name : kTinyNames) {
    const std::string dir = test::kTiny + "/" + name;
    ModelBundle b = import_hf(dir);
    std::shared_ptr<const LoadedModel> lm = LoadedModel::from_bundle(b, dir);
    const Inputs in = fixture_inputs(dir);
    const int64_t B = in.ids.size(0), T = in.ids.size(1), C = lm->config().hidden;
    std::vector<int64_t> ids, tti, offsets = {0};
    int64_t padded_tokens = 0;
    for (int64_t r = 0; r < B; ++r)
      for (int64_t t = 0; t < T; ++t) {
        if (in.mask.i64()[r * T + t] == 0) {
          ++padded_tokens;
          continue;
        }
        // Real tokens come first in every fixture row (right padding).
        ASSERT_EQ(static_cast<int64_t>(ids.size()), offsets.back() + t) << name;
        ids.push_back(in.ids.i64()[r * T + t]);
        tti.push_back(in.tti.defined() ? in.tti.i64()[r * T + t] : 0);
        if (t + 1 == T || in.mask.i64()[r * T + t + 1] == 0)
          offsets.push_back(static_cast<int64_t>(ids.size()));
      }
    ASSERT_EQ(static_cast<int64_t>(offsets.size()), B + 1) << name;
    EXPECT_GT(padded_tokens, 0) << name << ": the fixture should have padding for this test to mean anything";
    ModelRunner r(lm);
    const Kept padded = keep(r.forward(in.ids, in.mask, in.tti));
    PackedInput pin;
    pin.ids = ids.data();
    pin.offsets = offsets.data();
    pin.token_type_ids = in.tti.defined() ? tti.data() : nullptr;
    pin.B = B;
    const ModelOutputs o = r.forward_packed(pin);
    ASSERT_EQ(o.last_hidden_state.size(0), offsets[B]) << name;
    float md = 0;
    for (int64_t s = 0; s < B; ++s)
      for (int64_t t = 0; t < offsets[s + 1] - offsets[s]; ++t)
        for (int64_t c = 0; c < C; ++c)
          md = std::max(md, std::fabs(o.last_hidden_state.f32()[(offsets[s] + t) * C + c] -
                                      padded.lhs.f32()[(s * T + t) * C + c]));
    EXPECT_LT(md, 1e-5f) << name;
    TensorMap want = read_h5_arrays(dir + "/reference.h5",
                                    std::vector<std::string>{"pooler_output", "logits"}, "outputs", false);
    if (o.pooler_output.defined()) {
      EXPECT_LT(max_diff(o.pooler_output, padded.pooled), 1e-5f) << name;
      EXPECT_LT(max_diff(o.pooler_output, want.at("pooler_output")), 1e-4f) << name;
    }
    if (o.logits.defined()) {
      EXPECT_LT(max_diff(o.logits, padded.logits), 1e-5f) << name;
      EXPECT_LT(max_diff(o.logits, want.at("logits")), 1e-4f) << name;
    }
  }
}

// Prepared weights on one thread run the block's row-wise tail in chunks of rows (EncoderLayer::row_chunk):
// the bits equal the whole batch at once on two threads, for chunks of 5 rows (several, the last partial),
// in fp32 and int8.
TEST(Runner, RowChunkedTailGivesTheBitsOfTheWholeBatch) {
  for (Precision p : {Precision::F32, Precision::I8}) {
    if (p == Precision::I8 && !__builtin_cpu_supports("avx512vnni")) continue;
    for (const char* name : kTinyNames) {
      const std::string dir = test::kTiny + "/" + name;
      ModelBundle b = import_hf(dir);
      ModelOptions opt;
      opt.precision = p;
      opt.prepare_inference = true;
      std::shared_ptr<const LoadedModel> lm = LoadedModel::from_bundle(b, dir, opt);
      const Inputs in = fixture_inputs(dir);
      const int64_t B = in.ids.size(0);
      const Unpadded u(in);
      const std::vector<int64_t>& offsets = u.offsets;
      ASSERT_GT(offsets[B], 10) << name << ": too few rows for several chunks of 5";
      PackedInput pin = u.input();
      ModelRunner r(lm);
      const int saved = omp_get_max_threads();
      omp_set_num_threads(2);
      const Kept whole = keep(r.forward_packed(pin));
      omp_set_num_threads(1);
      const int64_t old = EncoderLayer::set_row_chunk(5);
      const Kept chunked = keep(r.forward_packed(pin));
      EncoderLayer::set_row_chunk(old);
      omp_set_num_threads(saved);
      EXPECT_TRUE(bit_equal(whole.lhs, chunked.lhs)) << name << " " << precision_name(p);
      if (whole.logits.defined()) EXPECT_TRUE(bit_equal(whole.logits, chunked.logits)) << name;
    }
  }
}

// PackedInput::first_token_only (tern infer without mean pooling): the last layer computes the first
// tokens alone. Its pooler output and logits equal the full forward's up to float rounding (fp32), its
// last_hidden_state is (B, C) = the full forward's first-token rows; int8 a little looser (a last-digit
// change of an attention output can move its u8 rounding by one step).
TEST(Runner, FirstTokenOnlyMatchesTheFullForward) {
  for (Precision p : {Precision::F32, Precision::I8}) {
    if (p == Precision::I8 && !__builtin_cpu_supports("avx512vnni")) continue;
    const float tol = p == Precision::F32 ? 2e-6f : 1e-2f;
    for (const char* name : kTinyNames) {
      const std::string dir = test::kTiny + "/" + name;
      ModelBundle b = import_hf(dir);
      ModelOptions opt;
      opt.precision = p;
      opt.prepare_inference = true;
      std::shared_ptr<const LoadedModel> lm = LoadedModel::from_bundle(b, dir, opt);
      const Inputs in = fixture_inputs(dir);
      const int64_t B = in.ids.size(0), C = lm->config().hidden;
      const Unpadded u(in);
      const std::vector<int64_t>& offsets = u.offsets;
      PackedInput pin = u.input();
      ModelRunner r(lm);
      const Kept full = keep(r.forward_packed(pin));
      pin.first_token_only = true;
      const Kept first = keep(r.forward_packed(pin));
      ASSERT_EQ(first.lhs.size(0), B) << name;
      ASSERT_GT(full.lhs.size(0), B) << name;
      float md = 0;
      for (int64_t s = 0; s < B; ++s)
        for (int64_t c = 0; c < C; ++c)
          md = std::max(md, std::fabs(first.lhs.f32()[s * C + c] - full.lhs.f32()[offsets[s] * C + c]));
      std::printf("  %s %s: first-token rows %.3g, logits %.3g\n", name, precision_name(p), md,
                  full.logits.defined() ? max_diff(first.logits, full.logits) : 0.f);
      EXPECT_LT(md, p == Precision::F32 ? 2e-6f : 1e-2f) << name << " " << precision_name(p);
      if (full.logits.defined()) EXPECT_LT(max_diff(first.logits, full.logits), tol) << name;
      if (full.pooled.defined()) EXPECT_LT(max_diff(first.pooled, full.pooled), tol) << name;
    }
  }
}

// Prepared inference on an unpadded batch (mask all ones, or none) goes through the packed forward: its
// outputs are the packed forward's bits and match the padded forward of an unprepared model (mask path).
TEST(Runner, UnpaddedForwardTakesThePackedPath) {
  for (const char* name : kTinyNames) {
    const std::string dir = test::kTiny + "/" + name;
    ModelBundle b1 = import_hf(dir), b2 = import_hf(dir);
    ModelOptions opt;
    opt.prepare_inference = true;
    std::shared_ptr<const LoadedModel> prepared = LoadedModel::from_bundle(b1, dir, opt);
    std::shared_ptr<const LoadedModel> plain = LoadedModel::from_bundle(b2, dir);
    ASSERT_TRUE(prepared->prepared()) << name;
    ASSERT_FALSE(plain->prepared()) << name;
    const Inputs in = fixture_inputs(dir);
    const int64_t B = in.ids.size(0), T = in.ids.size(1);
    Tensor ones = Tensor::empty({B, T}, DType::I64);
    for (int64_t i = 0; i < B * T; ++i) ones.i64()[i] = 1;
    ModelRunner rp(prepared), rq(plain);
    const Kept fast = keep(rp.forward(in.ids, ones, in.tti));
    const Kept fast_nomask = keep(rp.forward(in.ids, Tensor(), in.tti));
    const Kept slow = keep(rq.forward(in.ids, ones, in.tti));
    std::vector<int64_t> offsets;
    for (int64_t r = 0; r <= B; ++r) offsets.push_back(r * T);
    PackedInput pin;
    pin.ids = in.ids.i64();
    pin.offsets = offsets.data();
    pin.token_type_ids = in.tti.defined() ? in.tti.i64() : nullptr;
    pin.B = B;
    const Kept packed = keep(rp.forward_packed(pin));
    ASSERT_EQ(fast.lhs.shape(), (Shape{B, T, prepared->config().hidden})) << name;
    EXPECT_TRUE(bit_equal(fast.lhs.reshape({B * T, -1}), packed.lhs)) << name;
    EXPECT_TRUE(bit_equal(fast.lhs, fast_nomask.lhs)) << name;
    EXPECT_LT(max_diff(fast.lhs, slow.lhs), 1e-5f) << name;
    if (slow.logits.defined()) EXPECT_LT(max_diff(fast.logits, slow.logits), 1e-5f) << name;
  }
}

// Two runners on one LoadedModel, each in its own thread, many batches at once: every output is the bits that
// one runner alone computes.
TEST(Runner, TwoThreadsGiveTheBitsOfOne) {
  for (const char* name : kTinyNames) {
    const std::string dir = test::kTiny + "/" + name;
    ModelBundle b = import_hf(dir);
    std::shared_ptr<const LoadedModel> lm = LoadedModel::from_bundle(b, dir);
    const Inputs in = fixture_inputs(dir);
    const int64_t B = in.ids.size(0);
    const auto work = batches(B);
    ASSERT_GE(work.size(), 3u);

    std::vector<Kept> want;
    {
      ModelRunner alone(lm);
      for (auto [r0, r1] : work)
        want.push_back(
            keep(alone.forward(rows(in.ids, r0, r1), rows(in.mask, r0, r1), rows(in.tti, r0, r1))));
    }
    constexpr int kThreads = 2, kRounds = 4;
    std::vector<std::vector<Kept>> got(kThreads);
    std::vector<int> mismatches(kThreads, 0);  // in the rounds before the last
    std::vector<std::thread> threads;
    for (int w = 0; w < kThreads; ++w) {
      threads.emplace_back([&, w] {
        ModelRunner r(lm);
        for (int round = 0; round < kRounds; ++round)
          for (size_t j = 0; j < work.size(); ++j) {
            // The two workers walk the batches in opposite orders, so different shapes overlap in time.
            const size_t i = w % 2 ? work.size() - 1 - j : j;
            const auto [r0, r1] = work[i];
            ModelOutputs o = r.forward(rows(in.ids, r0, r1), rows(in.mask, r0, r1), rows(in.tti, r0, r1));
            if (round == kRounds - 1)
              got[w].push_back(keep(o));
            else if (!bit_equal(o.last_hidden_state, want[i].lhs) ||
                     (o.logits.defined() && !bit_equal(o.logits, want[i].logits)))
              ++mismatches[w];
          }
      });
    }
    for (auto& t : threads) t.join();
    for (int w = 0; w < kThreads; ++w) {
      EXPECT_EQ(mismatches[w], 0) << name << ": worker " << w << " differed in the earlier rounds";
      ASSERT_EQ(got[w].size(), work.size()) << name;
      for (size_t j = 0; j < work.size(); ++j) {
        const size_t i = w % 2 ? work.size() - 1 - j : j;
        EXPECT_TRUE(bit_equal(got[w][j].lhs, want[i].lhs)) << name << " worker " << w << " batch " << i;
        if (want[i].pooled.defined()) {
          EXPECT_TRUE(bit_equal(got[w][j].pooled, want[i].pooled)) << name;
        }
        if (want[i].logits.defined()) {
          EXPECT_TRUE(bit_equal(got[w][j].logits, want[i].logits)) << name;
        }
      }
    }
  }
}

// A tern model file through load_model_shared: the same bits as the bundle it was written from, and the
// tokenizer files and metadata come along.
TEST(Runner, LoadModelSharedFromTernFile) {
  test::ScratchDir tmp;
  const std::string dir = test::kTiny + "/roberta_seqcls3";
  ModelBundle b = import_hf(dir);
  b.metadata["source"] = "runner test";
  b.tokenizer_files["vocab.json"] = "{}";
  const std::string path = tmp.file("m.h5");
  save_model(path, b);
  std::shared_ptr<const LoadedModel> lm = load_model_shared(path);
  EXPECT_EQ(lm->source(), path);
  EXPECT_EQ(lm->metadata().at("source"), "runner test");
  EXPECT_EQ(lm->tokenizer_files().at("vocab.json"), "{}");
  EXPECT_EQ(lm->labels().size(), 3u);
  std::shared_ptr<const LoadedModel> direct = LoadedModel::from_bundle(b, dir);
  const Inputs in = fixture_inputs(dir);
  ModelRunner r1(lm), r2(direct);
  const Kept a = keep(r1.forward(in.ids, in.mask, in.tti));
  const ModelOutputs o = r2.forward(in.ids, in.mask, in.tti);
  EXPECT_TRUE(bit_equal(a.lhs, o.last_hidden_state));
  EXPECT_TRUE(bit_equal(a.logits, o.logits));
  // A missing file is an error that names it.
  EXPECT_THROW(load_model_shared(tmp.file("absent.h5")), Error);
}

// An inference-only (prepared) model from float16 storage keeps its word-embedding table float16 (no
// float32 copy) and computes the same bits as the same model given the float32 conversion of that storage;
// a model that may train still gets float32 parameters.
TEST(Runner, PreparedModelKeepsFloat16WordEmbeddingsWithTheSameBits) {
  for (Precision p : {Precision::F32, Precision::I8}) {
    if (p == Precision::I8 && !__builtin_cpu_supports("avx512vnni")) continue;
    for (const char* name : kTinyNames) {
      const std::string dir = test::kTiny + "/" + name;
      ModelBundle half = import_hf(dir), wide = import_hf(dir);
      for (auto& [n, t] : half.tensors)
        if (t.dtype() == DType::F32) t = t.to(DType::F16);
      for (auto& [n, t] : wide.tensors)
        t = half.tensors.at(n).dtype() == DType::F16 ? half.tensors.at(n).to(DType::F32) : t;
      ModelOptions opt;
      opt.precision = p;
      opt.prepare_inference = true;
      std::shared_ptr<const LoadedModel> a = LoadedModel::from_bundle(half, dir, opt);
      std::shared_ptr<const LoadedModel> b = LoadedModel::from_bundle(wide, dir, opt);
      const std::string word = a->config().prefix + ".embeddings.word_embeddings.weight";
      for (const Param& prm : a->params().params())
        if (prm.name == word) EXPECT_FALSE(prm.value.defined()) << name << ": a float32 copy of " << word;
      for (const Param& prm : b->params().params())
        if (prm.name == word) EXPECT_TRUE(prm.value.defined()) << name;
      const Inputs in = fixture_inputs(dir);
      ModelRunner ra(a), rb(b);
      const Kept ka = keep(ra.forward(in.ids, in.mask, in.tti));
      const ModelOutputs ob = rb.forward(in.ids, in.mask, in.tti);
      EXPECT_TRUE(bit_equal(ka.lhs, ob.last_hidden_state)) << name << " " << precision_name(p);
      if (ka.logits.defined()) EXPECT_TRUE(bit_equal(ka.logits, ob.logits)) << name;
    }
  }
  // Not prepared (a model that may train): float32 parameters from float16 storage.
  const std::string dir = test::kTiny + "/bert_seqcls_single3";
  ModelBundle half = import_hf(dir);
  for (auto& [n, t] : half.tensors)
    if (t.dtype() == DType::F32) t = t.to(DType::F16);
  std::shared_ptr<const LoadedModel> m = LoadedModel::from_bundle(half, dir);
  for (const Param& prm : m->params().params()) EXPECT_EQ(prm.value.dtype(), DType::F32) << prm.name;
}

// Workers keep runners in containers: a runner moves (its buffers with it) and is not copied by accident.
static_assert(std::is_nothrow_move_constructible_v<ModelRunner>);
static_assert(!std::is_copy_constructible_v<LoadedModel>);

TEST(Runner, RunnersMoveIntoContainers) {
  const std::string dir = test::kTiny + "/distilbert_seqcls6";
  ModelBundle b = import_hf(dir);
  std::shared_ptr<const LoadedModel> lm = LoadedModel::from_bundle(b, dir);
  const Inputs in = fixture_inputs(dir);
  ModelRunner first(lm);
  const Kept want = keep(first.forward(in.ids, in.mask, in.tti));
  std::vector<ModelRunner> pool;
  pool.push_back(std::move(first));
  pool.emplace_back(lm);
  for (ModelRunner& r : pool) EXPECT_TRUE(bit_equal(r.forward(in.ids, in.mask, in.tti).logits, want.logits));
  EXPECT_EQ(lm.use_count(), 3);  // lm + two runners
}
