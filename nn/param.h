// Parameters by Hugging Face name. Each layer fetches its own from a ParamStore, which checks the
// checkpoint's tensor against the expected shape; afterwards finish() reports what was not used.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tern {

enum class Init : uint8_t { Normal, Zeros, Ones };  // HF _init_weights: N(0, initializer_range), 0, 1

struct Param {
  std::string name;
  Tensor value;  // float32, contiguous
  Tensor grad;   // float32, same shape (training only)
  bool from_checkpoint = false;
  bool no_decay = false;  // bias / LayerNorm weight (for AdamW's optional exclusion)
  bool trainable = true;  // false: frozen (no gradient is computed)
};

struct BindOptions {
  // A parameter the checkpoint lacks that may be initialised (a new head, the pooler of an MLM
  // checkpoint): initialise it (training) instead of failing (inference).
  bool init_missing = false;
  // Initialise every parameter the checkpoint lacks (random-weight models for benchmarks and tests).
  bool init_everything = false;
  uint64_t seed = 0;
  float init_std = 0.02f;  // config initializer_range
};

class ParamStore {
 public:
  // `tensors`: the checkpoint (consumed: float16/bfloat16 are converted to float32); `source` names it.
  ParamStore(std::map<std::string, Tensor> tensors, std::string source, BindOptions opt = {});
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;

  // The parameter `name` with `shape`. Missing: error, unless `initialisable` and the options allow it.
  Param* take(const std::string& name, const Shape& shape, Init init, bool initialisable = false);
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  // Stored int8 weights (weights/model_file.h: `name` int8 (rows, cols), `name` + "_scale" float (rows)).
  bool is_int8(const std::string& name) const;
  // Takes an int8 weight and its scales (checked: present, shapes, float scales; named in errors) into q
  // (int8 (rows, cols)) and scale (float32 (rows)). The returned parameter has no float value: an
  // int8-stored layer computes only through PackedWeight::from_i8 (inference in int8).
  Param* take_int8(const std::string& name, int64_t rows, int64_t cols, Tensor& q, Tensor& scale);
  // A float16-stored tensor kept as float16 (an inference-only model's word-embedding table: half the
  // memory of float32): `half` gets a copy (contiguous float16, `shape` checked as take() does); the returned
  // parameter has no float value and is not trainable.
  bool is_f16(const std::string& name) const;
  Param* take_f16(const std::string& name, const Shape& shape, Tensor& half);

  // Checks that every checkpoint tensor was used. Tensors whose names start with one of
  // `skippable_prefixes` (an unused MLM head) are reported in skipped(); any other leftover is an error.
  void finish(const std::vector<std::string>& skippable_prefixes);

  const std::vector<std::string>& skipped() const { return skipped_; }
  const std::vector<std::string>& initialised() const { return initialised_; }
  std::deque<Param>& params() { return params_; }
  const std::deque<Param>& params() const { return params_; }
  Param* find(const std::string& name);
  int64_t count() const;  // number of scalar parameters

 private:
  Param* add_frozen(const std::string& name);
  std::map<std::string, Tensor> tensors_;
  std::string source_;
  BindOptions opt_;
  std::deque<Param> params_;  // stable addresses
  std::vector<std::string> skipped_, initialised_;
  uint64_t rng_;
};

}  // namespace tern
