// The dense position-wise FFN: y = w_2(act(w_1 x + b_1)) + b_2.
#pragma once

#include <string>

#include "nn/feed_forward.h"
#include "nn/linear.h"

namespace moeasr {

class DenseFfn final : public FeedForward {
 public:
  DenseFfn(const WeightReader& r, const std::string& prefix, Activation activation)
      : w1_(r.linear(prefix + ".w_1")), w2_(r.linear(prefix + ".w_2")), activation_(activation) {}
  // Uses scratch.hidden.
  void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch&, FfnScratch& scratch,
               int64_t*) const override {
    w1_.forward(be, x, scratch.hidden, activation_);
    w2_.forward(be, scratch.hidden, y);
  }

 private:
  Linear w1_, w2_;
  Activation activation_;
};

}  // namespace moeasr
