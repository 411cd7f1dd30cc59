#include "kernels/cpu/norm.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Core>

namespace moeasr::cpu {

void layer_norm(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps,
                float* y) {
  Eigen::Map<const Eigen::ArrayXf> g(gamma, cols), b(beta, cols);
  for (int64_t r = 0; r < rows; ++r) {
    Eigen::Map<const Eigen::ArrayXf> in(x + r * cols, cols);
    // Two-pass statistics (as PyTorch) for accuracy on large-mean rows.
    const float mean = in.mean();
    const float var = (in - mean).square().mean();
    const float inv = 1.f / std::sqrt(var + eps);
    Eigen::Map<Eigen::ArrayXf>(y + r * cols, cols) = (in - mean) * inv * g + b;
  }
}

void channel_affine(const float* x, int64_t rows, int64_t cols, const float* scale, const float* shift, float* y) {
  Eigen::Map<const Eigen::ArrayXf> s(scale, cols), t(shift, cols);
  for (int64_t r = 0; r < rows; ++r) {
    Eigen::Map<Eigen::ArrayXf>(y + r * cols, cols) = Eigen::Map<const Eigen::ArrayXf>(x + r * cols, cols) * s + t;
  }
}

void cmvn(float* x, int64_t rows, int64_t cols, const float* mean, const float* istd) {
  for (int64_t t = 0; t < rows; ++t) {
    float* row = x + t * cols;
    for (int64_t f = 0; f < cols; ++f) row[f] = (row[f] - mean[f]) * istd[f];
  }
}

void l2_normalize_rows(const float* x, int64_t rows, int64_t cols, float* y) {
  constexpr float kEps = 1e-12f;  // F.normalize's eps
  for (int64_t t = 0; t < rows; ++t) {
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(x[t * cols + c]) * x[t * cols + c];
    const float inv = 1.f / std::max(static_cast<float>(std::sqrt(sum)), kEps);
    for (int64_t c = 0; c < cols; ++c) y[t * cols + c] = x[t * cols + c] * inv;
  }
}

}  // namespace moeasr::cpu
