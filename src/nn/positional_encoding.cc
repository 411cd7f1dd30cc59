#include "nn/positional_encoding.h"

#include <cmath>

namespace moeasr {

PositionalEncoding::PositionalEncoding(int64_t d) : div_(static_cast<size_t>(d / 2)) {
  const float step = static_cast<float>(-(std::log(10000.0) / static_cast<double>(d)));
  for (size_t i = 0; i < div_.size(); ++i) div_[i] = std::exp(static_cast<float>(2 * i) * step);
}

void PositionalEncoding::rows(int64_t first, int64_t count, float* out) const {
  const size_t half = div_.size();
  for (int64_t r = 0; r < count; ++r) {
    const float pos = static_cast<float>(first + r);
    float* row = out + r * 2 * half;
    for (size_t i = 0; i < half; ++i) {
      const float angle = pos * div_[i];  // float32 product, as torch computes it
      row[2 * i] = static_cast<float>(std::sin(static_cast<double>(angle)));
      row[2 * i + 1] = static_cast<float>(std::cos(static_cast<double>(angle)));
    }
  }
}

}  // namespace moeasr
