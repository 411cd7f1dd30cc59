// Internal to kernels/cuda: the pieces of linear() that the MoE expert loop
// reuses on its own buffers.
#pragma once

#include <cstdint>

#include "kernels/cuda/ops.h"

namespace moeasr::cuda {

// out[i] = bf16(x[i]) (round to nearest even), n values; out holds n uint16.
void round_to_bf16(Context& ctx, const float* x, int64_t n, void* out);
// y[r, :] += bias for rows r < rows (no-op when bias is null).
void add_bias_rows(Context& ctx, float* y, int64_t rows, int64_t n, const float* bias);
// y[rows, n] = x[rows, k] W^T without bias. x is float for kF32 weights and
// bf16 (already rounded) for kBF16 weights. k > 0.
void gemm_xwt(Context& ctx, const void* x, WeightType type, int64_t rows, const void* w, int64_t n, int64_t k,
              float* y);

}  // namespace moeasr::cuda
