// y = x W^T + bias for every weight storage type, choosing the kernel by the
// number of rows: few rows (one stream's chunk, a lightly loaded expert) go
// to the weight-streaming kernels of gemm_small.h; many rows to oneDNN.
//   f32   weights as stored; oneDNN sgemm for many rows
//   bf16  with AVX512_BF16: activations split into pairs of bf16 (hi + lo),
//         bf16 x bf16 products summed in f32; up to 31 rows gemm_bf16.h's
//         kernel, from 32 rows oneDNN's matmul primitive on the 2m pair rows
//         (matmul_primitive.h: brgemm, AMX where the CPU has it; the pair
//         kernel up to 128 rows where oneDNN offers no brgemm kernel);
//         otherwise the weights are widened to f32 in registers (few rows) or
//         per 64-row tile (many rows)
//   int8  activations quantized per row (symmetric, dynamic) to u8 with a +128
//         offset; u8 x s8 -> s32 (gemm_small_i8.h for few rows, oneDNN's
//         matmul primitive where it has AMX kernels, gemm_u8s8s32 otherwise);
//         y = (acc - 128 * row_sum) * x_scale * w_scale + bias
#pragma once

#include <cstdint>
#include <string>

#include "core/activation.h"
#include "kernels/types.h"

namespace moeasr::cpu {

// y[m, w.n] (leading dimension ldy) = x[m, w.k] W^T + bias (bias may be null).
void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy);

// What this CPU runs for few rows, per weight type, e.g. "float32 AVX-512,
// bfloat16 bf16 pairs (AVX512_BF16), int8 VNNI", then the oneDNN matmul
// kernels for many bf16 / int8 rows, e.g. ", bfloat16 many rows: oneDNN
// matmul brg:avx512_core_bf16" with " (not taken)" where kAuto does not use
// them (for benchmark reports).
std::string linear_kernels_summary();

// y = act(x W^T + bias). The few-row int8 and bf16-pair kernels apply ReLU
// and swish in registers before the store; other paths and activations run
// cpu::activation over y afterwards.
void linear_activation(const float* x, int64_t m, const WeightMatrix& w, const float* bias, Activation act, float* y,
                       int64_t ldy);

// Which kernel family a call takes (for benchmarks and tests).
// kBf16Pairs: bf16 weights through gemm_bf16.h (AVX512_BF16 only; other
// weight types and CPUs ignore it and take kAuto's choice).
// kMatmulPrimitive: bf16 (AVX512_BF16 only) and int8 weights through
// oneDNN's matmul primitive (matmul_primitive.h) with any brgemm kernel it
// offers; where it offers none, or without oneDNN, or for other weight
// types, the many-row paths (bf16 pairs up to 128 rows, otherwise kLibrary's).
enum class LinearPath { kAuto, kSmallRows, kLibrary, kBf16Pairs, kMatmulPrimitive };
void linear_with_path(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                      LinearPath path);

}  // namespace moeasr::cpu
