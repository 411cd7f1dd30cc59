#include "nn/moe_ffn.h"

#include "core/error.h"

namespace moeasr {

MoeFfn::MoeFfn(const WeightReader& r, const std::string& prefix, const FfnConfig& config, int64_t d, MoeGemm gemm)
    : d_(d),
      top_k_(config.top_k),
      gemm_(gemm),
      gate_(r.tensor(prefix + ".gate.weight")),
      experts_(r, prefix, config.num_experts, config.activation) {}

MoeView MoeFfn::view() const {
  MoeView v;
  v.d = d_;
  v.hidden = experts_.hidden();
  v.num_experts = experts_.size();
  v.top_k = top_k_;
  v.activation = experts_.activation();
  v.gate = gate_.data<float>();
  v.experts = experts_.table();
  return v;
}

void MoeFfn::forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch&, FfnScratch&,
                     int64_t* expert_load) const {
  ops::check_device(be, x, "moe_ffn");
  MOEASR_CHECK(x.dim(-1) == d_, MOEASR_ERR_INTERNAL, "moe_ffn: input width ", x.dim(-1), " != ", d_);
  const int64_t n = x.rows();
  y.resize({n, d_}, be.device());
  if (n) be.moe_ffn(x.data<float>(), n, view(), y.data<float>(), gemm_, expert_load);
}

}  // namespace moeasr
