// Normalizations over the last dimension.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta, statistics over `cols`.
// x and y may alias.
void layer_norm(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps, float* y);
// y[r, c] = x[r, c] * scale[c] + shift[c] (an inference-time BatchNorm). x and y may alias.
void channel_affine(const float* x, int64_t rows, int64_t cols, const float* scale, const float* shift, float* y);

}  // namespace moeasr::cpu
