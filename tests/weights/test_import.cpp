// import_hf: directories and files, safetensors / sharded / TF, tokenizer files, NaN checks, and the real
// pretrained checkpoints in ../shared (float16 RoBERTa, float32 BERT) through save -> load.
#include <cmath>
#include <limits>

#include "tests/util/test_util.h"
#include "weights/import.h"

namespace tern {
namespace {

using test::bit_equal;
using test::ScratchDir;
using test::fs::copy_file;

// A minimal safetensors writer for test inputs (float32 / float16 / int64).
void write_safetensors(const std::string& path, const TensorMap& tensors) {
  std::string header = "{\"__metadata__\": {\"format\": \"pt\"}", data;
  for (const auto& [name, t] : tensors) {
    const char* dt = t.dtype() == DType::F32 ? "F32" : t.dtype() == DType::F16 ? "F16" : "I64";
    std::string shape;
    for (int64_t d : t.shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    size_t begin = data.size();
    data.append(static_cast<const char*>(t.raw()), t.nbytes());
    header += ", \"" + name + "\": {\"dtype\": \"" + dt + "\", \"shape\": [" + shape +
              "], \"data_offsets\": [" + std::to_string(begin) + ", " + std::to_string(data.size()) + "]}";
  }
  header += "}";
  uint64_t n = header.size();
  test::write_bytes(path, std::string(reinterpret_cast<const char*>(&n), 8) + header + data);
}

void expect_same_tensors(const TensorMap& a, const TensorMap& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    EXPECT_TRUE(bit_equal(t, b.at(name))) << what << ": " << name;
  }
}

TEST(Import, TinyDirectoryPrefersSafetensors) {
  std::string dir = test::kTiny + "/bert_seqcls_single3";
  ModelBundle m = import_hf(dir);
  EXPECT_EQ(m.metadata.at("source"), dir);
  EXPECT_EQ(m.metadata.at("source_format"), "safetensors");
  EXPECT_EQ(m.config_json, test::read_bytes(dir + "/config.json"));
  expect_same_tensors(m.tensors, read_safetensors(dir + "/model.safetensors"), dir);
  EXPECT_TRUE(m.tokenizer_files.empty());
}

TEST(Import, TfCheckpointDirectoryAndFile) {
  ScratchDir tmp;
  std::string src = test::kTiny + "/roberta_seqcls3";
  copy_file(src + "/config.json", tmp.file("config.json"));
  copy_file(src + "/tf_model.h5", tmp.file("tf_model.h5"));
  ModelBundle m = import_hf(tmp.path().string());
  EXPECT_EQ(m.metadata.at("source_format"), "tf_h5");
  TensorMap st = read_safetensors(src + "/model.safetensors");
  expect_same_tensors(m.tensors, st, "tf dir");
  // A checkpoint file next to its config.json.
  ModelBundle f = import_hf(src + "/tf_model_keras212.h5");
  EXPECT_EQ(f.metadata.at("source_format"), "tf_h5");
  expect_same_tensors(f.tensors, st, "tf file");
  ModelBundle s = import_hf(src + "/model.safetensors");
  EXPECT_EQ(s.metadata.at("source_format"), "safetensors");
}

TEST(Import, ShardedSafetensors) {
  ScratchDir tmp;
  std::string src = test::kTiny + "/distilbert_seqcls6";
  TensorMap all = read_safetensors(src + "/model.safetensors");
  TensorMap a, b;
  std::string map;
  int i = 0;
  for (const auto& [name, t] : all) {
    std::string shard = (i++ % 2) ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
    (i % 2 ? a : b)[name] = t;
    map += std::string(map.empty() ? "" : ", ") + "\"" + name + "\": \"" + shard + "\"";
  }
  write_safetensors(tmp.file("model-00001-of-00002.safetensors"), a);
  write_safetensors(tmp.file("model-00002-of-00002.safetensors"), b);
  test::write_bytes(tmp.file("model.safetensors.index.json"),
                    "{\"metadata\": {}, \"weight_map\": {" + map + "}}");
  copy_file(src + "/config.json", tmp.file("config.json"));
  ModelBundle m = import_hf(tmp.path().string());
  expect_same_tensors(m.tensors, all, "sharded");
  // An index that promises a tensor its shard lacks.
  test::write_bytes(
      tmp.file("model.safetensors.index.json"),
      "{\"weight_map\": {" + map + ", \"ghost.weight\": \"model-00001-of-00002.safetensors\"}}");
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "ghost.weight", "does not hold it");
}

TEST(Import, TokenizerFilesAreCopiedVerbatim) {
  ScratchDir tmp;
  std::string src = test::kTiny + "/bert_model";
  copy_file(src + "/config.json", tmp.file("config.json"));
  copy_file(src + "/model.safetensors", tmp.file("model.safetensors"));
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n\xe2\x9c\x93\n";
  test::write_bytes(tmp.file("vocab.txt"), vocab);
  test::write_bytes(tmp.file("tokenizer_config.json"), "{\"do_lower_case\": true}");
  test::write_bytes(tmp.file("README.md"), "not a tokenizer file");
  ModelBundle m = import_hf(tmp.path().string());
  ASSERT_EQ(m.tokenizer_files.size(), 2u);
  EXPECT_EQ(m.tokenizer_files.at("vocab.txt"), vocab);
  EXPECT_EQ(m.tokenizer_files.at("tokenizer_config.json"), "{\"do_lower_case\": true}");
}

TEST(Import, PositionIdsBufferIsDroppedAndNoted) {
  ScratchDir tmp;
  TensorMap t;
  t["bert.embeddings.position_ids"] = test::iota_i64({1, 8});
  t["bert.embeddings.word_embeddings.weight"] = test::random_f32({10, 4}, 1);
  write_safetensors(tmp.file("model.safetensors"), t);
  test::write_bytes(tmp.file("config.json"), "{\"model_type\": \"bert\"}");
  ModelBundle m = import_hf(tmp.path().string());
  EXPECT_EQ(m.tensors.size(), 1u);
  EXPECT_EQ(m.metadata.at("dropped_buffers"), "bert.embeddings.position_ids");
}

TEST(ImportErrors, NaNAndInfNameTheTensorUnlessAllowed) {
  ScratchDir tmp;
  TensorMap t;
  Tensor w = test::random_f32({6, 4}, 1);
  w.f32()[2 * 4 + 3] = std::numeric_limits<float>::quiet_NaN();
  t["bert.encoder.layer.0.output.dense.weight"] = w;
  write_safetensors(tmp.file("model.safetensors"), t);
  test::write_bytes(tmp.file("config.json"), "{}");
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "model.safetensors",
                    "bert.encoder.layer.0.output.dense.weight", "NaN", "(2, 3)");
  ImportOptions allow;
  allow.allow_nonfinite = true;
  EXPECT_TRUE(std::isnan(import_hf(tmp.path().string(), allow).tensors.begin()->second.f32()[11]));
  Tensor h = Tensor::zeros({5}, DType::F16);
  h.u16()[4] = 0xfc00;  // -Inf in float16
  t.clear();
  t["lm_head.bias"] = h;
  write_safetensors(tmp.file("model.safetensors"), t);
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "lm_head.bias", "-Inf", "(4)");
}

