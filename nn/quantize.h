// Stored int8 models (`tern convert --quantize int8`): the encoder layers' four GEMM weights quantised once,
// at convert time, exactly as PackedWeight quantises them at load (tensor/packed_weight.h), and stored as
// int8 + float32 per-output-channel scales (weights/model_file.h, docs/model-format.md).
#pragma once
#include <cstdint>
#include <string>

#include "nn/config.h"
#include "weights/model_file.h"

namespace tern {

// In place on a checkpoint's tensors: every encoder layer's Q, K, V, attention output, FFN in and FFN out
// `<name>.weight` float (rows, cols) becomes int8 (rows, cols) (ref::quantize_weight_i8) and gets
// `<name>.weight_scale` float32 (rows). Everything else is left as it is. Returns the number of weights
// quantised. Throws naming `source` and the tensor when one is missing, mis-shaped or already int8.
int64_t quantize_encoder_int8(const ModelConfig& cfg, TensorMap& tensors, const std::string& source);

}  // namespace tern
