#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/error.h"

namespace moeasr {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF64: return 8;
    case DType::kI8: return 1;
    case DType::kU8: return 1;
    case DType::kI16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kBool: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF64: return "F64";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kI16: return "I16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kBool: return "BOOL";
  }
  return "?";
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    MOEASR_CHECK(d >= 0, MOEASR_ERR_INVALID_ARGUMENT, "negative dimension in shape ", shape_string(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      throw_error(MOEASR_ERR_INVALID_ARGUMENT, "shape ", shape_string(shape), " has too many elements");
    }
    n *= d;
  }
  return n;
}

Tensor::Tensor(Shape shape, DType dtype, Device device) : shape_(std::move(shape)), dtype_(dtype), device_(device) {
  numel_ = shape_numel(shape_);
  MOEASR_CHECK(static_cast<uint64_t>(numel_) <= std::numeric_limits<size_t>::max() / dtype_size(dtype_),
               MOEASR_ERR_OUT_OF_MEMORY, "tensor of shape ", shape_string(shape_), " is too large");
  auto buffer = allocate(device_, nbytes());
  data_ = buffer.get();
  capacity_ = nbytes();
  storage_ = std::move(buffer);
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t(std::move(shape), dtype);
  t.fill_zero();
  return t;
}

Tensor Tensor::view(const void* data, Shape shape, DType dtype, std::shared_ptr<const void> owner, Device device) {
  Tensor t;
  t.device_ = device;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.dtype_ = dtype;
  t.data_ = const_cast<void*>(data);
  t.storage_ = std::move(owner);
  t.capacity_ = t.nbytes();  // a view may be written in place, never grown
  return t;
}

Tensor& Tensor::reshape(Shape shape) {
  int64_t n = shape_numel(shape);
  MOEASR_CHECK(n == numel_, MOEASR_ERR_INTERNAL, "cannot reshape ", shape_string(shape_), " to ",
               shape_string(shape));
  shape_ = std::move(shape);
  return *this;
}

Tensor& Tensor::resize(Shape shape) {
  int64_t n = shape_numel(shape);
  size_t bytes = static_cast<size_t>(n) * dtype_size(dtype_);
  if (bytes > capacity_) {
    // Grow geometrically so work buffers settle after a few calls.
    size_t grown = std::max(bytes, capacity_ + capacity_ / 2);
    auto buffer = allocate(device_, grown);
    data_ = buffer.get();
    capacity_ = grown;
    storage_ = std::move(buffer);
  }
  shape_ = std::move(shape);
  numel_ = n;
  return *this;
}

Tensor& Tensor::resize(Shape shape, Device device) {
  if (device != device_) {
    storage_.reset();
    data_ = nullptr;
    capacity_ = 0;
    device_ = device;
  }
  return resize(std::move(shape));
}

Tensor Tensor::slice_rows(int64_t begin, int64_t count) const {
  MOEASR_CHECK(rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= dim(0), MOEASR_ERR_INTERNAL,
               "slice_rows: rows [", begin, ", ", begin + count, ") of ", shape_string(shape_));
  Shape s = shape_;
  s[0] = count;
  const size_t row_bytes = dim(0) ? nbytes() / static_cast<size_t>(dim(0)) : 0;
  return view(static_cast<const char*>(data_) + static_cast<size_t>(begin) * row_bytes, s, dtype_, storage_, device_);
}

Tensor Tensor::clone() const {
  MOEASR_CHECK(device_.is_cpu(), MOEASR_ERR_INTERNAL, "clone of a tensor on ", device_.name());
  Tensor t(shape_, dtype_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

void Tensor::fill_zero() {
  MOEASR_CHECK(device_.is_cpu(), MOEASR_ERR_INTERNAL, "fill_zero of a tensor on ", device_.name());
  if (nbytes()) std::memset(data_, 0, nbytes());
}

}  // namespace moeasr
