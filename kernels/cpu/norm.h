// Normalizations over the last dimension.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta, statistics over `cols`.
// x and y may alias.
void layer_norm(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, float eps, float* y);
// y[r, c] = x[r, c] * scale[c] + shift[c] (an inference-time BatchNorm). x and y may alias.
void channel_affine(const float* x, int64_t rows, int64_t cols, const float* scale, const float* shift, float* y);
// x[r, c] = (x[r, c] - mean[c]) * istd[c] (WeNet's global CMVN), in place.
void cmvn(float* x, int64_t rows, int64_t cols, const float* mean, const float* istd);
// y[r] = x[r] / max(||x[r]||, 1e-12) (torch.nn.functional.normalize), the
// sum of squares in double. x and y may alias.
void l2_normalize_rows(const float* x, int64_t rows, int64_t cols, float* y);

}  // namespace moeasr::cpu
