#include "nn/linear.h"

namespace moeasr {

WeightMatrix Linear::matrix() const {
  WeightMatrix m;
  switch (weight.dtype()) {
    case DType::kBF16: m.type = WeightType::kBF16; break;
    case DType::kF16: m.type = WeightType::kF16; break;
    case DType::kI8: m.type = WeightType::kI8; break;
    default: m.type = WeightType::kF32; break;
  }
  m.n = out();
  m.k = in();
  m.data = weight.raw();
  if (m.type == WeightType::kI8) {
    m.scale = scale.data<float>();
    m.row_sum = row_sum.data<int32_t>();
  }
  return m;
}

}  // namespace moeasr
