// Internal to kernels/cuda: the pieces of linear() that the MoE expert loop
// reuses on its own buffers.
#pragma once

#include <cstdint>

#include "kernels/cuda/ops.h"

namespace moeasr::cuda {

// Each activation as a pair of bf16 values, hi = bf16(x) and lo = bf16(x - hi)
// (round to nearest even; 16 significant bits together), n values each into
// hi and lo (n uint16 each): the bf16 GEMMs run once on hi and once on lo,
// so bf16 weights meet activations of float32's precision, as on the CPU
// (kernels/cpu/gemm_bf16.h).
void split_bf16(Context& ctx, const float* x, int64_t n, void* hi, void* lo);
// y[r, :] += bias for rows r < rows (no-op when bias is null).
void add_bias_rows(Context& ctx, float* y, int64_t rows, int64_t n, const float* bias);
// y[rows, n] = x[rows, k] W^T + beta y without bias. x is float for kF32
// weights and bf16 (split_bf16's hi or lo) for kBF16 weights (no int8). k > 0.
void gemm_xwt(Context& ctx, const void* x, WeightType type, int64_t rows, const void* w, int64_t n, int64_t k,
              float* y, float beta = 0.f);

}  // namespace moeasr::cuda
