#include "nn/weight_reader.h"

#include "core/error.h"
#include "core/half.h"
#include "ops/ops.h"

namespace moeasr {

Tensor WeightReader::host(const std::string& name) const {
  Tensor t = st_.get(name);
  if (t.dtype() == DType::kF32) return t;
  // Other types are widened (or dequantized) once here for the float32 ops.
  Tensor wide(t.shape(), DType::kF32);
  float* out = wide.data<float>();
  switch (t.dtype()) {
    case DType::kF16:
      for (int64_t i = 0; i < t.numel(); ++i) out[i] = fp16_to_float(t.data<uint16_t>()[i]);
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < t.numel(); ++i) out[i] = bf16_to_float(t.data<uint16_t>()[i]);
      break;
    case DType::kI8: {
      const Tensor scale = st_.get(name + ".scale");  // per output row (dim 0)
      const int64_t per_row = t.numel() / t.dim(0);
      for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<int8_t>()[i] * scale.data<float>()[i / per_row];
      break;
    }
    default:
      throw_error(MOEASR_ERR_UNSUPPORTED, "tensor '", name, "' has dtype ", dtype_name(t.dtype()));
  }
  return wide;
}

Tensor WeightReader::upload(const Tensor& host) const {
  if (host.empty() || be_.device().is_cpu()) return host;
  return ops::to_device(be_, host);
}

Linear WeightReader::linear(const std::string& prefix, bool expert) const { return make_linear(prefix, expert, nullptr); }

Linear WeightReader::linear(const std::string& prefix, const std::vector<int64_t>& column_order) const {
  return make_linear(prefix, false, &column_order);
}

Linear WeightReader::make_linear(const std::string& prefix, bool expert,
                                 const std::vector<int64_t>* column_order) const {
  StoredMatrix m = load_matrix(st_, prefix + ".weight", policy_, expert, column_order);
  const WeightType type = m.data.dtype() == DType::kI8    ? WeightType::kI8
                          : m.data.dtype() == DType::kBF16 ? WeightType::kBF16
                          : m.data.dtype() == DType::kF16  ? WeightType::kF16
                                                            : WeightType::kF32;
  MOEASR_CHECK(be_.reads(type), MOEASR_ERR_UNSUPPORTED, "'", prefix, ".weight' is ", weight_type_name(type),
               ", which has no kernels on ", be_.device().name(),
               "; load the model with compute_type \"float32\" or \"bfloat16\"");
  Linear l;
  l.weight = upload(m.data);
  l.scale = upload(m.scale);
  l.row_sum = upload(m.row_sum);
  l.bias = optional(prefix + ".bias");
  return l;
}

Linear WeightReader::linear(const Tensor& host_weight, const Tensor& host_bias) const {
  Linear l;
  l.weight = upload(host_weight);
  l.bias = upload(host_bias);
  return l;
}

LayerNorm WeightReader::layer_norm(const std::string& prefix, float eps) const {
  return LayerNorm{tensor(prefix + ".weight"), tensor(prefix + ".bias"), eps};
}

}  // namespace moeasr
