// NEON math on 4 floats at a time (AArch64 and 32-bit ARM with NEON), the
// counterpart of vec_math.h's AVX-512 functions and the same Cephes
// polynomial, so an activation gives the same value wherever it sits in an
// array. Eigen's own NEON path cannot be used for this on 32-bit ARM: it
// divides with one Newton step from vrecpe (sigmoid(0) = 0.4999981) while its
// scalar tail divides exactly, so a value's result depended on its position.
#pragma once

#if defined(__ARM_NEON)

#include <arm_neon.h>

#include "core/activation.h"

namespace moeasr::cpu::neon {

// a + b * c (fused where the FPU has FMA: every AArch64 core, VFPv4 on 32-bit).
inline float32x4_t mul_add(float32x4_t a, float32x4_t b, float32x4_t c) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmaq_f32(a, b, c);
#else
  return vmlaq_f32(a, b, c);
#endif
}

// a - b * c
inline float32x4_t mul_sub(float32x4_t a, float32x4_t b, float32x4_t c) {
#if defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
  return vfmsq_f32(a, b, c);
#else
  return vmlsq_f32(a, b, c);
#endif
}

// a / b. AArch64 divides; 32-bit NEON has only an 8-bit reciprocal estimate,
// so two Newton steps make 1/b good to about 1 ulp and one residual step
// (q + (a - q b) / b) corrects the quotient to within 1 ulp of a / b.
// 32-bit NEON flushes subnormals to zero, which this does not change.
inline float32x4_t div(float32x4_t a, float32x4_t b) {
#if defined(__aarch64__)
  return vdivq_f32(a, b);
#else
  float32x4_t r = vrecpeq_f32(b);
  r = vmulq_f32(r, vrecpsq_f32(b, r));
  r = vmulq_f32(r, vrecpsq_f32(b, r));
  const float32x4_t q = vmulq_f32(a, r);
  return mul_add(q, mul_sub(a, q, b), r);
#endif
}

// Round to the nearest integer, ties to even (as _MM_FROUND_TO_NEAREST_INT).
inline float32x4_t round_nearest(float32x4_t x) {
#if defined(__aarch64__)
  return vrndnq_f32(x);
#else
  // Adding and removing 1.5 * 2^23 rounds |x| < 2^22 in the FPU's mode.
  const float32x4_t magic = vdupq_n_f32(12582912.f);
  return vsubq_f32(vaddq_f32(x, magic), magic);
#endif
}

// exp(x) to within 2 ulp, as vec::exp: x = n ln2 + r, |r| <= ln2 / 2, Cephes'
// degree-6 polynomial for exp(r), scaled by 2^n through the exponent bits.
// Inputs are clamped to [-87.3, 88.7], so the result is finite and normal.
inline float32x4_t exp(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.7f));
  const float32x4_t n = round_nearest(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  // ln2 in two parts: n * 0.693359375 is exact for |n| < 2^10.
  float32x4_t r = mul_sub(x, n, vdupq_n_f32(0.693359375f));
  r = mul_sub(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = mul_add(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = mul_add(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = mul_add(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = mul_add(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = mul_add(vdupq_n_f32(5.0000001201e-1f), p, r);
  const float32x4_t y = vaddq_f32(mul_add(r, vmulq_f32(p, r), r), vdupq_n_f32(1.f));
  // 2^n for n in [-126, 128]: (n + 127) << 23 is a normal float's bits except
  // at n = 128, which y * 2^127 * 2 covers; the clamp keeps n >= -126.
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t lo = vminq_s32(ni, vdupq_n_s32(127));
  const float32x4_t scale = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(lo, vdupq_n_s32(127)), 23));
  const float32x4_t extra = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, lo), vdupq_n_s32(127)), 23));
  return vmulq_f32(vmulq_f32(y, scale), extra);
}

// 1 / (1 + exp(-x))
inline float32x4_t sigmoid(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.f);
  return div(one, vaddq_f32(one, exp(vnegq_f32(x))));
}

// x * sigmoid(x), as x / (1 + exp(-x)) (the form WeNet's Swish computes).
inline float32x4_t swish(float32x4_t x) { return div(x, vaddq_f32(vdupq_n_f32(1.f), exp(vnegq_f32(x)))); }

// Whether activation() below computes `act` in registers.
inline bool in_registers(Activation act) { return act == Activation::kRelu || act == Activation::kSwish; }

// act(x) for the activations in_registers() accepts; x unchanged otherwise.
inline float32x4_t activation(float32x4_t x, Activation act) {
  switch (act) {
    case Activation::kRelu: return vmaxq_f32(x, vdupq_n_f32(0.f));
    case Activation::kSwish: return swish(x);
    default: return x;
  }
}

}  // namespace moeasr::cpu::neon

#endif  // __ARM_NEON
