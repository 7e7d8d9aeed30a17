#include "weights/h5util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

namespace tern::h5 {

static_assert(std::endian::native == std::endian::little, "tern assumes a little-endian host");

void init() {
  // HDF5 1.10 closes files still open at exit; a file whose close already failed (disk full) then crashes
  // it in H5F__close_cb. tern closes every handle itself, so the library's atexit cleanup is switched off
  // (this must precede the library's initialisation, hence the first call of init()).
  static const bool no_atexit = [] {
    H5dont_atexit();
    return true;
  }();
  (void)no_atexit;
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

static herr_t walk_cb(unsigned, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  std::string msg = e->desc ? e->desc : "";
  char minor[160] = {0};
  if (H5Eget_msg(e->min_num, nullptr, minor, sizeof minor) > 0 && msg.find(minor) == std::string::npos)
    msg += msg.empty() ? std::string(minor) : " (" + std::string(minor) + ")";
  for (char& c : msg)
    if (c == '\n') c = ' ';
  if (!msg.empty() && (out->empty() || out->back() != msg)) out->push_back(msg);
  return 0;
}

std::string error_stack() {
  std::vector<std::string> msgs;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &msgs);  // most specific first
  H5Eclear2(H5E_DEFAULT);
  if (msgs.empty()) return "HDF5 reported no details";
  if (msgs.size() > 3) msgs.resize(3);
  std::string s;
  for (size_t i = 0; i < msgs.size(); ++i) s += (i ? "; " : "") + msgs[i];
  return s;
}

// ---- Handle ----

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    close();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

static herr_t close_id(hid_t id) {
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      return H5Fclose(id);
    case H5I_GROUP:
      return H5Gclose(id);
    case H5I_DATASET:
      return H5Dclose(id);
    case H5I_DATATYPE:
      return H5Tclose(id);
    case H5I_DATASPACE:
      return H5Sclose(id);
    case H5I_ATTR:
      return H5Aclose(id);
    case H5I_GENPROP_LST:
      return H5Pclose(id);
    default:
      return H5Idec_ref(id);
  }
}

void Handle::close() {
  if (id_ >= 0) {
    if (close_id(id_) < 0) H5Eclear2(H5E_DEFAULT);
    id_ = H5I_INVALID_HID;
  }
}

void Handle::close_checked(const std::string& what) {
  if (id_ < 0) return;
  herr_t s = close_id(id_);
  id_ = H5I_INVALID_HID;
  ok(s, what);
}

Handle own(hid_t id, const std::string& what) {
  if (id < 0) TERN_FAIL(what << ": " << error_stack());
  return Handle(id);
}

void ok(herr_t status, const std::string& what) {
  if (status < 0) TERN_FAIL(what << ": " << error_stack());
}

// ---- files ----

uint64_t file_size(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) TERN_FAIL(path << ": cannot open: " << std::strerror(errno));
  if (S_ISDIR(st.st_mode)) TERN_FAIL(path << ": is a directory, not a file");
  return static_cast<uint64_t>(st.st_size);
}

