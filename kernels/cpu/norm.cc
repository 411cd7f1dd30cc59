#include "kernels/cpu/norm.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/lane_sum.h"

namespace moeasr::cpu {

void layer_norm(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps,
                float* y) {
  if (cols <= 0) return;
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    // Two-pass statistics (as PyTorch) for accuracy on large-mean rows.
    const float mean = lane_sum(cols, [&](int64_t c) { return in[c]; }) / static_cast<float>(cols);
    const float var = lane_sum(cols, [&](int64_t c) { return (in[c] - mean) * (in[c] - mean); }) / static_cast<float>(cols);
    const float inv = 1.f / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) out[c] = (in[c] - mean) * inv * gamma[c] + beta[c];
  }
}

void channel_affine(const float* x, int64_t rows, int64_t cols, const float* scale, const float* shift, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = x[r * cols + c] * scale[c] + shift[c];
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
