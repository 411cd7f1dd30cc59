#include "gpu/device_weights.h"

#include "core/error.h"

namespace moeasr::gpu {

cuda::DeviceMoe DeviceFfn::moe_view() const {
  cuda::DeviceMoe m;
  m.d = d;
  m.hidden = hidden;
  m.num_experts = num_experts;
  m.top_k = top_k;
  m.activation = activation;
  m.gate = gate;
  m.w1 = w1s.data();
  m.w2 = w2s.data();
  return m;
}

const void* DeviceWeights::upload(const void* host, size_t bytes) {
  if (bytes == 0) return nullptr;
  cuda::Buffer b(ctx_, bytes);
  cuda::upload(ctx_, b.data(), host, bytes);
  const void* p = b.data();
  buffers_.push_back(std::move(b));
  bytes_ += bytes;
  return p;
}

const float* DeviceWeights::floats(const Tensor& t) {
  if (t.empty()) return nullptr;
  MOEASR_CHECK(t.dtype() == DType::kF32, MOEASR_ERR_INTERNAL, "GPU upload: expected a float32 tensor");
  return static_cast<const float*>(upload(t.raw(), t.nbytes()));
}

const float* DeviceWeights::floats(const std::vector<float>& v) {
  return static_cast<const float*>(upload(v.data(), v.size() * sizeof(float)));
}

cuda::DeviceLinear DeviceWeights::linear(const LinearWeights& w, const char* what) {
  const cpu::WeightMatrix& m = w.matrix;
  cuda::DeviceLinear l;
  l.n = m.n;
  l.k = m.k;
  switch (m.type) {
    case cpu::WeightType::kF32:
      l.type = cuda::WeightType::kF32;
      break;
    case cpu::WeightType::kBF16:
      l.type = cuda::WeightType::kBF16;
      break;
    case cpu::WeightType::kI8:
      // Reached only for a file that stores int8 and compute_type "default".
      throw_error(MOEASR_ERR_UNSUPPORTED, "the CUDA backend has no int8 kernels, but ", what,
                  " is stored as int8 in the model file; load it with compute_type \"float32\" or \"bfloat16\" "
                  "(dequantized at load)");
  }
  l.weight = upload(m.data, static_cast<size_t>(m.bytes()));
  l.bias = floats(w.bias);
  return l;
}

cuda::DeviceLinear DeviceWeights::linear(const Tensor& w, const Tensor& bias) {
  cuda::DeviceLinear l;
  l.n = w.dim(0);
  l.k = w.dim(1);
  l.type = cuda::WeightType::kF32;
  l.weight = floats(w);
  l.bias = floats(bias);
  return l;
}

DeviceLayerNorm DeviceWeights::layer_norm(const LayerNormWeights& n) {
  return DeviceLayerNorm{floats(n.gamma), floats(n.beta), n.eps};
}

DeviceFfn DeviceWeights::ffn(const FfnWeights& f, int64_t d, const char* what) {
  const FfnConfig& c = f.config;
  // The GPU model refuses these at load already (runtime/gpu_model.cc); this
  // guards against a caller that skipped the check.
  MOEASR_CHECK(!c.mot && !c.soft, MOEASR_ERR_UNSUPPORTED, what,
               ": Mixture of Tokens and Soft MoE FFNs have no CUDA path");
  DeviceFfn out;
  out.moe = c.moe;
  out.d = d;
  out.hidden = c.hidden;
  out.activation = c.activation;
  if (!c.moe) {
    out.w1 = linear(f.w1, what);
    out.w2 = linear(f.w2, what);
    return out;
  }
  out.num_experts = c.num_experts;
  out.top_k = c.top_k;
  out.gate = floats(f.gate);
  for (int e = 0; e < c.num_experts; ++e) {
    out.w1s.push_back(linear(f.w1s[e], what));
    out.w2s.push_back(linear(f.w2s[e], what));
  }
  return out;
}

}  // namespace moeasr::gpu
