// A Linear layer's weight matrix [n, k] (PyTorch layout: y = x W^T) in one of
// the storage types the kernels read directly: float32, bfloat16, or int8
// with a symmetric per-output-row scale. Kernels never copy the matrix:
// weights stored in the compute type stay in the mmap'd file.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

enum class WeightType : uint8_t { kF32, kBF16, kI8 };
const char* weight_type_name(WeightType t);

struct WeightMatrix {
  WeightType type = WeightType::kF32;
  int64_t n = 0;  // output features (rows)
  int64_t k = 0;  // input features (columns)
  const void* data = nullptr;        // float / uint16_t (bf16 bits) / int8_t, row-major [n, k]
  const float* scale = nullptr;      // int8: w[r][c] = data[r][c] * scale[r]
  const int32_t* row_sum = nullptr;  // int8: sum of data[r][:] (activation zero-point correction)

  const float* f32() const { return static_cast<const float*>(data); }
  const uint16_t* bf16() const { return static_cast<const uint16_t*>(data); }
  const int8_t* i8() const { return static_cast<const int8_t*>(data); }
  // Bytes of the matrix itself (what a kernel streams through once).
  int64_t bytes() const { return n * k * (type == WeightType::kF32 ? 4 : type == WeightType::kBF16 ? 2 : 1); }
};

}  // namespace moeasr::cpu
