#include "nn/layers.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/half.h"

namespace moeasr {

cpu::MoeLayerView FfnWeights::moe_view(int64_t d) const {
  cpu::MoeLayerView v;
  v.d = d;
  v.hidden = config.hidden;
  v.num_experts = config.num_experts;
  v.top_k = config.top_k;
  v.activation = config.activation;
  v.gate = gate.data<float>();
  v.experts = experts.data();
  return v;
}

cpu::MotLayerView FfnWeights::mot_view(int64_t d) const {
  cpu::MotLayerView v;
  v.d = d;
  v.hidden = config.hidden;
  v.num_experts = config.num_experts;
  v.group_size = config.group_size;
  v.temperature = config.temperature;
  v.activation = config.activation;
  v.controller = controller.data<float>();
  v.experts = experts.data();
  return v;
}

cpu::SoftMoeView MixtureWeights::soft_view() const {
  cpu::SoftMoeView v;
  v.d = d;
  v.hidden = hidden;
  v.num_experts = num_experts;
  v.slots_per_expert = slots_per_expert;
  v.activation = activation;
  v.phi = router.data<float>();
  v.normalize = normalize;
  v.scale = scale;
  v.experts = experts.data();
  return v;
}

cpu::DenseMoaView MixtureWeights::dense_view() const {
  cpu::DenseMoaView v;
  v.d = d;
  v.hidden = hidden;
  v.num_experts = num_experts;
  v.activation = activation;
  v.gate = router.data<float>();
  v.experts = experts.data();
  return v;
}

Tensor WeightReader::tensor(const std::string& name) const {
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

Tensor WeightReader::optional(const std::string& name) const {
  return st_.find(name) ? tensor(name) : Tensor();
}

LinearWeights WeightReader::linear(const std::string& prefix, bool expert) const {
  MatrixStorage m = load_matrix(st_, prefix + ".weight", policy_, expert);
  LinearWeights l;
  l.matrix = m.matrix;
  l.storage = std::move(m.data);
  l.scale = std::move(m.scale);
  l.row_sum = std::move(m.row_sum);
  l.bias = optional(prefix + ".bias");
  return l;
}

LayerNormWeights WeightReader::layer_norm(const std::string& prefix, float eps) const {
  return LayerNormWeights{tensor(prefix + ".weight"), tensor(prefix + ".bias"), eps};
}

FfnWeights WeightReader::ffn(const std::string& prefix, const FfnConfig& config) const {
  FfnWeights f;
  f.config = config;
  if (config.soft) {
    // d is Φ's first dimension (validated against the model size at load).
    f.soft = soft_moe(prefix, st_.get(prefix + ".phi").dim(0), config.hidden,
                      config.num_experts, config.slots_per_expert, config.soft_normalize, config.activation);
    return f;
  }
  if (!config.moe && !config.mot) {
    f.w1 = linear(prefix + ".w_1");
    f.w2 = linear(prefix + ".w_2");
    return f;
  }
  if (config.mot) {
    f.controller = tensor(prefix + ".controller.weight");
  } else {
    f.gate = tensor(prefix + ".gate.weight");
  }
  for (int e = 0; e < config.num_experts; ++e) {
    const std::string expert = prefix + ".experts." + std::to_string(e);
    f.w1s.push_back(linear(expert + ".w_1", true));
    f.w2s.push_back(linear(expert + ".w_2", true));
  }
  for (int e = 0; e < config.num_experts; ++e) {
    f.experts.push_back({f.w1s[e].matrix, f.w1s[e].bias_data(), f.w2s[e].matrix, f.w2s[e].bias_data()});
  }
  return f;
}

void WeightReader::load_experts(const std::string& prefix, int experts, MixtureWeights& m) const {
  for (int e = 0; e < experts; ++e) {
    const std::string expert = prefix + ".experts." + std::to_string(e);
    m.w1s.push_back(linear(expert + ".w_1", true));
    m.w2s.push_back(linear(expert + ".w_2", true));
  }
  for (int e = 0; e < experts; ++e) {
    m.experts.push_back({m.w1s[e].matrix, m.w1s[e].bias_data(), m.w2s[e].matrix, m.w2s[e].bias_data()});
  }
}

MixtureWeights WeightReader::soft_moe(const std::string& prefix, int64_t d, int64_t hidden, int experts, int slots,
                                      bool normalize, Activation activation) const {
  MixtureWeights m;
  m.kind = MixtureWeights::Kind::kSoft;
  m.d = d;
  m.hidden = hidden;
  m.num_experts = experts;
  m.slots_per_expert = slots;
  m.activation = activation;
  m.normalize = normalize;
  // Φ [d, E, S] -> [E * S, d]: one row per slot, what the logits GEMM reads as a Linear weight.
  const Tensor phi = tensor(prefix + ".phi");
  const int64_t rows = int64_t{experts} * slots;
  m.router = Tensor({rows, d});
  for (int64_t c = 0; c < d; ++c) {
    for (int64_t j = 0; j < rows; ++j) m.router.data<float>()[j * d + c] = phi.data<float>()[c * rows + j];
  }
  if (normalize) {
    // The slots' normalization does not depend on the input: done once here.
    for (int64_t j = 0; j < rows; ++j) {
      float* row = m.router.data<float>() + j * d;
      double sum = 0;
      for (int64_t c = 0; c < d; ++c) sum += static_cast<double>(row[c]) * row[c];
      const float inv = 1.f / std::max(static_cast<float>(std::sqrt(sum)), 1e-12f);  // F.normalize's eps
      for (int64_t c = 0; c < d; ++c) row[c] *= inv;
    }
    m.scale = tensor(prefix + ".phi_scale").data<float>()[0];
  }
  load_experts(prefix, experts, m);
  return m;
}

MixtureWeights WeightReader::dense_moa(const std::string& prefix, int64_t d, int64_t hidden, int experts,
                                       Activation activation) const {
  MixtureWeights m;
  m.kind = MixtureWeights::Kind::kDense;
  m.d = d;
  m.hidden = hidden;
  m.num_experts = experts;
  m.activation = activation;
  m.router = tensor(prefix + ".gate.weight");
  load_experts(prefix, experts, m);
  return m;
}

MixtureWeights WeightReader::adapter(const std::string& prefix, int64_t d, const AdapterConfig& c) const {
  switch (c.type) {
    case AdapterType::kNone: return {};
    case AdapterType::kSoftMoa:
      return soft_moe(prefix, d, c.dim, c.num_experts, c.slots_per_expert, c.normalize, Activation::kGelu);
    case AdapterType::kDenseMoa: return dense_moa(prefix, d, c.dim, c.num_experts, Activation::kGelu);
  }
  return {};
}

LayerAdapters WeightReader::layer_adapters(const std::string& layer, int64_t d, const AdapterConfig& c) const {
  LayerAdapters a;
  if (c.feed_forward_macaron) a.ff_macaron = adapter(layer + ".adapter_feed_forward_macaron", d, c);
  if (c.self_attn) a.self_attn = adapter(layer + ".adapter_self_attn", d, c);
  if (c.feed_forward) a.ff = adapter(layer + ".adapter_feed_forward", d, c);
  return a;
}

AttentionWeights WeightReader::attention(const std::string& prefix, bool rel_pos) const {
  AttentionWeights a;
  a.q = linear(prefix + ".linear_q");
  a.k = linear(prefix + ".linear_k");
  a.v = linear(prefix + ".linear_v");
  a.out = linear(prefix + ".linear_out");
  if (rel_pos) {
    a.pos = linear(prefix + ".linear_pos");
    a.pos_bias_u = tensor(prefix + ".pos_bias_u");
    a.pos_bias_v = tensor(prefix + ".pos_bias_v");
  }
  return a;
}

ConvModuleWeights WeightReader::conv_module(const std::string& prefix, const EncoderConfig& c) const {
  ConvModuleWeights m;
  const int64_t d = c.d_model, ch = c.conv_channels(), kernel = c.cnn_kernel;
  // Conv1d weights [out, in, 1] are linear layers over channels.
  m.pointwise1 = linear(prefix + ".pointwise_conv1");
  m.pointwise2 = linear(prefix + ".pointwise_conv2");
  (void)d;

  const Tensor dw = tensor(prefix + ".depthwise_conv.weight");  // [C, 1, K]
  m.depthwise_t = Tensor({kernel, ch});
  for (int64_t j = 0; j < kernel; ++j) {
    for (int64_t i = 0; i < ch; ++i) m.depthwise_t.data<float>()[j * ch + i] = dw.data<float>()[i * kernel + j];
  }
  m.depthwise_bias = optional(prefix + ".depthwise_conv.bias");

  m.layer_norm = c.cnn_norm == ConvNorm::kLayerNorm;
  if (m.layer_norm) {
    m.norm = layer_norm(prefix + ".norm", c.conv_norm_eps);
  } else {
    // Inference BatchNorm: y = (x - mean) / sqrt(var + eps) * w + b = x * scale + shift.
    const Tensor w = tensor(prefix + ".norm.weight"), b = tensor(prefix + ".norm.bias");
    const Tensor mean = tensor(prefix + ".norm.running_mean"), var = tensor(prefix + ".norm.running_var");
    m.bn_scale = Tensor({ch});
    m.bn_shift = Tensor({ch});
    for (int64_t i = 0; i < ch; ++i) {
      const float inv = 1.f / std::sqrt(var.data<float>()[i] + c.conv_norm_eps);
      m.bn_scale.data<float>()[i] = w.data<float>()[i] * inv;
      m.bn_shift.data<float>()[i] = b.data<float>()[i] - mean.data<float>()[i] * w.data<float>()[i] * inv;
    }
  }

  // WeNet left-pads the module input with zeros; after pointwise_conv1 and GLU
  // a zero frame becomes GLU(bias). The cache holds post-GLU frames, so it
  // starts filled with this row.
  m.initial_cache_row = Tensor::zeros({ch});
  if (!m.pointwise1.bias.empty()) {
    const float* b = m.pointwise1.bias.data<float>();
    for (int64_t i = 0; i < ch; ++i) {
      m.initial_cache_row.data<float>()[i] = b[i] / (1.f + std::exp(-b[ch + i]));
    }
  }
  return m;
}

DecoderWeights WeightReader::decoder(const std::string& prefix, int blocks, const DecoderConfig& c) const {
  DecoderWeights d;
  d.embedding = tensor(prefix + ".embed.0.weight");
  for (int i = 0; i < blocks; ++i) {
    const std::string l = prefix + ".decoders." + std::to_string(i);
    DecoderLayerWeights layer;
    layer.self_attn = attention(l + ".self_attn", false);
    layer.src_attn = attention(l + ".src_attn", false);
    layer.ff = ffn(l + ".feed_forward", c.ffn);
    layer.norm1 = layer_norm(l + ".norm1", c.norm_eps);
    layer.norm2 = layer_norm(l + ".norm2", c.norm_eps);
    layer.norm3 = layer_norm(l + ".norm3", c.norm_eps);
    d.layers.push_back(std::move(layer));
  }
  d.after_norm = layer_norm(prefix + ".after_norm", c.norm_eps);
  d.output = linear(prefix + ".output_layer");
  return d;
}

}  // namespace moeasr
