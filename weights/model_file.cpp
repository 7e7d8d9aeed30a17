// The tern model file (docs/model-format.md): one HDF5 file, tensors by HF name under /tensors.
#include "weights/model_file.h"
#include "weights/seal.h"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "weights/h5util.h"

namespace tern {

namespace {

constexpr const char* kFormat = "tern-model";
constexpr int64_t kFormatVersion = 1;

bool is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

// An HDF5 link name we can create and read back as one component.
void check_name(const std::string& name, const char* what) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    TERN_FAIL("cannot save " << what << " '" << name << "': names must be non-empty, without '/' or NUL");
}

bool is_finite_all(const Tensor& t) {
  try {
    check_finite("", t, "");
    return true;
  } catch (const Error&) {
    return false;
  }
}

void write_tensors(hid_t file, const char* group, const TensorMap& tensors, std::optional<DType> storage) {
  h5::Handle g = h5::make_group(file, group);
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) TERN_FAIL("cannot save " << group << "/" << name << ": undefined tensor");
    Tensor out = t;
    // The float32 scales of an int8 weight stay float32 (the int8 product is defined with them).
    const size_t sl = std::char_traits<char>::length(kInt8ScaleSuffix);
    const bool int8_scale = name.size() > sl && name.compare(name.size() - sl, sl, kInt8ScaleSuffix) == 0 &&
                            tensors.count(name.substr(0, name.size() - sl)) &&
                            tensors.at(name.substr(0, name.size() - sl)).dtype() == DType::I8;
    if (storage && is_float(t.dtype()) && t.dtype() != *storage && !int8_scale) {
      out = t.to(*storage);
      // float16 tops out at 65504: refuse to turn finite weights into Inf.
      if (!is_finite_all(out) && is_finite_all(t))
        TERN_FAIL("cannot save tensor '" << name << "' as " << dtype_name(*storage)
                                         << ": its values overflow " << dtype_name(*storage)
                                         << "; store it as float32 or bfloat16");
    }
    try {
      h5::write_tensor(g, name, out);
    } catch (const Error& e) {
      TERN_FAIL("writing " << group << "/" << name << " (" << t.describe() << "): " << e.what());
    }
  }
}

void save_impl(const std::string& path, const ModelBundle& m, std::optional<DType> storage) {
  if (storage && !is_float(*storage))
    TERN_FAIL("save_model: storage dtype must be float32, float16 or bfloat16, not " << dtype_name(*storage));
  for (const auto& kv : m.tensors) check_name(kv.first, "tensor");
  for (const auto& kv : m.extra) check_name(kv.first, "extra tensor");
  for (const auto& kv : m.tokenizer_files) check_name(kv.first, "tokenizer file");
  for (const auto& kv : m.metadata) check_name(kv.first, "metadata key");
  try {
    h5::write_atomically(
        path,
        [&](hid_t f) {
          h5::write_string_attr(f, "format", kFormat);
          h5::write_int_attr(f, "format_version", kFormatVersion);
          auto cb = m.metadata.find("created_by");
          h5::write_string_attr(f, "created_by", cb != m.metadata.end() ? cb->second : std::string("tern"));
          h5::write_string_dataset(f, "config_json", m.config_json);
          write_tensors(f, "tensors", m.tensors, storage);
          h5::Handle tok = h5::make_group(f, "tokenizer");
          for (const auto& [name, bytes] : m.tokenizer_files) h5::write_bytes_dataset(tok, name, bytes);
          h5::Handle meta = h5::make_group(f, "metadata");
          for (const auto& [key, value] : m.metadata) h5::write_string_dataset(meta, key, value);
          write_tensors(f, "extra", m.extra, std::nullopt);
        },
        seal::kUserBlock, [](const std::string& tmp) { seal::write(tmp); });
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    TERN_FAIL(path << ": cannot save model: " << msg);
  }
}

// Reads a string stored as a dataset or, failing that, an attribute `name` of `loc`.
std::optional<std::string> read_string_item(hid_t loc, const std::string& name, const std::string& where) {
  if (h5::is_dataset(loc, name)) {
    h5::Handle d = h5::own(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), where + ": cannot open '" + name + "'");
    auto v = h5::read_string_dataset(d, where + ": '" + name + "'");
    if (v.size() != 1) TERN_FAIL(where << ": '" << name << "' holds " << v.size() << " strings, not one");
    return v[0];
  }
  return h5::read_string_attr_opt(loc, name, where);
}

