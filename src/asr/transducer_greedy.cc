#include "asr/transducer_greedy.h"

#include "ops/ops.h"

namespace moeasr {

TransducerGreedySearch::TransducerGreedySearch(const Transducer& transducer, int max_symbols_per_frame)
    : transducer_(transducer), max_symbols_(max_symbols_per_frame), last_(transducer.blank()) {}

void TransducerGreedySearch::reset() {
  tokens_.clear();
  frames_.clear();
  last_ = transducer_.blank();
  started_ = pending_ = false;
  emitted_here_ = 0;
  frame_ = 0;
}

void TransducerGreedySearch::advance(Backend& be, const Tensor& rows, TransducerWorkspace& ws) {
  if (!started_) {
    state_ = transducer_.initial_state(be);
    started_ = true;
  }
  const int64_t frames = rows.dim(0);
  transducer_.project_encoder(be, rows, encoder_);
  int64_t t = 0;
  while (t < frames) {
    if (!pending_) {
      transducer_.step(be, last_, state_, after_, projected_, ws);
      pending_ = true;
    }
    // The logits of every remaining frame against this predictor output: they
    // stay valid until the next emission changes it.
    transducer_.joint(be, encoder_.slice_rows(t, frames - t), projected_, logits_, ws);
    const Tensor& logits = ops::on_host(be, logits_, host_logits_);
    const int64_t vocab = logits.dim(1);
    for (int64_t r = 0; t < frames; ++r) {
      const float* row = logits.data<float>() + r * vocab;
      int best = 0;
      for (int64_t v = 1; v < vocab; ++v) {
        if (row[v] > row[best]) best = static_cast<int>(v);  // the first maximum, as torch.argmax
      }
      const bool emitted = best != transducer_.blank();
      if (emitted) {
        tokens_.push_back(best);
        frames_.push_back(static_cast<int>(frame_ + t));
        last_ = best;
        state_ = after_;
        pending_ = false;
        ++emitted_here_;
      }
      if (!emitted || emitted_here_ >= max_symbols_) {
        ++t;
        emitted_here_ = 0;
      }
      if (emitted) break;  // the predictor reads the new token before the next decision
    }
  }
  frame_ += frames;
}

}  // namespace moeasr
