// The dense Mixture of Adapters (the baseline of the Soft-MoA paper):
//   y = sum_e softmax(gate x [+ b])_e * adapter_e(x),  adapter_e = w_2(act(w_1 x))
// The router bias b is optional (adapter_router_bias): PETL_AST's Router is
// nn.Linear(d, n) with one, moeasr's trained models have none.
// Every adapter runs on every token (that is the baseline's cost): one GEMM
// pair per adapter over all rows. Rows are independent.
#pragma once

#include <string>

#include "nn/experts.h"
#include "nn/feed_forward.h"

namespace moeasr {

class DenseMoa final : public FeedForward {
 public:
  // Reads prefix.gate.weight [experts, d], prefix.gate.bias [experts] when
  // router_bias, prefix.experts.*.
  DenseMoa(const WeightReader& r, const std::string& prefix, int experts, Activation activation,
           bool router_bias = false);
  // Uses scratch.weights, hidden and out.
  void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& scratch,
               int64_t* expert_load) const override;

 private:
  Linear gate_;  // [experts, d], bias optional
  Experts experts_;
};

}  // namespace moeasr