void read_tensor_group(hid_t file, const char* group, const std::string& path, const LoadOptions& opt,
                       const std::shared_ptr<MappedFile>& map, uint64_t fsize, TensorMap& out) {
  if (!h5::exists(file, group)) return;
  h5::Handle g = h5::open_group(file, group, path);
  h5::ReadSpec spec;
  spec.floats_to_f32 = opt.to_f32;
  spec.map = map;
  spec.file_size = fsize;
  for (const std::string& name : h5::list_links(g)) {
    std::string full = std::string(group) == "tensors" ? name : std::string(group) + "/" + name;
    if (!h5::is_dataset(g, name)) TERN_FAIL(path << ": '" << group << "/" << name << "' is not a dataset");
    h5::Handle d =
        h5::own(H5Dopen2(g, name.c_str(), H5P_DEFAULT), path + ": cannot open tensor '" + full + "'");
    Tensor t = h5::read_tensor(d, path, full, spec);
    if (!opt.allow_nonfinite) check_finite(full, t, path);
    drop_file_pages(t);  // the check read every page: give them back until the model reads them again
    out.emplace(name, std::move(t));
  }
}

}  // namespace

namespace {
ModelBundle load_impl(const std::string& path, const LoadOptions& opt);
}  // namespace

void save_model(const std::string& path, const ModelBundle& m) {
  save_impl(path, m, std::nullopt);
}
void save_model(const std::string& path, const ModelBundle& m, DType storage) {
  save_impl(path, m, storage);
}

ModelBundle load_model(const std::string& path, const LoadOptions& opt) {
  ModelBundle b = h5::in_file(path, [&] { return load_impl(path, opt); });
  // HDF5 keeps the blocks it freed on its own free lists for the life of the process (1.6 MB after
  // reading the default model): hand them back to malloc (peak RSS of tern infer, docs/results.md).
  H5garbage_collect();
  return b;
}

namespace {

ModelBundle load_impl(const std::string& path, const LoadOptions& opt) {
  // A file tern wrote carries a sealed header: size and checksum are checked before HDF5 reads it.
  // An HDF5 file without one (written by another tool, see docs/model-format.md) is read as it is.
  if (seal::verify(path) == seal::State::NoSeal) {
    const char* env = std::getenv("TERN_ALLOW_UNSEALED");
    if (!opt.allow_unsealed && !(env && std::string(env) == "1")) {
      const bool hdf5 = H5Fis_hdf5(path.c_str()) > 0;
      H5Eclear2(H5E_DEFAULT);
      if (!hdf5) TERN_FAIL(path << ": is not a tern model (not an HDF5 file, no tern model header)");
      TERN_FAIL(
          path << ": is an HDF5 file but not a tern model (it has no tern model header: not written by tern "
                  "convert / tern train, or its first bytes are damaged). A Hugging Face tf_model.h5 is "
                  "imported with `tern convert`; a plain array file of token ids goes to --input. A model "
                  "written with h5py loads with TERN_ALLOW_UNSEALED=1 (docs/model-format.md)");
    }
  }
  h5::Handle f = h5::open_file(path);
  uint64_t fsize = h5::file_size(path);
  auto format = h5::read_string_attr_opt(f, "format", path);
  if (!format) {
    std::string hint;
    if (H5Aexists(f, "layer_names") > 0)
      hint = "; it looks like a Keras / TF checkpoint: import it with `tern convert`";
    else if (h5::exists(f, "inputs") || h5::exists(f, "outputs"))
      hint = "; it looks like a plain array file";
    H5Eclear2(H5E_DEFAULT);
    TERN_FAIL(path << ": is an HDF5 file but not a tern model (no 'format' attribute)" << hint);
  }
  if (*format != kFormat)
    TERN_FAIL(path << ": is an HDF5 file but not a tern model (format = '" << *format << "', expected '"
                   << kFormat << "')");
  auto version = h5::read_int_attr_opt(f, "format_version", path);
  if (!version) TERN_FAIL(path << ": tern model without a 'format_version' attribute");
  if (*version < 1 || *version > kFormatVersion)
    TERN_FAIL(path << ": tern model format_version " << *version << " is not supported (this tern reads "
                   << kFormatVersion << ")");

  ModelBundle m;
  auto config = read_string_item(f, "config_json", path);
  if (!config) TERN_FAIL(path << ": tern model without 'config_json'");
  m.config_json = std::move(*config);

  if (h5::exists(f, "tokenizer")) {
    h5::Handle g = h5::open_group(f, "tokenizer", path);
    for (const std::string& name : h5::list_links(g)) {
      std::string where = path + ": tokenizer file '" + name + "'";
      h5::Handle d = h5::own(H5Dopen2(g, name.c_str(), H5P_DEFAULT), where + ": cannot open");
      m.tokenizer_files[name] = h5::read_bytes_dataset(d, where);
    }
  }
  if (h5::exists(f, "metadata")) {
    h5::Handle g = h5::open_group(f, "metadata", path);
    std::string where = path + ": metadata";
    for (const std::string& name : h5::list_links(g)) m.metadata[name] = *read_string_item(g, name, where);
    // String attributes of /metadata count too (a user may add them with h5py).
    for (hsize_t i = 0;; ++i) {
      ssize_t n = H5Aget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (n <= 0) break;
      std::string key(static_cast<size_t>(n), '\0');
      H5Aget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, key.data(), key.size() + 1, H5P_DEFAULT);
      if (!m.metadata.count(key)) m.metadata[key] = *h5::read_string_attr_opt(g, key, where);
    }
    H5Eclear2(H5E_DEFAULT);
  }

