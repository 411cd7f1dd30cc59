// Reads named tensors of a validated weight file into the building blocks
// (nn/linear.h), on the device of the backend it is given: on the CPU the
// tensors stay views of the mmap'd file wherever the stored type is the
// compute type; on a GPU they are uploaded once and the host copies dropped.
// Tensors a layer derives at load (a transposed kernel, a folded BatchNorm)
// are computed on the host from host() and moved with upload().
#pragma once

#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "nn/linear.h"
#include "nn/weight_precision.h"
#include "ops/backend.h"

namespace moeasr {

class WeightReader {
 public:
  // Float16 weights stay float16 only on a device with float16 kernels.
  WeightReader(const SafeTensors& st, PrecisionPolicy policy, Backend& be) : st_(st), policy_(policy), be_(be) {
    policy_.keep_float16 = policy_.keep_float16 && be.reads(WeightType::kF16);
  }

  Device device() const { return be_.device(); }
  // The backend the tensors are uploaded through (and layers may make their
  // derived device tensors with).
  Backend& backend() const { return be_; }
  // True when the file holds `name`.
  bool has(const std::string& name) const { return st_.find(name) != nullptr; }
  // A tensor as float32 on the host (widened or dequantized when stored otherwise).
  Tensor host(const std::string& name) const;
  // The same on the device.
  Tensor tensor(const std::string& name) const { return upload(host(name)); }
  Tensor optional(const std::string& name) const { return has(name) ? tensor(name) : Tensor(); }
  // A host tensor on the device (itself on the CPU).
  Tensor upload(const Tensor& host) const;
  // A Linear layer (prefix.weight [out, in] or [out, in, 1], prefix.bias) in
  // the compute type the policy picks; `expert` says it is an MoE expert's.
  Linear linear(const std::string& prefix, bool expert = false) const;
  // The same for a weight of any rank [out, ...] read as [out, in] with its
  // columns in `column_order` (a convolution kernel run as im2col + Linear).
  Linear linear(const std::string& prefix, const std::vector<int64_t>& column_order) const;
  // A float32 Linear from host tensors (weights derived at load).
  Linear linear(const Tensor& host_weight, const Tensor& host_bias) const;
  LayerNorm layer_norm(const std::string& prefix, float eps) const;

 private:
  Linear make_linear(const std::string& prefix, bool expert, const std::vector<int64_t>* column_order) const;

  const SafeTensors& st_;
  PrecisionPolicy policy_;
  Backend& be_;
};

}  // namespace moeasr
