#include "runtime/stream.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "decode/detokenize.h"

#if MOEASR_HAVE_CUDA
#include "gpu/encoder_state.h"
#endif

namespace moeasr {

namespace {

FbankOptions fbank_options(const ModelConfig& c) {
  FbankOptions o;
  o.sample_rate = c.fbank.sample_rate;
  o.frame_length_ms = c.fbank.frame_length_ms;
  o.frame_shift_ms = c.fbank.frame_shift_ms;
  o.num_mel_bins = c.fbank.num_mel_bins;
  return o;
}

CtcPrefixBeamSearchOptions search_options(const DecodeOptions& d, const ModelConfig& c) {
  CtcPrefixBeamSearchOptions o;
  o.first_beam_size = d.nbest;
  o.second_beam_size = d.nbest;
  o.blank = c.blank_id;
  return o;
}

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
  return o;
}

constexpr int64_t kContext = Encoder::kRightContext + 1;  // 7 frames make one output frame

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Bytes of encoder expert weights a step read: every expert that got at least
// one token in a layer is read once. `load` is [layer][2][experts] for the step.
double expert_bytes(const std::vector<int64_t>& load, int64_t per_expert) {
  double bytes = 0;
  for (int64_t tokens : load) bytes += tokens > 0 ? static_cast<double>(per_expert) : 0;
  return bytes;
}

}  // namespace

Stream::Stream(std::shared_ptr<const AsrModel> model, const DecodeOptions& options, OfflineBatch)
    : model_(std::move(model)),
      options_(validated(options)),
      fbank_(fbank_options(model_->config())),
      search_(search_options(options_, model_->config())),
      endpoint_(options_.endpoint, model_->config().blank_id, model_->frame_ms() / 1000.0) {}

Stream::Stream(std::shared_ptr<const AsrModel> model, const DecodeOptions& options)
    : Stream(std::move(model), options, OfflineBatch{}) {
  MOEASR_CHECK(!model_->encoder().mixes_examples(), MOEASR_ERR_UNSUPPORTED,
               "this model mixes the tokens of different utterances (encoder_conf.mot_grouping: cross_example), so "
               "it cannot stream: a stream must never be influenced by another stream's audio. Decode complete "
               "utterances with moeasr_decode_batch, or use a model with mot_grouping: within_sequence");
}

std::unique_ptr<Stream> Stream::for_offline_batch(std::shared_ptr<const AsrModel> model, const DecodeOptions& options) {
  DecodeOptions full = options;
  full.chunk_size = -1;  // complete utterances, full attention
  std::unique_ptr<Stream> s(new Stream(std::move(model), full, OfflineBatch{}));
  s->offline_batch_ = true;
  return s;
}

void Stream::reset() {
  state_ = State::kAccepting;
  fbank_.reset();
  if (resampler_) resampler_->reset();
  features_.clear();
  features_begin_ = features_total_ = next_chunk_start_ = 0;
  input_rate_ = 0;
  encoder_state_.reset();
#if MOEASR_HAVE_CUDA
  if (gpu_state_) gpu_state_->reset();  // keeps its device memory for the next utterance
#endif
  search_.reset();
  endpoint_.reset();
  encoder_out_.clear();
  ctc_logp_.clear();
  all_features_.clear();
  final_ = RecognitionResult();
  stats_ = StreamStats();
}

void Stream::set_adapters(std::shared_ptr<const AdapterSet> adapters) {
  MOEASR_CHECK(state_ == State::kAccepting && input_rate_ == 0 && features_total_ == 0, MOEASR_ERR_STATE,
               "adapters can only be chosen before an utterance's first input (after create or reset)");
  MOEASR_CHECK(!adapters || !model_->on_gpu(), MOEASR_ERR_UNSUPPORTED,
               "adapter sets have no CUDA path yet; load the model with device \"cpu\" to use them");
  MOEASR_CHECK(!adapters || adapters->fits(*model_), MOEASR_ERR_INVALID_ARGUMENT,
               "the adapter set was made for a model of another size or layer count");
  adapters_ = std::move(adapters);
}