static Handle file_access_plist() {
  Handle fapl = own(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate");
  // Writes are atomic renames, so HDF5's advisory locks buy nothing and fail on some network filesystems.
  H5Pset_file_locking(fapl, false, true);
  return fapl;
}

Handle open_file(const std::string& path) {
  init();
  uint64_t size = file_size(path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) TERN_FAIL(path << ": cannot open: " << std::strerror(errno));
  ::close(fd);
  if (size == 0) TERN_FAIL(path << ": is empty (0 bytes), not an HDF5 file");
  Handle fapl = file_access_plist();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (f >= 0) return Handle(f);
  std::string why = error_stack();
  htri_t sig = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (sig <= 0) TERN_FAIL(path << ": is not an HDF5 file (no HDF5 signature; " << size << " bytes)");
  TERN_FAIL(path << ": HDF5 file is corrupt or truncated (" << size << " bytes): " << why);
}

std::shared_ptr<MappedFile> map_open_file(hid_t file, const std::string& path) {
  Handle fapl(H5Fget_access_plist(file));
  if (fapl.valid() && H5Pget_driver(fapl) == H5FD_SEC2) {
    void* handle = nullptr;
    if (H5Fget_vfd_handle(file, fapl, &handle) >= 0 && handle) {
      // The very descriptor HDF5 reads: offsets from H5Dget_offset refer to this file even if `path` has
      // been replaced since it was opened.
      return MappedFile::from_fd(*static_cast<int*>(handle), path);
    }
  }
  H5Eclear2(H5E_DEFAULT);
  return MappedFile::open(path);
}

Handle create_file(const std::string& tmp, uint64_t userblock) {
  init();
  Handle fcpl = own(H5Pcreate(H5P_FILE_CREATE), "H5Pcreate(FILE_CREATE)");
  if (userblock) ok(H5Pset_userblock(fcpl, userblock), "H5Pset_userblock");
  Handle fapl = file_access_plist();
  ok(H5Pset_alignment(fapl, 0, 64), "H5Pset_alignment");  // raw data of every dataset 64-byte aligned
  ok(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
  return own(H5Fcreate(tmp.c_str(), H5F_ACC_EXCL, fcpl, fapl), tmp + ": cannot create");
}

static void fsync_path(const std::string& p, bool dir) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_atomically(const std::string& path, const std::function<void(hid_t file)>& fill,
                      uint64_t userblock, const std::function<void(const std::string& tmp)>& finish) {
  init();
  std::random_device rd;
  std::ostringstream tmp_os;
  tmp_os << path << ".tmp-" << getpid() << "-" << std::hex << rd();
  std::string tmp = tmp_os.str();
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    TERN_FAIL(path << ": cannot write: directory '" << dir << "' does not exist");
  if (access(dir.c_str(), W_OK) != 0)
    TERN_FAIL(path << ": cannot write: directory '" << dir << "' is not writable");
  {
    Handle f = create_file(tmp, userblock);
    try {
      fill(f);
      ok(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp + ": cannot flush");
      f.close_checked(tmp + ": cannot close");
      if (finish) finish(tmp);
    } catch (...) {
      f.close();
      ::unlink(tmp.c_str());
      throw;
    }
  }
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    TERN_FAIL(path << ": cannot rename " << tmp << " into place: " << std::strerror(e));
  }
  fsync_path(dir, true);
}

// ---- groups and links ----

bool exists(hid_t loc, const std::string& name) {
  // H5Lexists fails (rather than answering false) when an intermediate group is missing: walk the path.
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string prefix = name.substr(0, slash);
    if (prefix.empty() || H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    if (!is_group(loc, prefix)) return false;
    start = slash + 1;
  }
}

static H5I_type_t object_type(hid_t loc, const std::string& name) {
  hid_t o = H5Oopen(loc, name.c_str(), H5P_DEFAULT);
  if (o < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  H5I_type_t t = H5Iget_type(o);
  H5Oclose(o);
  return t;
}

bool is_group(hid_t loc, const std::string& name) {
  return object_type(loc, name) == H5I_GROUP;
}
bool is_dataset(hid_t loc, const std::string& name) {
  return object_type(loc, name) == H5I_DATASET;
}

std::vector<std::string> list_links(hid_t group) {
  H5G_info_t info;
  ok(H5Gget_info(group, &info), "H5Gget_info");
  std::vector<std::string> names;
  names.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) TERN_FAIL("cannot list group members: " << error_stack());
    std::string s(static_cast<size_t>(n), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), s.size() + 1, H5P_DEFAULT);
    names.push_back(std::move(s));
  }
  return names;
}

Handle open_group(hid_t loc, const std::string& name, const std::string& file) {
  if (!is_group(loc, name)) TERN_FAIL(file << ": has no group '" << name << "'");
  return own(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), file + ": cannot open group '" + name + "'");
}

Handle make_group(hid_t loc, const std::string& name) {
  Handle gcpl = own(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate");
  ok(H5Pset_obj_track_times(gcpl, false),
     "H5Pset_obj_track_times");  // byte-identical files for identical input
  return own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT),
             "cannot create group '" + name + "'");
}

// ---- strings ----

static const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "float";
    case H5T_STRING:
      return "string";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_COMPOUND:
      return "compound";
    case H5T_REFERENCE:
      return "reference";
    case H5T_ENUM:
      return "enum";
    case H5T_VLEN:
      return "variable-length sequence";
    case H5T_ARRAY:
      return "array";
    default:
      return "unknown";
  }
}

