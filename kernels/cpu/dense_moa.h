// Dense Mixture of Adapters (the baseline of the Soft-MoA paper) on the CPU:
//   y = sum_e softmax(gate x)_e * adapter_e(x),  adapter_e = w_2(act(w_1 x))
// Every adapter runs on every token (that is the baseline's cost); one GEMM
// pair per adapter over all rows.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation.h"
#include "kernels/cpu/moe.h"

namespace moeasr::cpu {

struct DenseMoaView {
  int64_t d = 0;
  int64_t hidden = 0;
  int num_experts = 0;
  Activation activation = Activation::kGelu;
  const float* gate = nullptr;  // [num_experts, d], no bias
  const ExpertWeights* experts = nullptr;
};

struct DenseMoaWorkspace {
  std::vector<float> weights, hidden, out;
};

// y[n, d] = DenseMoA(x[n, d]); y must not alias x. Rows are independent.
void dense_moa(const float* x, int64_t n, const DenseMoaView& layer, float* y, DenseMoaWorkspace& ws);

}  // namespace moeasr::cpu
