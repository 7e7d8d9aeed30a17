#include "tensor/tensor.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

namespace tern {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    TERN_CHECK(d >= 0, "negative dimension in shape " << shape_str(s));
    TERN_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / d,
               "shape " << shape_str(s) << " overflows");
    n *= d;
  }
  return n;
}

// ---- Storage ----

std::shared_ptr<Storage> Storage::allocate(size_t bytes) {
  auto s = std::shared_ptr<Storage>(new Storage());
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  s->data_ = std::aligned_alloc(64, rounded);
  if (!s->data_) TERN_FAIL("out of memory allocating " << bytes << " bytes");
  s->bytes_ = bytes;
  s->owned_ = true;
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t bytes, std::shared_ptr<void> keeper) {
  auto s = std::shared_ptr<Storage>(new Storage());
  s->data_ = data;
  s->bytes_ = bytes;
  s->owned_ = false;
  s->keeper_ = std::move(keeper);
  return s;
}

std::shared_ptr<Storage> Storage::wrap_file(void* data, size_t bytes, std::shared_ptr<void> keeper) {
  auto s = wrap(data, bytes, std::move(keeper));
  s->file_backed_ = true;
  return s;
}

void drop_file_pages(const Tensor& t) {
  if (!t.defined() || !t.storage()->file_backed() || !t.is_contiguous()) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(t.raw()), e = a + t.nbytes();
  const uintptr_t a0 = (a + page - 1) / page * page, e0 = e / page * page;
  if (e0 > a0) madvise(reinterpret_cast<void*>(a0), e0 - a0, MADV_DONTNEED);
}

Storage::~Storage() {
  if (owned_) std::free(data_);
}

// ---- Tensor ----

static Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  Tensor t;
  int64_t n = shape_numel(shape);
  t.storage_ = Storage::allocate(static_cast<size_t>(n) * dtype_size(dtype));
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw(), 0, t.nbytes());
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape,
                       DType dtype) {
  TERN_CHECK(storage, "view of a null storage");
  size_t need = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  TERN_CHECK(byte_offset <= storage->bytes() && need <= storage->bytes() - byte_offset,
             "view of " << need << " bytes at offset " << byte_offset << " exceeds storage of "
                        << storage->bytes() << " bytes");
  TERN_CHECK(byte_offset % dtype_size(dtype) == 0,
             "view offset " << byte_offset << " not aligned to " << dtype_name(dtype));
  Tensor t;
  t.storage_ = std::move(storage);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.offset_ = static_cast<int64_t>(byte_offset / dtype_size(dtype));
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::from_data(const float* data, const Shape& shape) {
  Tensor t = empty(shape, DType::F32);
  std::memcpy(t.raw(), data, t.nbytes());
  return t;
}

Tensor Tensor::from_data(const int64_t* data, const Shape& shape) {
  Tensor t = empty(shape, DType::I64);
  std::memcpy(t.raw(), data, t.nbytes());
  return t;
}

int64_t Tensor::size(int64_t d) const {
  if (d < 0) d += dim();
  TERN_CHECK(d >= 0 && d < dim(), "dimension " << d << " out of range for " << describe());
  return shape_[d];
}

bool Tensor::is_contiguous() const {
  return strides_ == contiguous_strides(shape_);
}

void* Tensor::raw() const {
  TERN_CHECK(storage_, "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

float* Tensor::f32() const {
  TERN_CHECK(dtype_ == DType::F32, "expected a float32 tensor, got " << describe());
  return static_cast<float*>(raw());
}
int64_t* Tensor::i64() const {
  TERN_CHECK(dtype_ == DType::I64, "expected an int64 tensor, got " << describe());
  return static_cast<int64_t*>(raw());
}
int32_t* Tensor::i32() const {
  TERN_CHECK(dtype_ == DType::I32, "expected an int32 tensor, got " << describe());
  return static_cast<int32_t*>(raw());
}
int8_t* Tensor::i8() const {
  TERN_CHECK(dtype_ == DType::I8, "expected an int8 tensor, got " << describe());
  return static_cast<int8_t*>(raw());
}
uint16_t* Tensor::u16() const {
  TERN_CHECK(dtype_ == DType::F16 || dtype_ == DType::BF16,
             "expected a 16-bit float tensor, got " << describe());
  return static_cast<uint16_t*>(raw());
}

Tensor Tensor::reshape(const Shape& shape) const {
  TERN_CHECK(is_contiguous(), "reshape of a non-contiguous tensor " << describe());
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      TERN_CHECK(infer < 0, "reshape with more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      TERN_CHECK(s[i] >= 0, "reshape to " << shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    TERN_CHECK(known > 0 && numel() % known == 0,
               "cannot reshape " << describe() << " to " << shape_str(shape));
    s[infer] = numel() / known;
  }
  TERN_CHECK(shape_numel(s) == numel(), "cannot reshape " << describe() << " to " << shape_str(shape));
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t stop) const {
  if (d < 0) d += dim();
  TERN_CHECK(d >= 0 && d < dim(), "slice dimension out of range for " << describe());
  TERN_CHECK(0 <= start && start <= stop && stop <= shape_[d],
             "slice [" << start << ", " << stop << ") out of range for dim " << d << " of " << describe());
  Tensor t = *this;
  t.offset_ += start * strides_[d];
  t.shape_[d] = stop - start;
  return t;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  if (d < 0) d += dim();
  TERN_CHECK(d >= 0 && d < dim(), "select dimension out of range for " << describe());
  TERN_CHECK(0 <= index && index < shape_[d],
             "index " << index << " out of range for dim " << d << " of " << describe());
  Tensor t = *this;
  t.offset_ += index * strides_[d];
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  if (a < 0) a += dim();
  if (b < 0) b += dim();
  TERN_CHECK(a >= 0 && a < dim() && b >= 0 && b < dim(), "transpose dims out of range for " << describe());
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

// Copies a strided tensor into contiguous `dst` (element size `es`).
static void gather_strided(const char* src, char* dst, const Shape& shape, const Shape& strides, size_t es) {
  int64_t n = shape_numel(shape);
  if (n == 0) return;
  size_t nd = shape.size();
  if (nd == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  std::vector<int64_t> idx(nd, 0);
  int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  for (int64_t done = 0; done < n; done += inner) {
    int64_t off = 0;
    for (size_t i = 0; i + 1 < nd; ++i) off += idx[i] * strides[i];
    const char* s = src + off * static_cast<int64_t>(es);
    if (inner_stride == 1) {
      std::memcpy(dst, s, inner * es);
    } else {
      for (int64_t j = 0; j < inner; ++j) std::memcpy(dst + j * es, s + j * inner_stride * es, es);
    }
    dst += inner * es;
    for (size_t i = nd - 1; i-- > 0;) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  gather_strided(static_cast<const char*>(raw()), static_cast<char*>(t.raw()), shape_, strides_,
                 dtype_size(dtype_));
  return t;
}

Tensor Tensor::to(DType target) const {
  Tensor src = contiguous();
  if (target == dtype_) return src.clone();
  Tensor out = empty(shape_, target);
  size_t n = static_cast<size_t>(numel());
  auto is_float = [](DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; };
  if (is_float(dtype_) && is_float(target)) {
    // Go through f32.
    Tensor f = src;
    if (dtype_ == DType::F16) {
      f = empty(shape_, DType::F32);
      convert_f16_to_f32(src.u16(), f.f32(), n);
    } else if (dtype_ == DType::BF16) {
      f = empty(shape_, DType::F32);
      convert_bf16_to_f32(src.u16(), f.f32(), n);
    }
    if (target == DType::F32) return f;
    if (target == DType::F16) convert_f32_to_f16(f.f32(), out.u16(), n);
    if (target == DType::BF16) convert_f32_to_bf16(f.f32(), out.u16(), n);
    return out;
  }
  if (dtype_ == DType::I32 && target == DType::I64) {
    for (size_t i = 0; i < n; ++i) out.i64()[i] = src.i32()[i];
    return out;
  }
  if (dtype_ == DType::I64 && target == DType::I32) {
    for (size_t i = 0; i < n; ++i) {
      int64_t v = src.i64()[i];
      TERN_CHECK(v >= INT32_MIN && v <= INT32_MAX, "int64 value " << v << " does not fit int32");
      out.i32()[i] = static_cast<int32_t>(v);
    }
    return out;
  }
  TERN_FAIL("unsupported conversion " << dtype_name(dtype_) << " -> " << dtype_name(target));
}

std::string Tensor::describe() const {
  if (!storage_) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + " " + shape_str(shape_);
}

}  // namespace tern