TEST(ImportErrors, MissingPieces) {
  ScratchDir tmp;
  EXPECT_TERN_ERROR(import_hf(tmp.file("nope")), "nope", "no such file");
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "no model.safetensors");
  test::write_bytes(tmp.file("pytorch_model.bin"), "PK");
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "pytorch_model.bin", "safe_serialization");
  copy_file(test::kTiny + "/bert_model/model.safetensors", tmp.file("model.safetensors"));
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "no config.json");
  test::write_bytes(tmp.file("config.json"), "{\"model_type\": ");
  EXPECT_TERN_ERROR(import_hf(tmp.path().string()), "config.json", "not valid JSON");
}

// ---- real checkpoints from ../shared ----

void round_trip_real(const std::string& name, DType stored) {
  std::string dir = test::kShared + "/models/" + name;
  ModelBundle m = import_hf(dir);
  EXPECT_EQ(m.metadata.at("source_format"), "safetensors");
  EXPECT_GT(m.tensors.size(), 60u);
  for (const auto& [n, t] : m.tensors) ASSERT_EQ(t.dtype(), stored) << n;
  for (const auto& [file, bytes] : m.tokenizer_files)
    EXPECT_EQ(bytes, test::read_bytes(dir + "/" + file)) << file;
  EXPECT_TRUE(m.tokenizer_files.count("tokenizer.json"));
  EXPECT_FALSE(m.tensors.count(name == "tweet-bert-mini" ? "cls.predictions.decoder.weight"
                                                         : "lm_head.decoder.weight"))
      << "v5 checkpoints tie the decoder to the word embeddings";

  ScratchDir tmp;
  save_model(tmp.file("model.h5"), m);
  // Stored dtype is kept: the float16 model stays about the size of its safetensors.
  double ratio = static_cast<double>(test::fs::file_size(tmp.file("model.h5"))) /
                 static_cast<double>(test::fs::file_size(dir + "/model.safetensors"));
  EXPECT_GT(ratio, 0.95);
  EXPECT_LT(ratio, 1.20);

  LoadOptions keep;
  keep.to_f32 = false;
  ModelBundle r = load_model(tmp.file("model.h5"), keep);
  expect_same_tensors(m.tensors, r.tensors, name);
  EXPECT_EQ(r.config_json, m.config_json);
  EXPECT_EQ(r.tokenizer_files, m.tokenizer_files);
  EXPECT_EQ(r.metadata, m.metadata);
  for (const auto& [n, t] : r.tensors) EXPECT_FALSE(t.storage()->owned()) << n << " not mapped";

  ModelBundle f = load_model(tmp.file("model.h5"));  // to_f32
  for (const auto& [n, t] : m.tensors) {
    const Tensor& g = f.tensors.at(n);
    ASSERT_EQ(g.dtype(), DType::F32);
    if (stored == DType::F32) {
      EXPECT_TRUE(bit_equal(g, t)) << n;
    } else {
      for (int64_t i = 0; i < t.numel(); i += 97)
        ASSERT_EQ(g.f32()[i], f16_to_f32(t.u16()[i])) << n << "[" << i << "]";
    }
  }
  LoadOptions meta;
  meta.read_tensors = false;
  ModelBundle t = load_model(tmp.file("model.h5"), meta);
  EXPECT_EQ(t.tokenizer_files, m.tokenizer_files);
  EXPECT_TRUE(t.tensors.empty());
}

