// The op layer the model code is written against. Each op checks shapes,
// sizes its output and calls the kernel for the tensors' device (CPU today:
// kernels/cpu; the CUDA kernels plug in here). Model code never loops over
// elements itself.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/cpu/moe.h"
#include "model/layers.h"

namespace moeasr::ops {

// y = x W^T + b, y resized to [rows(x), out].
void linear(const Tensor& x, const LinearWeights& w, Tensor& y);
// y = LayerNorm(x) over the last dimension; y resized like x (may alias x).
void layer_norm(const Tensor& x, const LayerNormWeights& n, Tensor& y);
// y += alpha * x (same shape).
void add_scaled(Tensor& y, const Tensor& x, float alpha);
void activation(Tensor& x, Activation act);
// y = GLU(x) over the last dimension: [rows, 2C] -> [rows, C].
void glu(const Tensor& x, Tensor& y);
void log_softmax(Tensor& x);
void scale(Tensor& x, float s);

struct FfnWorkspace {
  Tensor hidden;
  cpu::MoeWorkspace moe;
  // Run MoE layers through the per-expert loop (WeNet's formulation) instead
  // of the grouped path: for tests and benchmarks.
  bool per_expert_loop = false;
};
// y = FFN(x), dense or top-k MoE. `expert_load` (optional) accumulates tokens per expert.
void ffn(const Tensor& x, const FfnWeights& f, Tensor& y, FfnWorkspace& ws, int64_t* expert_load = nullptr);

}  // namespace moeasr::ops
