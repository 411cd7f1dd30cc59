// Element-wise kernels: activations, GLU, scaled residual adds.
#pragma once

#include <cstdint>

#include "core/activation.h"

namespace moeasr::cpu {

// x = act(x) over n contiguous values.
void activation(float* x, int64_t n, Activation act);
// Row-wise on [rows, cols] with leading dimension ld.
void activation_rows(float* x, int64_t rows, int64_t cols, int64_t ld, Activation act);
// y[r, c] = a[r, c] * sigmoid(a[r, C + c]) for a of shape [rows, 2C] (torch.nn.functional.glu, dim=-1).
void glu(const float* a, int64_t rows, int64_t half, float* y);
// y += alpha * x over n values.
void add_scaled(float* y, const float* x, float alpha, int64_t n);
// y[i] *= x[i].
void mul(float* y, const float* x, int64_t n);
// y = x * scale (n values, may alias).
void scale(float* y, const float* x, float s, int64_t n);

}  // namespace moeasr::cpu
