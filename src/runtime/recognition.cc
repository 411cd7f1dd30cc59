#include "runtime/recognition.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "decode/detokenize.h"

namespace moeasr {

namespace {

CtcPrefixBeamSearchOptions search_options(const DecodeOptions& d, const ModelConfig& c) {
  CtcPrefixBeamSearchOptions o;
  o.first_beam_size = d.nbest;
  o.second_beam_size = d.nbest;
  o.blank = c.blank_id;
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

const DecodeOptions& validated(const DecodeOptions& o) {
  MOEASR_CHECK(o.chunk_size <= 4096, MOEASR_ERR_INVALID_ARGUMENT, "chunk_size ", o.chunk_size,
               " is too large (at most 4096 frames; use <= 0 for full attention)");
  MOEASR_CHECK(o.num_left_chunks <= (1 << 20), MOEASR_ERR_INVALID_ARGUMENT, "num_left_chunks ", o.num_left_chunks,
               " is too large (use < 0 for unlimited)");
  MOEASR_CHECK(o.nbest >= 1 && o.nbest <= 1000, MOEASR_ERR_INVALID_ARGUMENT, "nbest must be in [1, 1000], got ",
               o.nbest);
  MOEASR_CHECK(std::isfinite(o.ctc_weight) && std::isfinite(o.reverse_weight) && o.reverse_weight >= 0.f &&
                   o.reverse_weight <= 1.f,
               MOEASR_ERR_INVALID_ARGUMENT, "ctc_weight must be finite and reverse_weight in [0, 1]");
  // Both mix probabilities: negative or both zero would take the log of
  // nothing (or of a negative number) on every frame.
  MOEASR_CHECK(std::isfinite(o.transducer_ctc_weight) && std::isfinite(o.transducer_weight) &&
                   o.transducer_ctc_weight >= 0.f && o.transducer_weight >= 0.f &&
                   o.transducer_ctc_weight + o.transducer_weight > 0.f,
               MOEASR_ERR_INVALID_ARGUMENT, "transducer_ctc_weight and transducer_weight must be finite, >= 0 and ",
               "not both 0, got ", o.transducer_ctc_weight, " and ", o.transducer_weight);
  return o;
}

Recognition::Recognition(const AsrModel& model, const DecodeOptions& options)
    : model_(model),
      options_(validated(options)),
      search_(search_options(options_, model.config())),
      endpoint_(options_.endpoint, model.config().blank_id, model.frame_ms() / 1000.0) {
  // An efficient conformer's layers after strides cache 1 / rate of the
  // stream's frames: a chunk must hold whole output frames (asr/efficient_conformer.cc).
  const EncoderConfig& e = model.config().encoder;
  MOEASR_CHECK(options_.chunk_size <= 0 || options_.chunk_size % e.total_stride() == 0, MOEASR_ERR_UNSUPPORTED,
               "chunk_size ", options_.chunk_size, " is not supported by this efficientConformer model: it must be a ",
               "multiple of its total stride ", e.total_stride(), " (or <= 0 for full attention)");
  if (options_.search != SearchMethod::kCtc) {
    MOEASR_CHECK(model.transducer(), MOEASR_ERR_INVALID_ARGUMENT, "transducer ",
                 options_.search == SearchMethod::kTransducerGreedy ? "greedy" : "beam",
                 " search needs a model: transducer (this model has no predictor and joiner)");
  }
  if (options_.search == SearchMethod::kTransducerGreedy) {
    greedy_ = std::make_unique<TransducerGreedySearch>(*model.transducer());
  } else if (options_.search == SearchMethod::kTransducerBeam) {
    TransducerBeamOptions o;
    o.beam_size = options_.nbest;
    o.ctc_weight = options_.transducer_ctc_weight;
    o.transducer_weight = options_.transducer_weight;
    beam_ = std::make_unique<TransducerBeamSearch>(*model.transducer(), o);
  }
}

void Recognition::reset() {
  encoder_state_.reset();
  search_.reset();
  if (greedy_) greedy_->reset();
  if (beam_) beam_->reset();
  endpoint_.reset();
  frames_ = 0;
  debug_rows_.clear();
  debug_log_probs_.clear();
  final_ = RecognitionResult();
  done_ = false;
  stats_ = StreamStats();
}

void Recognition::keep_rows(Worker& w, const Tensor& rows, int64_t first, int64_t frames) {
  Backend& be = *w.backend;
  const int64_t d = rows.dim(1);
  if (keep_debug_) {
    const size_t at = debug_rows_.size();
    debug_rows_.resize(at + static_cast<size_t>(frames * d));
    be.copy_to_host(debug_rows_.data() + at, rows.data<float>() + first * d, sizeof(float) * frames * d);
  }
  if (!keeps_rows()) return;
  if (rows_.empty() || rows_.dim(0) < frames_ + frames) {
    // Grow geometrically; the old rows move over (the old buffer is retired
    // until the step is over: the copy may still be queued).
    Tensor grown({std::max(frames_ + frames, 2 * (rows_.empty() ? 0 : rows_.dim(0))), d}, DType::kF32, be.device());
    if (frames_) be.copy_rows({{grown.data<float>(), rows_.data<float>(), static_cast<int32_t>(frames_)}}, d);
    if (!rows_.empty()) w.retired.push_back(rows_);
    rows_ = grown;
  }
  be.copy_rows({{rows_.data<float>() + frames_ * d, rows.data<float>() + first * d, static_cast<int32_t>(frames)}}, d);
  frames_ += frames;
}

void Recognition::search(const float* logp, int64_t frames, int64_t vocab) {
  if (keep_debug_) debug_log_probs_.insert(debug_log_probs_.end(), logp, logp + frames * vocab);
  search_.search(logp, static_cast<int>(frames), static_cast<int>(vocab));
  endpoint_.observe(logp, frames, vocab);
  stats_.chunks += 1;
  stats_.encoder_frames += frames;
}

bool Recognition::transduce(Worker& w, const Tensor& rows, int64_t first, int64_t frames, const float* log_probs) {
  if (greedy_) greedy_->advance(*w.backend, rows.slice_rows(first, frames), w.transducer);
  if (beam_) beam_->advance(*w.backend, rows.slice_rows(first, frames), log_probs, w.transducer);
  return greedy_ || beam_;
}

Hypothesis Recognition::transducer_hypothesis(const std::vector<int>& tokens, const std::vector<int>& frames,
                                              double score) const {
  Hypothesis out;
  out.tokens = tokens;
  out.text = detokenize(out.tokens, model_.units());
  out.score = score;
  if (options_.timestamps) {
    for (int t : frames) out.timestamps_ms.push_back(static_cast<int>(std::lround(t * model_.frame_ms())));
  }
  return out;
}

std::vector<Hypothesis> Recognition::transducer_nbest() const {
  if (greedy_) return {transducer_hypothesis(greedy_->tokens(), greedy_->frames(), 0.0)};
  std::vector<Hypothesis> out;
  for (const TransducerBeamHypothesis& h : beam_->beam()) out.push_back(transducer_hypothesis(h.tokens, h.frames, h.score));
  return out;
}

Hypothesis Recognition::make_hypothesis(const CtcHypothesis& h) const {
  Hypothesis out;
  out.tokens = h.tokens;
  out.text = detokenize(h.tokens, model_.units());
  out.ctc_score = h.score;
  out.score = h.score;
  if (options_.timestamps) {
    for (int t : h.times) out.timestamps_ms.push_back(static_cast<int>(std::lround(t * model_.frame_ms())));
  }
  return out;
}

void Recognition::take_best(RecognitionResult& r) const {
  if (r.nbest.empty()) return;
  const Hypothesis& best = r.nbest[0];
  r.text = best.text;
  r.tokens = best.tokens;
  r.timestamps_ms = best.timestamps_ms;
  r.words = word_timings(best.tokens, best.timestamps_ms, model_.units(),
                         static_cast<int>(std::lround(model_.frame_ms())));
}

std::vector<Hypothesis> Recognition::ctc_nbest() const {
  std::vector<Hypothesis> out;
  for (const CtcHypothesis& h : search_.nbest()) out.push_back(make_hypothesis(h));
  return out;
}

RecognitionResult Recognition::partial_result() const {
  RecognitionResult r;
  r.nbest = greedy_ || beam_ ? transducer_nbest() : ctc_nbest();
  take_best(r);
  return r;
}

const RecognitionResult& Recognition::final_result() const {
  MOEASR_CHECK(done_, MOEASR_ERR_STATE,
               "no final result yet: call input_finished and decode until the stream is done");
  return final_;
}

void Recognition::finalize(Worker& w, DecodeProfile* profile) {
  const auto start = std::chrono::steady_clock::now();
  RecognitionResult r;
  r.nbest = greedy_ || beam_ ? transducer_nbest() : ctc_nbest();
  const AttentionDecoder* decoder = model_.decoder();
  if (keeps_rows() && frames_ > 0 && !r.nbest.empty()) {
    std::vector<std::vector<int>> hyps;
    for (const Hypothesis& h : r.nbest) hyps.push_back(h.tokens);
    const bool with_r2l = options_.reverse_weight > 0.f && decoder->bidirectional();
    const std::vector<HypothesisScores> s =
        decoder->score(*w.backend, rows_.slice_rows(0, frames_), hyps, with_r2l, w.decoder);
    size_t best = 0;
    for (size_t i = 0; i < r.nbest.size(); ++i) {
      Hypothesis& h = r.nbest[i];
      h.attention_score = with_r2l ? s[i].l2r * (1.0 - options_.reverse_weight) + s[i].r2l * options_.reverse_weight
                                   : s[i].l2r;
      h.score = h.attention_score + options_.ctc_weight * h.ctc_score;
      h.rescored = true;
      if (h.score > r.nbest[best].score) best = i;  // first maximum wins, as in WeNet
    }
    // Best first; the rest keep their CTC order.
    if (best != 0) std::rotate(r.nbest.begin(), r.nbest.begin() + best, r.nbest.begin() + best + 1);
  }
  take_best(r);  // once, after the order is final
  r.is_final = true;
  final_ = std::move(r);
  done_ = true;
  if (profile) profile->rescoring += seconds_since(start);
}

}  // namespace moeasr
