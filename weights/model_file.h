// tern's model file: ONE HDF5 file with everything a model needs (docs/model-format.md).
#pragma once
#include <map>
#include <string>

#include "tensor/tensor.h"

namespace tern {

using TensorMap = std::map<std::string, Tensor>;  // Hugging Face name -> tensor

struct ModelBundle {
  std::string config_json;  // the Hugging Face config.json text, verbatim
  TensorMap tensors;        // every parameter, by its HF name
  // Tokenizer files by their HF file name ("vocab.txt", "vocab.json", "merges.txt", "tokenizer.json",
  // "tokenizer_config.json", "special_tokens_map.json"), contents verbatim.
  std::map<std::string, std::string> tokenizer_files;
  // Free-form string metadata ("source", "created_by", "training" JSON, ...).
  std::map<std::string, std::string> metadata;
  // Extra tensors that are not model parameters (optimizer state of a training checkpoint, ...).
  TensorMap extra;
};

struct LoadOptions {
  bool allow_nonfinite = false;  // NaN/Inf in a parameter is an error unless set
  bool to_f32 = true;            // convert float16/bfloat16 storage to float32 on load
  bool map_file = true;          // float32 contiguous datasets become views over a read-only mmap
  bool read_tensors = true;      // false: config, tokenizer and metadata only
  // An HDF5 file without tern's sealed header (written by another tool) is refused: libhdf5 is not robust
  // to damaged files (it can hang or allocate terabytes). Allow it here or with TERN_ALLOW_UNSEALED=1.
  bool allow_unsealed = false;
};

// Writes `m` to `path` (atomically: a temporary file renamed into place). Tensors are stored in their
// own dtype unless `storage` is given (F32, F16 or BF16) for the floating-point parameters.
void save_model(const std::string& path, const ModelBundle& m);
void save_model(const std::string& path, const ModelBundle& m, DType storage);

// Reads a tern model file; throws tern::Error naming the file (and tensor) on anything wrong.
ModelBundle load_model(const std::string& path, const LoadOptions& opt = {});

// Stored int8 weights (`tern convert --quantize int8`, docs/model-format.md): `<name>` is an int8 (rows,
// cols) dataset and `<name>_scale` its float32 (rows) per-output-channel scales, w[o, i] = scale[o] * q[o,
// i].
constexpr const char* kInt8ScaleSuffix = "_scale";
// True when the bundle holds an int8 tensor (a model quantised at convert time).
bool has_int8_weights(const ModelBundle& m);

// Throws tern::Error naming the tensor and the first bad index when a float tensor holds NaN or Inf.
void check_finite(const std::string& name, const Tensor& t, const std::string& file);

}  // namespace tern
