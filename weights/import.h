// Importers from Hugging Face checkpoints into a ModelBundle.
#pragma once
#include <string>

#include "weights/model_file.h"

namespace tern {

// model.safetensors: validated header (dtypes F32/F16/BF16/F64/I64..., offsets inside the file, contiguous,
// non-overlapping, sizes = numel * itemsize). Tensors keep their stored dtype.
TensorMap read_safetensors(const std::string& path);

// Hugging Face TF (Keras 2) tf_model.h5, layout in ../shared/fixtures/TF_H5_LAYOUT.md; returns PyTorch
// names and layouts (2-D kernels transposed).
TensorMap read_tf_h5(const std::string& path);

// The PyTorch name of TF weight `weight` found in top-level layer group `layer` (transformers'
// convert_tf_weight_name_to_pt_weight_name); `transpose` says whether it is a kernel to transpose.
std::string tf_weight_to_pt_name(const std::string& weight, const std::string& layer, bool* transpose);

struct ImportOptions {
  bool allow_nonfinite = false;
};

// `path` is an HF directory (config.json + model.safetensors, model.safetensors.index.json (sharded) or
// tf_model.h5, preferred in that order, + tokenizer files) or a single checkpoint file next to its
// config.json. Tensors keep their stored dtype (a float16 checkpoint stays float16; float64 becomes
// float32); int64 `*.position_ids` buffers are dropped (HF ignores them on load). metadata["source"] = path,
// metadata["source_format"] = "safetensors" | "tf_h5". NaN/Inf is an error naming the tensor unless
// allowed.
ModelBundle import_hf(const std::string& path, const ImportOptions& opt = {});

}  // namespace tern
