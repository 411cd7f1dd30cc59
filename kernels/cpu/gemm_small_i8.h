// int8 linear layers for few rows (one stream's chunk, a lightly loaded
// expert), with quantization and dequantization fused around the GEMM.
//
// Activations are quantized per row (symmetric, dynamic) to u8 with a +128
// offset; weights are int8 [n, k] as stored (row-major, read in place, never
// repacked). In this regime a layer is bound by streaming W from memory, so
// W is read once: each block of 16 W rows is taken 4 at a time against 4
// activation rows (1 x 16, 2 x 8, 3 x 4 for the last rows), 16 vpdpbusd
// dot products over k whose lanes are summed at the end by one
// transpose-and-add tree; the next block's rows are prefetched meanwhile.
// The epilogue applies, in registers,
//   y = (acc - 128 * row_sum) * x_scale * w_scale + bias
// AVX-512 VNNI, chosen at run time (small_gemm_support().i8); on AArch64 the
// same arithmetic with SDOT (gemm_small_i8_neon.cc).
#pragma once

#include <cstdint>
#include <optional>

#include "core/activation.h"
#include "kernels/types.h"

namespace moeasr::cpu {

// Up to this many rows the kernel beats oneDNN's gemm_u8s8s32 (measured in linear.cc).
constexpr int64_t kSmallRowsInt8 = 24;

// Row stride of a quantized activation matrix: k rounded up to 64 (the
// padding is zero, so whole vectors can be read).
int64_t quantized_row_stride(int64_t k);

// xq[i * ldq + c] = round(x[i * k + c] / x_scale[i]) + 128, with
// x_scale[i] = max|x[i, :]| / 127 (1 for an all-zero row); padding set to 0.
void quantize_rows_u8(const float* x, int64_t m, int64_t k, uint8_t* xq, int64_t ldq, float* x_scale);

// y[i * ldy + j] = act((sum_c xq[i][c] * w[j][c] - 128 * row_sum[j]) * x_scale[i] * scale[j] + bias[j])
// (bias may be null; act, if given, must be one vec::in_registers() accepts,
// applied before the store). Requires small_gemm_support().i8.
void small_linear_u8s8(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t m, const WeightMatrix& w,
                       const float* bias, float* y, int64_t ldy, std::optional<Activation> act = std::nullopt);

#if defined(__aarch64__)
// The SDOT kernel behind small_linear_u8s8 on AArch64 (no fused activation).
void small_linear_u8s8_dotprod(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t m,
                               const WeightMatrix& w, const float* bias, float* y, int64_t ldy);
#endif

}  // namespace moeasr::cpu
