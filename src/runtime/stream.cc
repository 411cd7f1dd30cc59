#include "runtime/stream.h"

#include "core/parallel.h"

#include <algorithm>

#include "core/error.h"
#include "core/logging.h"
#include "runtime/decode_step.h"

namespace moeasr {

namespace {

// Feature frames that make one output frame (7 for conv2d, 1 for linear).
int64_t context(const Encoder& e) { return e.right_context() + 1; }

// WeNet's decoding_window: (chunk - 1) * subsampling_rate + right_context + 1.
int64_t chunk_window(const Encoder& e, const DecodeOptions& o) {
  return int64_t{o.chunk_size - 1} * e.subsampling_rate() + context(e);
}

}  // namespace

Stream::Stream(std::shared_ptr<const AsrModel> model, const DecodeOptions& options)
    : model_(std::move(model)), features_(model_->config().fbank), recognition_(*model_, options) {
  MOEASR_CHECK(!model_->encoder().mixes_examples(), MOEASR_ERR_UNSUPPORTED,
               "this model mixes the tokens of different utterances (encoder_conf.mot_grouping: cross_example), so "
               "it cannot stream: a stream must never be influenced by another stream's audio. Decode complete "
               "utterances with moeasr_decode_batch, or use a model with mot_grouping: within_sequence");
  const EncoderConfig& e = model_->config().encoder;
  if (options.chunk_size > 0 && !e.trained_for_chunks() && model_->first_usage_warning()) {
    log_warning("decoding in chunks of ", options.chunk_size, " frames with a model not trained for chunked decoding (",
                !(e.use_dynamic_chunk || e.static_chunk_size > 0)
                    ? "train.yaml has neither use_dynamic_chunk: true nor a static_chunk_size"
                    : "its convolution is not causal",
                "): expect worse results than with full attention (chunk_size <= 0). Said once per model");
  }
}

Stream::State Stream::state() const {
  if (recognition_.done()) return State::kDone;
  return features_.finished() ? State::kFinishing : State::kAccepting;
}

void Stream::reset() {
  // The utterance's length: its audio, or for features given directly their frames.
  const double shift_s = model_->config().fbank.frame_shift_ms / 1000.0;
  time_offset_s_ += features_.audio_seconds() > 0 ? features_.audio_seconds()
                                                  : static_cast<double>(features_.frames()) * shift_s;
  features_.reset();
  next_chunk_start_ = 0;
  recognition_.reset();
}

RecognitionResult Stream::on_clock(RecognitionResult r) const {
  const int offset = static_cast<int>(time_offset_ms());
  if (offset == 0) return r;
  for (int& t : r.timestamps_ms) t += offset;
  for (WordTiming& w : r.words) {
    w.start_ms += offset;
    w.end_ms += offset;
  }
  for (Hypothesis& h : r.nbest) {
    for (int& t : h.timestamps_ms) t += offset;
  }
  return r;
}

void Stream::set_keep_debug_outputs(bool keep) {
  features_.set_keep_all(keep);
  recognition_.set_keep_debug(keep);
}

void Stream::set_adapters(std::shared_ptr<const AdapterSet> adapters) {
  MOEASR_CHECK(state() == State::kAccepting && !features_.has_input(), MOEASR_ERR_STATE,
               "adapters can only be chosen before an utterance's first input (after create or reset)");
  MOEASR_CHECK(!adapters || adapters->fits(*model_), MOEASR_ERR_INVALID_ARGUMENT,
               "the adapter set was made for a model of another size or layer count, or on another device");
  adapters_ = std::move(adapters);
}

void Stream::check_full_attention_length(double total) const {
  if (options().chunk_size > 0) return;
  MOEASR_CHECK(total <= kMaxFullAttentionSeconds, MOEASR_ERR_UNSUPPORTED,
               "full attention (chunk_size <= 0) decodes at most ", kMaxFullAttentionSeconds,
               " s of audio per utterance and this one would have ", total,
               " s; decode long audio in chunks (chunk_size > 0) and end utterances at endpoints "
               "(is_endpoint, then final result and reset)");
}

void Stream::accept_waveform(const float* samples, size_t n, int sample_rate) {
  MOEASR_CHECK(state() == State::kAccepting, MOEASR_ERR_STATE, "accept_waveform after input_finished (call reset first)");
  if (sample_rate > 0) check_full_attention_length(features_.audio_seconds() + static_cast<double>(n) / sample_rate);
  features_.accept_waveform(samples, n, sample_rate);
  recognition_.stats().audio_seconds = features_.audio_seconds();
}

void Stream::accept_waveform_int16(const int16_t* samples, size_t n, int sample_rate) {
  MOEASR_CHECK(state() == State::kAccepting, MOEASR_ERR_STATE, "accept_waveform after input_finished (call reset first)");
  if (sample_rate > 0) check_full_attention_length(features_.audio_seconds() + static_cast<double>(n) / sample_rate);
  features_.accept_waveform_int16(samples, n, sample_rate);
  recognition_.stats().audio_seconds = features_.audio_seconds();
}

void Stream::accept_features(const float* features, int64_t frames) {
  MOEASR_CHECK(state() == State::kAccepting, MOEASR_ERR_STATE, "accept_features after input_finished (call reset first)");
  if (frames > 0) {
    const double shift_s = model_->config().fbank.frame_shift_ms / 1000.0;
    check_full_attention_length(static_cast<double>(features_.frames() + frames) * shift_s);
  }
  features_.accept_features(features, frames);
}

void Stream::input_finished() {
  MOEASR_CHECK(state() == State::kAccepting, MOEASR_ERR_STATE, "input_finished called twice (call reset first)");
  features_.input_finished();
}

bool Stream::chunk_ready() const {
  if (state() == State::kDone) return false;
  const int64_t available = features_.frames() - next_chunk_start_;
  const bool finishing = state() == State::kFinishing;
  const Encoder& e = model_->encoder();
  if (options().chunk_size <= 0) return finishing && available >= context(e);
  if (available >= chunk_window(e, options())) return true;
  return finishing && available >= context(e);
}

bool Stream::final_pass_due() const { return state() == State::kFinishing && !chunk_ready(); }

bool Stream::is_ready() const { return state() != State::kDone && (chunk_ready() || final_pass_due()); }

EncoderChunk Stream::next_chunk() {
  const DecodeOptions& o = options();
  const int64_t available = features_.frames() - next_chunk_start_;
  EncoderChunk c;
  c.features = features_.frames_from(next_chunk_start_);
  c.num_frames = o.chunk_size > 0 ? std::min(chunk_window(model_->encoder(), o), available) : available;
  c.state = &recognition_.encoder_state();
  c.adapters = adapters_ ? &adapters_->layers() : nullptr;
  c.keep_cache = (o.chunk_size > 0 && o.num_left_chunks >= 0) ? int64_t{o.chunk_size} * o.num_left_chunks : -1;
  return c;
}

void Stream::chunk_done(const EncoderChunk& c) {
  // Streaming chunks move by rate * c frames; the full-attention or last
  // chunk consumes everything.
  const DecodeOptions& o = options();
  const Encoder& e = model_->encoder();
  const bool last = o.chunk_size <= 0 || c.num_frames < chunk_window(e, o);
  next_chunk_start_ =
      last ? features_.frames() : next_chunk_start_ + int64_t{o.chunk_size} * e.subsampling_rate();
  features_.release_before(next_chunk_start_);
}

void Stream::decode() { decode_streams({this}); }

void decode_streams(const std::vector<Stream*>& streams, DecodeProfile* profile) {
  if (streams.empty()) return;
  const AsrModel& model = streams[0]->model();
  for (Stream* s : streams) {
    MOEASR_CHECK(s, MOEASR_ERR_INVALID_ARGUMENT, "null stream");
    MOEASR_CHECK(&s->model() == &model, MOEASR_ERR_INVALID_ARGUMENT, "streams of different models in one batch");
  }
  // oneDNN (OpenMP runtime) takes its thread count from the calling thread.
  set_intra_op_threads(model.options().threads);
  auto worker = model.workers().acquire();

  std::vector<EncoderChunk> chunks;
  std::vector<Stream*> owners;
  std::vector<Recognition*> recognitions;
  for (;;) {
    chunks.clear();
    owners.clear();
    recognitions.clear();
    for (Stream* s : streams) {
      if (s->chunk_ready()) {
        chunks.push_back(s->next_chunk());
        owners.push_back(s);
        recognitions.push_back(&s->recognition());
      }
    }
    if (chunks.empty()) break;
    run_step(model, *worker, chunks, recognitions, profile, TokenMixing::kWithinStream);
    for (size_t i = 0; i < owners.size(); ++i) owners[i]->chunk_done(chunks[i]);
  }
  for (Stream* s : streams) {
    if (s->final_pass_due()) s->recognition().finalize(*worker, profile);
  }
}

}  // namespace moeasr
