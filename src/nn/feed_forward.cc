#include "nn/feed_forward.h"

#include "nn/dense_ffn.h"
#include "nn/dense_moa.h"
#include "nn/moe_ffn.h"
#include "nn/mot_ffn.h"
#include "nn/soft_moe.h"

namespace moeasr {

std::unique_ptr<FeedForward> make_feed_forward(const WeightReader& r, const std::string& prefix,
                                               const FfnConfig& config, int64_t d, MoeGemm moe_gemm) {
  switch (config.kind) {
    case FfnKind::kDense: return std::make_unique<DenseFfn>(r, prefix, config.activation);
    case FfnKind::kMoe: return std::make_unique<MoeFfn>(r, prefix, config, d, moe_gemm);
    case FfnKind::kMot: return std::make_unique<MotFfn>(r, prefix, config, d);
    case FfnKind::kSoftMoe:
      return std::make_unique<SoftMoe>(r, prefix, d, config.num_experts, config.slots_per_expert,
                                       config.soft_normalize, config.activation);
  }
  return nullptr;
}

std::unique_ptr<FeedForward> make_adapter(const WeightReader& r, const std::string& prefix, int64_t d,
                                          const AdapterConfig& c) {
  switch (c.type) {
    case AdapterType::kNone: return nullptr;
    case AdapterType::kSoftMoa:
      return std::make_unique<SoftMoe>(r, prefix, d, c.num_experts, c.slots_per_expert, c.normalize,
                                       Activation::kGelu, c.normalize_mode);
    case AdapterType::kDenseMoa:
      return std::make_unique<DenseMoa>(r, prefix, c.num_experts, Activation::kGelu, c.router_bias);
  }
  return nullptr;
}

}  // namespace moeasr
