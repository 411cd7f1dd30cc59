// The few-row GEMMs of gemm_small.h for ARM (AArch64, and 32-bit ARM with
// NEON): the same weight-streaming structure as the AVX-512 kernels, 4 lanes
// wide. A block of 4 W rows meets up to kXRows activation rows at a time, so
// every weight is loaded once per kXRows rows: 4 x 4 accumulators on AArch64
// (32 vector registers), 4 x 2 on 32-bit ARM (16). A last block of fewer
// rows has a kernel of its own rather than repeating a row, so one row (a
// GEMV) costs a quarter of four.
#include "kernels/cpu/gemm_small.h"

#if defined(__ARM_NEON)

#include <arm_neon.h>

#include <algorithm>

#include "core/half.h"
#include "kernels/cpu/vec_math_neon.h"

namespace moeasr::cpu {

namespace {

#if defined(__aarch64__)
constexpr int kXRows = 4;
#else
constexpr int kXRows = 2;
#endif

struct F32Weights {
  static float32x4_t load(const float* p) { return vld1q_f32(p); }
  static float scalar(const float* p) { return *p; }
};

// bf16 -> f32: the 16 bits are the top half of the float.
struct Bf16Weights {
  static float32x4_t load(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static float scalar(const uint16_t* p) { return bf16_to_float(*p); }
};

// IEEE half -> f32 (VCVT; on 32-bit ARM part of VFPv4's NEON).
struct F16Weights {
  static float32x4_t load(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static float scalar(const uint16_t* p) { return fp16_to_float(*p); }
};

inline float horizontal_sum(float32x4_t v) {
#if defined(__aarch64__)
  return vaddvq_f32(v);
#else
  const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpadd_f32(s, s), 0);
#endif
}

// y[i][j0 + b] for the kRows rows i from i0 and the kCols W rows from j0;
// k4 = k rounded down to 4, the rest added one product at a time.
template <typename Weights, typename T, int kCols, int kRows>
void block(const float* x, int64_t i0, int64_t k, const T* w, int64_t j0, float* y, int64_t ldy) {
  const int64_t k4 = k / 4 * 4;
  const T* wr[kCols];
  for (int b = 0; b < kCols; ++b) wr[b] = w + (j0 + b) * k;
  const float* xr[kRows];
  for (int a = 0; a < kRows; ++a) xr[a] = x + (i0 + a) * k;
  // Every loop over the block is unrolled before GCC maps arrays to
  // registers: left as loops, acc stayed in memory, stored on every step.
  float32x4_t acc[kRows][kCols];
#pragma GCC unroll 4
  for (int a = 0; a < kRows; ++a) {
#pragma GCC unroll 4
    for (int b = 0; b < kCols; ++b) acc[a][b] = vdupq_n_f32(0.f);
  }
  for (int64_t c = 0; c < k4; c += 4) {
    float32x4_t v[kCols];
#pragma GCC unroll 4
    for (int b = 0; b < kCols; ++b) v[b] = Weights::load(wr[b] + c);
#pragma GCC unroll 4
    for (int a = 0; a < kRows; ++a) {
      const float32x4_t xv = vld1q_f32(xr[a] + c);
#pragma GCC unroll 4
      for (int b = 0; b < kCols; ++b) acc[a][b] = neon::mul_add(acc[a][b], xv, v[b]);
    }
  }
#pragma GCC unroll 4
  for (int a = 0; a < kRows; ++a) {
#pragma GCC unroll 4
    for (int b = 0; b < kCols; ++b) {
      float s = horizontal_sum(acc[a][b]);
      for (int64_t c = k4; c < k; ++c) s += xr[a][c] * Weights::scalar(wr[b] + c);
      y[(i0 + a) * ldy + j0 + b] = s;
    }
  }
}

// Rows i0 .. i0 + rows (rows <= kXRows) against the kCols W rows from j0.
template <typename Weights, typename T, int kCols>
void rows_block(const float* x, int64_t i0, int64_t rows, int64_t k, const T* w, int64_t j0, float* y, int64_t ldy) {
  switch (rows) {
    case 1: return block<Weights, T, kCols, 1>(x, i0, k, w, j0, y, ldy);
    case 2: return block<Weights, T, kCols, 2>(x, i0, k, w, j0, y, ldy);
#if defined(__aarch64__)
    case 3: return block<Weights, T, kCols, 3>(x, i0, k, w, j0, y, ldy);
    case 4: return block<Weights, T, kCols, 4>(x, i0, k, w, j0, y, ldy);
#endif
    default: return;
  }
}

template <typename Weights, typename T>
void small_gemm(const float* x, int64_t m, int64_t k, const T* w, int64_t n, float* y, int64_t ldy) {
  const int64_t n4 = n / 4 * 4;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n4; j += 4) {
    for (int64_t i = 0; i < m; i += kXRows) rows_block<Weights, T, 4>(x, i, std::min<int64_t>(kXRows, m - i), k, w, j, y, ldy);
  }
  for (int64_t j = n4; j < n; ++j) {  // the last n % 4 rows of W, one at a time
    for (int64_t i = 0; i < m; i += kXRows) rows_block<Weights, T, 1>(x, i, std::min<int64_t>(kXRows, m - i), k, w, j, y, ldy);
  }
}

}  // namespace

void small_gemm_f32(const float* x, int64_t m, int64_t k, const float* w, int64_t n, float* y, int64_t ldy) {
  small_gemm<F32Weights>(x, m, k, w, n, y, ldy);
}

void small_gemm_bf16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy) {
  small_gemm<Bf16Weights>(x, m, k, w, n, y, ldy);
}

void small_gemm_f16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy) {
  small_gemm<F16Weights>(x, m, k, w, n, y, ldy);
}

}  // namespace moeasr::cpu

#endif  // __ARM_NEON
