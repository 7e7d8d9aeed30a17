// Stored int8 models (`tern convert --quantize int8`): the file's int8 weights and scales are exactly what
// PackedWeight quantises at load, a model built from them gives the same bits as the float model run with
// precision int8 (library: tiny BERT / DistilBERT / RoBERTa; CLI: the shipped default model on the committed
// sample and, with ../shared, on real TweetEval tweets), and a damaged or misused file fails naming it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "infer/convert.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/quantize.h"
#include "tensor/packed_weight.h"
#include "tests/util/test_util.h"
#include "tests/util/tiny_model.h"
#include "train/dataset.h"
#include "weights/model_file.h"

namespace tern {
namespace {

using test::read_bytes;
using test::run_tern;
using test::ScratchDir;

// This CPU's int8 kernels, or the reference twin where it lacks AVX512-VNNI (children inherit it).
void ensure_int8() {
  try {
    require_precision(Precision::I8);
  } catch (const Error&) {
    setenv("TERN_PRECISION_FORCE_REF", "1", 1);
  }
}

// The tiny fixture as a model file, and its int8 conversion (what `tern convert --quantize int8` does).
struct Pair {
  std::string orig, quant;
};
Pair make_pair_files(const ScratchDir& d, const std::string& fixture) {
  Pair p{test::save_tiny_model(fixture, d.file(fixture + ".h5")), d.file(fixture + "-int8.h5")};
  LoadOptions lo;
  lo.to_f32 = false;
  ModelBundle b = load_model(p.orig, lo);
  infer::ConvertOptions co;
  co.quantize = "int8";
  infer::convert_bundle(b, p.orig, p.quant, co);
  return p;
}

std::vector<std::string> gemm_weight_names(const ModelConfig& c) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < c.layers; ++i) {
    const LayerNames n = LayerNames::for_arch(c.arch, c.prefix, i);
    for (const auto& s : {n.q, n.k, n.v, n.attn_out, n.ffn_in, n.ffn_out}) out.push_back(s + ".weight");
  }
  return out;
}

ModelOptions int8_inference() {
  ModelOptions mo;
  mo.precision = Precision::I8;
  mo.prepare_inference = true;
  return mo;
}

TEST(StoredInt8, FileHoldsThePackedWeightQuantisation) {
  ScratchDir d;
  const Pair p = make_pair_files(d, "bert_seqcls_single3");
  const ModelBundle f = load_model(p.orig);
  const ModelBundle q = load_model(p.quant);
  const ModelConfig c = parse_config(f.config_json, p.orig);
  const auto names = gemm_weight_names(c);
  ASSERT_EQ(names.size(), static_cast<size_t>(6 * c.layers));
  EXPECT_TRUE(has_int8_weights(q));
  EXPECT_FALSE(has_int8_weights(f));
  EXPECT_EQ(q.tensors.size(), f.tensors.size() + names.size());  // + one scale per weight
  for (const auto& n : names) {
    const Tensor& w = f.tensors.at(n);
    const Tensor& qi = q.tensors.at(n);
    const Tensor& s = q.tensors.at(n + "_scale");
    ASSERT_EQ(qi.dtype(), DType::I8) << n;
    ASSERT_EQ(qi.shape(), w.shape()) << n;
    ASSERT_EQ(s.dtype(), DType::F32) << n;
    ASSERT_EQ(s.shape(), Shape{w.size(0)}) << n;
    const int64_t R = w.size(0), K = w.size(1);
    std::vector<int8_t> wq(static_cast<size_t>(R * K));
    std::vector<float> ws(static_cast<size_t>(R));
    ref::quantize_weight_i8(w.f32(), R, K, K, wq.data(), ws.data());
    EXPECT_EQ(std::memcmp(wq.data(), qi.i8(), wq.size()), 0) << n;
    EXPECT_EQ(std::memcmp(ws.data(), s.f32(), ws.size() * 4), 0) << n;
    // And what PackedWeight itself holds after quantising the float weight at load.
    ensure_int8();
    std::vector<int8_t> eq;
    std::vector<float> es;
    PackedWeight::from_f32(Precision::I8, w.f32(), R, K, K).export_i8(eq, es);
    EXPECT_EQ(eq, wq) << n;
    EXPECT_EQ(es, ws) << n;
  }
  // Everything else as it was.
  for (const auto& [n, t] : f.tensors)
    if (q.tensors.at(n).dtype() != DType::I8) EXPECT_TRUE(test::bit_equal(t, q.tensors.at(n))) << n;
  EXPECT_EQ(q.tokenizer_files, f.tokenizer_files);
  EXPECT_NE(q.metadata.at("quantization").find("int8"), std::string::npos);
}

