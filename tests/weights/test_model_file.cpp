// tern model file: save / load round trips, the zero-copy path and its fallback, and every kind of bad file.
#include <hdf5.h>

#include <cmath>
#include <limits>

#include "tests/util/test_util.h"
#include "weights/model_file.h"

// These tests read HDF5 files written without tern's seal (other writers, damaged seals) on purpose; the
// refusal of unsealed files by default is tested in test_seal.cpp.
static const int kAllowUnsealed = setenv("TERN_ALLOW_UNSEALED", "1", 1);

namespace tern {
namespace {

using test::bit_equal;
using test::ScratchDir;

ModelBundle sample_bundle() {
  ModelBundle m;
  m.config_json = R"({"model_type": "bert", "hidden_size": 8, "note": "caf\u00e9 \ud83d\udc26"})";
  m.tensors["bert.embeddings.word_embeddings.weight"] = test::random_f32({50, 8}, 1);
  m.tensors["bert.encoder.layer.0.attention.self.query.weight"] = test::random_f32({8, 8}, 2);
  m.tensors["bert.encoder.layer.0.attention.self.query.bias"] = test::random_f32({8}, 3);
  m.tensors["classifier.bias"] = test::random_f32({3}, 4);  // 12 bytes: the next one is not naturally aligned
  m.tensors["scalar"] = test::random_f32({}, 5);
  m.tensors["empty"] = Tensor::empty({0, 8});
  m.tensors["bert.embeddings.position_ids"] = test::iota_i64({1, 16});
  Tensor i32 = Tensor::empty({5}, DType::I32);
  for (int i = 0; i < 5; ++i) i32.i32()[i] = -i * 1000;
  m.tensors["counts"] = i32;
  m.tokenizer_files["vocab.txt"] = "[PAD]\n[UNK]\nhello\n";
  m.tokenizer_files["merges.txt"] = std::string("#version\0bytes\xff\x80 kept", 21);  // binary-safe
  m.tokenizer_files["empty.json"] = "";
  m.metadata["source"] = "../shared/models/x";
  m.metadata["training"] = R"({"lr": 1e-4, "steps": 50, "text": "ünïcødé"})";
  m.metadata["empty"] = "";
  m.extra["adam.m.classifier.bias"] = test::random_f32({3}, 6);
  m.extra["adam.step"] = test::iota_i64({});
  return m;
}

void expect_same_non_tensors(const ModelBundle& a, const ModelBundle& b) {
  EXPECT_EQ(a.config_json, b.config_json);
  EXPECT_EQ(a.tokenizer_files, b.tokenizer_files);
  EXPECT_EQ(a.metadata, b.metadata);
}

TEST(ModelFile, RoundTripFloat32KeepsEveryByte) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  save_model(dir.file("m.h5"), m);
  for (bool map : {true, false}) {
    LoadOptions opt;
    opt.map_file = map;
    ModelBundle r = load_model(dir.file("m.h5"), opt);
    expect_same_non_tensors(m, r);
    ASSERT_EQ(r.tensors.size(), m.tensors.size());
    for (const auto& [name, t] : m.tensors) {
      ASSERT_TRUE(r.tensors.count(name)) << name;
      EXPECT_TRUE(bit_equal(r.tensors.at(name), t)) << name;
    }
    ASSERT_EQ(r.extra.size(), 2u);
    EXPECT_TRUE(bit_equal(r.extra.at("adam.m.classifier.bias"), m.extra.at("adam.m.classifier.bias")));
    EXPECT_TRUE(bit_equal(r.extra.at("adam.step"), m.extra.at("adam.step")));
  }
  // Nothing but the model is left in the directory (the temporary was renamed).
  EXPECT_EQ(std::distance(test::fs::directory_iterator(dir.path()), test::fs::directory_iterator()), 1);
}

TEST(ModelFile, MappedLoadIsZeroCopyAndAligned) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  save_model(dir.file("m.h5"), m);
  ModelBundle r = load_model(dir.file("m.h5"));
  int views = 0;
  for (const auto& [name, t] : r.tensors) {
    if (t.numel() == 0) continue;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << name;
    EXPECT_FALSE(t.storage()->owned()) << name << " was copied, not mapped";
    views += !t.storage()->owned();
  }
  EXPECT_EQ(views, 7);
  // map_file = false: every tensor owns its memory.
  LoadOptions copy;
  copy.map_file = false;
  for (const auto& [name, t] : load_model(dir.file("m.h5"), copy).tensors)
    EXPECT_TRUE(t.storage()->owned()) << name;
}

