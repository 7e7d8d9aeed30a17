// Re-saving a tern model for shipping: a training checkpoint without its optimizer state, in a smaller
// storage dtype, with metadata (name, recipe, metrics) added. Used by `tern pack`.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace tern {

struct RepackOptions {
  std::optional<DType> storage;                 // F32 / F16 / BF16 for the floating-point parameters
  bool keep_extra = false;                      // keep /extra (optimizer state)
  std::map<std::string, std::string> metadata;  // set (or replace) these entries
  std::vector<std::string> drop_metadata;       // remove these entries
};

// Loads `src`, applies `opt`, writes `dst` atomically. Returns the written file's size in bytes.
int64_t repack_model(const std::string& src, const std::string& dst, const RepackOptions& opt);

}  // namespace tern
