#include "kernels/cpu/softmax.h"

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

}  // namespace moeasr::cpu
