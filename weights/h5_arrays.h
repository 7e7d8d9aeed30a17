// Named arrays in plain HDF5 files, for the CLI (`tern forward` inputs / outputs) and the fixture tests
// (reference.h5: inputs/input_ids, outputs/logits, grads/<HF name>, ...).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "weights/model_file.h"

namespace tern {

enum class H5Kind { Any, Int, Float };

struct H5ArraySpec {
  std::string name;           // dataset path relative to the group ("input_ids", "outputs/logits")
  int rank = -1;              // required rank; -1: any
  H5Kind kind = H5Kind::Any;  // Int: any integer dataset -> int64; Float: any float dataset -> float32
  bool required = true;       // missing: error when required, else absent from the result
};

// Reads the named datasets of `path`, relative to `group` ("" = the root). Integer datasets (int8..int64,
// uint8..uint64) become int64, floating ones (float16/bfloat16/float32/float64) float32. Results are keyed
// by spec.name. Errors name the file and dataset: missing (listing what the group holds), wrong rank, an
// integer where floats are wanted or the reverse, unsupported types, shapes too large for memory.
TensorMap read_h5_arrays(const std::string& path, const std::vector<H5ArraySpec>& specs,
                         const std::string& group = "");
// Same with plain names (any rank, any numeric kind).
TensorMap read_h5_arrays(const std::string& path, const std::vector<std::string>& names,
                         const std::string& group = "", bool required = true);
// Every dataset directly inside `group` ("" = the root; sub-groups are skipped), keyed by its name, with the
// same conversions (e.g. read_h5_group("reference.h5", "grads")).
TensorMap read_h5_group(const std::string& path, const std::string& group = "");

// Writes `arrays` into a new file `path` (atomically: temporary file + rename), each tensor in its own dtype
// (float32, int64, int32, float16, bfloat16), contiguous and uncompressed; a name with '/' creates the
// groups ("outputs/logits"). `attributes` become string attributes of the root group.
void write_h5_arrays(const std::string& path, const TensorMap& arrays,
                     const std::map<std::string, std::string>& attributes = {});

}  // namespace tern
