#include "kernels/cpu/rows.h"

#include <cmath>
#include <cstring>

namespace moeasr::cpu {

void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t n, float fill, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    float* out = dst + i * width;
    if (rows[i] >= 0) {
      std::memcpy(out, src + static_cast<int64_t>(rows[i]) * width, sizeof(float) * width);
    } else {
      for (int64_t c = 0; c < width; ++c) out[c] = fill;
    }
  }
}

void scatter_rows(const float* src, int64_t width, const int32_t* rows, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    if (rows[i] >= 0) std::memcpy(dst + static_cast<int64_t>(rows[i]) * width, src + i * width, sizeof(float) * width);
  }
}

void embedding(const float* table, int64_t d, const int32_t* ids, int64_t n, float s, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float* row = table + static_cast<int64_t>(ids[i]) * d;
    for (int64_t c = 0; c < d; ++c) out[i * d + c] = row[c] * s;
  }
}

void sinusoid_rows(const float* div, int64_t half, int64_t first, int64_t count, float* out) {
  for (int64_t r = 0; r < count; ++r) {
    const float pos = static_cast<float>(first + r);
    float* row = out + r * 2 * half;
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * div[i];  // float32 product, as torch computes it
      row[2 * i] = static_cast<float>(std::sin(static_cast<double>(angle)));
      row[2 * i + 1] = static_cast<float>(std::cos(static_cast<double>(angle)));
    }
  }
}

}  // namespace moeasr::cpu
