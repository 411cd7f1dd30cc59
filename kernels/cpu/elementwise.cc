#include "kernels/cpu/elementwise.h"

#include <cmath>

#include <Eigen/Core>

#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/vec_math.h"

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
#endif

bool have_avx512() {
#if defined(__x86_64__)
  return small_gemm_support().f32;
#else
  return false;
#endif
}

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Eigen's vectorized exp/tanh keep these near memory speed.
void apply(ArrayMap a, Activation act) {
  switch (act) {
    case Activation::kRelu: a = a.max(0.f); break;
    case Activation::kSwish: a = a / (1.f + (-a).exp()); break;
    case Activation::kTanh: a = a.tanh(); break;
    case Activation::kHardtanh: a = a.max(-1.f).min(1.f); break;
    case Activation::kSelu: {
      constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
      a = kScale * (a > 0.f).select(a, kAlpha * (a.exp() - 1.f));
      break;
    }
    case Activation::kGelu:  // exact (erf) form, torch.nn.GELU's default
      for (Eigen::Index i = 0; i < a.size(); ++i) a[i] = 0.5f * a[i] * (1.f + std::erf(a[i] * 0.70710678118654752f));
      break;
  }
}

}  // namespace

void activation(float* x, int64_t n, Activation act) {
#if defined(__x86_64__)
  if (vec::in_registers(act) && have_avx512()) return activation_avx512(x, n, act);
#endif
  apply(ArrayMap(x, n), act);
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
#endif
  for (int64_t r = 0; r < rows; ++r) {
    ConstArrayMap lin(a + r * 2 * half, half), gate(a + r * 2 * half + half, half);
    ArrayMap(y + r * half, half) = lin / (1.f + (-gate).exp());
  }
}

void add_scaled(float* y, const float* x, float alpha, int64_t n) {
  if (alpha == 1.f) {
    ArrayMap(y, n) += ConstArrayMap(x, n);
  } else {
    ArrayMap(y, n) += alpha * ConstArrayMap(x, n);
  }
}

void scale(float* y, const float* x, float s, int64_t n) { ArrayMap(y, n) = ConstArrayMap(x, n) * s; }

}  // namespace moeasr::cpu
