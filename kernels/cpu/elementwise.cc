#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/cpu/vec_math_neon.h"

namespace moeasr::cpu {

namespace {

#if defined(__x86_64__)
__attribute__((target("avx512f"))) void activation_avx512(float* x, int64_t n, Activation act) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, vec::activation(_mm512_loadu_ps(x + i), act));
  const __mmask16 tail = vec::mask16(n - i);
  if (tail) _mm512_mask_storeu_ps(x + i, tail, vec::activation(_mm512_maskz_loadu_ps(tail, x + i), act));
}

__attribute__((target("avx512f"))) void glu_row_avx512(const float* lin, const float* gate, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(lin + i), vec::sigmoid(_mm512_loadu_ps(gate + i))));
  }
  const __mmask16 tail = vec::mask16(n - i);
  if (tail) {
    _mm512_mask_storeu_ps(y + i, tail,
                          _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, lin + i), vec::sigmoid(_mm512_maskz_loadu_ps(tail, gate + i))));
  }
}

bool have_avx512() { return small_gemm_support().f32; }
#endif

#if defined(__ARM_NEON)
// The last n < 4 values go through a zero-padded vector, so every value is
// computed by the same instructions wherever it sits.
template <typename F>
void for_each_vector(int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) f(i, 4);
  if (i < n) f(i, n - i);
}

inline float32x4_t load(const float* x, int64_t count) {
  if (count == 4) return vld1q_f32(x);
  float buf[4] = {0.f, 0.f, 0.f, 0.f};
  for (int64_t k = 0; k < count; ++k) buf[k] = x[k];
  return vld1q_f32(buf);
}

inline void store(float* y, float32x4_t v, int64_t count) {
  if (count == 4) return vst1q_f32(y, v);
  float buf[4];
  vst1q_f32(buf, v);
  for (int64_t k = 0; k < count; ++k) y[k] = buf[k];
}

void activation_neon(float* x, int64_t n, Activation act) {
  for_each_vector(n, [&](int64_t i, int64_t count) { store(x + i, neon::activation(load(x + i, count), act), count); });
}

void glu_row_neon(const float* lin, const float* gate, int64_t n, float* y) {
  for_each_vector(n, [&](int64_t i, int64_t count) {
    store(y + i, vmulq_f32(load(lin + i, count), neon::sigmoid(load(gate + i, count))), count);
  });
}
#endif

// The scalar forms: every platform's reference, and the path for activations
// without a vector form and for CPUs without AVX-512 or NEON. Plain loops give
// each value the same rounding at any address (lane_sum.h), which Eigen's
// array expressions did not.
float scalar_activation(float v, Activation act) {
  switch (act) {
    case Activation::kRelu: return std::max(v, 0.f);
    case Activation::kSwish: return v / (1.f + std::exp(-v));
    case Activation::kTanh: return std::tanh(v);
    case Activation::kHardtanh: return std::min(std::max(v, -1.f), 1.f);
    case Activation::kSelu: {
      constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
      return kScale * (v > 0.f ? v : kAlpha * (std::exp(v) - 1.f));
    }
    case Activation::kGelu: return 0.5f * v * (1.f + std::erf(v * 0.70710678118654752f));  // exact (erf) form
  }
  return v;
}

}  // namespace

void activation(float* x, int64_t n, Activation act) {
#if defined(__x86_64__)
  if (vec::in_registers(act) && have_avx512()) return activation_avx512(x, n, act);
#elif defined(__ARM_NEON)
  if (neon::in_registers(act)) return activation_neon(x, n, act);
#endif
  for (int64_t i = 0; i < n; ++i) x[i] = scalar_activation(x[i], act);
}

void activation_rows(float* x, int64_t rows, int64_t cols, int64_t ld, Activation act) {
  if (ld == cols) {
    activation(x, rows * cols, act);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) activation(x + r * ld, cols, act);
}

void glu(const float* a, int64_t rows, int64_t half, float* y) {
#if defined(__x86_64__)
  if (have_avx512()) {
    for (int64_t r = 0; r < rows; ++r) glu_row_avx512(a + r * 2 * half, a + r * 2 * half + half, half, y + r * half);
    return;
  }
#elif defined(__ARM_NEON)
  for (int64_t r = 0; r < rows; ++r) glu_row_neon(a + r * 2 * half, a + r * 2 * half + half, half, y + r * half);
  return;
#endif
  for (int64_t r = 0; r < rows; ++r) {
    const float *lin = a + r * 2 * half, *gate = lin + half;
    for (int64_t c = 0; c < half; ++c) y[r * half + c] = lin[c] / (1.f + std::exp(-gate[c]));
  }
}

void mul(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
}

void add_scaled(float* y, const float* x, float alpha, int64_t n) {
  if (alpha == 1.f) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
  }
}

void scale(float* y, const float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}

}  // namespace moeasr::cpu