TEST(StoredInt8, SameBitsAsLoadTimeInt8) {
  ensure_int8();
  for (const std::string fx : {"bert_seqcls_single3", "distilbert_seqcls6", "roberta_seqcls3"}) {
    ScratchDir d;
    const Pair p = make_pair_files(d, fx);
    auto a = load_model_shared(p.orig, {}, int8_inference());
    auto b = load_model_shared(p.quant, {}, int8_inference());
    ASSERT_EQ(b->precision(), Precision::I8);
    ModelRunner ra(a), rb(b);
    // Three sequences of different lengths, ids inside the tiny vocabulary (first 1000 ids).
    const int64_t vocab = std::min<int64_t>(1000, a->config().vocab_size);
    std::vector<int64_t> ids, offsets = {0};
    uint64_t s = 12345;
    for (int64_t len : {5, 11, 3}) {
      for (int64_t t = 0; t < len; ++t) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids.push_back(static_cast<int64_t>((s >> 33) % static_cast<uint64_t>(vocab - 5)) + 5);
      }
      offsets.push_back(static_cast<int64_t>(ids.size()));
    }
    PackedInput in;
    in.ids = ids.data();
    in.offsets = offsets.data();
    in.B = 3;
    const ModelOutputs oa = ra.forward_packed(in);
    const ModelOutputs ob = rb.forward_packed(in);
    EXPECT_TRUE(test::bit_equal(oa.last_hidden_state, ob.last_hidden_state)) << fx;
    EXPECT_TRUE(test::bit_equal(oa.logits, ob.logits)) << fx;
    // Not vacuous: the float model in fp32 gives other bits.
    auto f32 = load_model_shared(p.orig);
    ModelRunner rf(f32);
    EXPECT_FALSE(test::bit_equal(rf.forward_packed(in).last_hidden_state, oa.last_hidden_state)) << fx;
    // The file is smaller (int8 weights + one float per output channel instead of float32 weights).
    EXPECT_LT(test::fs::file_size(p.quant), test::fs::file_size(p.orig)) << fx;
  }
}

TEST(StoredInt8, RunsInInt8OnlyAndSaysSo) {
  ensure_int8();
  ScratchDir d;
  const Pair p = make_pair_files(d, "bert_seqcls_single3");
  ModelOptions mo;
  EXPECT_TERN_ERROR(load_model_shared(p.quant, {}, mo), p.quant, "stored as int8", "not fp32");
  mo.precision = Precision::BF16;
  mo.prepare_inference = true;
  EXPECT_TERN_ERROR(load_model_shared(p.quant, {}, mo), p.quant, "stored as int8", "not bf16");
  // Training builds a Model in fp32.
  ModelBundle b = load_model(p.quant);
  EXPECT_TERN_ERROR(Model::from_bundle(b, p.quant), p.quant, "int8 only");
  // Re-quantising an int8 file is refused the same way (convert validates the model first).
  ModelBundle b2 = load_model(p.quant, LoadOptions{});
  infer::ConvertOptions co;
  co.quantize = "int8";
  EXPECT_TERN_ERROR(infer::convert_bundle(b2, p.quant, d.file("again.h5"), co), p.quant, "int8");
}

// A copy of the int8 file with `edit` applied to its tensors.
std::string edited(const ScratchDir& d, const std::string& from, const std::string& name,
                   const std::function<void(TensorMap&)>& edit) {
  LoadOptions lo;
  lo.to_f32 = false;
  ModelBundle b = load_model(from, lo);
  for (auto& [n, t] : b.tensors) t = t.clone();  // own the bytes (the mapping goes with b's file)
  edit(b.tensors);
  const std::string out = d.file(name);
  save_model(out, b);
  return out;
}

