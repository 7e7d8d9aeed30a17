#include "nn/param.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace tern {

ParamStore::ParamStore(std::map<std::string, Tensor> tensors, std::string source, BindOptions opt)
    : tensors_(std::move(tensors)),
      source_(std::move(source)),
      opt_(opt),
      rng_(opt.seed * 0x9E3779B97F4A7C15ull + 1) {}

Param* ParamStore::find(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

int64_t ParamStore::count() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.value.numel();
  return n;
}

static bool is_no_decay(const std::string& name) {
  auto ends = [&](const char* s) {
    size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  return ends(".bias") || ends("LayerNorm.weight") || ends("layer_norm.weight") || ends("_layer_norm.weight");
}

Param* ParamStore::take(const std::string& name, const Shape& shape, Init init, bool initialisable) {
  TERN_CHECK(find(name) == nullptr, "parameter " << name << " taken twice");
  auto it = tensors_.find(name);
  Param p;
  p.name = name;
  p.no_decay = is_no_decay(name);
  if (it != tensors_.end()) {
    const Tensor& t = it->second;
    if (t.shape() != shape)
      TERN_FAIL(source_ << ": tensor " << name << " has shape " << shape_str(t.shape()) << ", expected "
                        << shape_str(shape));
    if (t.dtype() != DType::F32 && t.dtype() != DType::F16 && t.dtype() != DType::BF16)
      TERN_FAIL(source_ << ": tensor " << name << " has dtype " << dtype_name(t.dtype())
                        << ", expected a floating-point type");
    p.value = t.dtype() == DType::F32 ? t.contiguous() : t.to(DType::F32);
    // A converted tensor no longer needs its file pages (a float16 file: they would stay resident until
    // the whole mapping goes, next to the float32 copy and the weights packed from it).
    if (t.dtype() != DType::F32) drop_file_pages(t);
    p.from_checkpoint = true;
    tensors_.erase(it);
  } else {
    if (!(initialisable && opt_.init_missing) && !opt_.init_everything) {
      std::ostringstream os;
      os << source_ << ": missing tensor " << name << " " << shape_str(shape);
      if (initialisable) os << " (a new head: train the model first, e.g. `tern train`)";
      TERN_FAIL(os.str());
    }
    p.value = Tensor::empty(shape);
    float* v = p.value.f32();
    const int64_t n = p.value.numel();
    if (init == Init::Zeros) {
      std::memset(v, 0, static_cast<size_t>(n) * 4);
    } else if (init == Init::Ones) {
      for (int64_t i = 0; i < n; ++i) v[i] = 1.f;
    } else {
      // Box-Muller on a splitmix64 stream: deterministic for a seed.
      auto next = [&]() {
        uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        return (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;
      };
      for (int64_t i = 0; i < n; ++i) {
        double u1 = next(), u2 = next();
        v[i] = static_cast<float>(opt_.init_std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
      }
    }
    initialised_.push_back(name);
  }
  params_.push_back(std::move(p));
  return &params_.back();
}

bool ParamStore::is_int8(const std::string& name) const {
  auto it = tensors_.find(name);
  return it != tensors_.end() && it->second.dtype() == DType::I8;
}

bool ParamStore::is_f16(const std::string& name) const {
  auto it = tensors_.find(name);
  return it != tensors_.end() && it->second.dtype() == DType::F16;
}

// A parameter whose value lives outside Param (packed int8, float16 table): frozen, from the checkpoint.
Param* ParamStore::add_frozen(const std::string& name) {
  Param p;
  p.name = name;
  p.no_decay = is_no_decay(name);
  p.from_checkpoint = true;
  p.trainable = false;
  params_.push_back(std::move(p));
  return &params_.back();
}

Param* ParamStore::take_f16(const std::string& name, const Shape& shape, Tensor& half) {
  TERN_CHECK(find(name) == nullptr, "parameter " << name << " taken twice");
  auto it = tensors_.find(name);
  TERN_CHECK(it != tensors_.end() && it->second.dtype() == DType::F16,
             source_ << ": tensor " << name << " is not stored as float16");
  if (it->second.shape() != shape)
    TERN_FAIL(source_ << ": tensor " << name << " has shape " << shape_str(it->second.shape())
                      << ", expected " << shape_str(shape));
  // A copy: a view would keep the whole file mapped, and pages near the table's rows resident with it.
  // Copied in chunks of ~1 MB, each chunk's file pages dropped after it: the file's copy of the table
  // (15.6 MB for the default model) is never resident whole next to the new one (peak RSS at load).
  const Tensor& src = it->second;
  half = Tensor::empty(shape, DType::F16);
  const int64_t rows = shape[0], row_bytes = src.nbytes() / std::max<int64_t>(rows, 1);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(row_bytes, 1));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    const Tensor part = src.slice(0, r0, r1);
    std::memcpy(static_cast<char*>(half.raw()) + r0 * row_bytes, part.contiguous().raw(),
                static_cast<size_t>((r1 - r0) * row_bytes));
    drop_file_pages(part);
  }
  drop_file_pages(src);
  tensors_.erase(it);
  return add_frozen(name);
}

Param* ParamStore::take_int8(const std::string& name, int64_t rows, int64_t cols, Tensor& q, Tensor& scale) {
  TERN_CHECK(find(name) == nullptr, "parameter " << name << " taken twice");
  auto it = tensors_.find(name);
  if (it == tensors_.end() || it->second.dtype() != DType::I8)
    TERN_FAIL(source_ << ": tensor " << name
                      << " is not stored as int8 (int8 weights come from `tern convert "
                      << "--quantize int8`, all four GEMM weights of a layer together)");
  const Shape want = {rows, cols};
  if (it->second.shape() != want)
    TERN_FAIL(source_ << ": int8 tensor " << name << " has shape " << shape_str(it->second.shape())
                      << ", expected " << shape_str(want));
  const std::string sname = name + "_scale";
  auto st = tensors_.find(sname);
  if (st == tensors_.end())
    TERN_FAIL(source_ << ": int8 tensor " << name << " has no scales: missing tensor " << sname << " float32 "
                      << shape_str({rows}));
  const Tensor& s = st->second;
  if (s.shape() != Shape{rows})
    TERN_FAIL(source_ << ": tensor " << sname << " has shape " << shape_str(s.shape()) << ", expected "
                      << shape_str({rows}) << " (one scale per output channel of " << name << ")");
  if (s.dtype() != DType::F32 && s.dtype() != DType::F16 && s.dtype() != DType::BF16)
    TERN_FAIL(source_ << ": tensor " << sname << " has dtype " << dtype_name(s.dtype())
                      << ", expected float32");
  q = it->second.contiguous();
  scale = s.dtype() == DType::F32 ? s.contiguous() : s.to(DType::F32);
  const float* sp = scale.f32();
  for (int64_t o = 0; o < rows; ++o)
    if (!std::isfinite(sp[o]) || !(sp[o] > 0.f))
      TERN_FAIL(source_ << ": tensor " << sname << " holds " << sp[o] << " at (" << o
                        << "); int8 scales must be finite and positive");
  tensors_.erase(it);
  tensors_.erase(st);
  return add_frozen(name);
}

void ParamStore::finish(const std::vector<std::string>& skippable) {
  std::vector<std::string> unexpected;
  for (auto& [name, t] : tensors_) {
    bool skip = false;
    for (const auto& pre : skippable)
      if (name.rfind(pre, 0) == 0) skip = true;
    (skip ? skipped_ : unexpected).push_back(name);
  }
  if (!unexpected.empty()) {
    std::ostringstream os;
    os << source_ << ": unexpected tensor" << (unexpected.size() > 1 ? "s" : "") << " not used by the model:";
    for (size_t i = 0; i < unexpected.size() && i < 10; ++i)
      os << " " << unexpected[i] << " " << shape_str(tensors_[unexpected[i]].shape());
    if (unexpected.size() > 10) os << " ... (" << unexpected.size() << " in all)";
    TERN_FAIL(os.str());
  }
  tensors_.clear();
}

}  // namespace tern
