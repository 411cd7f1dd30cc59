// small_linear_u8s8 (gemm_small_i8.h) on AArch64 with the ARMv8.2 dot product
// (SDOT: Cortex-A55/A76/A78, Neoverse, Apple, Raspberry Pi 5, Jetson Orin),
// chosen at run time (small_gemm_support().i8, from getauxval). Only the code
// below the target pragma may use dotprod instructions; nothing here runs
// before that check.
//
// The activations arrive as u8 with a +128 offset; flipping the top bit gives
// the signed value (u8 v ^ 0x80 read as s8 = v - 128), so SDOT computes
// sum_c (xq - 128) w = sum_c xq w - 128 row_sum exactly: the same integer as
// the x86 kernel's, with no compensation step. A block of 4 W rows meets up
// to 4 activation rows (16 int32x4 accumulators, 16 MACs per SDOT), so each
// weight is loaded once per 4 rows (a last block of fewer rows has a kernel
// of its own); the k % 16 tail reads W through a zero-padded copy (the
// activations' padding is then multiplied by zero).
#include "kernels/cpu/gemm_small_i8.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")

namespace moeasr::cpu {

namespace {

constexpr int kMaxRows = 4;  // activation rows per block (and W rows: kCols)

template <int kCols, int kRows>
void dot_block(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t i0, const WeightMatrix& w, int64_t j0,
               const float* bias, float* y, int64_t ldy) {
  const int64_t k = w.k, k16 = k / 16 * 16;
  const int8_t* wr[kCols];
  for (int b = 0; b < kCols; ++b) wr[b] = w.i8() + (j0 + b) * k;
  const uint8_t* xr[kRows];
  for (int a = 0; a < kRows; ++a) xr[a] = xq + (i0 + a) * ldq;
  const uint8x16_t flip = vdupq_n_u8(0x80);
  // Every loop over the block is unrolled before GCC maps arrays to
  // registers: left as loops, acc stayed in memory, stored on every step.
  int32x4_t acc[kRows][kCols];
#pragma GCC unroll 4
  for (int a = 0; a < kRows; ++a) {
#pragma GCC unroll 4
    for (int b = 0; b < kCols; ++b) acc[a][b] = vdupq_n_s32(0);
  }
  auto step = [&](const int8x16_t (&v)[kCols], int64_t c) {
#pragma GCC unroll 4
    for (int a = 0; a < kRows; ++a) {
      const int8x16_t xv = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(xr[a] + c), flip));
#pragma GCC unroll 4
      for (int b = 0; b < kCols; ++b) acc[a][b] = vdotq_s32(acc[a][b], xv, v[b]);
    }
  };
  for (int64_t c = 0; c < k16; c += 16) {
    int8x16_t v[kCols];
#pragma GCC unroll 4
    for (int b = 0; b < kCols; ++b) v[b] = vld1q_s8(wr[b] + c);
    step(v, c);
  }
  if (k16 < k) {  // quantized_row_stride pads the activations to 64 bytes
    int8x16_t v[kCols];
    for (int b = 0; b < kCols; ++b) {
      int8_t tail[16] = {};
      std::memcpy(tail, wr[b] + k16, static_cast<size_t>(k - k16));
      v[b] = vld1q_s8(tail);
    }
    step(v, k16);
  }
#pragma GCC unroll 4
  for (int a = 0; a < kRows; ++a) {
#pragma GCC unroll 4
    for (int b = 0; b < kCols; ++b) {
      const int64_t j = j0 + b;
      y[(i0 + a) * ldy + j] =
          std::fma(static_cast<float>(vaddvq_s32(acc[a][b])), w.scale[j] * x_scale[i0 + a], bias ? bias[j] : 0.f);
    }
  }
}

// Rows i0 .. i0 + rows (rows <= kMaxRows) against the kCols W rows from j0.
template <int kCols>
void rows_block(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t i0, int64_t rows, const WeightMatrix& w,
                int64_t j0, const float* bias, float* y, int64_t ldy) {
  switch (rows) {
    case 1: return dot_block<kCols, 1>(xq, ldq, x_scale, i0, w, j0, bias, y, ldy);
    case 2: return dot_block<kCols, 2>(xq, ldq, x_scale, i0, w, j0, bias, y, ldy);
    case 3: return dot_block<kCols, 3>(xq, ldq, x_scale, i0, w, j0, bias, y, ldy);
    case 4: return dot_block<kCols, 4>(xq, ldq, x_scale, i0, w, j0, bias, y, ldy);
    default: return;
  }
}

}  // namespace

void small_linear_u8s8_dotprod(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t m,
                               const WeightMatrix& w, const float* bias, float* y, int64_t ldy) {
  const int64_t n4 = w.n / 4 * 4;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n4; j += 4) {
    for (int64_t i = 0; i < m; i += kMaxRows) {
      rows_block<4>(xq, ldq, x_scale, i, std::min<int64_t>(kMaxRows, m - i), w, j, bias, y, ldy);
    }
  }
  for (int64_t j = n4; j < w.n; ++j) {
    for (int64_t i = 0; i < m; i += kMaxRows) {
      rows_block<1>(xq, ldq, x_scale, i, std::min<int64_t>(kMaxRows, m - i), w, j, bias, y, ldy);
    }
  }
}

}  // namespace moeasr::cpu

#pragma GCC pop_options

#endif  // __aarch64__
