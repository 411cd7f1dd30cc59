// bfloat16 linear layers on CPUs with AVX512_BF16 (vdpbf16ps), keeping the
// activations' float32 precision: each activation is carried as a pair of
// bfloat16s, hi = bf16(x) and lo = bf16(x - hi), so hi + lo holds 16
// significant bits (|x - hi - lo| <= 2^-18 |x|), and every weight meets both
// halves: y = sum hi * w + sum lo * w, products exact, sums in float32. Two
// dot-product instructions per pair of weights still beat widening the
// weights to float32 for FMA (gemm_small.h) by 1.5-1.7x at 1-16 rows, and
// the results stay within float32 rounding of the widening path's, so bf16
// decodes equal float32's wherever rounding the weights alone keeps them
// (rounding the activations to one bf16 as well, which would be 2x faster
// again, changes a fixture model's n-best; tests/model/compute_type_test.cc).
//
// (vdpbf16ps reads bf16 denormals as zero; a nonzero lo half is at least
// x's float32 ulp, so it can only be one when |x| < 2^-102, ~2e-31, where
// the product is negligible anyway.)
//
// Weights are bf16 [n, k] as stored (row-major, read in place, never
// repacked); vdpbf16ps takes adjacent pairs along k, which is that layout.
// Each block of 16 W rows is taken 4 at a time against 4 activation rows
// (1 x 16, 2 x 8, 3 x 4 for the last rows): 16 float dot products over k
// whose lanes are summed at the end by one transpose-and-add tree, with the
// bias added in registers. The next block's rows are prefetched meanwhile.
#pragma once

#include <cstdint>
#include <optional>

#include "core/activation.h"
#include "kernels/types.h"

namespace moeasr::cpu {

// Up to this many rows linear.cc takes this kernel over widening the weights
// for oneDNN's sgemm (measured in linear.cc), unless oneDNN's matmul
// primitive has a brgemm kernel, which takes over from fewer rows.
constexpr int64_t kBf16PairRows = 128;

// Row stride, in elements, of a split activation matrix: k rounded up to 32
// (the padding is zero, so whole vectors can be read).
int64_t bf16_row_stride(int64_t k);

// Splits x [m, k] into 2m rows of bf16 (round to nearest even), ldb apart:
//   xs[2i] = hi = bf16(x[i]),  xs[2i + 1] = bf16(x[i] - hi);  padding set to 0.
// Requires small_gemm_support().bf16_dot.
void split_rows_bf16(const float* x, int64_t m, int64_t k, uint16_t* xs, int64_t ldb);

// y[i * ldy + j] = act(sum_c (hi[i][c] + lo[i][c]) * w[j][c] + bias[j]) (bias
// may be null; act, if given, must be one vec::in_registers() accepts,
// applied before the store). Requires small_gemm_support().bf16_dot.
void linear_bf16_pairs(const uint16_t* xs, int64_t ldb, int64_t m, const WeightMatrix& w, const float* bias, float* y,
                       int64_t ldy, std::optional<Activation> act = std::nullopt);

}  // namespace moeasr::cpu
