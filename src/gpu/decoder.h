// WeNet's (Bi)TransformerDecoder on the GPU for attention rescoring, mirroring
// AttentionDecoder (model/decoder.h): all hypotheses of an utterance in one
// batched forward (token rows stacked, causal self-attention and
// cross-attention batched with one job per hypothesis), the left decoder and,
// when asked and present, the right decoder on the reversed tokens. Returns
// the same HypothesisScores as AttentionDecoder::score. CUDA builds only.
#pragma once

#include <vector>

#include "gpu/device_weights.h"
#include "asr/decoder.h"

namespace moeasr::gpu {

struct GpuDecoderWorkspace {
  cuda::Workspace ops;
  cuda::Buffer memory, ids, cols, pos, x, h, q, k, v, att, y, mem_k, mem_v, hidden, logits, picked;
  std::vector<float> host_pos, host_picked;
  std::vector<int32_t> host_ids, host_cols;
};

class GpuDecoder {
 public:
  GpuDecoder(DeviceWeights& store, const ModelConfig& config, const AttentionDecoder& decoder);

  // Scores each hypothesis against the encoder output `memory` (host, [frames, d]).
  std::vector<HypothesisScores> score(cuda::Context& ctx, const float* memory, int64_t frames,
                                      const std::vector<std::vector<int>>& hyps, bool with_r2l,
                                      GpuDecoderWorkspace& ws, cuda::MoeGemm gemm) const;

 private:
  struct Attention {
    cuda::DeviceLinear q, k, v, out;
  };
  struct Layer {
    Attention self_attn, src_attn;
    DeviceFfn ff;
    DeviceLayerNorm norm1, norm2, norm3;
  };
  struct Weights {
    const float* embedding = nullptr;  // [vocab, d]
    std::vector<Layer> layers;
    DeviceLayerNorm after_norm;
    cuda::DeviceLinear output;
  };
  Weights upload(DeviceWeights& store, const DecoderWeights& w, const char* which);
  // Sum over each input of log p(token_j) + log p(eos), after <sos>.
  std::vector<double> sequence_scores(cuda::Context& ctx, const Weights& w, int64_t frames,
                                      const std::vector<std::vector<int>>& inputs, GpuDecoderWorkspace& ws,
                                      cuda::MoeGemm gemm) const;

  int64_t d_;
  int heads_, vocab_, sos_, eos_;
  bool has_right_ = false;
  Weights left_, right_;
  PositionalEncoding pos_enc_;
  int64_t max_dense_hidden_ = 0;
};

}  // namespace moeasr::gpu
