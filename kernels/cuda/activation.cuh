// Internal to kernels/cuda: the activations as device functions, written as
// kernels/cpu/elementwise.cc computes them (same formulas, float32, no fast
// math) so GPU and CPU agree to rounding.
#pragma once

#include "core/activation.h"

namespace moeasr::cuda {

__device__ __forceinline__ float sigmoid_times(float x, float gate) { return x / (1.f + expf(-gate)); }

__device__ __forceinline__ float apply_activation(float x, Activation act) {
  switch (act) {
    case Activation::kRelu: return fmaxf(x, 0.f);
    case Activation::kSwish: return x / (1.f + expf(-x));
    case Activation::kTanh: return tanhf(x);
    case Activation::kHardtanh: return fminf(fmaxf(x, -1.f), 1.f);
    case Activation::kSelu: {
      constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
      return kScale * (x > 0.f ? x : kAlpha * (expf(x) - 1.f));
    }
    case Activation::kGelu:  // exact (erf) form, torch.nn.GELU's default
      return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
  }
  return x;
}

}  // namespace moeasr::cuda