TEST(StoredInt8, DamagedFilesFailNamingTheTensor) {
  ensure_int8();
  ScratchDir d;
  const Pair p = make_pair_files(d, "bert_seqcls_single3");
  const ModelConfig c = parse_config(load_model(p.orig).config_json, p.orig);
  const std::string w = gemm_weight_names(c)[4];  // layer 0's FFN in: (I, C)
  const int64_t I = c.intermediate, C = c.hidden;
  const std::string w0 = gemm_weight_names(c)[0];

  const std::string no_scale =
      edited(d, p.quant, "no_scale.h5", [&](TensorMap& t) { t.erase(w + "_scale"); });
  EXPECT_TERN_ERROR(load_model_shared(no_scale, {}, int8_inference()), no_scale, w + "_scale", "missing");

  const std::string short_scale = edited(d, p.quant, "short_scale.h5", [&](TensorMap& t) {
    t[w + "_scale"] = t[w + "_scale"].slice(0, 0, I - 1).clone();
  });
  EXPECT_TERN_ERROR(load_model_shared(short_scale, {}, int8_inference()), short_scale, w + "_scale",
                    shape_str({I - 1}), shape_str({I}));

  const std::string bad_q =
      edited(d, p.quant, "bad_q.h5", [&](TensorMap& t) { t[w] = t[w].slice(1, 0, C - 1).contiguous(); });
  EXPECT_TERN_ERROR(load_model_shared(bad_q, {}, int8_inference()), bad_q, w, shape_str({I, C - 1}));

  const std::string zero_scale =
      edited(d, p.quant, "zero_scale.h5", [&](TensorMap& t) { t[w + "_scale"].f32()[2] = 0.f; });
  EXPECT_TERN_ERROR(load_model_shared(zero_scale, {}, int8_inference()), zero_scale, w + "_scale", "(2)");

  // Layer 0's Q weight back to float while K, V, ... stay int8: named.
  const ModelBundle f = load_model(p.orig);
  const std::string mixed = edited(d, p.quant, "mixed.h5", [&](TensorMap& t) {
    t[w0] = f.tensors.at(w0).clone();
    t.erase(w0 + "_scale");
  });
  EXPECT_TERN_ERROR(load_model_shared(mixed, {}, int8_inference()), mixed, w0, "not stored as int8");

  // A scale without its int8 weight is an unexpected tensor.
  const std::string stray =
      edited(d, p.orig, "stray.h5", [&](TensorMap& t) { t[w + "_scale"] = Tensor::zeros({I}); });
  EXPECT_TERN_ERROR(load_model_shared(stray), stray, "unexpected tensor", w + "_scale");

  // The sealed header still guards the int8 file: one flipped bit is a clean error.
  std::string bytes = read_bytes(p.quant);
  bytes[bytes.size() - 100] ^= 1;
  const std::string flipped = d.file("flipped.h5");
  test::write_bytes(flipped, bytes);
  EXPECT_TERN_ERROR(load_model(flipped), flipped, "corrupted");
}

TEST(StoredInt8, ScalesStayFloat32UnderAStorageDtype) {
  ScratchDir d;
  const std::string orig = test::save_tiny_model("bert_seqcls_single3", d.file("m.h5"));
  ModelBundle b = load_model(orig);
  infer::ConvertOptions co;
  co.quantize = "int8";
  co.storage = DType::F16;
  const std::string out = d.file("q16.h5");
  infer::convert_bundle(b, orig, out, co);
  LoadOptions lo;
  lo.to_f32 = false;
  const ModelBundle q = load_model(out, lo);
  const ModelConfig c = parse_config(q.config_json, out);
  for (const auto& n : gemm_weight_names(c)) {
    EXPECT_EQ(q.tensors.at(n).dtype(), DType::I8) << n;
    EXPECT_EQ(q.tensors.at(n + "_scale").dtype(), DType::F32) << n;
  }
  EXPECT_EQ(q.tensors.at(c.prefix + ".embeddings.word_embeddings.weight").dtype(), DType::F16);
}