TEST(ImportShared, TweetRobertaMiniFloat16) {
  if (!test::shared_available()) GTEST_SKIP() << "../shared/models is absent; real checkpoints not tested";
  round_trip_real("tweet-roberta-mini", DType::F16);
}

TEST(ImportShared, TweetBertMiniFloat32) {
  if (!test::shared_available()) GTEST_SKIP() << "../shared/models is absent; real checkpoints not tested";
  round_trip_real("tweet-bert-mini", DType::F32);
}

TEST(ImportShared, SavedAsFloat16AndBFloat16) {
  if (!test::shared_available()) GTEST_SKIP() << "../shared/models is absent; real checkpoints not tested";
  ModelBundle m = import_hf(test::kShared + "/models/tweet-bert-mini");
  ScratchDir tmp;
  save_model(tmp.file("bf16.h5"), m, DType::BF16);
  ModelBundle r = load_model(tmp.file("bf16.h5"));
  const Tensor& a = m.tensors.at("bert.embeddings.word_embeddings.weight");
  const Tensor& b = r.tensors.at("bert.embeddings.word_embeddings.weight");
  ASSERT_EQ(b.shape(), a.shape());
  for (int64_t i = 0; i < a.numel(); i += 101) ASSERT_EQ(b.f32()[i], bf16_to_f32(f32_to_bf16(a.f32()[i])));
  EXPECT_LT(test::fs::file_size(tmp.file("bf16.h5")),
            test::fs::file_size(test::kShared + "/models/tweet-bert-mini/model.safetensors") * 0.6);
}

}  // namespace
}  // namespace tern
