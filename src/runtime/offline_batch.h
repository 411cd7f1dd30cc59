// The offline batch: complete utterances decoded together with full
// attention, for models trained with cross-example token mixing (and usable
// with any model).
#pragma once

#include <memory>
#include <vector>

#include "runtime/recognition.h"

namespace moeasr {

// One complete utterance's fbank frames ([frames, num_mel_bins], before CMVN;
// see frontend/feature_pipeline.h).
struct UtteranceFeatures {
  const float* frames = nullptr;
  int64_t num_frames = 0;
};

// The utterances decoded together in ONE batched full-attention forward, then
// searched and rescored; every recognition returned is done (options.chunk_size
// is ignored). A Mixture-of-Tokens model with mot_grouping: cross_example
// groups the utterances as it was trained: utterances jG .. jG+G-1, in the
// order given, form set j (the last set completed with masked, absent
// examples), and the tokens at position t of a set are mixed; so an
// utterance's result depends on the others of its set. This is the only
// place where that happens, and only because the caller asked for a batch.
// With any other model each utterance gets the result it gets alone with full
// attention. An utterance longer than kMaxFullAttentionSeconds is an
// Error(MOEASR_ERR_UNSUPPORTED) before any work. `keep_debug` keeps each
// recognition's encoder output and CTC log-probs on the host.
std::vector<std::unique_ptr<Recognition>> decode_batch(const AsrModel& model,
                                                       const std::vector<UtteranceFeatures>& utterances,
                                                       const DecodeOptions& options, bool keep_debug = false,
                                                       DecodeProfile* profile = nullptr);

}  // namespace moeasr