// drop_file_pages gives a mapped tensor's pages back; reading it again gives the file's bytes, unchanged.
TEST(StoredInt8, DroppedFilePagesReadBackTheSame) {
  ScratchDir d;
  const std::string orig = test::save_tiny_model("bert_seqcls_single3", d.file("m.h5"));
  const ModelBundle b = load_model(orig);  // float32 storage: zero-copy views of the mapping
  const ModelBundle copy = load_model(orig, [] {
    LoadOptions lo;
    lo.map_file = false;
    return lo;
  }());
  int64_t mapped = 0;
  for (const auto& [n, t] : b.tensors) {
    mapped += t.storage()->file_backed();
    drop_file_pages(t);
    EXPECT_TRUE(test::bit_equal(t, copy.tensors.at(n))) << n;
    EXPECT_FALSE(copy.tensors.at(n).storage()->file_backed()) << n;
  }
  EXPECT_GT(mapped, 0);
}

// ---- tern convert / tern infer, as a user runs them ----

const std::string kDefault = "weights/models/sentiment.h5";

TEST(StoredInt8Cli, DefaultModelGivesByteIdenticalRows) {
  ensure_int8();
  ScratchDir d;
  const std::string q = d.file("sentiment-int8.h5");
  auto r = run_tern("convert --quantize int8 " + kDefault + " " + q, "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("24 encoder GEMM weights stored as int8"), std::string::npos) << r.out;
  EXPECT_LT(test::fs::file_size(q), test::fs::file_size(kDefault));
  const std::string in = "tests/data/sample/mayweather_sample.jsonl";
  r = run_tern(
      "infer " + in + " " + d.file("a.jsonl") + " --model " + kDefault + " --precision int8 --logits", "",
      60);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_tern("infer " + in + " " + d.file("b.jsonl") + " --model " + q + " --logits", "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string a = read_bytes(d.file("a.jsonl"));
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 40);
  EXPECT_EQ(a, read_bytes(d.file("b.jsonl")));
  // fp32 rows differ somewhere in their logits (the comparison above can fail).
  r = run_tern("infer " + in + " " + d.file("c.jsonl") + " --model " + kDefault + " --logits", "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(a, read_bytes(d.file("c.jsonl")));
  // Asked for another precision: a clear error naming the file, exit 1.
  r = run_tern("infer " + in + " " + d.file("e.jsonl") + " --model " + q + " --precision bf16", "", 60);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(q + ": its encoder weights are stored as int8"), std::string::npos) << r.out;
  // The option form works as well.
  r = run_tern("convert --from " + kDefault + " --out " + d.file("q2.h5") + " --quantize int8", "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_bytes(d.file("q2.h5")).size(), read_bytes(q).size());
}

TEST(StoredInt8Cli, RealTweetsByteIdentical) {
  const std::string src = test::kShared + "/data/tweeteval/sentiment/test_text.txt.gz";
  if (!test::fs::exists(src)) GTEST_SKIP() << src << " is absent (../shared)";
  ensure_int8();
  ScratchDir d;
  const std::string all = train::read_text_file(src);
  size_t pos = 0;
  for (int i = 0; i < 500 && pos != std::string::npos; ++i) pos = all.find('\n', pos + 1);
  ASSERT_NE(pos, std::string::npos);
  const std::string texts = d.file("tweets.txt");
  test::write_bytes(texts, all.substr(0, pos + 1));
  const std::string q = d.file("q.h5");
  auto r = run_tern("convert --quantize int8 " + kDefault + " " + q, "", 60);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_tern(
      "infer " + texts + " " + d.file("a.jsonl") + " --model " + kDefault + " --precision int8 --logits", "",
      120);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("500 rows"), std::string::npos) << r.out;
  r = run_tern("infer " + texts + " " + d.file("b.jsonl") + " --model " + q + " --logits", "", 120);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_bytes(d.file("a.jsonl")), read_bytes(d.file("b.jsonl")));
}

}  // namespace
}  // namespace tern
