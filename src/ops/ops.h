// The op layer the model code is written against. Each op checks shapes,
// sizes its output and calls the kernel for the tensors' device (CPU today:
// kernels/cpu; the CUDA kernels plug in here). Model code never loops over
// elements itself.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/moe.h"
#include "kernels/cpu/mot.h"
#include "nn/layers.h"

namespace moeasr::ops {

// y = x W^T + b, y resized to [rows(x), out].
void linear(const Tensor& x, const LinearWeights& w, Tensor& y);
// y = act(x W^T + b), the activation fused into the kernel where it can be.
void linear_activation(const Tensor& x, const LinearWeights& w, Activation act, Tensor& y);
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
  cpu::MotWorkspace mot;
  std::vector<uint8_t> row_seen;  // MoT group table check
  cpu::SoftMoeWorkspace soft;
  cpu::DenseMoaWorkspace dense_moa;
  // Run MoE layers through the per-expert loop (WeNet's formulation) instead
  // of the grouped path: for tests and benchmarks.
  bool per_expert_loop = false;
};
// Soft MoE groups of a batch: offsets[0..G], group g is rows
// [offsets[g], offsets[g+1]) (one utterance, or one chunk of one stream).
// Empty means one group of all rows.
using SoftGroups = std::vector<int64_t>;

// y = FFN(x), dense, top-k MoE, Mixture of Tokens or Soft MoE. `expert_load`
// (optional) accumulates tokens per MoE expert. A MoT layer mixes rows of x, so it needs
// `groups` (ops/token_groups.h): which rows form each group, covering every
// row of x exactly once; the caller decides, so rows of different examples
// are mixed only where it says so. A Soft MoE layer dispatches over the rows
// of each of `soft_groups`.
void ffn(const Tensor& x, const FfnWeights& f, Tensor& y, FfnWorkspace& ws, int64_t* expert_load = nullptr,
         const cpu::MotGroups* groups = nullptr, const SoftGroups& soft_groups = {});
// y = mixture(x): Soft MoE (grouped by `soft_groups`) or dense MoA.
void mixture(const Tensor& x, const MixtureWeights& m, Tensor& y, FfnWorkspace& ws,
             const SoftGroups& soft_groups = {});

}  // namespace moeasr::ops
