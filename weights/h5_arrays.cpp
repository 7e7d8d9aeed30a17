#include "weights/h5_arrays.h"

#include "weights/h5util.h"

namespace tern {

namespace {

std::string join_path(const std::string& group, const std::string& name) {
  return group.empty() ? name : group + "/" + name;
}

std::string normalise_group(const std::string& g) {
  std::string s = g;
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// "(it holds: a, b, c, ...)" for a missing-dataset error.
std::string holdings(hid_t loc) {
  std::vector<std::string> names = h5::list_links(loc);
  if (names.empty()) return " (the group is empty)";
  std::string s = " (it holds: ";
  for (size_t i = 0; i < names.size() && i < 12; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 12) s += ", ... " + std::to_string(names.size() - 12) + " more";
  return s + ")";
}

Tensor read_one(hid_t d, const std::string& path, const std::string& full, H5Kind kind, uint64_t fsize) {
  h5::ReadSpec rs;
  rs.floats_to_f32 = true;
  rs.ints_to_i64 = true;
  rs.ints_allowed = kind != H5Kind::Float;
  rs.floats_allowed = kind != H5Kind::Int;
  rs.noun = "dataset";
  rs.file_size = fsize;
  return h5::read_tensor(d, path, full, rs);
}

}  // namespace

TensorMap read_h5_arrays(const std::string& path, const std::vector<H5ArraySpec>& specs,
                         const std::string& group) {
  return h5::in_file(path, [&] {
    h5::Handle f = h5::open_file(path);
    uint64_t fsize = h5::file_size(path);
    std::string gname = normalise_group(group);
    h5::Handle g;
    hid_t base = f;
    if (!gname.empty()) {
      if (!h5::is_group(f, gname)) TERN_FAIL(path << ": has no group '" << gname << "'" << holdings(f));
      g = h5::open_group(f, gname, path);
      base = g;
    }
    TensorMap out;
    for (const H5ArraySpec& s : specs) {
      std::string full = join_path(gname, s.name);
      if (!h5::exists(base, s.name) || !h5::is_dataset(base, s.name)) {
        if (!s.required) continue;
        if (h5::exists(base, s.name)) TERN_FAIL(path << ": '" << full << "' is a group, not a dataset");
        TERN_FAIL(path << ": has no dataset '" << full << "'" << holdings(base));
      }
      h5::Handle d =
          h5::own(H5Dopen2(base, s.name.c_str(), H5P_DEFAULT), path + ": cannot open dataset '" + full + "'");
      Tensor t = read_one(d, path, full, s.kind, fsize);
      if (s.rank >= 0 && t.dim() != s.rank)
        TERN_FAIL(path << ": dataset '" << full << "' has rank " << t.dim() << " (shape "
                       << shape_str(t.shape()) << "), expected rank " << s.rank);
      out[s.name] = std::move(t);
    }
    return out;
  });
}

TensorMap read_h5_arrays(const std::string& path, const std::vector<std::string>& names,
                         const std::string& group, bool required) {
  std::vector<H5ArraySpec> specs;
  for (const std::string& n : names) specs.push_back({n, -1, H5Kind::Any, required});
  return read_h5_arrays(path, specs, group);
}

TensorMap read_h5_group(const std::string& path, const std::string& group) {
  return h5::in_file(path, [&] {
    h5::Handle f = h5::open_file(path);
    uint64_t fsize = h5::file_size(path);
    std::string gname = normalise_group(group);
    h5::Handle g;
    hid_t base = f;
    if (!gname.empty()) {
      if (!h5::is_group(f, gname)) TERN_FAIL(path << ": has no group '" << gname << "'" << holdings(f));
      g = h5::open_group(f, gname, path);
      base = g;
    }
    TensorMap out;
    for (const std::string& name : h5::list_links(base)) {
      if (!h5::is_dataset(base, name)) continue;
      std::string full = join_path(gname, name);
      h5::Handle d =
          h5::own(H5Dopen2(base, name.c_str(), H5P_DEFAULT), path + ": cannot open dataset '" + full + "'");
      out[name] = read_one(d, path, full, H5Kind::Any, fsize);
    }
    return out;
  });
}

void write_h5_arrays(const std::string& path, const TensorMap& arrays,
                     const std::map<std::string, std::string>& attributes) {
  for (const auto& [name, t] : arrays) {
    bool bad = name.empty() || name.front() == '/' || name.back() == '/' ||
               name.find("//") != std::string::npos || name.find('\0') != std::string::npos;
    if (bad) TERN_FAIL(path << ": cannot write dataset '" << name << "': not a valid HDF5 path");
    if (!t.defined()) TERN_FAIL(path << ": cannot write dataset '" << name << "': undefined tensor");
  }
  try {
    h5::write_atomically(path, [&](hid_t f) {
      h5::Handle lcpl = h5::own(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate");
      h5::ok(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group");
      for (const auto& [name, t] : arrays) {
        try {
          h5::write_tensor(f, name, t, lcpl);
        } catch (const Error& e) {
          TERN_FAIL("dataset '" << name << "' (" << t.describe() << "): " << e.what());
        }
      }
      for (const auto& [k, v] : attributes) h5::write_string_attr(f, k, v);
    });
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    TERN_FAIL(path << ": cannot write: " << msg);
  }
}

}  // namespace tern
