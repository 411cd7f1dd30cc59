// The U2++ Conformer encoder (WeNet's ConformerEncoder): global CMVN,
// Conv2dSubsampling4, N x ConformerLayer, after_norm.
//
// One forward call runs one chunk for each of several streams at once: the
// streams' frames are stacked into one [sum of frames, d] matrix for every
// position-wise op (projections, FFN/MoE, norms), so the GEMMs and the MoE
// expert groups see the whole batch; attention and the causal convolution run
// per stream against that stream's caches. A stream's output does not depend
// on the other streams in the batch; the one exception is asked for by name:
// a Mixture-of-Tokens model grouped across examples, run with
// TokenMixing::kAcrossExamples (the offline batch API). Full attention is one
// chunk holding the whole utterance.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/cpu/attention.h"
#include "formats/model_config.h"
#include "nn/layers.h"
#include "nn/positional_encoding.h"
#include "ops/ops.h"
#include "ops/token_groups.h"

namespace moeasr {

namespace gpu {
class GpuEncoder;
}

// Per-stream encoder state: attention caches (keys, values and linear_pos of
// the position encodings, time-major [rows, d]) and the convolution caches
// (the last kernel-1 post-GLU frames), plus the output frame offset.
class EncoderState {
 public:
  struct Layer {
    Tensor keys, values, positions;  // [capacity, d]; rows [0, cache_len) are valid
    Tensor conv;                     // [kernel - 1, C]
  };
  void reset();
  int64_t offset() const { return offset_; }
  int64_t cache_len() const { return cache_len_; }
  // Bytes held by the caches (bounded when the left context is bounded).
  size_t cache_bytes() const;

 private:
  friend class Encoder;
  std::vector<Layer> layers_;
  int64_t offset_ = 0;
  int64_t cache_len_ = 0;
  bool conv_primed_ = false;
};

// Which rows a Mixture-of-Tokens layer may mix in one forward call.
enum class TokenMixing {
  // The streaming path: a MoT layer groups frames of one chunk only
  // (mot_grouping: within_sequence); a cross-example model is refused.
  kWithinStream,
  // The offline batch: every chunk is a complete utterance, and a
  // cross-example model groups them in chunk order, as it was trained.
  kAcrossExamples,
};

// One stream's share of a forward call.
struct EncoderChunk {
  const float* features = nullptr;  // [num_frames, input_dim], before CMVN
  int64_t num_frames = 0;           // >= 7 (the subsampling's receptive field)
  EncoderState* state = nullptr;
  int64_t keep_cache = -1;          // attention frames kept for the next chunk (< 0: all)
  // Adapters for this stream, one entry per layer (an adapter set), or null
  // for the model's own. Must outlive the forward call.
  const std::vector<LayerAdapters>* adapters = nullptr;
  // Filled by forward(): where this stream's output rows are in `out`.
  int64_t out_row = 0;
  int64_t out_frames = 0;
};

// Per-stage time spent (seconds), accumulated when a pointer is given.
struct EncoderProfile {
  double subsampling = 0, attention = 0, conv = 0, ffn = 0, other = 0;
};

struct EncoderWorkspace {
  Tensor x, h, q, k, v, p_in, p, att, y, g, c;
  ops::FfnWorkspace ffn;
  ops::TokenGroups token_groups;
  // Soft MoE token groups: one per chunk entry (a stream's new frames), so a
  // group is a chunk when streaming and the utterance in full attention.
  ops::SoftGroups soft_groups, run_soft_groups;
  cpu::AttentionScratch attention;
  std::vector<float> cmvn, conv1, conv2, im2col, conv_in;
};

class Encoder {
 public:
  Encoder(const ModelConfig& config, const SafeTensors& weights, const PrecisionPolicy& precision = {});

  const EncoderConfig& config() const { return config_; }
  int64_t d_model() const { return config_.d_model; }
  static constexpr int kSubsampling = 4;
  static constexpr int kRightContext = 6;
  // Output frames for n feature frames (Conv2dSubsampling4).
  static int64_t output_frames(int64_t n);
  // Bytes one MoE expert's weights occupy in their compute type (0 if dense).
  int64_t expert_weight_bytes() const;

  // True for a MoT model whose groups span examples (mot_grouping: cross_example):
  // its output for one utterance depends on the others in the batch.
  bool mixes_examples() const;

  // The GPU encoder uploads this encoder's weights, derived tensors included.
  friend class gpu::GpuEncoder;

  // Runs one chunk per entry; `out` becomes [sum of out_frames, d].
  // `expert_load` (optional): [layers][2 (macaron, ffn)][experts] token counts.
  // A cross-example MoT model needs `mixing` = kAcrossExamples (else
  // Error(MOEASR_ERR_UNSUPPORTED)).
  void forward(std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws, Tensor& out,
               EncoderProfile* profile = nullptr, std::vector<int64_t>* expert_load = nullptr,
               TokenMixing mixing = TokenMixing::kWithinStream) const;

 private:
  void subsample(const EncoderChunk& chunk, EncoderWorkspace& ws, float* out) const;
  void attention_block(const ConformerLayerWeights& layer, int index, std::vector<EncoderChunk>& chunks,
                       EncoderWorkspace& ws) const;
  // Adds the parallel adapters at `place` (reading ws.h) to ws.x, each chunk with its stream's set.
  void add_adapters(int index, MixtureWeights LayerAdapters::*place, const std::vector<EncoderChunk>& chunks,
                    EncoderWorkspace& ws) const;
  const MixtureWeights& adapter_for(const EncoderChunk& c, int index, MixtureWeights LayerAdapters::*place) const;
  void conv_block(const ConformerLayerWeights& layer, int index, std::vector<EncoderChunk>& chunks,
                  EncoderWorkspace& ws) const;
  // The MoT groups of this call's rows, or null for a model without MoT.
  const cpu::MotGroups* token_groups(const std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws,
                                     cpu::MotGroups* view) const;

  EncoderConfig config_;
  Tensor cmvn_mean_, cmvn_istd_;
  Tensor conv1_w_, conv1_b_, conv2_w_, conv2_b_;  // kernels as [3, 3, c_in, c_out]
  Tensor embed_out_, embed_out_bias_;             // float32, columns re-ordered to (freq, channel)
  std::vector<ConformerLayerWeights> layers_;
  LayerNormWeights after_norm_;
  PositionalEncoding pos_enc_;
};

}  // namespace moeasr
