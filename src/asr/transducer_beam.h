// WeNet's transducer prefix beam search (PrefixBeamSearch.prefix_beam_search),
// fed encoder rows and their CTC log-probs as they arrive: on each frame every
// hypothesis reads its last token (blank at the start) into the predictor, the
// joiner's log-probabilities are mixed with the frame's CTC ones
// (log(transducer_weight * p_rnnt + ctc_weight * p_ctc)), each hypothesis keeps
// its beam_size best extensions (blank keeps the hypothesis, another token
// appends it: one token per frame at most), equal token sequences are merged
// by log-add, and the beam_size best survive (ties keep their order). Scores
// are added in float32 and merged in float64, as WeNet's tensors and Python
// floats do.
#pragma once

#include <vector>

#include "asr/transducer.h"

namespace moeasr {

struct TransducerBeamOptions {
  int beam_size = 5;  // WeNet's Transducer.beam_search defaults
  float ctc_weight = 0.3f;
  float transducer_weight = 0.7f;
};

struct TransducerBeamHypothesis {
  std::vector<int> tokens;
  std::vector<int> frames;  // the encoder frame each token was appended on (of the first merged path)
  double score = 0;
  PredictorState state;  // the predictor's state before the last token
};

class TransducerBeamSearch {
 public:
  TransducerBeamSearch(const Transducer& transducer, const TransducerBeamOptions& options);

  // Consumes encoder output rows [frames, d] on be's device and their CTC
  // log-probabilities (host, [frames, vocab]).
  void advance(Backend& be, const Tensor& rows, const float* ctc_log_probs, TransducerWorkspace& ws);
  void reset();
  // Best first.
  const std::vector<TransducerBeamHypothesis>& beam() const { return beam_; }

 private:
  const Transducer& transducer_;
  TransducerBeamOptions options_;
  std::vector<TransducerBeamHypothesis> beam_;
  int64_t frame_ = 0;  // frames consumed before this call's rows
  Tensor encoder_, projected_, predicted_, logits_, host_logits_;  // predicted_: [beam, join_dim]
};

}  // namespace moeasr
