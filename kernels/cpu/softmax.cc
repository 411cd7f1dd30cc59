#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Core>

namespace moeasr::cpu {

void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    Eigen::Map<Eigen::ArrayXf> a(x + r * ld, cols);
    a = (a - a.maxCoeff()).exp();
    a /= a.sum();
  }
}

void log_softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    Eigen::Map<Eigen::ArrayXf> a(x + r * ld, cols);
    // (x - max) - log(sum): subtracting the max first keeps large logits exact.
    const float max = a.maxCoeff();
    a -= max;
    a -= std::log(a.exp().sum());
  }
}

void softmax_segments(float* x, int64_t cols, const int64_t* offsets, int64_t num_segments, float temperature) {
  for (int64_t seg = 0; seg < num_segments; ++seg) {
    const int64_t begin = offsets[seg], end = offsets[seg + 1];
    for (int64_t j = 0; j < cols; ++j) {
      // (x - max) / temperature cannot overflow however small the temperature is.
      float top = -INFINITY;
      for (int64_t r = begin; r < end; ++r) top = std::max(top, x[r * cols + j]);
      if (top == -INFINITY) {  // every row masked: nothing to weigh
        for (int64_t r = begin; r < end; ++r) x[r * cols + j] = 0.f;
        continue;
      }
      float sum = 0.f;
      for (int64_t r = begin; r < end; ++r) sum += (x[r * cols + j] = std::exp((x[r * cols + j] - top) / temperature));
      for (int64_t r = begin; r < end; ++r) x[r * cols + j] /= sum;
    }
  }
}

}  // namespace moeasr::cpu
