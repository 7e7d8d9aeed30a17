// TF (Keras 2) tf_model.h5 reader: bit-exact against the safetensors twins, both string styles, split
// attributes, name mapping, and bad files.
#include <hdf5.h>

#include "tests/util/test_util.h"
#include "weights/import.h"

namespace tern {
namespace {

using test::bit_equal;
using test::ScratchDir;

void expect_equal_maps(const TensorMap& tf, const TensorMap& st, const std::string& what) {
  ASSERT_EQ(tf.size(), st.size()) << what;
  for (const auto& [name, t] : st) {
    auto it = tf.find(name);
    ASSERT_NE(it, tf.end()) << what << ": no '" << name << "'";
    EXPECT_TRUE(bit_equal(it->second, t)) << what << ": " << name;
  }
}

TEST(TfH5, EqualsSafetensorsBitExactBothStringStyles) {
  for (const char* model : {"bert_seqcls_single3", "roberta_seqcls3"}) {
    std::string dir = test::kTiny + "/" + model;
    TensorMap st = read_safetensors(dir + "/model.safetensors");
    for (const char* file : {"tf_model.h5", "tf_model_keras212.h5"}) {
      TensorMap tf = read_tf_h5(dir + "/" + file);
      expect_equal_maps(tf, st, std::string(model) + "/" + file);
      for (const auto& [name, t] : tf) EXPECT_TRUE(t.is_contiguous()) << name;
    }
  }
}

TEST(TfH5, NamesAndLayouts) {
  TensorMap b = read_tf_h5(test::kTiny + "/bert_seqcls_single3/tf_model.h5");
  // Dense kernels [in, out] become PyTorch [out, in]; embeddings keep their layout.
  EXPECT_EQ(b.at("classifier.weight").shape(), (Shape{3, 32}));
  EXPECT_EQ(b.at("bert.encoder.layer.0.intermediate.dense.weight").shape(), (Shape{64, 32}));
  EXPECT_EQ(b.at("bert.encoder.layer.0.output.dense.weight").shape(), (Shape{32, 64}));
  EXPECT_EQ(b.at("bert.embeddings.word_embeddings.weight").shape(), (Shape{1000, 32}));
  EXPECT_TRUE(b.count("bert.embeddings.LayerNorm.bias"));
  TensorMap r = read_tf_h5(test::kTiny + "/roberta_seqcls3/tf_model_keras212.h5");
  EXPECT_EQ(r.at("classifier.out_proj.weight").shape(), (Shape{3, 32}));
  EXPECT_TRUE(r.count("classifier.dense.bias"));
  EXPECT_TRUE(r.count("roberta.encoder.layer.1.attention.self.value.weight"));
}

TEST(TfH5, WeightNameMapping) {
  bool tr = false;
  EXPECT_EQ(tf_weight_to_pt_name(
                "tf_bert_for_sequence_classification/bert/encoder/layer_._11/attention/self/query/kernel:0",
                "bert", &tr),
            "bert.encoder.layer.11.attention.self.query.weight");
  EXPECT_TRUE(tr);
  EXPECT_EQ(
      tf_weight_to_pt_name("tf_bert_model/bert/embeddings/position_embeddings/embeddings:0", "bert", &tr),
      "bert.embeddings.position_embeddings.weight");
  EXPECT_FALSE(tr);
  EXPECT_EQ(tf_weight_to_pt_name("m/bert/embeddings/LayerNorm/gamma:0", "bert", &tr),
            "bert.embeddings.LayerNorm.weight");
  EXPECT_EQ(tf_weight_to_pt_name("m/bert/embeddings/LayerNorm/beta:0", "bert", &tr),
            "bert.embeddings.LayerNorm.bias");
  EXPECT_EQ(tf_weight_to_pt_name("m/classifier/kernel:0", "classifier", &tr), "classifier.weight");
  EXPECT_TRUE(tr);
  EXPECT_EQ(tf_weight_to_pt_name("m/distilbert/transformer/layer_._0/ffn/lin1/bias:0", "distilbert", &tr),
            "distilbert.transformer.layer.0.ffn.lin1.bias");
  EXPECT_EQ(tf_weight_to_pt_name("m/outer___bert/encoder/kernel:0", "bert", &tr), "bert.encoder.weight");
  // Saved without the model-name level: the layer name is kept.
  EXPECT_EQ(tf_weight_to_pt_name("bert/pooler/dense/bias:0", "bert", &tr), "bert.pooler.dense.bias");
}

// ---- hand-made Keras-style files ----

void str_array_attr(hid_t obj, const char* name, const std::vector<std::string>& v, bool vlen) {
  hid_t t = H5Tcopy(H5T_C_S1);
  hsize_t n = v.size();
  hid_t s = H5Screate_simple(1, &n, nullptr);
  if (vlen) {
    H5Tset_size(t, H5T_VARIABLE);
    std::vector<const char*> p;
    for (auto& x : v) p.push_back(x.c_str());
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, p.data());
    H5Aclose(a);
  } else {
    size_t w = 1;
    for (auto& x : v) w = std::max(w, x.size());
    H5Tset_size(t, w);
    std::string buf(w * v.size(), '\0');
    for (size_t i = 0; i < v.size(); ++i) std::memcpy(&buf[i * w], v[i].data(), v[i].size());
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, buf.data());
    H5Aclose(a);
  }
  H5Sclose(s);
  H5Tclose(t);
}

