// Device copies of the model's weights, uploaded once at load from the same
// host structs the CPU model reads (model/layers.h), so the GPU computes with
// exactly the matrices the CPU does: float32, or bfloat16 when compute_type
// asked for it (converted on the host by model/weight_precision). int8
// matrices have no CUDA kernels and are refused (MOEASR_ERR_UNSUPPORTED).
// CUDA builds only.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/cuda/ops.h"
#include "nn/layers.h"

namespace moeasr::gpu {

struct DeviceLayerNorm {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float eps = 1e-5f;
};

// A dense FFN (w_1 -> activation -> w_2) or a top-k MoE FFN.
struct DeviceFfn {
  bool moe = false;
  int64_t d = 0, hidden = 0;
  Activation activation = Activation::kRelu;
  cuda::DeviceLinear w1, w2;                 // dense
  const float* gate = nullptr;               // moe: [experts, d]
  std::vector<cuda::DeviceLinear> w1s, w2s;  // moe: per expert
  int num_experts = 0, top_k = 0;
  // The op's view; points into w1s / w2s, so valid while this object lives unchanged.
  cuda::DeviceMoe moe_view() const;
};

// Owns every device allocation of one model's weights.
class DeviceWeights {
 public:
  explicit DeviceWeights(cuda::Context& ctx) : ctx_(ctx) {}
  DeviceWeights(const DeviceWeights&) = delete;
  DeviceWeights& operator=(const DeviceWeights&) = delete;

  // A float32 tensor (null for an empty one).
  const float* floats(const Tensor& t);
  const float* floats(const std::vector<float>& v);
  // A Linear layer in its compute type (float32 or bfloat16).
  cuda::DeviceLinear linear(const LinearWeights& w, const char* what);
  // A float32 matrix [n, k] with an optional bias (derived weights such as embed.out).
  cuda::DeviceLinear linear(const Tensor& w, const Tensor& bias);
  DeviceLayerNorm layer_norm(const LayerNormWeights& n);
  DeviceFfn ffn(const FfnWeights& f, int64_t d, const char* what);
  size_t bytes() const { return bytes_; }

 private:
  const void* upload(const void* host, size_t bytes);
  cuda::Context& ctx_;
  std::vector<cuda::Buffer> buffers_;
  size_t bytes_ = 0;
};

}  // namespace moeasr::gpu