void Stream::push_features(const float* samples, size_t n) {
  const size_t before = features_.size();
  fbank_.accept_waveform(samples, n, &features_);
  const int64_t bins = fbank_.num_bins();
  features_total_ += static_cast<int64_t>((features_.size() - before) / bins);
  if (keep_debug_) all_features_.insert(all_features_.end(), features_.begin() + before, features_.end());
}

void Stream::accept_waveform(const float* samples, size_t n, int sample_rate) {
  MOEASR_CHECK(state_ == State::kAccepting, MOEASR_ERR_STATE, "accept_waveform after input_finished (call reset first)");
  MOEASR_CHECK(samples || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  MOEASR_CHECK(sample_rate > 0, MOEASR_ERR_INVALID_ARGUMENT, "sample rate must be positive, got ", sample_rate);
  for (size_t i = 0; i < n; ++i) {
    MOEASR_CHECK(std::isfinite(samples[i]), MOEASR_ERR_INVALID_ARGUMENT, "sample ", i,
                 " is not a finite number (NaN or Inf); the piece was ignored");
  }
  MOEASR_CHECK(input_rate_ == 0 || input_rate_ == sample_rate, MOEASR_ERR_INVALID_ARGUMENT, "sample rate changed from ",
               input_rate_, " to ", sample_rate, " within one utterance");
  input_rate_ = sample_rate;
  stats_.audio_seconds += static_cast<double>(n) / sample_rate;
  if (sample_rate == model_->config().fbank.sample_rate) {
    push_features(samples, n);
    return;
  }
  if (!resampler_ || resampler_->in_rate() != sample_rate) {
    resampler_ = std::make_unique<Resampler>(sample_rate, model_->config().fbank.sample_rate);
  }
  resampled_.clear();
  resampler_->process(samples, n, false, &resampled_);
  push_features(resampled_.data(), resampled_.size());
}

void Stream::accept_waveform_int16(const int16_t* samples, size_t n, int sample_rate) {
  MOEASR_CHECK(samples || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = samples[i] / 32768.f;
  accept_waveform(f.data(), n, sample_rate);
}

void Stream::accept_features(const float* features, int64_t frames) {
  MOEASR_CHECK(state_ == State::kAccepting, MOEASR_ERR_STATE, "accept_features after input_finished (call reset first)");
  MOEASR_CHECK(frames >= 0 && (features || frames == 0), MOEASR_ERR_INVALID_ARGUMENT, "bad feature frames");
  MOEASR_CHECK(input_rate_ == 0, MOEASR_ERR_STATE, "accept_features after audio in the same utterance");
  const int64_t n = frames * fbank_.num_bins();
  for (int64_t i = 0; i < n; ++i) {
    MOEASR_CHECK(std::isfinite(features[i]), MOEASR_ERR_INVALID_ARGUMENT, "feature value ", i, " is not finite");
  }
  features_.insert(features_.end(), features, features + n);
  if (keep_debug_) all_features_.insert(all_features_.end(), features, features + n);
  features_total_ += frames;
}

void Stream::input_finished() {
  MOEASR_CHECK(state_ == State::kAccepting, MOEASR_ERR_STATE, "input_finished called twice (call reset first)");
  if (resampler_ && input_rate_ != model_->config().fbank.sample_rate && input_rate_ != 0) {
    resampled_.clear();
    resampler_->process(nullptr, 0, true, &resampled_);
    push_features(resampled_.data(), resampled_.size());
  }
  state_ = State::kFinishing;
}

bool Stream::chunk_ready() const {
  const int64_t available = features_total_ - next_chunk_start_;
  if (options_.chunk_size <= 0) return state_ == State::kFinishing && available >= kContext;
  const int64_t window = (options_.chunk_size - 1) * Encoder::kSubsampling + kContext;
  if (available >= window) return true;
  return state_ == State::kFinishing && available >= kContext;
}

bool Stream::final_pass_due() const { return state_ == State::kFinishing && !chunk_ready(); }

bool Stream::is_ready() const { return state_ != State::kDone && (chunk_ready() || final_pass_due()); }

EncoderChunk Stream::next_chunk() {
  const int64_t available = features_total_ - next_chunk_start_;
  int64_t frames = available;
  if (options_.chunk_size > 0) {
    const int64_t window = (options_.chunk_size - 1) * Encoder::kSubsampling + kContext;
    frames = std::min(window, available);
  }
  EncoderChunk c;
  const int64_t bins = fbank_.num_bins();
  c.features = features_.data() + (next_chunk_start_ - features_begin_) * bins;
  c.num_frames = frames;
  c.state = &encoder_state_;
  c.adapters = adapters_ ? &adapters_->layers() : nullptr;
  c.keep_cache = (options_.chunk_size > 0 && options_.num_left_chunks >= 0)
                     ? static_cast<int64_t>(options_.chunk_size) * options_.num_left_chunks
                     : -1;
  return c;
}

void Stream::consume_chunk(const EncoderChunk& c, const Tensor& encoder_out, const Tensor& log_probs,
                           DecodeProfile* profile) {
  // A GPU step downloads the encoder rows only when some stream of the batch
  // keeps them (rescoring or debug outputs); then every stream gets them.
  const int64_t d = model_->encoder().d_model(), vocab = log_probs.dim(1);
  const bool keep_rows = (options_.rescoring && model_->decoder()) || keep_debug_;
  MOEASR_CHECK(!keep_rows || (encoder_out.rank() == 2 && encoder_out.dim(1) == d), MOEASR_ERR_INTERNAL,
               "encoder rows missing from the step");
  const float* rows = keep_rows ? encoder_out.data<float>() + c.out_row * d : nullptr;
  const float* logp = log_probs.data<float>() + c.out_row * vocab;
  if (keep_rows) encoder_out_.insert(encoder_out_.end(), rows, rows + c.out_frames * d);
  if (keep_debug_) {
    ctc_logp_.insert(ctc_logp_.end(), logp, logp + c.out_frames * vocab);
  }
  const auto search_start = std::chrono::steady_clock::now();
  search_.search(logp, static_cast<int>(c.out_frames), static_cast<int>(vocab));
  endpoint_.observe(logp, c.out_frames, vocab);
  if (profile) profile->ctc_search += seconds_since(search_start);
  stats_.chunks += 1;
  stats_.encoder_frames += c.out_frames;

  // Advance: streaming chunks move by 4c frames; the full-attention or last
  // chunk consumes everything.
  const int64_t stride = options_.chunk_size > 0 ? int64_t{options_.chunk_size} * Encoder::kSubsampling : 0;
  const bool last = options_.chunk_size <= 0 || c.num_frames < (options_.chunk_size - 1) * Encoder::kSubsampling + kContext;
  next_chunk_start_ = last ? features_total_ : next_chunk_start_ + stride;
  // Drop features no chunk will read again.
  const int64_t bins = fbank_.num_bins();
  const int64_t drop = next_chunk_start_ - features_begin_;
  if (drop > 0 && drop * bins * 2 >= static_cast<int64_t>(features_.size())) {
    const int64_t keep_from = std::min<int64_t>(drop * bins, static_cast<int64_t>(features_.size()));
    features_.erase(features_.begin(), features_.begin() + keep_from);
    features_begin_ += keep_from / bins;
  }
}

Hypothesis Stream::make_hypothesis(const CtcHypothesis& h) const {
  Hypothesis out;
  out.tokens = h.tokens;
  out.text = detokenize(h.tokens, model_->units());
  out.ctc_score = h.score;
  out.score = h.score;
  if (options_.timestamps) {
    for (int t : h.times) out.timestamps_ms.push_back(static_cast<int>(std::lround(t * model_->frame_ms())));
  }
  return out;
}

RecognitionResult Stream::partial_result() const {
  RecognitionResult r;
  const std::vector<CtcHypothesis>& nbest = search_.nbest();
  for (const CtcHypothesis& h : nbest) r.nbest.push_back(make_hypothesis(h));
  if (!r.nbest.empty()) {
    r.text = r.nbest[0].text;
    r.tokens = r.nbest[0].tokens;
    r.timestamps_ms = r.nbest[0].timestamps_ms;
  }
  return r;
}

RecognitionResult Stream::final_result() const {
  MOEASR_CHECK(state_ == State::kDone, MOEASR_ERR_STATE,
               "no final result yet: call input_finished and decode until the stream is done");
  return final_;
}

void Stream::finalize(DecodeProfile* profile) {
  const auto start = std::chrono::steady_clock::now();
  RecognitionResult r = partial_result();
  const AttentionDecoder* decoder = model_->decoder();
  const int64_t d = model_->encoder().d_model();
  const int64_t frames = d ? static_cast<int64_t>(encoder_out_.size()) / d : 0;
  if (options_.rescoring && decoder && frames > 0 && !r.nbest.empty()) {
    std::vector<std::vector<int>> hyps;
    for (const Hypothesis& h : r.nbest) hyps.push_back(h.tokens);
    const Tensor memory = Tensor::view(encoder_out_.data(), {frames, d}, DType::kF32, nullptr);
    const bool with_r2l = options_.reverse_weight > 0.f && decoder->bidirectional();
    std::vector<HypothesisScores> s = model_->on_gpu() ? gpu_rescore(encoder_out_.data(), frames, hyps, with_r2l)
                                                       : decoder->score(memory, hyps, with_r2l, decoder_ws_);
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
    r.text = r.nbest[0].text;
    r.tokens = r.nbest[0].tokens;
    r.timestamps_ms = r.nbest[0].timestamps_ms;
  }
  r.is_final = true;
  final_ = std::move(r);
  state_ = State::kDone;
  if (profile) profile->rescoring += seconds_since(start);
}

void Stream::decode() { decode_streams({this}); }

void Stream::step(const std::vector<Stream*>& owners, std::vector<EncoderChunk>& chunks, DecodeProfile* profile,
                  TokenMixing mixing) {
  if (owners[0]->model().on_gpu()) {
    gpu_step(owners, chunks, profile);  // every model the GPU runs is the same for either mixing
    return;
  }
  const AsrModel& model = owners[0]->model();
  Stream& lead = *owners[0];
  const bool moe = model.config().encoder.ffn.moe;
  std::vector<int64_t> step_load;
  const auto start = std::chrono::steady_clock::now();
  model.encoder().forward(chunks, lead.encoder_ws_, lead.encoder_rows_, profile ? &profile->encoder : nullptr,
                          profile && moe ? &step_load : nullptr, mixing);
  const auto head_start = std::chrono::steady_clock::now();
  model.ctc_log_probs(lead.encoder_rows_, lead.log_probs_);
  if (profile) {
    profile->ctc_head += seconds_since(head_start);
    profile->forwards += 1;
    profile->encoder_frames += lead.encoder_rows_.dim(0);
    if (moe) {
      profile->expert_load.resize(step_load.size(), 0);
      for (size_t i = 0; i < step_load.size(); ++i) profile->expert_load[i] += step_load[i];
      profile->expert_bytes_touched += expert_bytes(step_load, model.encoder().expert_weight_bytes());
    }
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    // A too-short utterance of the offline batch holds its place in the batch
    // with no frames; there is nothing for it to consume.
    if (chunks[i].out_frames > 0) owners[i]->consume_chunk(chunks[i], lead.encoder_rows_, lead.log_probs_, profile);
  }
  const double seconds = seconds_since(start);
  for (Stream* s : owners) s->stats_.chunk_seconds.push_back(seconds);
}

void decode_streams(const std::vector<Stream*>& streams, DecodeProfile* profile) {
  if (streams.empty()) return;
  const AsrModel& model = streams[0]->model();
  for (Stream* s : streams) {
    MOEASR_CHECK(s, MOEASR_ERR_INVALID_ARGUMENT, "null stream");
    MOEASR_CHECK(&s->model() == &model, MOEASR_ERR_INVALID_ARGUMENT, "streams of different models in one batch");
  }
  // oneDNN (OpenMP runtime) takes its thread count from the calling thread.
  omp_set_num_threads(model.options().threads);

  std::vector<EncoderChunk> chunks;
  std::vector<Stream*> owners;
  for (;;) {
    chunks.clear();
    owners.clear();
    for (Stream* s : streams) {
      if (s->state_ != Stream::State::kDone && s->chunk_ready()) {
        chunks.push_back(s->next_chunk());
        owners.push_back(s);
      }
    }
    if (chunks.empty()) break;
    Stream::step(owners, chunks, profile, TokenMixing::kWithinStream);
  }
  for (Stream* s : streams) {
    if (s->final_pass_due()) s->finalize(profile);
  }
}

}  // namespace moeasr