TEST(ModelFile, MappedTensorOutlivesBundleAndWritesStayPrivate) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  save_model(dir.file("m.h5"), m);
  const std::string name = "bert.embeddings.word_embeddings.weight";
  Tensor kept;
  {
    ModelBundle r = load_model(dir.file("m.h5"));
    kept = r.tensors.at(name);
  }
  ASSERT_FALSE(kept.storage()->owned());
  EXPECT_TRUE(bit_equal(kept, m.tensors.at(name)));
  kept.f32()[0] += 1.0f;  // an in-place update (training) must not fault nor reach the file
  ModelBundle again = load_model(dir.file("m.h5"));
  EXPECT_TRUE(bit_equal(again.tensors.at(name), m.tensors.at(name)));
}

TEST(ModelFile, Float16StorageRoundTrip) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  save_model(dir.file("m16.h5"), m, DType::F16);
  LoadOptions keep;
  keep.to_f32 = false;
  ModelBundle r16 = load_model(dir.file("m16.h5"), keep);
  ModelBundle r32 = load_model(dir.file("m16.h5"));
  for (const auto& [name, t] : m.tensors) {
    const Tensor& a = r16.tensors.at(name);
    const Tensor& b = r32.tensors.at(name);
    if (t.dtype() != DType::F32) {
      EXPECT_TRUE(bit_equal(a, t)) << name << ": integers are never converted";
      continue;
    }
    ASSERT_EQ(a.dtype(), DType::F16) << name;
    ASSERT_EQ(b.dtype(), DType::F32) << name;
    EXPECT_FALSE(a.storage()->owned() && a.numel() > 0) << name << ": float16 kept as stored is mapped";
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint16_t h = f32_to_f16(t.f32()[i]);
      ASSERT_EQ(a.u16()[i], h) << name << "[" << i << "]";
      ASSERT_EQ(b.f32()[i], f16_to_f32(h)) << name << "[" << i << "]";
    }
  }
  // Optimizer state keeps its own dtype.
  EXPECT_TRUE(bit_equal(r32.extra.at("adam.m.classifier.bias"), m.extra.at("adam.m.classifier.bias")));
  save_model(dir.file("m32.h5"), m);
  m.tensors["bert.embeddings.word_embeddings.weight"] = test::random_f32({500, 8}, 1);
  save_model(dir.file("big16.h5"), m, DType::F16);
  save_model(dir.file("big32.h5"), m);
  EXPECT_LT(test::fs::file_size(dir.file("big16.h5")) + 7000, test::fs::file_size(dir.file("big32.h5")))
      << "float16 storage should take half the bytes of the 16000-byte embedding";

  // A real HDF5 IEEE half type (what h5py maps to numpy float16).
  hid_t f = H5Fopen(dir.file("m16.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dopen2(f, "tensors/bert.encoder.layer.0.attention.self.query.weight", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  size_t spos, epos, esize, mpos, msize;
  H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
  EXPECT_EQ(H5Tget_class(t), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(t), 2u);
  EXPECT_EQ(H5Tget_ebias(t), 15u);
  EXPECT_EQ(spos, 15u);
  EXPECT_EQ(epos, 10u);
  EXPECT_EQ(esize, 5u);
  EXPECT_EQ(msize, 10u);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(ModelFile, BFloat16StorageRoundTrip) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  m.tensors["big"] = Tensor::from_data(std::vector<float>{1e30f, -3e38f, 1e-30f, 0.0f}.data(), {4});
  save_model(dir.file("mbf.h5"), m, DType::BF16);
  LoadOptions keep;
  keep.to_f32 = false;
  ModelBundle rb = load_model(dir.file("mbf.h5"), keep);
  ModelBundle r32 = load_model(dir.file("mbf.h5"));
  for (const auto& [name, t] : m.tensors) {
    if (t.dtype() != DType::F32) continue;
    ASSERT_EQ(rb.tensors.at(name).dtype(), DType::BF16) << name;
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint16_t b = f32_to_bf16(t.f32()[i]);
      ASSERT_EQ(rb.tensors.at(name).u16()[i], b) << name;
      ASSERT_EQ(r32.tensors.at(name).f32()[i], bf16_to_f32(b)) << name;
    }
  }
  hid_t f = H5Fopen(dir.file("mbf.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "tensors/big", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  size_t spos, epos, esize, mpos, msize;
  H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
  EXPECT_EQ(H5Tget_size(t), 2u);
  EXPECT_EQ(H5Tget_ebias(t), 127u);
  EXPECT_EQ(epos, 7u);
  EXPECT_EQ(esize, 8u);
  EXPECT_EQ(msize, 7u);
  EXPECT_GT(H5Aexists(d, "dtype"), 0);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(ModelFile, Float16OverflowIsRefusedNotTurnedIntoInf) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  m.tensors["huge"] = Tensor::from_data(std::vector<float>{1.0f, 70000.0f}.data(), {2});
  EXPECT_TERN_ERROR(save_model(dir.file("m.h5"), m, DType::F16), "huge", "overflow", "float16");
  EXPECT_FALSE(test::fs::exists(dir.file("m.h5")));
  EXPECT_EQ(std::distance(test::fs::directory_iterator(dir.path()), test::fs::directory_iterator()), 0)
      << "the temporary file was left behind";
}

TEST(ModelFile, FailedSaveLeavesTheOldFile) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  save_model(dir.file("m.h5"), m);
  std::string before = test::read_bytes(dir.file("m.h5"));
  ModelBundle bad = m;
  bad.tensors["broken"] = Tensor();
  EXPECT_TERN_ERROR(save_model(dir.file("m.h5"), bad), "broken");
  bad = m;
  bad.tensors["a/b"] = test::random_f32({2}, 9);
  EXPECT_TERN_ERROR(save_model(dir.file("m.h5"), bad), "a/b");
  bad = m;
  bad.config_json = std::string("{\0}", 3);
  EXPECT_TERN_ERROR(save_model(dir.file("m.h5"), bad), "NUL");
  EXPECT_EQ(test::read_bytes(dir.file("m.h5")), before);
  EXPECT_EQ(std::distance(test::fs::directory_iterator(dir.path()), test::fs::directory_iterator()), 1);
  EXPECT_TERN_ERROR(save_model(dir.file("no/such/dir/m.h5"), m), "no/such/dir/m.h5");
}

TEST(ModelFile, NonContiguousTensorIsSavedInLogicalOrder) {
  ScratchDir dir;
  ModelBundle m;
  m.config_json = "{}";
  Tensor t = test::random_f32({3, 5}, 11);
  m.tensors["t"] = t.transpose(0, 1);
  save_model(dir.file("m.h5"), m);
  Tensor r = load_model(dir.file("m.h5")).tensors.at("t");
  ASSERT_EQ(r.shape(), (Shape{5, 3}));
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(r.f32()[i * 3 + j], t.f32()[j * 5 + i]);
}

TEST(ModelFile, ReadTensorsFalseReadsOnlyTheRest) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  save_model(dir.file("m.h5"), m);
  LoadOptions opt;
  opt.read_tensors = false;
  ModelBundle r = load_model(dir.file("m.h5"), opt);
  expect_same_non_tensors(m, r);
  EXPECT_TRUE(r.tensors.empty());
  EXPECT_TRUE(r.extra.empty());
}

