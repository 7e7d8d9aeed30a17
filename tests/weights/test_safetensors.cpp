// safetensors reader: real fixtures, every dtype, zero-copy when aligned, and headers that lie.
#include <cmath>

#include "tests/util/test_util.h"
#include "weights/import.h"

namespace tern {
namespace {

using test::ScratchDir;

// header length (u64 LE) + header + data; `pad` spaces make 8 + header length a multiple of 64 when true.
std::string safetensors_bytes(std::string header, const std::string& data, bool align = true) {
  if (align)
    while ((8 + header.size()) % 64 != 0) header += ' ';
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(Safetensors, ReadsEveryDtype) {
  ScratchDir dir;
  std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 1e-20f, -7.0f};  // 24 bytes
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x0001, 0x7bff};        // 8 bytes
  std::vector<uint16_t> bf16 = {0x3f80, 0xc040};                       // 4 bytes
  std::vector<double> f64 = {0.1, -1e300, 2.5};                        // 24 bytes (-1e300 -> -inf)
  std::vector<int64_t> i64 = {-1, 1LL << 40, 7};                       // 24 bytes
  std::vector<int32_t> i32 = {5, -6};                                  // 8 bytes
  std::string data =
      bytes_of(f32) + bytes_of(f16) + bytes_of(bf16) + bytes_of(f64) + bytes_of(i64) + bytes_of(i32);
  std::string header = R"({"__metadata__": {"format": "pt"},
    "a.f32": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b.f16": {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]},
    "c.bf16": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [32, 36]},
    "d.f64": {"dtype": "F64", "shape": [3], "data_offsets": [36, 60]},
    "e.i64": {"dtype": "I64", "shape": [3], "data_offsets": [60, 84]},
    "f.i32": {"dtype": "I32", "shape": [], "data_offsets": [84, 88]},
    "g.empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [88, 88]}})";
  // f.i32 is a scalar: only its first value.
  data = data.substr(0, 88);
  test::write_bytes(dir.file("m.safetensors"), safetensors_bytes(header, data));
  TensorMap t = read_safetensors(dir.file("m.safetensors"));
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t["a.f32"].dtype(), DType::F32);
  EXPECT_EQ(t["a.f32"].shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t["a.f32"].f32()[i], f32[i]);
  ASSERT_EQ(t["b.f16"].dtype(), DType::F16);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t["b.f16"].u16()[i], f16[i]);
  ASSERT_EQ(t["c.bf16"].dtype(), DType::BF16);
  EXPECT_EQ(t["c.bf16"].shape(), (Shape{1, 2}));
  EXPECT_EQ(t["c.bf16"].u16()[1], 0xc040);
  ASSERT_EQ(t["d.f64"].dtype(), DType::F32);
  EXPECT_EQ(t["d.f64"].f32()[0], 0.1f);
  EXPECT_TRUE(std::isinf(t["d.f64"].f32()[1]));
  EXPECT_EQ(t["d.f64"].f32()[2], 2.5f);
  ASSERT_EQ(t["e.i64"].dtype(), DType::I64);
  EXPECT_EQ(t["e.i64"].i64()[1], 1LL << 40);
  ASSERT_EQ(t["f.i32"].dtype(), DType::I32);
  EXPECT_EQ(t["f.i32"].shape(), Shape{});
  EXPECT_EQ(t["f.i32"].i32()[0], 5);
  EXPECT_EQ(t["g.empty"].numel(), 0);
  // Data starts 64-byte aligned: the first float32 tensor is a view of the mapping; the others start at
  // unaligned offsets and are copied into aligned memory.
  EXPECT_FALSE(t["a.f32"].storage()->owned());
  for (const char* n : {"b.f16", "c.bf16", "e.i64", "f.i32"}) {
    EXPECT_TRUE(t[n].storage()->owned()) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t[n].raw()) % 64, 0u) << n;
  }
}

TEST(Safetensors, UnalignedDataIsCopiedAligned) {
  ScratchDir dir;
  std::vector<float> v = {1, 2, 3, 4};
  std::string header = R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})";
  ASSERT_NE((8 + header.size()) % 64, 0u);
  test::write_bytes(dir.file("u.safetensors"), safetensors_bytes(header, bytes_of(v), false));
  Tensor w = read_safetensors(dir.file("u.safetensors")).at("w");
  EXPECT_TRUE(w.storage()->owned());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.raw()) % 64, 0u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(w.f32()[i], v[i]);
}

TEST(Safetensors, TinyFixturesMatchTheirHeaders) {
  // Tensor counts of the headers (python: len(json header) - 1 for __metadata__).
  std::vector<std::pair<std::string, size_t>> counts = {
      {"bert_model", 39},        {"bert_seqcls_single3", 41}, {"bert_seqcls_multi19", 41},
      {"bert_seqcls_regr1", 41}, {"roberta_seqcls3", 41},     {"distilbert_seqcls6", 40}};
  for (const auto& [name, count] : counts) {
    TensorMap t = read_safetensors(test::kTiny + "/" + name + "/model.safetensors");
    EXPECT_EQ(t.size(), count) << name;
    for (const auto& [n, x] : t) EXPECT_EQ(x.dtype(), DType::F32) << n;
  }
  TensorMap b = read_safetensors(test::kTiny + "/bert_seqcls_single3/model.safetensors");
  EXPECT_EQ(b.at("bert.embeddings.word_embeddings.weight").shape(), (Shape{1000, 32}));
  EXPECT_EQ(b.at("classifier.weight").shape(), (Shape{3, 32}));
  EXPECT_EQ(b.at("bert.encoder.layer.1.intermediate.dense.weight").shape(), (Shape{64, 32}));
}

