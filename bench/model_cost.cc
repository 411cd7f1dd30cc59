#include "model_cost.h"

#include <string>

#include "formats/weight_spec.h"

namespace moeasr::bench {

ParamCounts count_params(const ModelConfig& config) {
  ParamCounts p;
  for (const ExpectedTensor& t : expected_tensors(config)) {
    const int64_t n = shape_numel(t.shape);
    p.total += n;
    const bool expert = t.name.find(".experts.") != std::string::npos;
    if (t.name.rfind("encoder.", 0) == 0) {
      p.encoder += n;
      const FfnConfig& f = config.encoder.ffn;
      // MoT: every expert runs once per group of G tokens, E / G expert evaluations per token.
      p.encoder_active += !expert ? n : f.kind == FfnKind::kMot ? n / f.group_size : n * f.top_k / f.num_experts;
    } else if (t.name.rfind("decoder.", 0) == 0) {
      p.decoder += n;
      const FfnConfig& f = config.decoder.ffn;
      p.decoder_active += expert ? n * f.top_k / f.num_experts : n;
    } else {
      p.ctc += n;
    }
  }
  const FfnConfig& f = config.encoder.ffn;
  p.encoder_expert_bytes = (2 * int64_t{config.encoder.d_model} * f.hidden + (f.bias ? config.encoder.d_model + f.hidden : 0)) *
                           int64_t{sizeof(float)};
  return p;
}

double encoder_chunk_flops(const EncoderConfig& c, int64_t frames, int64_t context) {
  const double d = c.d_model, T = static_cast<double>(frames), L = static_cast<double>(context);
  const double f1 = (c.input_dim - 1) / 2, f2 = c.subsampled_features();
  // Conv2dSubsampling4: conv1 (1 -> d, 3x3), conv2 (d -> d, 3x3), Linear(d*f2 -> d).
  double flops = 2.0 * (2 * T + 1) * f1 * d * 9 + 2.0 * T * f2 * d * 9 * d + 2.0 * T * f2 * d * d;
  const FfnConfig& f = c.ffn;
  // MoT per token: controller, mixing in and out (2 * 2dE), E / G expert evaluations.
  const double ffn = f.kind == FfnKind::kMoe ? 2.0 * d * f.num_experts + f.top_k * 4.0 * d * f.hidden
                     : f.kind == FfnKind::kMot ? 6.0 * d * f.num_experts + f.num_experts * 4.0 * d * f.hidden / f.group_size
                                               : 4.0 * d * f.hidden;
  const double ch = c.conv_channels();
  const bool has_ffn = c.type != EncoderType::kBranchformer && (c.type != EncoderType::kEBranchformer || c.use_ffn);
  double layer = has_ffn ? (c.macaron ? 2 : 1) * ffn : 0.0;  // FFN (+ macaron FFN)
  layer += 8.0 * d * d + 2.0 * d * d;         // q, k, v, out + linear_pos of the new frames
  layer += 6.0 * L * d;                       // (q+u)k^T, (q+v)p^T, attention x v
  if (c.use_cnn_module) layer += 4.0 * d * ch + 2.0 * c.cnn_kernel * ch + 2.0 * ch * d;
  if (c.branchformer()) {
    // cgMLP: channel_proj1 (d -> U), the gating unit's conv (+ linear), channel_proj2 (U/2 -> d);
    // merge_proj (2d -> d, or d -> d for fixed_ave); E-Branchformer's fusion conv over 2d channels.
    const double u = c.cgmlp_units, half = c.cgmlp_channels();
    layer += 2.0 * d * u + 2.0 * c.cgmlp_kernel * half + (c.cgmlp_linear_after_conv ? 2.0 * half * half : 0.0) +
             2.0 * half * d;
    const bool wide = c.type == EncoderType::kEBranchformer || c.merge == MergeMethod::kConcat;
    layer += 2.0 * (wide ? 2 * d : d) * d;
    if (c.type == EncoderType::kEBranchformer) layer += 2.0 * c.merge_conv_kernel * 2 * d;
  }
  if (c.squeezeformer()) {
    // Two FFNs per block (macaron is false: `layer` has one). The reduced
    // blocks run half the frames against half the keys, and project the
    // position rows of all their keys (L / 2 more rows per T / 2 frames); the
    // time reduction's pointwise conv and time_recover_layer run at T / 2.
    const double block = layer + ffn;
    const double reduced = c.recover_idx - c.reduce_idx;
    const double half_block = block - 3.0 * L * d + (T > 0 ? 2.0 * d * d * L / T : 0.0);
    return flops + T * block * (c.num_blocks - reduced) + T / 2 * half_block * reduced + T / 2 * 4.0 * d * d;
  }
  if (!c.efficient()) return flops + T * layer * c.num_blocks;
  // efficientConformer: a layer after strides runs on 1 / rate of the frames
  // and keys, with its own conv kernel; grouped attention takes 1 / g of the
  // score products (groups of g frames, g times wider).
  double layers = 0;
  for (int i = 0; i < c.num_blocks; ++i) {
    const double rate = c.rate_before(i), g = c.layer_group(i);
    const double own = layer - 6.0 * L * d + 6.0 * (L / rate) * d / g + 2.0 * (c.layer_kernel(i) - c.cnn_kernel) * ch;
    layers += T / rate * own;
  }
  return flops + layers;
}

}  // namespace moeasr::bench
