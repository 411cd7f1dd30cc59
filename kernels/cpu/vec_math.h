// AVX-512 math on 16 floats at a time, for kernels compiled for a baseline
// x86-64 that take an AVX-512 path at run time (elsewhere elementwise.cc and
// softmax.cc fall back to std::exp one value at a time). Call the AVX-512
// functions only from functions with an AVX-512F target; in_registers() is for
// every platform. vec_math_neon.h is the NEON counterpart.
#pragma once

#include <cstdint>

#include "core/activation.h"

namespace moeasr::cpu::vec {

// Whether activation() below computes `act` in registers (never off x86-64).
inline bool in_registers(Activation act) {
#if defined(__x86_64__)
  return act == Activation::kRelu || act == Activation::kSwish;
#else
  (void)act;
  return false;
#endif
}

}  // namespace moeasr::cpu::vec

#if defined(__x86_64__)

#include <immintrin.h>

namespace moeasr::cpu::vec {

#define MOEASR_AVX512F_INLINE __attribute__((target("avx512f"), always_inline)) inline

// The first `count` of 16 lanes (none for count <= 0, all for count >= 16):
// the mask of a loop's last, partial vector.
MOEASR_AVX512F_INLINE __mmask16 mask16(int64_t count) {
  if (count <= 0) return 0;
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1);
}

// exp(x) to within 2 ulp: x = n ln2 + r, |r| <= ln2 / 2, Cephes' degree-6
// polynomial for exp(r), then scaled by 2^n. Inputs are clamped to
// [-87.3, 88.7], so the result is finite and normal (exp(-100) gives 1e-38).
MOEASR_AVX512F_INLINE __m512 exp(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 in two parts: n * 0.693359375 is exact for |n| < 2^10.
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(y, n);
}

// 1 / (1 + exp(-x))
MOEASR_AVX512F_INLINE __m512 sigmoid(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// x * sigmoid(x), as x / (1 + exp(-x)) (the form WeNet's Swish computes).
MOEASR_AVX512F_INLINE __m512 swish(__m512 x) {
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.f), exp(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// act(x) for the activations in_registers() accepts; x unchanged otherwise.
MOEASR_AVX512F_INLINE __m512 activation(__m512 x, Activation act) {
  switch (act) {
    case Activation::kRelu: return _mm512_max_ps(x, _mm512_setzero_ps());
    case Activation::kSwish: return swish(x);
    default: return x;
  }
}

#undef MOEASR_AVX512F_INLINE

}  // namespace moeasr::cpu::vec

#endif  // __x86_64__
