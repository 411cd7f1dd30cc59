// The dense Mixture of Adapters (the baseline of the Soft-MoA paper):
//   y = sum_e softmax(gate x)_e * adapter_e(x),  adapter_e = w_2(act(w_1 x))
// Every adapter runs on every token (that is the baseline's cost): one GEMM
// pair per adapter over all rows. Rows are independent.
#pragma once

#include <string>

#include "nn/experts.h"
#include "nn/feed_forward.h"

namespace moeasr {

class DenseMoa final : public FeedForward {
 public:
  DenseMoa(const WeightReader& r, const std::string& prefix, int experts, Activation activation);
  // Uses scratch.weights, hidden and out.
  void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& scratch,
               int64_t* expert_load) const override;

 private:
  Linear gate_;  // [experts, d], no bias
  Experts experts_;
};

}  // namespace moeasr
