#include "nn/dense_moa.h"

namespace moeasr {

DenseMoa::DenseMoa(const WeightReader& r, const std::string& prefix, int experts, Activation activation,
                   bool router_bias)
    : gate_(r.linear(r.host(prefix + ".gate.weight"), router_bias ? r.host(prefix + ".gate.bias") : Tensor())),
      experts_(r, prefix, experts, activation) {}

void DenseMoa::forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch&, FfnScratch& scratch,
                       int64_t*) const {
  const int64_t n = x.rows(), d = x.dim(-1), E = experts_.size();
  y.resize({n, d}, be.device());
  if (n == 0) return;
  gate_.forward(be, x, scratch.weights);
  ops::softmax(be, scratch.weights);
  ops::fill_zero(be, y);
  for (int e = 0; e < E; ++e) {
    experts_.run(be, e, x, scratch.hidden, scratch.out);
    be.add_row_scaled(y.data<float>(), scratch.out.data<float>(), n, d, scratch.weights.data<float>() + e, E);
  }
}

}  // namespace moeasr
