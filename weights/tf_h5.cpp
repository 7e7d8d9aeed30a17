// Hugging Face TF (Keras 2) tf_model.h5 -> PyTorch names and layouts (../shared/fixtures/TF_H5_LAYOUT.md).
// Mirrors transformers' load_tf_weights_from_h5 + convert_tf_weight_name_to_pt_weight_name
// (src/transformers/modeling_tf_utils.py, modeling_tf_pytorch_utils.py).
#include <algorithm>
#include <map>
#include <optional>

#include "weights/h5util.h"
#include "weights/import.h"

namespace tern {

namespace {

// `attr`, or its split form attr0, attr1, ... (Keras splits attributes over 64512 bytes).
std::optional<std::vector<std::string>> read_name_list(hid_t obj, const std::string& attr,
                                                       const std::string& where) {
  if (H5Aexists(obj, attr.c_str()) > 0) return h5::read_string_attr(obj, attr, where);
  H5Eclear2(H5E_DEFAULT);
  std::vector<std::string> all;
  int k = 0;
  for (;; ++k) {
    std::string a = attr + std::to_string(k);
    if (H5Aexists(obj, a.c_str()) <= 0) break;
    auto part = h5::read_string_attr(obj, a, where);
    all.insert(all.end(), part.begin(), part.end());
  }
  H5Eclear2(H5E_DEFAULT);
  if (k == 0) return std::nullopt;
  return all;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
}

}  // namespace

// "tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/kernel:0" in layer group
// "bert" -> "bert.encoder.layer.0.attention.self.query.weight", transpose = true.
std::string tf_weight_to_pt_name(const std::string& weight, const std::string& layer, bool* transpose) {
  std::string s = weight;
  replace_all(s, ":0", "");
  std::vector<std::string> parts = split(s, '/');
  for (size_t i = 1; i + 1 < parts.size(); ++i) {  // "A___B" -> "B" for inner scopes
    size_t p = parts[i].rfind("___");
    if (p != std::string::npos) parts[i] = parts[i].substr(p + 3);
  }
  s.clear();
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "/" : "") + parts[i];
  replace_all(s, "_._", "/");  // "layer_._0" -> "layer/0"
  parts.clear();
  for (std::string& p : split(s, '/'))
    if (!p.empty()) parts.push_back(std::move(p));
  // Level 0 is the Keras model's name scope (tf_bert_for_sequence_classification); names saved without it
  // start with the layer itself and keep it.
  if (parts.size() > 1 && parts[0] != layer) parts.erase(parts.begin());
  if (parts.empty()) TERN_FAIL("empty TF weight name '" << weight << "'");
  std::string& last = parts.back();
  *transpose = last == "kernel";
  if (last == "kernel" || last == "embeddings" || last == "gamma")
    last = "weight";
  else if (last == "beta")
    last = "bias";
  else if (last == "moving_mean")
    last = "running_mean";
  else if (last == "moving_variance")
    last = "running_var";
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "." : "") + parts[i];
  return out;
}

static TensorMap read_tf_h5_impl(const std::string& path) {
  h5::Handle f = h5::open_file(path);
  hid_t root = f;
  h5::Handle model_weights;
  auto layers = read_name_list(root, "layer_names", path);
  if (!layers && h5::is_group(f, "model_weights")) {  // a whole-model save (model.save) keeps them there
    model_weights = h5::open_group(f, "model_weights", path);
    root = model_weights;
    layers = read_name_list(root, "layer_names", path + ": model_weights");
  }
  if (!layers) {
    std::string hint =
        H5Aexists(f, "format") > 0 ? " (it looks like a tern model: load it with load_model)" : "";
    H5Eclear2(H5E_DEFAULT);
    TERN_FAIL(path << ": is an HDF5 file but not a Keras / TF weights file (no 'layer_names' attribute)"
                   << hint);
  }
  std::vector<std::string> groups = *layers;
  if (h5::is_group(root, "top_level_model_weights") &&
      std::find(groups.begin(), groups.end(), "top_level_model_weights") == groups.end())
    groups.push_back("top_level_model_weights");

  h5::ReadSpec spec;
  spec.floats_to_f32 = false;  // keep a float16 checkpoint float16, as safetensors does
  spec.file_size = h5::file_size(path);
  TensorMap out;
  std::map<std::string, std::string> origin;  // PyTorch name -> H5 path, to report duplicates
  for (const std::string& layer : groups) {
    if (!h5::is_group(root, layer))
      TERN_FAIL(path << ": layer '" << layer << "' is listed in layer_names but has no group");
    h5::Handle g = h5::open_group(root, layer, path);
    auto names = read_name_list(g, "weight_names", path + ": group '" + layer + "'");
    if (!names) TERN_FAIL(path << ": group '" << layer << "' has no 'weight_names' attribute");
    for (const std::string& wn : *names) {
      std::string h5path = layer + "/" + wn;
      if (!h5::is_dataset(g, wn))
        TERN_FAIL(path << ": weight '" << wn << "' is listed in group '" << layer << "' but has no dataset");
      h5::Handle d = h5::own(H5Dopen2(g, wn.c_str(), H5P_DEFAULT), path + ": cannot open '" + h5path + "'");
      Tensor t = h5::read_tensor(d, path, h5path, spec);
      bool transpose = false;
      std::string pt = tf_weight_to_pt_name(wn, layer, &transpose);
      if (transpose) {
        if (t.dim() != 2)
          TERN_FAIL(path << ": kernel '" << h5path << "' has shape " << shape_str(t.shape())
                         << "; tern converts only 2-D (Dense) kernels");
        t = t.transpose(0, 1).contiguous();  // Keras Dense kernel [in, out] = PyTorch Linear.weight^T
      }
      auto [it, fresh] = origin.emplace(pt, h5path);
      if (!fresh)
        TERN_FAIL(path << ": '" << h5path << "' and '" << it->second << "' both map to '" << pt << "'");
      out.emplace(pt, std::move(t));
    }
  }
  if (out.empty()) TERN_FAIL(path << ": TF weights file holds no weights");
  return out;
}

TensorMap read_tf_h5(const std::string& path) {
  return h5::in_file(path, [&] { return read_tf_h5_impl(path); });
}

}  // namespace tern
