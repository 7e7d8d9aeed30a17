// Importing a Hugging Face checkpoint into one tern model file (`tern convert`, `tern.convert`): the
// checkpoint's tensors (weights/import.h) checked against the architecture its config describes, the
// tokenizer files loaded once (a damaged one fails here, named), then saved atomically.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "weights/model_file.h"

namespace tern::infer {

struct ConvertOptions {
  std::optional<DType> storage;  // float32 / float16 / bfloat16; none: as stored in the checkpoint
  std::string tokenizer_dir;     // non-empty: take the tokenizer files from here
  // "int8": store the encoder layers' four GEMM weights as int8 + float32 per-channel scales
  // (nn/quantize.h; the file then runs for inference in int8 only). Empty: no quantisation.
  std::string quantize;
};

struct ConvertSummary {
  std::string architecture;
  size_t tensors = 0, tokenizer_files = 0;
  int64_t parameters = 0;
  std::vector<std::string> notes;  // unused tensors, heads to be trained, tokenizer / vocab mismatches
};

// Finishes a conversion of `bundle` (as weights' import_hf read it from `from`) into `out`. Throws
// tern::Error naming the tensor / file on any problem; nothing is written then.
ConvertSummary convert_bundle(ModelBundle& bundle, const std::string& from, const std::string& out,
                              const ConvertOptions& opt = {});

}  // namespace tern::infer
