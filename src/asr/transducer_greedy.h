// WeNet's transducer greedy search (basic_greedy_search), fed encoder rows as
// they arrive: on each frame the joiner's best token is emitted and read by
// the predictor, and the frame is tried again, until blank wins (or
// max_symbols_per_frame tokens were emitted there) and the search moves to
// the next frame. The predictor runs only after an emission, and its state
// and last output carry across chunks, so chunk by chunk gives the same
// tokens as one call on the whole encoder output.
#pragma once

#include <vector>

#include "asr/transducer.h"

namespace moeasr {

class TransducerGreedySearch {
 public:
  // WeNet's default n_steps is 64.
  explicit TransducerGreedySearch(const Transducer& transducer, int max_symbols_per_frame = 64);

  // Consumes encoder output rows [frames, d] on be's device.
  void advance(Backend& be, const Tensor& rows, TransducerWorkspace& ws);
  // Back to the start of an utterance.
  void reset();

  const std::vector<int>& tokens() const { return tokens_; }
  // The encoder frame (from the utterance's start) each token was emitted on.
  const std::vector<int>& frames() const { return frames_; }

 private:
  const Transducer& transducer_;
  int max_symbols_;
  std::vector<int> tokens_, frames_;
  int last_;                     // the predictor's next input (blank at the start)
  bool started_ = false;         // state_ holds the initial state once a backend was seen
  PredictorState state_;         // the predictor's state before `last_`
  bool pending_ = false;         // the predictor has read `last_`:
  PredictorState after_;         //   its state after it,
  Tensor projected_;             //   its output as the joiner adds it
  int emitted_here_ = 0;         // tokens emitted on the current frame
  int64_t frame_ = 0;            // frames consumed before this call's rows
  Tensor encoder_, logits_, host_logits_;
};

}  // namespace moeasr
