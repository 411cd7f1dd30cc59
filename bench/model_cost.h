// Parameter and FLOP counts of a configuration, computed from its shapes
// (no weights needed): total vs active-per-frame parameters of an MoE model,
// and the multiply-adds (x2) of one encoder chunk.
#pragma once

#include <cstdint>

#include "formats/model_config.h"

namespace moeasr::bench {

struct ParamCounts {
  int64_t total = 0;
  int64_t encoder = 0, encoder_active = 0;  // active: each MoE layer counts top_k of its experts
  int64_t decoder = 0, decoder_active = 0;
  int64_t ctc = 0;
  int64_t encoder_expert_bytes = 0;  // one encoder expert (w_1 + w_2 + biases), float32
};

ParamCounts count_params(const ModelConfig& config);

// FLOPs of one encoder forward for one stream: `frames` output frames (the
// chunk), attending over `context` frames (cache + chunk).
double encoder_chunk_flops(const EncoderConfig& c, int64_t frames, int64_t context);

}  // namespace moeasr::bench
