// Private HDF5 helpers for weights/: RAII handles, HDF5 errors as tern::Error, string attributes and
// datasets, the float16 / bfloat16 file types, and the one checked dataset -> Tensor reader that the model
// file, the CLI array files and the TF importer share. Never include this from a public header.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "weights/mapped_file.h"

namespace tern::h5 {

// Silences HDF5's automatic error printing on this thread (the library is a thread-safe build, where the
// setting is per thread). Every entry point calls it; cheap after the first call.
void init();

// The messages on HDF5's error stack of this thread, outermost first, joined by "; " (then clears it).
std::string error_stack();

// Owns one HDF5 identifier of any kind (file, group, dataset, type, space, attribute, property list).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { close(); }

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close();  // closes now; returns the status silently (use close_checked for files being written)
  void close_checked(const std::string& what);

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Throw "<what>: <HDF5 error stack>" when an HDF5 call failed; `own` takes the new identifier over.
Handle own(hid_t id, const std::string& what);
void ok(herr_t status, const std::string& what);

// Runs `f`; a tern::Error whose message does not name `path` is rethrown as "<path>: <message>".
template <typename F>
auto in_file(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.find(path) != std::string::npos) throw;
    throw Error(path + ": " + msg);
  }
}

// ---- files ----
// Opens `path` read-only, with clear errors: missing / unreadable, empty, "not an HDF5 file" (no
// signature), corrupt or truncated (signature but HDF5 cannot open it).
Handle open_file(const std::string& path);
uint64_t file_size(const std::string& path);  // throws naming the path when it cannot be stat'ed

// Maps the file HDF5 has open (its own file descriptor when the sec2 driver gives it, else by path).
std::shared_ptr<MappedFile> map_open_file(hid_t file, const std::string& path);

// Creates `tmp` for writing: 64-byte aligned objects, strong close degree.
// userblock: bytes reserved at the start of the file for the tern header (0 = none).
Handle create_file(const std::string& tmp, uint64_t userblock = 0);

// Writes a file atomically: `fill(file)` into a temporary next to `path`, then closes, fsyncs and renames it
// over `path`. On any error the temporary is removed and `path` is left as it was.
// `finish` (optional) runs on the closed temporary file before it is renamed into place (the seal).
void write_atomically(const std::string& path, const std::function<void(hid_t file)>& fill,
                      uint64_t userblock = 0, const std::function<void(const std::string& tmp)>& finish = {});

bool exists(hid_t loc, const std::string& name);  // link `name` (one component) exists in group `loc`
bool is_group(hid_t loc, const std::string& name);
bool is_dataset(hid_t loc, const std::string& name);
std::vector<std::string> list_links(hid_t group);  // names of the direct members, in name order
Handle open_group(hid_t loc, const std::string& name, const std::string& file);
Handle make_group(hid_t loc, const std::string& name);

// ---- strings ----
// Reads a string attribute / scalar or 1-D string dataset: fixed-length (NUL-padded or NUL-terminated) or
// variable-length. A numeric attribute with zero elements reads as an empty list (Keras writes
// `np.asarray([])` for layers without weights).
std::vector<std::string> read_string_attr(hid_t obj, const std::string& attr, const std::string& where);
std::optional<std::string> read_string_attr_opt(hid_t obj, const std::string& attr, const std::string& where);
std::vector<std::string> read_string_dataset(hid_t dset, const std::string& where);
std::optional<int64_t> read_int_attr_opt(hid_t obj, const std::string& attr, const std::string& where);

// Variable-length UTF-8 strings (h5py reads attributes as str, datasets as bytes / .asstr()).
void write_string_attr(hid_t obj, const std::string& attr, const std::string& value);
void write_int_attr(hid_t obj, const std::string& attr, int64_t value);
void write_string_dataset(hid_t loc, const std::string& name, const std::string& value);
// A 1-D uint8 dataset holding `bytes` verbatim (tokenizer files).
void write_bytes_dataset(hid_t loc, const std::string& name, const std::string& bytes);
std::string read_bytes_dataset(hid_t dset, const std::string& where);

// ---- numeric types ----
Handle f16_type();   // IEEE binary16, little-endian (what h5py builds for numpy float16)
Handle bf16_type();  // bfloat16: sign 15, exponent 7..14, mantissa 0..6, bias 127, little-endian

// ---- dataset -> Tensor ----
struct ReadSpec {
  bool floats_to_f32 = true;  // float16 / bfloat16 -> float32 (float64 always becomes float32)
  bool ints_to_i64 = false;   // every integer type -> int64 (else int32 / int64 kept, others rejected)
  bool ints_allowed = true;   // integer datasets accepted at all
  bool floats_allowed = true;
  // Zero-copy views over this mapping for contiguous, unfiltered datasets whose stored bytes are the tensor
  // bytes (little-endian, no conversion) and whose file offset is 64-byte aligned; null: always read.
  std::shared_ptr<MappedFile> map;
  uint64_t file_size = 0;       // bound for contiguous data (offset + size); 0 = query the file
  const char* noun = "tensor";  // how errors call the dataset: "<file>: tensor 'x' ..."
};

// Reads dataset `dset` into a tensor. `file` and `name` go into every error. Checks the shape (overflow,
// size against the file / memory) before allocating. `zero_copy` (optional) reports whether a view was made.
Tensor read_tensor(hid_t dset, const std::string& file, const std::string& name, const ReadSpec& spec,
                   bool* zero_copy = nullptr);

// Writes `t` (made contiguous) as a contiguous, uncompressed dataset `name` under `loc`; bfloat16 datasets
// get the attribute dtype = "bfloat16". `lcpl` may create intermediate groups.
void write_tensor(hid_t loc, const std::string& name, const Tensor& t, hid_t lcpl = H5P_DEFAULT);

}  // namespace tern::h5