  if (opt.read_tensors) {
    if (!h5::exists(f, "tensors")) TERN_FAIL(path << ": tern model without a 'tensors' group");
    std::shared_ptr<MappedFile> map;
    if (opt.map_file) {
      map = h5::map_open_file(f, path);
      if (map->size() < fsize) fsize = map->size();
    }
    read_tensor_group(f, "tensors", path, opt, map, fsize, m.tensors);
    read_tensor_group(f, "extra", path, opt, map, fsize, m.extra);
  }
  return m;
}

// Index of the first non-finite element in [0, n), or n. Blocks of a branch-free OR-reduction that the
// compiler vectorises; the exact position is searched only in a bad block.
template <typename Bits, typename IsBad>
size_t first_nonfinite(const Bits* p, size_t n, IsBad bad) {
  constexpr size_t kBlock = 4096;
  for (size_t b = 0; b < n; b += kBlock) {
    size_t e = std::min(n, b + kBlock);
    unsigned any = 0;
    for (size_t i = b; i < e; ++i) any |= bad(p[i]);
    if (any)
      for (size_t i = b; i < e; ++i)
        if (bad(p[i])) return i;
  }
  return n;
}

}  // namespace

bool has_int8_weights(const ModelBundle& m) {
  for (const auto& [name, t] : m.tensors)
    if (t.defined() && t.dtype() == DType::I8) return true;
  return false;
}

void check_finite(const std::string& name, const Tensor& t, const std::string& file) {
  if (!t.defined() || !is_float(t.dtype()) || t.numel() == 0) return;
  Tensor c = t.contiguous();
  size_t n = static_cast<size_t>(c.numel());
  size_t at = n;
  float value = 0;
  if (c.dtype() == DType::F32) {
    const uint32_t* p = static_cast<const uint32_t*>(c.raw());
    at = first_nonfinite(p, n, [](uint32_t u) -> unsigned { return (u & 0x7f800000u) == 0x7f800000u; });
    if (at < n) value = std::bit_cast<float>(p[at]);
  } else if (c.dtype() == DType::F16) {
    const uint16_t* p = c.u16();
    at = first_nonfinite(p, n, [](uint16_t h) -> unsigned { return (h & 0x7c00u) == 0x7c00u; });
    if (at < n) value = f16_to_f32(p[at]);
  } else {
    const uint16_t* p = c.u16();
    at = first_nonfinite(p, n, [](uint16_t h) -> unsigned { return (h & 0x7f80u) == 0x7f80u; });
    if (at < n) value = bf16_to_f32(p[at]);
  }
  if (at == n) return;
  // Position as a multi-index, and how many more there are (error path only).
  Shape idx(c.shape().size());
  size_t rest = at;
  for (size_t d = idx.size(); d-- > 0;) {
    idx[d] = static_cast<int64_t>(rest % static_cast<size_t>(c.shape()[d]));
    rest /= static_cast<size_t>(c.shape()[d]);
  }
  size_t count = 0;
  Tensor f = c.dtype() == DType::F32 ? c : c.to(DType::F32);
  for (size_t i = at; i < n; ++i) count += !std::isfinite(f.f32()[i]);
  std::string pos = "(";
  for (size_t d = 0; d < idx.size(); ++d) pos += (d ? ", " : "") + std::to_string(idx[d]);
  pos += ")";
  TERN_FAIL((file.empty() ? "" : file + ": ")
            << "tensor '" << name << "' " << t.describe() << " holds "
            << (std::isnan(value) ? "NaN"
                : value > 0       ? "+Inf"
                                  : "-Inf")
            << " at " << pos << " ("
            << (count == 1 ? std::string("its only non-finite value")
                           : std::to_string(count) + " non-finite values in all")
            << "); allow_nonfinite / --allow-nonfinite accepts it");
}

}  // namespace tern