// Reads the strings of an attribute (is_attr) or dataset `obj` with file type `type` and space `space`.
static std::vector<std::string> read_strings(hid_t obj, bool is_attr, hid_t type, hid_t space,
                                             const std::string& where) {
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) TERN_FAIL(where << ": cannot read its dataspace: " << error_stack());
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_STRING) {
    if (n == 0) return {};
    TERN_FAIL(where << " is not a string (HDF5 " << class_name(cls) << ")");
  }
  if (n == 0) return {};
  if (n > (1 << 24)) TERN_FAIL(where << " has " << n << " strings; refusing to read that many");
  auto read = [&](hid_t mt, void* buf) {
    herr_t s = is_attr ? H5Aread(obj, mt, buf) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    ok(s, where + ": cannot read");
  };
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(n));
  Handle mt = own(H5Tcopy(H5T_C_S1), "H5Tcopy");
  H5Tset_cset(mt, H5Tget_cset(type));
  if (H5Tis_variable_str(type) > 0) {
    ok(H5Tset_size(mt, H5T_VARIABLE), "H5Tset_size");
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    read(mt, ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mt, space, H5P_DEFAULT, ptrs.data());
  } else {
    size_t sz = H5Tget_size(type);
    if (sz == 0 || sz > (size_t(1) << 30) / static_cast<size_t>(n))
      TERN_FAIL(where << ": fixed-length strings of " << sz << " bytes x " << n << " are not plausible");
    ok(H5Tset_size(mt, sz), "H5Tset_size");
    ok(H5Tset_strpad(mt, H5T_STR_NULLPAD), "H5Tset_strpad");
    std::vector<char> buf(sz * static_cast<size_t>(n));
    read(mt, buf.data());
    for (hssize_t i = 0; i < n; ++i) {
      const char* p = buf.data() + static_cast<size_t>(i) * sz;
      out.emplace_back(p, strnlen(p, sz));
    }
  }
  return out;
}

