// Plain HDF5 array files for the CLI: the fixtures' reference.h5 and round trips of write_h5_arrays.
#include <hdf5.h>

#include "tests/util/test_util.h"
#include "weights/h5_arrays.h"
#include "weights/import.h"

namespace tern {
namespace {

using test::bit_equal;
using test::ScratchDir;

const std::string kRef = test::kTiny + "/bert_seqcls_single3/reference.h5";

TEST(H5Arrays, ReadsFixtureInputsAsInt64AndOutputsAsFloat32) {
  TensorMap in = read_h5_arrays(kRef, {"input_ids", "attention_mask", "token_type_ids", "lengths"}, "inputs");
  ASSERT_EQ(in.size(), 4u);
  const Tensor& ids = in.at("input_ids");
  EXPECT_EQ(ids.dtype(), DType::I64);
  EXPECT_EQ(ids.shape(), (Shape{4, 64}));
  const Tensor& len = in.at("lengths");
  EXPECT_EQ(len.shape(), (Shape{4}));
  // Lengths 64/23/9/2 with right padding: the mask sums to the lengths.
  for (int b = 0; b < 4; ++b) {
    int64_t s = 0;
    for (int t = 0; t < 64; ++t) s += in.at("attention_mask").i64()[b * 64 + t];
    EXPECT_EQ(s, len.i64()[b]);
  }
  EXPECT_EQ(len.i64()[0], 64);
  EXPECT_EQ(len.i64()[3], 2);

  TensorMap out =
      read_h5_arrays(kRef, {{"outputs/logits", 2, H5Kind::Float}, {"train/loss", 0, H5Kind::Float}});
  EXPECT_EQ(out.at("outputs/logits").shape(), (Shape{4, 3}));
  EXPECT_EQ(out.at("outputs/logits").dtype(), DType::F32);
  EXPECT_EQ(out.at("train/loss").dim(), 0);
  // Leading / trailing slashes in the group are fine.
  EXPECT_EQ(read_h5_arrays(kRef, {"logits"}, "/outputs/").at("logits").shape(), (Shape{4, 3}));
}

TEST(H5Arrays, ReadGroupHasEveryGradient) {
  TensorMap grads = read_h5_group(kRef, "grads");
  TensorMap params = read_safetensors(test::kTiny + "/bert_seqcls_single3/model.safetensors");
  ASSERT_EQ(grads.size(), params.size());
  for (const auto& [name, p] : params) {
    ASSERT_TRUE(grads.count(name)) << name;
    EXPECT_EQ(grads.at(name).shape(), p.shape()) << name;
  }
  TensorMap root = read_h5_group(kRef);  // only datasets directly at the root
  ASSERT_EQ(root.size(), 1u);
  EXPECT_TRUE(root.count("labels"));
}

TEST(H5Arrays, OptionalMissingIsSkipped) {
  TensorMap t = read_h5_arrays(kRef, {"input_ids", "no_such_thing"}, "inputs", false);
  EXPECT_EQ(t.size(), 1u);
}

TEST(H5ArraysErrors, NameFileAndDataset) {
  EXPECT_TERN_ERROR(read_h5_arrays(kRef, {"input_idz"}, "inputs"), kRef, "'inputs/input_idz'", "input_ids");
  EXPECT_TERN_ERROR(read_h5_arrays(kRef, {"x"}, "nope"), kRef, "no group 'nope'");
  EXPECT_TERN_ERROR(read_h5_arrays(kRef, {"inputs"}), "'inputs' is a group");
  EXPECT_TERN_ERROR(read_h5_arrays(kRef, {{"input_ids", 3, H5Kind::Int}}, "inputs"), kRef,
                    "'inputs/input_ids'", "rank 2", "(4, 64)", "expected rank 3");
  EXPECT_TERN_ERROR(read_h5_arrays(kRef, {{"input_ids", 2, H5Kind::Float}}, "inputs"), "'inputs/input_ids'",
                    "int64", "floating-point");
  EXPECT_TERN_ERROR(read_h5_arrays(kRef, {{"logits", -1, H5Kind::Int}}, "outputs"), "'outputs/logits'",
                    "float32", "integer");
  EXPECT_TERN_ERROR(read_h5_arrays(test::kTiny + "/bert_model/model.safetensors", {"x"}), "not an HDF5 file");
  EXPECT_TERN_ERROR(read_h5_arrays("no/such/file.h5", {"x"}), "no/such/file.h5", "cannot open");
}

TEST(H5Arrays, WriteReadRoundTrip) {
  ScratchDir dir;
  TensorMap t;
  t["logits"] = test::random_f32({4, 3}, 1);
  t["outputs/hidden_states_0"] = test::random_f32({2, 5, 8}, 2);
  t["ids"] = test::iota_i64({2, 7});
  Tensor i32 = Tensor::empty({3}, DType::I32);
  for (int i = 0; i < 3; ++i) i32.i32()[i] = 100 - i;
  t["ids32"] = i32;
  t["scalar"] = test::random_f32({}, 3);
  std::string p = dir.file("out.h5");
  write_h5_arrays(p, t, {{"model", "tweet-bert-mini"}, {"created_by", "tern forward"}});
  TensorMap r = read_h5_arrays(p, {"logits", "outputs/hidden_states_0", "ids", "ids32", "scalar"});
  EXPECT_TRUE(bit_equal(r.at("logits"), t.at("logits")));
  EXPECT_TRUE(bit_equal(r.at("outputs/hidden_states_0"), t.at("outputs/hidden_states_0")));
  EXPECT_TRUE(bit_equal(r.at("ids"), t.at("ids")));
  EXPECT_TRUE(bit_equal(r.at("scalar"), t.at("scalar")));
  ASSERT_EQ(r.at("ids32").dtype(), DType::I64);  // ids always come back as int64
  EXPECT_EQ(r.at("ids32").i64()[2], 98);
  EXPECT_EQ(read_h5_group(p, "outputs").size(), 1u);

  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_GT(H5Aexists(f, "model"), 0);
  hid_t d = H5Dopen2(f, "ids", H5P_DEFAULT);
  hid_t ty = H5Dget_type(d);
  EXPECT_GT(H5Tequal(ty, H5T_STD_I64LE), 0);
  H5Tclose(ty);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(H5Arrays, Float16DatasetsAreReadAsFloat32) {
  ScratchDir dir;
  Tensor h = Tensor::empty({3}, DType::F16);
  h.u16()[0] = 0x3c00, h.u16()[1] = 0xc100, h.u16()[2] = 0x0000;
  write_h5_arrays(dir.file("h.h5"), {{"h", h}});
  Tensor r = read_h5_arrays(dir.file("h.h5"), {"h"}).at("h");
  ASSERT_EQ(r.dtype(), DType::F32);
  EXPECT_EQ(r.f32()[0], 1.0f);
  EXPECT_EQ(r.f32()[1], -2.5f);
}

// h5py writes numpy bool as an int8 enum {FALSE, TRUE}; an attention mask may come that way.
TEST(H5Arrays, BoolEnumMaskIsReadAsInt64) {
  ScratchDir dir;
  std::string p = dir.file("mask.h5");
  {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v0 = 0, v1 = 1;
    H5Tenum_insert(t, "FALSE", &v0);
    H5Tenum_insert(t, "TRUE", &v1);
    hsize_t n = 5;
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "attention_mask", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int8_t data[5] = {1, 1, 0, 1, 0};
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
  }
  Tensor m = read_h5_arrays(p, {{"attention_mask", 1, H5Kind::Int}}).at("attention_mask");
  ASSERT_EQ(m.dtype(), DType::I64);
  std::vector<int64_t> got(m.i64(), m.i64() + 5);
  EXPECT_EQ(got, (std::vector<int64_t>{1, 1, 0, 1, 0}));
}

TEST(H5ArraysErrors, FailedWriteKeepsTheOldFile) {
  ScratchDir dir;
  std::string p = dir.file("out.h5");
  write_h5_arrays(p, {{"a", test::random_f32({2}, 1)}});
  std::string before = test::read_bytes(p);
  EXPECT_TERN_ERROR(write_h5_arrays(p, {{"a", test::random_f32({2}, 2)}, {"b", Tensor()}}), p, "'b'");
  EXPECT_TERN_ERROR(write_h5_arrays(p, {{"/abs", test::random_f32({2}, 2)}}), "'/abs'");
  // "a" as a dataset and as a group at once: HDF5 refuses, mid-write.
  EXPECT_TERN_ERROR(write_h5_arrays(p, {{"a", test::random_f32({2}, 2)}, {"a/b", test::random_f32({2}, 3)}}),
                    p, "a/b");
  EXPECT_EQ(test::read_bytes(p), before);
  EXPECT_EQ(std::distance(test::fs::directory_iterator(dir.path()), test::fs::directory_iterator()), 1);
  EXPECT_TERN_ERROR(write_h5_arrays(dir.file("missing/out.h5"), {{"a", test::random_f32({2}, 1)}}),
                    "missing/out.h5");
}

}  // namespace
}  // namespace tern
