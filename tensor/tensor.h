// Tensor: shared storage + shape + element strides + offset + dtype, PyTorch dimension order.
// Owned storage is 64-byte aligned; a Tensor can also be a non-owning view over a buffer someone else
// keeps alive (a memory-mapped model file): the keeper is held through Storage::keeper_.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/dtype.h"

namespace tern {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "(4, 64, 32)"
int64_t shape_numel(const Shape& s);    // product; checks for negative dims and overflow

class Storage {
 public:
  // Fresh, 64-byte aligned, uninitialised bytes.
  static std::shared_ptr<Storage> allocate(size_t bytes);
  // A view over `data` (must stay valid while `keeper` lives).
  static std::shared_ptr<Storage> wrap(void* data, size_t bytes, std::shared_ptr<void> keeper);
  // The same over a private mapping of a file (a model file's zero-copy tensors): see drop_file_pages.
  static std::shared_ptr<Storage> wrap_file(void* data, size_t bytes, std::shared_ptr<void> keeper);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  bool owned() const { return owned_; }
  bool file_backed() const { return file_backed_; }

 private:
  Storage() = default;
  void* data_ = nullptr;
  size_t bytes_ = 0;
  bool owned_ = false;
  bool file_backed_ = false;
  std::shared_ptr<void> keeper_;
};

class Tensor;
// Peak memory: for a tensor that views a mapped model file (Storage::wrap_file) and that nobody wrote to,
// gives the resident pages wholly inside its bytes back (madvise MADV_DONTNEED): they no longer count in the
// process's RSS and fault in again from the file (same bytes) if read later. No-op for any other tensor.
void drop_file_pages(const Tensor& t);

class Tensor {
 public:
  Tensor() = default;
  // New contiguous tensor, uninitialised / zero-filled.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  // Contiguous view over an existing storage at a byte offset (checked against the storage's size).
  static Tensor view_of(std::shared_ptr<Storage> storage, size_t byte_offset, const Shape& shape,
                        DType dtype);
  // Copies `n` values in.
  static Tensor from_data(const float* data, const Shape& shape);
  static Tensor from_data(const int64_t* data, const Shape& shape);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  int64_t offset() const { return offset_; }         // in elements
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Raw pointer to element 0 (typed accessors check the dtype).
  void* raw() const;
  float* f32() const;
  int64_t* i64() const;
  int32_t* i32() const;
  int8_t* i8() const;
  uint16_t* u16() const;  // F16 / BF16 bits

  // Views (share storage).
  Tensor reshape(const Shape& shape) const;                    // contiguous only; one dim may be -1
  Tensor slice(int64_t d, int64_t start, int64_t stop) const;  // [start, stop) along d
  Tensor select(int64_t d, int64_t index) const;               // drops dim d
  Tensor transpose(int64_t a, int64_t b) const;

  // Copies.
  Tensor contiguous() const;     // itself when already contiguous
  Tensor clone() const;          // always a fresh contiguous copy
  Tensor to(DType dtype) const;  // float conversions (f16/bf16/f32) and int (i32/i64); fresh copy

  std::string describe() const;  // "float32 (4, 64, 32)"

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_, strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::F32;
};

}  // namespace tern
