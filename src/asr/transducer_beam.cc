#include "asr/transducer_beam.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/ops.h"

namespace moeasr {

namespace {

double log_add(double a, double b) {
  const double top = std::max(a, b);
  if (top == -INFINITY) return top;
  return top + std::log(std::exp(a - top) + std::exp(b - top));
}

}  // namespace

TransducerBeamSearch::TransducerBeamSearch(const Transducer& transducer, const TransducerBeamOptions& options)
    : transducer_(transducer), options_(options) {}

void TransducerBeamSearch::reset() {
  beam_.clear();
  frame_ = 0;
}

void TransducerBeamSearch::advance(Backend& be, const Tensor& rows, const float* ctc, TransducerWorkspace& ws) {
  if (beam_.empty()) beam_.push_back({{}, {}, 0.0, transducer_.initial_state(be)});
  transducer_.project_encoder(be, rows, encoder_);
  const int64_t frames = rows.dim(0);
  std::vector<float> mixed;
  std::vector<int> order;
  const int64_t join = transducer_.join_dim();
  std::vector<PredictorState> after;
  for (int64_t t = 0; t < frames; ++t) {
    // Every hypothesis reads its last token; their predictor outputs are
    // joined with frame t in one batch (the output Linear is one GEMM over
    // the beam instead of one weight pass per hypothesis).
    const int64_t hyps = static_cast<int64_t>(beam_.size());
    after.assign(beam_.size(), PredictorState());
    predicted_.resize({hyps, join}, be.device());
    for (int64_t i = 0; i < hyps; ++i) {
      const TransducerBeamHypothesis& h = beam_[static_cast<size_t>(i)];
      const int last = h.tokens.empty() ? transducer_.blank() : h.tokens.back();
      transducer_.step(be, last, h.state, after[static_cast<size_t>(i)], projected_, ws);
      be.copy(predicted_.data<float>() + i * join, projected_.data<float>(), sizeof(float) * join);
    }
    transducer_.joint(be, predicted_, encoder_.slice_rows(t, 1), logits_, ws);
    ops::log_softmax(be, logits_);
    const Tensor& logp = ops::on_host(be, logits_, host_logits_);
    const int64_t vocab = logp.dim(1);
    const float* frame_ctc = ctc + t * vocab;
    std::vector<TransducerBeamHypothesis> extended;
    for (int64_t i = 0; i < hyps; ++i) {
      const TransducerBeamHypothesis& h = beam_[static_cast<size_t>(i)];
      const float* row = logp.data<float>() + i * vocab;
      mixed.resize(static_cast<size_t>(vocab));
      for (int64_t v = 0; v < vocab; ++v) {
        mixed[v] = std::log(options_.transducer_weight * std::exp(row[v]) + options_.ctc_weight * std::exp(frame_ctc[v]));
      }
      const int k = static_cast<int>(std::min<int64_t>(options_.beam_size, vocab));
      order.resize(static_cast<size_t>(vocab));
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        return mixed[a] > mixed[b] || (mixed[a] == mixed[b] && a < b);
      });
      const float base = static_cast<float>(h.score);
      for (int rank = 0; rank < k; ++rank) {
        const int token = order[rank];
        const double score = static_cast<double>(base + mixed[token]);
        if (token == transducer_.blank()) {
          extended.push_back({h.tokens, h.frames, score, h.state});
        } else {
          TransducerBeamHypothesis e{h.tokens, h.frames, score, after[static_cast<size_t>(i)]};
          e.tokens.push_back(token);
          e.frames.push_back(static_cast<int>(frame_ + t));
          extended.push_back(std::move(e));
        }
      }
    }
    // Merge equal prefixes into the first of them, then keep the best.
    std::vector<TransducerBeamHypothesis> merged;
    for (TransducerBeamHypothesis& e : extended) {
      auto same = std::find_if(merged.begin(), merged.end(),
                               [&](const TransducerBeamHypothesis& m) { return m.tokens == e.tokens; });
      if (same == merged.end()) {
        merged.push_back(std::move(e));
      } else {
        same->score = log_add(same->score, e.score);
      }
    }
    std::stable_sort(merged.begin(), merged.end(),
                     [](const TransducerBeamHypothesis& a, const TransducerBeamHypothesis& b) {
                       return a.score > b.score;
                     });
    if (merged.size() > static_cast<size_t>(options_.beam_size)) merged.resize(options_.beam_size);
    beam_ = std::move(merged);
  }
  frame_ += frames;
}

}  // namespace moeasr
