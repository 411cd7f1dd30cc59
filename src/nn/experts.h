// The experts of a mixture (top-k MoE, Mixture of Tokens, Soft MoE, dense
// MoA): expert e is w_2(act(w_1 x + b_1)) + b_2, read from
// `prefix.experts.{e}.w_1 / w_2`, on the model's device.
#pragma once

#include <string>
#include <vector>

#include "core/activation.h"
#include "nn/linear.h"
#include "nn/weight_reader.h"

namespace moeasr {

class Experts {
 public:
  Experts() = default;
  Experts(const WeightReader& r, const std::string& prefix, int count, Activation activation);

  int size() const { return static_cast<int>(w1_.size()); }
  int64_t hidden() const { return w1_.empty() ? 0 : w1_[0].out(); }
  Activation activation() const { return activation_; }
  // The kernels' view of every expert (a host array).
  const ExpertWeights* table() const { return table_.data(); }
  // Bytes of one expert's weights in their compute type, biases included.
  int64_t bytes_per_expert() const;
  // y = expert e over the rows of x ([rows, d] each; y is written in place
  // when it is a view of the right size); `hidden` is scratch.
  void run(Backend& be, int e, const Tensor& x, Tensor& hidden, Tensor& y) const;

 private:
  Activation activation_ = Activation::kRelu;
  std::vector<Linear> w1_, w2_;
  std::vector<ExpertWeights> table_;
};

}  // namespace moeasr
