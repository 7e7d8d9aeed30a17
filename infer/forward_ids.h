// Token ids in, model outputs out (`tern forward`): int64 id arrays from an HDF5 file or the JSONL that
// `tern tokenize` writes, run in batches (by length for JSONL input), outputs gathered in input order.
#pragma once
#include <cstdint>
#include <string>

#include "nn/model.h"
#include "weights/model_file.h"

namespace tern::infer {

// input_ids, attention_mask, token_type_ids (int64 (B, T)) of an HDF5 file, at the root or in inputs/.
TensorMap read_token_arrays(const std::string& path);
// {"ids": [...], "type_ids": [...]} per line -> right-padded (B, T) arrays with pad_id and the mask.
TensorMap read_token_jsonl(const std::string& path, int64_t pad_id);

// last_hidden_state (B, T, C), pooler_output (B, C) with a pooler, logits (B, L) with a head, for `in`
// (read_token_*). sorted = false: every row at the full width T, exactly as HF computes it (padded
// positions included); sorted = true: rows sorted by their mask's length and batched with little padding
// (valid positions are unchanged; padded positions of last_hidden_state are 0).
TensorMap forward_token_arrays(ModelRunner& model, const TensorMap& in, int64_t batch, bool sorted);

}  // namespace tern::infer