// ---- files written by other HDF5 writers (h5py-like): fallback paths ----

void write_dataset(hid_t loc, const char* name, hid_t ftype, hid_t mtype, const Shape& shape,
                   const void* data, hid_t dcpl = H5P_DEFAULT) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t s = shape.empty() ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0) << name;
  if (data) {
    ASSERT_GE(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  }
  H5Dclose(d);
  H5Sclose(s);
}

void write_str_attr(hid_t obj, const char* name, const char* value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, std::strlen(value));  // fixed-length, as h5py writes np.bytes_
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, value);
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
}

// A tern model written without 64-byte alignment, with a big-endian and a compressed tensor, fixed-length
// string attributes and config_json as an attribute (all legal per docs/model-format.md).
hid_t begin_foreign_model(const std::string& path, int64_t version = 1, const char* format = "tern-model") {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  write_str_attr(f, "format", format);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "format_version", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
  int32_t v = static_cast<int32_t>(version);
  H5Awrite(a, H5T_NATIVE_INT32, &v);
  H5Aclose(a);
  H5Sclose(s);
  write_str_attr(f, "config_json", "{\"model_type\": \"bert\"}");
  return f;
}

TEST(ModelFile, ForeignWriterFallsBackToReading) {
  ScratchDir dir;
  std::string path = dir.file("foreign.h5");
  Tensor a = test::random_f32({3}, 1), b = test::random_f32({7, 5}, 2), c = test::random_f32({33, 4}, 3);
  {
    hid_t f = begin_foreign_model(path);
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_dataset(g, "a", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, a.shape(), a.raw());
    write_dataset(g, "b", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, b.shape(), b.raw());
    write_dataset(g, "big_endian", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, c.shape(), c.raw());
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {8, 4};
    H5Pset_chunk(dcpl, 2, chunk);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) H5Pset_deflate(dcpl, 4);
    write_dataset(g, "chunked", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, c.shape(), c.raw(), dcpl);
    double d64[3] = {1.5, -2.25, 1e-3};
    write_dataset(g, "f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {3}, d64);
    H5Pclose(dcpl);
    H5Gclose(g);
    H5Fclose(f);
  }
  ModelBundle r = load_model(path);
  EXPECT_EQ(r.config_json, "{\"model_type\": \"bert\"}");
  EXPECT_TRUE(bit_equal(r.tensors.at("a"), a));
  EXPECT_TRUE(bit_equal(r.tensors.at("b"), b));
  EXPECT_TRUE(bit_equal(r.tensors.at("big_endian"), c));
  EXPECT_TRUE(bit_equal(r.tensors.at("chunked"), c));
  EXPECT_TRUE(r.tensors.at("big_endian").storage()->owned());
  EXPECT_TRUE(r.tensors.at("chunked").storage()->owned());
  EXPECT_EQ(r.tensors.at("f64").f32()[1], -2.25f);
  // Without alignment some contiguous tensor starts off a 64-byte boundary: it must be copied, aligned.
  int copied = 0;
  for (const char* n : {"a", "b"}) {
    const Tensor& t = r.tensors.at(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << n;
    copied += t.storage()->owned();
  }
  EXPECT_GE(copied, 1) << "expected an unaligned dataset in an unaligned file";
}

// ---- bad files ----

TEST(ModelFileErrors, MissingEmptyGarbage) {
  ScratchDir dir;
  EXPECT_TERN_ERROR(load_model(dir.file("nope.h5")), dir.file("nope.h5"), "cannot open");
  test::write_bytes(dir.file("empty.h5"), "");
  EXPECT_TERN_ERROR(load_model(dir.file("empty.h5")), dir.file("empty.h5"), "empty");
  test::write_bytes(dir.file("garbage.h5"), std::string(5000, 'x') + "\x89HDF");
  EXPECT_TERN_ERROR(load_model(dir.file("garbage.h5")), dir.file("garbage.h5"), "not an HDF5 file");
  EXPECT_TERN_ERROR(load_model(dir.path().string()), "directory");
  EXPECT_TERN_ERROR(load_model(test::kTiny + "/bert_model/model.safetensors"), "not an HDF5 file");
}

TEST(ModelFileErrors, HDF5FilesThatAreNotTernModels) {
  EXPECT_TERN_ERROR(load_model(test::kTiny + "/bert_model/reference.h5"), "reference.h5",
                    "is an HDF5 file but not a tern model");
  EXPECT_TERN_ERROR(load_model(test::kTiny + "/bert_seqcls_single3/tf_model.h5"),
                    "is an HDF5 file but not a tern model", "Keras");
  ScratchDir dir;
  hid_t f = begin_foreign_model(dir.file("other.h5"), 1, "something-else");
  H5Fclose(f);
  EXPECT_TERN_ERROR(load_model(dir.file("other.h5")), "not a tern model", "something-else");
  f = begin_foreign_model(dir.file("future.h5"), 2);
  H5Fclose(f);
  EXPECT_TERN_ERROR(load_model(dir.file("future.h5")), "future.h5", "format_version 2");
  f = begin_foreign_model(dir.file("notensors.h5"));
  H5Fclose(f);
  EXPECT_TERN_ERROR(load_model(dir.file("notensors.h5")), "tensors");
  LoadOptions meta_only;
  meta_only.read_tensors = false;
  EXPECT_NO_THROW(load_model(dir.file("notensors.h5"), meta_only));
}

TEST(ModelFileErrors, TruncatedAtAnyPointIsAnError) {
  ScratchDir dir;
  ModelBundle m = sample_bundle();
  m.tensors["bert.embeddings.word_embeddings.weight"] = test::random_f32({400, 32}, 1);
  save_model(dir.file("m.h5"), m);
  std::string bytes = test::read_bytes(dir.file("m.h5"));
  size_t n = bytes.size();
  for (size_t cut :
       {size_t(1), size_t(8), size_t(100), size_t(1000), n / 3, n / 2, n - 4096, n - 100, n - 1}) {
    std::string p = dir.file("cut_" + std::to_string(cut) + ".h5");
    test::write_bytes(p, bytes.substr(0, cut));
    for (bool map : {true, false}) {
      LoadOptions opt;
      opt.map_file = map;
      EXPECT_TERN_ERROR(load_model(p, opt), p);
    }
  }
  std::string p = dir.file("cut_half.h5");
  test::write_bytes(p, bytes.substr(0, n / 2));
  EXPECT_TERN_ERROR(load_model(p), "truncated");
}

// A truncated file whose superblock was patched to the cut length, so that HDF5 itself opens it and reads
// its metadata (kept in one block at the start): tern's own bounds check must reject tensor data past the
// end of the file rather than map it (a fault) or read it.
TEST(ModelFileErrors, TruncatedWithPatchedSuperblockNeverFaults) {
  ScratchDir dir;
  std::string path = dir.file("m.h5");
  Tensor big = test::random_f32({256, 256}, 2);
  haddr_t offset = 0;
  {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_meta_block_size(fapl, 1 << 20);
    H5Pset_alignment(fapl, 0, 64);
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    write_str_attr(f, "format", "tern-model");
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format_version", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int64_t v = 1;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Sclose(s);
    write_str_attr(f, "config_json", "{}");
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_dataset(g, "z_large", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, big.shape(), big.raw());
    hid_t d = H5Dopen2(g, "z_large", H5P_DEFAULT);
    offset = H5Dget_offset(d);
    H5Dclose(d);
    H5Gclose(g);
    H5Fclose(f);
    H5Pclose(fapl);
  }
  std::string bytes = test::read_bytes(path);
  ASSERT_EQ(bytes.substr(0, 8), std::string("\x89HDF\r\n\x1a\n", 8));
  ASSERT_EQ(bytes[8], 0) << "expected superblock version 0 (earliest file format)";
  ASSERT_NE(offset, HADDR_UNDEF);
  ASSERT_EQ(offset + big.nbytes(), bytes.size()) << "expected the tensor data at the end of the file";
  EXPECT_TRUE(bit_equal(load_model(path).tensors.at("z_large"), big));  // the untouched file is fine
  for (size_t cut :
       {size_t(offset + 1000), size_t(offset + big.nbytes() - 4), size_t(offset + big.nbytes() - 1)}) {
    std::string b = bytes.substr(0, cut);
    uint64_t eof = cut;
    std::memcpy(b.data() + 40, &eof, 8);  // superblock v0: end-of-file address at byte 40
    std::string p = dir.file("patched_" + std::to_string(cut) + ".h5");
    test::write_bytes(p, b);
    for (bool map : {true, false}) {
      LoadOptions opt;
      opt.map_file = map;
      EXPECT_TERN_ERROR(load_model(p, opt), p, "'z_large'", "beyond the end of the file");
    }
  }
}

TEST(ModelFileErrors, NaNAndInfNameTheTensor) {
  ScratchDir dir;
  for (DType storage : {DType::F32, DType::F16, DType::BF16}) {
    ModelBundle m = sample_bundle();
    Tensor w = test::random_f32({4, 6}, 3);
    w.f32()[1 * 6 + 2] = std::numeric_limits<float>::quiet_NaN();
    w.f32()[3 * 6 + 5] = std::numeric_limits<float>::quiet_NaN();
    m.tensors["bert.pooler.dense.weight"] = w;
    Tensor b = test::random_f32({6}, 4);
    b.f32()[4] = -std::numeric_limits<float>::infinity();
    m.extra["adam.v.bias"] = b;
    std::string p = dir.file(std::string("nan_") + dtype_name(storage) + ".h5");
    save_model(p, m, storage);
    EXPECT_TERN_ERROR(load_model(p), p, "bert.pooler.dense.weight", "NaN", "(1, 2)", "2 non-finite");
    LoadOptions keep;
    keep.to_f32 = false;
    EXPECT_TERN_ERROR(load_model(p, keep), "bert.pooler.dense.weight", "NaN");
    LoadOptions allow;
    allow.allow_nonfinite = true;
    ModelBundle r = load_model(p, allow);
    EXPECT_TRUE(std::isnan(r.tensors.at("bert.pooler.dense.weight").f32()[8]));
    EXPECT_TRUE(std::isinf(r.extra.at("adam.v.bias").f32()[4]));
    // The extra group is checked too.
    m.tensors["bert.pooler.dense.weight"] = test::random_f32({4, 6}, 3);
    save_model(p, m, storage);
    EXPECT_TERN_ERROR(load_model(p), "adam.v.bias", "-Inf", "(4)");
  }
}

TEST(ModelFileErrors, CheckFiniteFindsTheFirstBadValueAnywhere) {
  Tensor t = Tensor::zeros({3, 5000});
  EXPECT_NO_THROW(check_finite("t", t, "f.h5"));
  for (int64_t at : {int64_t(0), int64_t(4095), int64_t(4096), int64_t(14999)}) {
    Tensor u = t.clone();
    u.f32()[at] = std::numeric_limits<float>::infinity();
    std::string pos = "(" + std::to_string(at / 5000) + ", " + std::to_string(at % 5000) + ")";
    EXPECT_TERN_ERROR(check_finite("t", u, "f.h5"), "f.h5", "'t'", "+Inf", pos);
  }
  Tensor h = Tensor::zeros({10}, DType::F16);
  h.u16()[7] = 0x7c00;
  EXPECT_TERN_ERROR(check_finite("h", h, ""), "+Inf", "(7)");
  Tensor ints = test::iota_i64({10});
  EXPECT_NO_THROW(check_finite("ints", ints, ""));
}

TEST(ModelFileErrors, AbsurdShapesAreRejectedBeforeAllocating) {
  ScratchDir dir;
  std::string p = dir.file("absurd.h5");
  {
    hid_t f = begin_foreign_model(p);
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    // 10^12 x 10^12 floats in chunks that were never written: HDF5 accepts it, a reader must not allocate.
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {16, 16};
    H5Pset_chunk(dcpl, 2, chunk);
    write_dataset(g, "huge", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1000000000000, 1000000000000}, nullptr, dcpl);
    H5Pclose(dcpl);
    H5Gclose(g);
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(load_model(p), p, "'huge'", "absurd shape");
  std::string p2 = dir.file("big.h5");
  {
    hid_t f = begin_foreign_model(p2);
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {16, 16};
    H5Pset_chunk(dcpl, 2, chunk);
    write_dataset(g, "terabytes", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1000000, 1000000}, nullptr, dcpl);
    H5Pclose(dcpl);
    // Contiguous, never written: no data at all.
    write_dataset(g, "unwritten", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1000, 1000}, nullptr);
    H5Gclose(g);
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(load_model(p2), "'terabytes'", "memory");
}

TEST(ModelFileErrors, UnsupportedDtypesNameTheTensor) {
  ScratchDir dir;
  std::string p = dir.file("dtypes.h5");
  {
    hid_t f = begin_foreign_model(p);
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    uint8_t bytes[4] = {1, 2, 3, 4};
    write_dataset(g, "bytes", H5T_STD_U8LE, H5T_NATIVE_UINT8, {4}, bytes);
    H5Gclose(g);
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(load_model(p), p, "'bytes'", "unsupported dtype uint8");
  std::string q = dir.file("unwritten.h5");
  {
    hid_t f = begin_foreign_model(q);
    hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    write_dataset(g, "unwritten", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1000, 1000}, nullptr);
    H5Gclose(g);
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(load_model(q), "'unwritten'", "no data");
}

}  // namespace
}  // namespace tern