void weight(hid_t g, const std::string& path, const Tensor& t) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  hid_t s = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(g, path.c_str(), H5T_IEEE_F32LE, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw());
  H5Dclose(d);
  H5Sclose(s);
  H5Pclose(lcpl);
}

TEST(TfH5, SplitAttributesAndNoPrefix) {
  ScratchDir dir;
  std::string p = dir.file("tf_model.h5");
  Tensor k = test::random_f32({4, 2}, 1), b = test::random_f32({2}, 2), e = test::random_f32({10, 4}, 3);
  {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    str_array_attr(f, "layer_names0", {"bert"}, false);  // split as Keras does past 64512 bytes
    str_array_attr(f, "layer_names1", {"classifier"}, false);
    hid_t g = H5Gcreate2(f, "bert", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    str_array_attr(g, "weight_names0", {"bert/embeddings/word_embeddings/weight:0"}, true);
    str_array_attr(g, "weight_names1", {"bert/pooler/dense/kernel:0"}, true);
    weight(g, "bert/embeddings/word_embeddings/weight:0", e);
    weight(g, "bert/pooler/dense/kernel:0", k);
    H5Gclose(g);
    g = H5Gcreate2(f, "classifier", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    str_array_attr(g, "weight_names", {"tf_x/classifier/bias:0"}, false);
    weight(g, "tf_x/classifier/bias:0", b);
    H5Gclose(g);
    H5Fclose(f);
  }
  TensorMap t = read_tf_h5(p);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_TRUE(bit_equal(t.at("bert.embeddings.word_embeddings.weight"), e));
  EXPECT_TRUE(bit_equal(t.at("bert.pooler.dense.weight"), k.transpose(0, 1).contiguous()));
  EXPECT_TRUE(bit_equal(t.at("classifier.bias"), b));
}

TEST(TfH5Errors, BadFiles) {
  ScratchDir dir;
  EXPECT_TERN_ERROR(read_tf_h5(test::kTiny + "/bert_model/reference.h5"), "reference.h5",
                    "not a Keras / TF weights file");
  EXPECT_TERN_ERROR(read_tf_h5(test::kTiny + "/bert_model/model.safetensors"), "not an HDF5 file");
  test::write_bytes(dir.file("empty.h5"), "");
  EXPECT_TERN_ERROR(read_tf_h5(dir.file("empty.h5")), "empty.h5", "empty");

  std::string p = dir.file("missing_weight.h5");
  {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    str_array_attr(f, "layer_names", {"bert", "ghost"}, false);
    hid_t g = H5Gcreate2(f, "bert", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    str_array_attr(g, "weight_names", {"m/bert/a/kernel:0", "m/bert/b/bias:0"}, false);
    weight(g, "m/bert/a/kernel:0", test::random_f32({2, 3, 4}, 1));
    H5Gclose(g);
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(read_tf_h5(p), p, "m/bert/a/kernel:0", "2-D");
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "bert/m/bert/a/kernel:0", H5P_DEFAULT);
    weight(f, "bert/m/bert/a/kernel:0", test::random_f32({2, 3}, 1));
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(read_tf_h5(p), p, "'m/bert/b/bias:0'", "no dataset");
  {
    hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    weight(f, "bert/m/bert/b/bias:0", test::random_f32({3}, 2));
    H5Fclose(f);
  }
  EXPECT_TERN_ERROR(read_tf_h5(p), p, "'ghost'", "no group");

  // Truncated copies of a real checkpoint.
  std::string bytes = test::read_bytes(test::kTiny + "/roberta_seqcls3/tf_model.h5");
  for (size_t cut : {size_t(10), size_t(3000), bytes.size() / 2, bytes.size() - 10}) {
    std::string q = dir.file("cut" + std::to_string(cut) + ".h5");
    test::write_bytes(q, bytes.substr(0, cut));
    EXPECT_TERN_ERROR(read_tf_h5(q), q);
  }
}

}  // namespace
}  // namespace tern
