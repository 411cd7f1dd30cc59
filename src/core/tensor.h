// A minimal n-d array: a shape, a dtype, a device and a pointer into a shared
// buffer.
//
// Copies are shallow (they share the buffer, like torch.Tensor). A tensor
// either owns a buffer it allocated on its device (64-byte aligned on the
// CPU) or views memory owned elsewhere (e.g. an mmap'd weight file), kept
// alive through a shared_ptr so a view never dangles. The data of a tensor on
// a GPU is device memory: only kernels read it; moving data between devices
// and filling device memory are ops (src/ops/memory.h), which run on a
// device's queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"

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
  // Owned, uninitialized.
  explicit Tensor(Shape shape, DType dtype = DType::kF32, Device device = Device::cpu());
  // Owned, zero-filled (CPU only; on a device use ops::fill_zero).
  static Tensor zeros(Shape shape, DType dtype = DType::kF32);
  // A view of memory owned by `owner` (may be null when the caller guarantees lifetime).
  static Tensor view(const void* data, Shape shape, DType dtype, std::shared_ptr<const void> owner,
                     Device device = Device::cpu());

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool empty() const { return numel_ == 0; }
  // Rows of a matrix: numel / last dimension (1 for a scalar).
  int64_t rows() const { return rank() == 0 ? 1 : (dim(-1) ? numel_ / dim(-1) : 0); }

  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  // Changes the shape keeping the element count.
  Tensor& reshape(Shape shape);
  // Changes the shape; reallocates on the tensor's device (contents lost)
  // only when the buffer is too small (a view is never grown in place: it is
  // replaced by an owned buffer). Used for reusable work buffers, and for
  // op outputs written into a view of the right size.
  Tensor& resize(Shape shape);
  // The same on `device`: a tensor elsewhere (or empty) drops its buffer and
  // allocates there. The op layer sizes its outputs this way.
  Tensor& resize(Shape shape, Device device);
  // A view of rows [begin, begin + count) of the first dimension, sharing the buffer.
  Tensor slice_rows(int64_t begin, int64_t count) const;
  // A deep copy (CPU only).
  Tensor clone() const;
  void fill_zero();  // CPU only

 private:
  std::shared_ptr<const void> storage_;
  void* data_ = nullptr;
  size_t capacity_ = 0;  // bytes available at data_
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::kF32;
  Device device_;
};

}  // namespace moeasr
