// The U2++ Conformer encoder and the CTC head on the GPU, mirroring
// Encoder::forward (model/encoder.h) op for op: global CMVN, Conv2dSubsampling4
// (x sqrt(d)), per layer macaron FFN/MoE x 0.5, rel-pos MHSA against the
// stream's device caches, the convolution module (pointwise -> GLU -> depthwise
// with the cnn cache -> layer_norm or folded batch_norm -> activation ->
// pointwise), FFN/MoE x 0.5, norm_final; after_norm; CTC linear + log-softmax.
//
// One forward runs one chunk for each of many streams: the position-wise ops
// see all streams' rows stacked ([sum of frames, d]); convolutions, attention
// and cache copies are batched op calls with one job per stream. Only the
// features and position encodings go up, and one download brings back the
// log-probabilities (and the encoder rows when a stream keeps them for
// rescoring). CUDA builds only.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu/device_weights.h"
#include "gpu/encoder_state.h"
#include "asr/encoder.h"

namespace moeasr::gpu {

// Scratch of one forward (the model keeps one; forwards are serialized).
struct GpuEncoderWorkspace {
  cuda::Workspace ops;
  cuda::Buffer feats, conv1, conv2, x, h, q, k, v, pos_in, p, att, y, g, c, hidden;
  cuda::Buffer nc_in, nc_out, nc_cache;  // non-causal depthwise convolution staging
  cuda::Buffer result;                   // [rows, vocab] log-probs, then [rows, d] encoder rows
  // Position encodings of positions [0, pe_rows), computed once on the host
  // and grown (doubling) when a stream gets further; each step gathers its
  // rows with copy_rows instead of computing sin/cos for every frame.
  cuda::Buffer pe_table;
  int64_t pe_rows = 0;
  std::vector<float> host_feats, host_pe;
  std::vector<cuda::Buffer> retired;     // outgrown caches, freed after the step's download
};

class GpuEncoder {
 public:
  // Uploads the weights of `encoder` and the CTC head `ctc` into `store`.
  GpuEncoder(DeviceWeights& store, const Encoder& encoder, const LinearWeights& ctc, int vocab);

  // Runs chunks[i] of states[i] (out_row / out_frames are filled as
  // Encoder::forward does) and downloads into `host` (the caller's, reused):
  // log_probs [rows, vocab] and, when `want_rows`, the encoder output rows
  // [rows, d] (else `rows` is empty) become views of `host`, valid while it
  // is unchanged. Chunks with adapters: Error(MOEASR_ERR_UNSUPPORTED).
  void forward(cuda::Context& ctx, std::vector<EncoderChunk>& chunks, const std::vector<GpuEncoderState*>& states,
               bool want_rows, GpuEncoderWorkspace& ws, cuda::MoeGemm gemm, Tensor& host, Tensor& rows,
               Tensor& log_probs) const;

 private:
  struct Layer {
    DeviceFfn ff_macaron, ff;
    DeviceLayerNorm norm_ff_macaron, norm_mha, norm_conv, norm_ff, norm_final;
    cuda::DeviceLinear q, k, v, out, pos;
    const float* pos_bias_u = nullptr;
    const float* pos_bias_v = nullptr;
    cuda::DeviceLinear pointwise1, pointwise2;
    const float* depthwise_t = nullptr;  // [kernel, C]
    const float* depthwise_bias = nullptr;
    bool conv_layer_norm = true;
    DeviceLayerNorm conv_norm;
    // Folded batch_norm y = x * scale + shift, run by the cmvn op as
    // (x - mean) * istd with istd = scale, mean = -shift / scale.
    const float* bn_mean = nullptr;
    const float* bn_istd = nullptr;
  };

  void prepare_state(cuda::Context& ctx, GpuEncoderState& s, int64_t new_frames, GpuEncoderWorkspace& ws) const;
  void attention_block(cuda::Context& ctx, const Layer& layer, int index, const std::vector<EncoderChunk>& chunks,
                       const std::vector<GpuEncoderState*>& states, int64_t rows, GpuEncoderWorkspace& ws) const;
  void conv_block(cuda::Context& ctx, const Layer& layer, int index, const std::vector<EncoderChunk>& chunks,
                  const std::vector<GpuEncoderState*>& states, int64_t rows, GpuEncoderWorkspace& ws) const;
  void trim_caches(cuda::Context& ctx, const std::vector<EncoderChunk>& chunks,
                   const std::vector<GpuEncoderState*>& states, GpuEncoderWorkspace& ws) const;
  float* cache(GpuEncoderState& s, int buffer, int layer, int kind) const;

  EncoderConfig config_;
  PositionalEncoding pos_enc_;
  int vocab_;
  const float* cmvn_mean_ = nullptr;
  const float* cmvn_istd_ = nullptr;
  const float* conv1_w_ = nullptr;
  const float* conv1_b_ = nullptr;
  const float* conv2_w_ = nullptr;
  const float* conv2_b_ = nullptr;
  cuda::DeviceLinear embed_out_;
  std::vector<Layer> layers_;
  DeviceLayerNorm after_norm_;
  cuda::DeviceLinear ctc_;
  std::vector<float> conv_init_;  // host: [layers][kernel - 1][C], the primed cnn caches
  int64_t max_dense_hidden_ = 0;
};

}  // namespace moeasr::gpu