void expect_bad(const std::string& header, const std::string& data, const std::vector<std::string>& needles,
                bool align = true) {
  ScratchDir dir;
  std::string p = dir.file("model.safetensors");
  test::write_bytes(p, safetensors_bytes(header, data, align));
  std::string msg = test::error_of([&] { read_safetensors(p); });
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  for (const auto& n : needles)
    EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nlacks: " << n;
}

TEST(SafetensorsErrors, FileTooShortOrHeaderLengthLies) {
  ScratchDir dir;
  std::string p = dir.file("model.safetensors");
  test::write_bytes(p, "");
  EXPECT_TERN_ERROR(read_safetensors(p), p, "0 bytes", "8-byte header");
  test::write_bytes(p, "abc");
  EXPECT_TERN_ERROR(read_safetensors(p), p, "3 bytes");
  uint64_t n = 5000;
  test::write_bytes(p, std::string(reinterpret_cast<const char*>(&n), 8) + "{}");
  EXPECT_TERN_ERROR(read_safetensors(p), p, "header length 5000 exceeds the file (10 bytes)");
  n = 1000000000000ULL;
  test::write_bytes(p, std::string(reinterpret_cast<const char*>(&n), 8) + "{}");
  EXPECT_TERN_ERROR(read_safetensors(p), p, "absurd");
  test::write_bytes(p, std::string(4096, '\x7f'));  // garbage
  EXPECT_TERN_ERROR(read_safetensors(p), p, "absurd");
  EXPECT_TERN_ERROR(read_safetensors(dir.file("missing.safetensors")), "missing.safetensors", "cannot open");
}

TEST(SafetensorsErrors, InvalidJson) {
  expect_bad(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4])", "abcd", {"not valid JSON"});
  expect_bad("[1, 2, 3]", "", {"not a JSON object"});
  expect_bad(R"({"__metadata__": [1]})", "", {"__metadata__"});
  expect_bad(R"({"w": 5})", "", {"'w'", "not a JSON object"});
}

TEST(SafetensorsErrors, EntriesMissingFields) {
  expect_bad(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", "abcd", {"'w'", "dtype"});
  expect_bad(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", "abcd", {"'w'", "shape"});
  expect_bad(R"({"w": {"dtype": "F32", "shape": [1]}})", "abcd", {"'w'", "data_offsets"});
  expect_bad(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", "abcd",
             {"'w'", "data_offsets"});
  expect_bad(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd",
             {"'w'", "non-negative"});
  expect_bad(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", "abcd",
             {"'w'", "non-negative"});
  expect_bad(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 4]}})", "abcd",
             {"'w'", "data_offsets"});
}

TEST(SafetensorsErrors, UnsupportedDtypeNamesTensorAndDtype) {
  expect_bad(R"({"ok": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                 "scale": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [4, 8]}})",
             "abcdefgh", {"'scale'", "F8_E4M3", "F32, F16, BF16"});
  expect_bad(R"({"mask": {"dtype": "BOOL", "shape": [4], "data_offsets": [0, 4]}})", "abcd",
             {"'mask'", "BOOL"});
}

TEST(SafetensorsErrors, OffsetsThatLie) {
  std::string data(64, '\0');
  expect_bad(R"({"x": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]},
                 "y": {"dtype": "F32", "shape": [2], "data_offsets": [64, 72]}})",
             data, {"tensor 'y' data_offsets [64, 72] exceed the data section (64 bytes)"});
  expect_bad(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 20]}})", data,
             {"'x'", "[0, 20]", "20 bytes", "needs 16"});
  expect_bad(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}})", data, {"'x'", "reversed"});
  expect_bad(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                 "y": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
             data, {"'x' [0, 16]", "'y' [8, 24]", "overlap"});
  // Two names for the very same bytes overlap too.
  expect_bad(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                 "y": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}})",
             data, {"overlap"});
}

TEST(SafetensorsErrors, AbsurdShapeDoesNotAllocate) {
  expect_bad(
      R"({"huge": {"dtype": "F32", "shape": [1000000000000, 1000000000000], "data_offsets": [0, 16]}})",
      std::string(16, '\0'), {"'huge'", "absurd"});
  // Representable but far larger than the file: caught by the offsets, before any allocation.
  expect_bad(R"({"big": {"dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 4000000000000]}})",
             std::string(16, '\0'), {"'big'", "exceed the data section"});
}

TEST(SafetensorsErrors, TruncatedFixtureIsAnError) {
  ScratchDir dir;
  std::string bytes = test::read_bytes(test::kTiny + "/bert_seqcls_single3/model.safetensors");
  for (size_t cut :
       {size_t(4), size_t(8), size_t(100), size_t(4384), size_t(5000), bytes.size() / 2, bytes.size() - 1}) {
    std::string p = dir.file("cut" + std::to_string(cut) + ".safetensors");
    test::write_bytes(p, bytes.substr(0, cut));
    EXPECT_TERN_ERROR(read_safetensors(p), p);
  }
}

}  // namespace
}  // namespace tern