std::optional<std::string> read_string_attr_opt(hid_t obj, const std::string& attr,
                                                const std::string& where) {
  htri_t has = H5Aexists(obj, attr.c_str());
  if (has <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  auto v = read_string_attr(obj, attr, where);
  if (v.size() != 1)
    TERN_FAIL(where << ": attribute '" << attr << "' holds " << v.size() << " strings, not one");
  return v[0];
}

std::vector<std::string> read_string_attr(hid_t obj, const std::string& attr, const std::string& where) {
  std::string w = where + ": attribute '" + attr + "'";
  Handle a = own(H5Aopen(obj, attr.c_str(), H5P_DEFAULT), w + ": cannot open");
  Handle type = own(H5Aget_type(a), w);
  Handle space = own(H5Aget_space(a), w);
  return read_strings(a, true, type, space, w);
}

std::vector<std::string> read_string_dataset(hid_t dset, const std::string& where) {
  Handle type = own(H5Dget_type(dset), where);
  Handle space = own(H5Dget_space(dset), where);
  return read_strings(dset, false, type, space, where);
}

std::optional<int64_t> read_int_attr_opt(hid_t obj, const std::string& attr, const std::string& where) {
  if (H5Aexists(obj, attr.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  std::string w = where + ": attribute '" + attr + "'";
  Handle a = own(H5Aopen(obj, attr.c_str(), H5P_DEFAULT), w + ": cannot open");
  Handle type = own(H5Aget_type(a), w);
  Handle space = own(H5Aget_space(a), w);
  if (H5Tget_class(type) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1)
    TERN_FAIL(w << " is not one integer");
  int64_t v = 0;
  ok(H5Aread(a, H5T_NATIVE_INT64, &v), w + ": cannot read");
  return v;
}

static Handle vlen_utf8() {
  Handle t = own(H5Tcopy(H5T_C_S1), "H5Tcopy");
  ok(H5Tset_size(t, H5T_VARIABLE), "H5Tset_size");
  ok(H5Tset_cset(t, H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

static void check_no_nul(const std::string& s, const std::string& what) {
  if (s.find('\0') != std::string::npos)
    TERN_FAIL(what << " contains a NUL byte; HDF5 strings cannot hold it");
}

void write_string_attr(hid_t obj, const std::string& attr, const std::string& value) {
  check_no_nul(value, "attribute '" + attr + "'");
  if (H5Aexists(obj, attr.c_str()) > 0) H5Adelete(obj, attr.c_str());
  H5Eclear2(H5E_DEFAULT);
  Handle t = vlen_utf8();
  Handle space = own(H5Screate(H5S_SCALAR), "H5Screate");
  Handle a = own(H5Acreate2(obj, attr.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create attribute '" + attr + "'");
  const char* p = value.c_str();
  ok(H5Awrite(a, t, &p), "cannot write attribute '" + attr + "'");
}

void write_int_attr(hid_t obj, const std::string& attr, int64_t value) {
  Handle space = own(H5Screate(H5S_SCALAR), "H5Screate");
  Handle a = own(H5Acreate2(obj, attr.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create attribute '" + attr + "'");
  ok(H5Awrite(a, H5T_NATIVE_INT64, &value), "cannot write attribute '" + attr + "'");
}

void write_string_dataset(hid_t loc, const std::string& name, const std::string& value) {
  check_no_nul(value, "'" + name + "'");
  Handle t = vlen_utf8();
  Handle space = own(H5Screate(H5S_SCALAR), "H5Screate");
  Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  ok(H5Pset_obj_track_times(dcpl, false), "H5Pset_obj_track_times");
  Handle d = own(H5Dcreate2(loc, name.c_str(), t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                 "cannot create dataset '" + name + "'");
  const char* p = value.c_str();
  ok(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), "cannot write dataset '" + name + "'");
}

void write_bytes_dataset(hid_t loc, const std::string& name, const std::string& bytes) {
  hsize_t dims[1] = {bytes.size()};
  Handle space = own(H5Screate_simple(1, dims, nullptr), "H5Screate_simple");
  Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  ok(H5Pset_obj_track_times(dcpl, false), "H5Pset_obj_track_times");
  ok(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "H5Pset_layout");
  Handle d = own(H5Dcreate2(loc, name.c_str(), H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                 "cannot create dataset '" + name + "'");
  if (!bytes.empty())
    ok(H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()),
       "cannot write dataset '" + name + "'");
}

std::string read_bytes_dataset(hid_t dset, const std::string& where) {
  Handle type = own(H5Dget_type(dset), where);
  Handle space = own(H5Dget_space(dset), where);
  H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_STRING) {  // also accept text written by h5py as a str
    auto v = read_strings(dset, false, type, space, where);
    if (v.size() != 1) TERN_FAIL(where << " holds " << v.size() << " strings, not one file");
    return v[0];
  }
  hssize_t n = H5Sget_simple_extent_npoints(space);
  size_t es = H5Tget_size(type);
  bool bytes_ok = (cls == H5T_INTEGER && es == 1) || cls == H5T_OPAQUE;
  if (!bytes_ok || n < 0)
    TERN_FAIL(where << " is not a byte array (HDF5 " << class_name(cls) << " of " << es << " bytes)");
  uint64_t total = static_cast<uint64_t>(n) * es;
  if (total > (uint64_t(1) << 32))
    TERN_FAIL(where << " holds " << total << " bytes; refusing a file that large");
  std::string out(total, '\0');
  if (total == 0) return out;
  if (cls == H5T_OPAQUE) {
    ok(H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), where + ": cannot read");
  } else {
    ok(H5Dread(dset, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), where + ": cannot read");
  }
  return out;
}

// ---- numeric types ----

Handle f16_type() {
  Handle t = own(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
  ok(H5Tset_fields(t, 15, 10, 5, 0, 10), "H5Tset_fields");
  ok(H5Tset_size(t, 2), "H5Tset_size");
  ok(H5Tset_ebias(t, 15), "H5Tset_ebias");
  return t;
}

Handle bf16_type() {
  Handle t = own(H5Tcopy(H5T_IEEE_F32LE), "H5Tcopy");
  ok(H5Tset_fields(t, 15, 7, 8, 0, 7), "H5Tset_fields");
  ok(H5Tset_size(t, 2), "H5Tset_size");
  ok(H5Tset_ebias(t, 127), "H5Tset_ebias");
  return t;
}

namespace {

enum class Kind { F32, F64, F16, BF16, Int, Other };

struct TypeInfo {
  Kind kind = Kind::Other;
  size_t size = 0;
  bool little = true;
  bool is_signed = true;
  bool is_enum = false;  // a 1-byte enum over an integer (numpy bool via h5py)
  std::string desc;      // "float32", "big-endian int16", "compound", ...
};

TypeInfo classify(hid_t type) {
  TypeInfo ti;
  H5T_class_t cls = H5Tget_class(type);
  ti.size = H5Tget_size(type);
  H5T_order_t order = (cls == H5T_INTEGER || cls == H5T_FLOAT) ? H5Tget_order(type) : H5T_ORDER_LE;
  ti.little = order == H5T_ORDER_LE;
  std::string be = ti.little ? "" : "big-endian ";
  if (cls == H5T_FLOAT) {
    size_t spos, epos, esize, mpos, msize;
    H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
    size_t bias = H5Tget_ebias(type);
    auto is = [&](size_t sz, size_t s, size_t e, size_t es, size_t m, size_t ms, size_t b) {
      return ti.size == sz && spos == s && epos == e && esize == es && mpos == m && msize == ms && bias == b;
    };
    if (is(4, 31, 23, 8, 0, 23, 127))
      ti.kind = Kind::F32, ti.desc = be + "float32";
    else if (is(8, 63, 52, 11, 0, 52, 1023))
      ti.kind = Kind::F64, ti.desc = be + "float64";
    else if (is(2, 15, 10, 5, 0, 10, 15))
      ti.kind = Kind::F16, ti.desc = be + "float16";
    else if (is(2, 15, 7, 8, 0, 7, 127))
      ti.kind = Kind::BF16, ti.desc = be + "bfloat16";
    else
      ti.desc = std::to_string(ti.size * 8) + "-bit float of a non-IEEE layout";
  } else if (cls == H5T_INTEGER) {
    ti.is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (ti.size == 1 || ti.size == 2 || ti.size == 4 || ti.size == 8) ti.kind = Kind::Int;
    ti.desc = be + (ti.is_signed ? "int" : "uint") + std::to_string(ti.size * 8);
  } else if (cls == H5T_ENUM && ti.size == 1) {
    // h5py stores numpy bool as an int8 enum {FALSE = 0, TRUE = 1}: read its raw bytes as int8.
    Handle base(H5Tget_super(type));
    if (base.valid() && H5Tget_class(base) == H5T_INTEGER) {
      ti.kind = Kind::Int;
      ti.is_signed = H5Tget_sign(base) == H5T_SGN_2;
      ti.is_enum = true;
      ti.desc = "enum (bool)";
    } else {
      ti.desc = "HDF5 enum type";
    }
  } else {
    ti.desc = std::string("HDF5 ") + class_name(cls) + " type";
  }
  return ti;
}

uint64_t memory_limit() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return uint64_t(1) << 40;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

}  // namespace

Tensor read_tensor(hid_t dset, const std::string& file, const std::string& name, const ReadSpec& spec,
                   bool* zero_copy) {
  if (zero_copy) *zero_copy = false;
  std::string ctx = file + ": " + spec.noun + " '" + name + "'";
  Handle type = own(H5Dget_type(dset), ctx + ": cannot read its type");
  Handle space = own(H5Dget_space(dset), ctx + ": cannot read its dataspace");
  H5S_class_t sclass = H5Sget_simple_extent_type(space);
  if (sclass != H5S_SCALAR && sclass != H5S_SIMPLE) TERN_FAIL(ctx << " has an empty (null) dataspace");
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > 32) TERN_FAIL(ctx << ": bad rank " << rank);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  Shape shape;
  uint64_t numel = 1;
  bool overflow = false;
  for (hsize_t d : dims) {
    if (d > static_cast<hsize_t>(std::numeric_limits<int64_t>::max())) overflow = true;
    shape.push_back(static_cast<int64_t>(d));
    if (d != 0 && numel > (uint64_t(1) << 62) / d) overflow = true;
    numel *= d;
  }
  if (overflow) TERN_FAIL(ctx << " has an absurd shape " << shape_str(shape) << " (element count overflows)");

  TypeInfo ti = classify(type);
  bool bf16_bits = false;  // bfloat16 stored as raw 16-bit integers with attribute dtype = "bfloat16"
  if (ti.kind == Kind::Int && ti.size == 2) {
    auto tag = read_string_attr_opt(dset, "dtype", ctx);
    if (tag && *tag == "bfloat16")
      bf16_bits = true, ti.kind = Kind::BF16, ti.desc = "bfloat16 (16-bit integers)";
  }
  DType target;
  switch (ti.kind) {
    case Kind::F32:
      target = DType::F32;
      break;
    case Kind::F64:
      target = DType::F32;
      break;
    case Kind::F16:
      target = spec.floats_to_f32 ? DType::F32 : DType::F16;
      break;
    case Kind::BF16:
      target = spec.floats_to_f32 ? DType::F32 : DType::BF16;
      break;
    case Kind::Int:
      if (spec.ints_to_i64)
        target = DType::I64;
      else if (ti.is_signed && ti.size == 4)
        target = DType::I32;
      else if (ti.is_signed && ti.size == 8)
        target = DType::I64;
      else if (ti.is_signed && ti.size == 1 && !ti.is_enum)
        target = DType::I8;  // stored int8 weights (tern convert --quantize int8)
      else
        TERN_FAIL(ctx << " has unsupported dtype " << ti.desc
                      << " (tern reads float32, float16, bfloat16, float64, int8, int32 and int64)");
      break;
    default:
      TERN_FAIL(ctx << " has unsupported dtype " << ti.desc
                    << " (tern reads float32, float16, bfloat16, float64, int8, int32 and int64)");
  }
  bool is_int = ti.kind == Kind::Int;
  if (is_int && !spec.ints_allowed)
    TERN_FAIL(ctx << " is " << ti.desc << "; expected a floating-point array");
  if (!is_int && !spec.floats_allowed) TERN_FAIL(ctx << " is " << ti.desc << "; expected an integer array");

  uint64_t stored_bytes = numel * ti.size;
  uint64_t out_bytes = numel * dtype_size(target);
  uint64_t limit = memory_limit();
  if (out_bytes > limit)
    TERN_FAIL(ctx << " has shape " << shape_str(shape) << ": " << out_bytes
                  << " bytes, more than this machine's " << limit << " bytes of memory");

  Handle dcpl = own(H5Dget_create_plist(dset), ctx);
  H5D_layout_t layout = H5Pget_layout(dcpl);
  int nfilters = H5Pget_nfilters(dcpl);
  int nexternal = H5Pget_external_count(dcpl);
  if (nexternal > 0) TERN_FAIL(ctx << " keeps its data in external files; tern does not read those");
  haddr_t offset = HADDR_UNDEF;
  if (numel > 0 && layout == H5D_CONTIGUOUS) {
    uint64_t fsize = spec.file_size;
    if (fsize == 0) {
      Handle fid(H5Iget_file_id(dset));
      hsize_t s = 0;
      if (fid.valid() && H5Fget_filesize(fid, &s) >= 0) fsize = s;
      H5Eclear2(H5E_DEFAULT);
    }
    offset = H5Dget_offset(dset);
    H5Eclear2(H5E_DEFAULT);
    if (offset == HADDR_UNDEF) TERN_FAIL(ctx << " " << shape_str(shape) << " has no data written");
    hsize_t storage = H5Dget_storage_size(dset);
    if (storage < stored_bytes || offset > fsize || stored_bytes > fsize - offset)
      TERN_FAIL(ctx << " " << shape_str(shape) << ": its " << stored_bytes << " bytes at offset " << offset
                    << " lie beyond the end of the file (" << fsize
                    << " bytes): the file is truncated or corrupt");
  }

  // Zero-copy: the stored bytes are exactly the tensor's bytes.
  bool same_bytes =
      ti.little && !bf16_bits &&
      ((ti.kind == Kind::F32 && target == DType::F32) || (ti.kind == Kind::F16 && target == DType::F16) ||
       (ti.kind == Kind::BF16 && target == DType::BF16) ||
       (is_int && ti.is_signed && ti.size == dtype_size(target)));
  if (spec.map && numel > 0 && layout == H5D_CONTIGUOUS && nfilters == 0 && same_bytes && offset % 64 == 0 &&
      offset <= spec.map->size() && stored_bytes <= spec.map->size() - offset) {
    auto storage = Storage::wrap_file(spec.map->mutable_data() + offset, stored_bytes, spec.map);
    if (zero_copy) *zero_copy = true;
    return Tensor::view_of(storage, 0, shape, target);
  }

  Tensor t = Tensor::empty(shape, target);
  if (numel == 0) return t;
  auto read = [&](hid_t mt, void* buf) {
    ok(H5Dread(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), ctx + ": cannot read");
  };
  if (ti.kind == Kind::F16 || ti.kind == Kind::BF16) {
    Handle mt = bf16_bits ? Handle() : (ti.kind == Kind::F16 ? f16_type() : bf16_type());
    hid_t m = bf16_bits ? H5T_NATIVE_UINT16 : mt.get();
    if (target == DType::F32) {
      Tensor bits = Tensor::empty(shape, ti.kind == Kind::F16 ? DType::F16 : DType::BF16);
      read(m, bits.raw());
      if (ti.kind == Kind::F16)
        convert_f16_to_f32(bits.u16(), t.f32(), numel);
      else
        convert_bf16_to_f32(bits.u16(), t.f32(), numel);
    } else {
      read(m, t.raw());
    }
  } else if (target == DType::F32) {
    read(H5T_NATIVE_FLOAT, t.raw());
  } else if (ti.is_enum) {
    std::vector<int8_t> raw(numel);
    read(type, raw.data());  // the file's own enum type: no conversion
    int64_t* dst = t.i64();
    for (uint64_t i = 0; i < numel; ++i)
      dst[i] = ti.is_signed ? raw[i] : static_cast<int64_t>(static_cast<uint8_t>(raw[i]));
  } else if (target == DType::I64) {
    read(H5T_NATIVE_INT64, t.raw());
  } else if (target == DType::I8) {
    read(H5T_NATIVE_INT8, t.raw());
  } else {
    read(H5T_NATIVE_INT32, t.raw());
  }
  return t;
}

void write_tensor(hid_t loc, const std::string& name, const Tensor& t, hid_t lcpl) {
  TERN_CHECK(t.defined(), "tensor '" << name << "' is undefined");
  Tensor c = t.contiguous();
  Handle f16, bf16;
  hid_t ftype, mtype;
  switch (c.dtype()) {
    case DType::F32:
      ftype = H5T_IEEE_F32LE, mtype = H5T_NATIVE_FLOAT;
      break;
    case DType::F16:
      f16 = f16_type(), ftype = mtype = f16.get();
      break;
    case DType::BF16:
      bf16 = bf16_type(), ftype = mtype = bf16.get();
      break;
    case DType::I32:
      ftype = H5T_STD_I32LE, mtype = H5T_NATIVE_INT32;
      break;
    case DType::I64:
      ftype = H5T_STD_I64LE, mtype = H5T_NATIVE_INT64;
      break;
    case DType::I8:
      ftype = H5T_STD_I8LE, mtype = H5T_NATIVE_INT8;
      break;
    default:
      TERN_FAIL("tensor '" << name << "': cannot store dtype " << dtype_name(c.dtype()));
  }
  Handle space;
  if (c.dim() == 0) {
    space = own(H5Screate(H5S_SCALAR), "H5Screate");
  } else {
    std::vector<hsize_t> dims(c.shape().begin(), c.shape().end());
    space = own(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple");
  }
  Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  ok(H5Pset_obj_track_times(dcpl, false), "H5Pset_obj_track_times");
  ok(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "H5Pset_layout");
  ok(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  Handle d = own(H5Dcreate2(loc, name.c_str(), ftype, space, lcpl, dcpl, H5P_DEFAULT),
                 "cannot create dataset '" + name + "'");
  if (c.numel() > 0)
    ok(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.raw()), "cannot write dataset '" + name + "'");
  if (c.dtype() == DType::BF16) write_string_attr(d, "dtype", "bfloat16");
}

}  // namespace tern::h5
