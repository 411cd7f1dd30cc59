// A minimal n-d array: a shape, a dtype and a pointer into a shared buffer.
//
// Copies are shallow (they share the buffer, like torch.Tensor); clone() makes
// a deep copy. A tensor either owns a 64-byte aligned heap buffer or views
// memory owned elsewhere (e.g. an mmap'd weight file), kept alive through a
// shared_ptr so a view never dangles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moeasr {

enum class DType : uint8_t { kF32, kF16, kBF16, kF64, kI8, kU8, kI16, kI32, kI64, kBool };

size_t dtype_size(DType dtype);
// The safetensors spelling ("F32", "BF16", "I8", ...).
const char* dtype_name(DType dtype);

using Shape = std::vector<int64_t>;
std::string shape_string(const Shape& shape);  // "[2, 3]"
// Number of elements; throws on negative dims or overflow.
int64_t shape_numel(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Owned, uninitialized, 64-byte aligned.
  explicit Tensor(Shape shape, DType dtype = DType::kF32);
  static Tensor zeros(Shape shape, DType dtype = DType::kF32);
  // A view of memory owned by `owner` (may be null when the caller guarantees lifetime).
  static Tensor view(const void* data, Shape shape, DType dtype, std::shared_ptr<const void> owner);

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  bool empty() const { return numel_ == 0; }

  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  // Changes the shape keeping the element count.
  Tensor& reshape(Shape shape);
  // Changes the shape; reallocates (contents lost) only when the owned buffer
  // is too small. Views are never resized in place. Used for reusable work buffers.
  Tensor& resize(Shape shape);
  Tensor clone() const;
  void fill_zero();

 private:
  std::shared_ptr<const void> storage_;
  void* data_ = nullptr;
  size_t capacity_ = 0;  // bytes available at data_ when owned; 0 for views
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::kF32;
};

}  // namespace moeasr
