// One stream of audio being recognized: the front end (audio in, fbank
// frames; frontend/feature_pipeline.h), the chunker, and the recognition
// state of its current utterance (runtime/recognition.h). A stream is used by
// one thread at a time; many streams share one immutable AsrModel, and the
// model's workers (not the streams) hold the scratch of the batched steps.
//
// Chunking follows WeNet's forward_chunk_by_chunk: with the input layer's
// subsampling rate r and right context rc (4 and 6 for conv2d; 6/10, 8/14
// and 1/0 for conv2d6, conv2d8 and linear), a chunk of c encoder frames needs
// (c - 1) * r + rc + 1 feature frames and the next one starts r * c frames
// later. After input_finished(), a last chunk runs on whatever is left when
// at least rc + 1 frames remain. chunk_size <= 0 is full attention: the
// whole utterance is one chunk, run when the input is finished.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "frontend/feature_pipeline.h"
#include "runtime/adapter_set.h"
#include "runtime/asr_model.h"
#include "runtime/recognition.h"

namespace moeasr {

class Stream {
 public:
  enum class State { kAccepting, kFinishing, kDone };

  // Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for bad options, and
  // Error(MOEASR_ERR_UNSUPPORTED) for a model whose output for one utterance
  // depends on others (Mixture of Tokens with mot_grouping: cross_example):
  // a stream is never influenced by another stream's audio.
  Stream(std::shared_ptr<const AsrModel> model, const DecodeOptions& options);

  const AsrModel& model() const { return *model_; }
  const DecodeOptions& options() const { return recognition_.options(); }
  State state() const;

  // Samples in [-1, 1] at any rate (resampled to the model's). Rejects NaN/Inf
  // (the stream is unchanged) and calls after input_finished(); with full
  // attention, input past kMaxFullAttentionSeconds is refused with
  // Error(MOEASR_ERR_UNSUPPORTED), the stream unchanged.
  void accept_waveform(const float* samples, size_t n, int sample_rate);
  void accept_waveform_int16(const int16_t* samples, size_t n, int sample_rate);
  // Feature frames computed elsewhere ([frames, num_mel_bins], before CMVN), for
  // applications with their own front end and for tests. Do not mix with audio.
  void accept_features(const float* features, int64_t frames);
  void input_finished();
  // True when decode() has work: a chunk is complete, or the final pass is due.
  bool is_ready() const;
  // Runs every ready chunk; after input_finished(), also the last chunk and rescoring.
  void decode();
  // CTC best path so far (not rescored).
  RecognitionResult partial_result() const { return on_clock(recognition_.partial_result()); }
  // The final result; Error(MOEASR_ERR_STATE) until decoding is done.
  RecognitionResult final_result() const { return on_clock(recognition_.final_result()); }
  // Back to a fresh utterance, keeping allocated buffers (and the adapter set).
  // The stream's clock goes on: the next utterance starts where this one's
  // audio ended.
  void reset();
  // Times in results (tokens, words) are on the stream's clock: milliseconds
  // from the start of its first utterance, over every reset. The current
  // utterance starts at time_offset_ms(); set_time_offset_ms(0) after a reset
  // makes its times start at 0 again (or puts them on any clock the
  // application keeps).
  int64_t time_offset_ms() const { return static_cast<int64_t>(std::llround(time_offset_s_ * 1000.0)); }
  void set_time_offset_ms(int64_t ms) { time_offset_s_ = static_cast<double>(ms) / 1000.0; }
  // The utterance has ended by DecodeOptions::endpoint's rules, judged on the
  // CTC frames decoded so far (see decode/endpoint.h). The app then calls
  // input_finished(), decode(), final_result() and reset().
  bool is_endpoint() const { return recognition_.is_endpoint(); }
  // Adapters for this stream's utterances: a set loaded for this model, or
  // null for the model's own. Only before an utterance's first input (after
  // construction or reset): Error(MOEASR_ERR_STATE) otherwise, so one
  // utterance never mixes sets. Error(MOEASR_ERR_INVALID_ARGUMENT) for a set
  // that does not fit the model. The stream keeps the set alive.
  void set_adapters(std::shared_ptr<const AdapterSet> adapters);
  const AdapterSet* adapters() const { return adapters_.get(); }

  const StreamStats& stats() const { return recognition_.stats(); }
  // With keep_debug_outputs: the encoder output ([frames, d]), the CTC
  // log-probs ([frames, vocab]) and the features of every frame so far, on
  // the host; for tests and --dump-dir.
  void set_keep_debug_outputs(bool keep);
  const std::vector<float>& encoder_output() const { return recognition_.encoder_output(); }
  const std::vector<float>& ctc_log_probs() const { return recognition_.ctc_log_probs(); }
  const std::vector<float>& features() const { return features_.all_frames(); }

  // For decode_streams: whether a chunk is ready, the next chunk (its
  // features stay valid until chunk_done), and the chunker's advance past it.
  bool chunk_ready() const;
  bool final_pass_due() const;
  EncoderChunk next_chunk();
  void chunk_done(const EncoderChunk& chunk);
  Recognition& recognition() { return recognition_; }

 private:
  RecognitionResult on_clock(RecognitionResult r) const;
  // Throws when full attention would hold `total` seconds, more than its limit.
  void check_full_attention_length(double total) const;

  std::shared_ptr<const AsrModel> model_;
  std::shared_ptr<const AdapterSet> adapters_;
  FeaturePipeline features_;
  int64_t next_chunk_start_ = 0;  // absolute frame where the next chunk starts
  double time_offset_s_ = 0;      // start of the current utterance on the stream's clock
  Recognition recognition_;       // after model_: it refers to the model
};

// One batched encoder step per round for all streams with a ready chunk,
// repeated until none is ready; then the final pass of finished streams. All
// streams must share one model and be owned by the calling thread, which
// borrows one of the model's workers for the call. No layer mixes streams, so
// another stream's audio reaches a stream's result only through rounding:
// stacking rows changes each GEMM's row count, which may pick another kernel
// (tests/model/decode_streams_test.cc).
void decode_streams(const std::vector<Stream*>& streams, DecodeProfile* profile = nullptr);

}  // namespace moeasr
