#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/lane_sum.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/cpu/vec_math_neon.h"

namespace moeasr::cpu {

namespace {

float max_of(const float* x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// Sum of exp(x[i] - shift); y[i] = exp(x[i] - shift) where y is given (y may
// be x). Each value's exp and its lane in the sum depend only on its index, not
// its address (lane_sum.h). The vector exp clamps its input at -87.3, so
// below that its result is set to 0 here: a -inf logit gets probability 0.
constexpr float kExpUnderflow = -87.3f;
#if defined(__x86_64__)
__attribute__((target("avx512f"))) float exp_sum_avx512(const float* x, int64_t n, float shift, float* y) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = vec::mask16(n - i);
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    const __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, _mm512_set1_ps(kExpUnderflow), _CMP_GE_OQ), vec::exp(d));
    if (y) _mm512_mask_storeu_ps(y + i, m, e);
    acc = _mm512_mask_add_ps(acc, m, acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}
#endif

#if defined(__ARM_NEON)
float32x4_t exp_or_zero(float32x4_t d) {
  return vbslq_f32(vcgeq_f32(d, vdupq_n_f32(kExpUnderflow)), neon::exp(d), vdupq_n_f32(0.f));
}

float exp_sum_neon(const float* x, int64_t n, float shift, float* y) {
  const float32x4_t s = vdupq_n_f32(shift);
  float32x4_t acc = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp_or_zero(vsubq_f32(vld1q_f32(x + i), s));
    if (y) vst1q_f32(y + i, e);
    acc = vaddq_f32(acc, e);
  }
  if (i < n) {  // the tail through a padded vector; its unused lanes add 0
    float buf[4] = {shift, shift, shift, shift}, keep[4] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t k = 0; k < n - i; ++k) buf[k] = x[i + k], keep[k] = 1.f;
    const float32x4_t e = vmulq_f32(exp_or_zero(vsubq_f32(vld1q_f32(buf), s)), vld1q_f32(keep));
    vst1q_f32(buf, e);
    if (y) for (int64_t k = 0; k < n - i; ++k) y[i + k] = buf[k];
    acc = vaddq_f32(acc, e);
  }
  float lanes[4];
  vst1q_f32(lanes, acc);
  return (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
}
#endif

float exp_sum(const float* x, int64_t n, float shift, float* y) {
#if defined(__x86_64__)
  if (small_gemm_support().f32) return exp_sum_avx512(x, n, shift, y);
#elif defined(__ARM_NEON)
  return exp_sum_neon(x, n, shift, y);
#endif
  return lane_sum(n, [&](int64_t i) {
    const float e = std::exp(x[i] - shift);
    if (y) y[i] = e;
    return e;
  });
}

}  // namespace

void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    float* a = x + r * ld;
    const float inv = 1.f / exp_sum(a, cols, max_of(a, cols), a);
    for (int64_t c = 0; c < cols; ++c) a[c] *= inv;  // as PyTorch's vectorized softmax
  }
}

void log_softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    float* a = x + r * ld;
    // (x - max) - log(sum): subtracting the max first keeps large logits exact.
    const float max = max_of(a, cols);
    const float log_sum = std::log(exp_sum(a, cols, max, nullptr));
    for (int64_t c = 0; c < cols; ++c) a[c] = (a[c] - max) - log_sum;
  }
}

void softmax_segments(float* x, int64_t cols, const int64_t* offsets, int64_t num_segments, float temperature) {
  for (int64_t seg = 0; seg < num_segments; ++seg) {
    const int64_t begin = offsets[seg], end = offsets[seg + 1];
    for (int64_t j = 0; j < cols; ++j) {
      // (x - max) / temperature cannot overflow however small the temperature is.
      float top = -INFINITY;
      for (int64_t r = begin; r < end; ++r) top = std::max(top, x[r * cols + j]);
      if (top == -INFINITY) {  // every row masked: nothing to weigh
        for (int64_t r = begin; r < end; ++r) x[r * cols + j] = 0.f;
        continue;
      }
      float sum = 0.f;
      for (int64_t r = begin; r < end; ++r) sum += (x[r * cols + j] = std::exp((x[r * cols + j] - top) / temperature));
      for (int64_t r = begin; r < end; ++r) x[r * cols + j] /= sum;
    }
  }
}

}  // namespace moeasr::cpu
