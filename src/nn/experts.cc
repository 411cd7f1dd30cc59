#include "nn/experts.h"

namespace moeasr {

Experts::Experts(const WeightReader& r, const std::string& prefix, int count, Activation activation)
    : activation_(activation) {
  for (int e = 0; e < count; ++e) {
    const std::string expert = prefix + ".experts." + std::to_string(e);
    w1_.push_back(r.linear(expert + ".w_1", true));
    w2_.push_back(r.linear(expert + ".w_2", true));
  }
  for (int e = 0; e < count; ++e) {
    table_.push_back({w1_[e].matrix(), w1_[e].bias_data(), w2_[e].matrix(), w2_[e].bias_data()});
  }
}

int64_t Experts::bytes_per_expert() const {
  if (table_.empty()) return 0;
  const ExpertWeights& e = table_[0];
  const int64_t biases = (e.b1 ? e.w1.n : 0) + (e.b2 ? e.w2.n : 0);
  return e.w1.bytes() + e.w2.bytes() + biases * int64_t{sizeof(float)};
}

void Experts::run(Backend& be, int e, const Tensor& x, Tensor& hidden, Tensor& y) const {
  w1_[e].forward(be, x, hidden, activation_);
  w2_[e].forward(be, hidden, y);
}

}  // namespace moeasr
