// The two parameterized building blocks every network here is made of: a
// Linear layer (its weight in the compute type the model chose, on the
// model's device) and a LayerNorm. Immutable after load; shared by every
// stream.
#pragma once

#include <optional>

#include "core/tensor.h"
#include "ops/ops.h"

namespace moeasr {

struct Linear {
  Tensor weight;   // [out, in]: F32, BF16 or I8 (model/weight_precision.h)
  Tensor scale;    // I8 only: [out] float32, w = q * scale[row]
  Tensor row_sum;  // I8 only: [out] int32, the sum of each row's q
  Tensor bias;     // [out] float32, or empty

  int64_t in() const { return weight.empty() ? 0 : weight.dim(1); }
  int64_t out() const { return weight.empty() ? 0 : weight.dim(0); }
  bool present() const { return !weight.empty(); }
  // The kernels' view of the weight.
  WeightMatrix matrix() const;
  const float* bias_data() const { return bias.empty() ? nullptr : bias.data<float>(); }
  // y = act(x W^T + bias), y resized to [rows(x), out].
  void forward(Backend& be, const Tensor& x, Tensor& y, std::optional<Activation> act = std::nullopt) const {
    ops::linear(be, x, matrix(), bias, y, act);
  }
};

struct LayerNorm {
  Tensor gamma, beta;
  float eps = 1e-5f;
  // y = LayerNorm(x) over the last dimension (y may alias x).
  void forward(Backend& be, const Tensor& x, Tensor& y) const { ops::layer_norm(be, x, gamma, beta, eps, y); }
};

}  // namespace moeasr
