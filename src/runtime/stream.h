// One utterance being recognized: audio in, features, encoder caches, the CTC
// prefix beam search and, at the end, attention rescoring. A stream is used by
// one thread at a time; many streams share one immutable AsrModel.
//
// Chunking follows WeNet's forward_chunk_by_chunk: a chunk of c encoder frames
// needs (c - 1) * 4 + 7 feature frames, the next one starts 4c frames later
// (3 frames overlap). After input_finished(), a last chunk runs on whatever is
// left when at least 7 frames remain. chunk_size <= 0 is full attention: the
// whole utterance is one chunk, run when the input is finished.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "decode/ctc_prefix_beam_search.h"
#include "decode/endpoint.h"
#include "frontend/fbank.h"
#include "frontend/resampler.h"
#include "asr/decoder.h"
#include "asr/encoder.h"
#include "runtime/adapter_set.h"
#include "runtime/asr_model.h"

namespace moeasr {

namespace gpu {
class GpuEncoderState;
}

struct DecodeOptions {
  int chunk_size = 16;       // encoder frames per chunk (40 ms each); <= 0: full attention
  int num_left_chunks = -1;  // attention history in chunks; < 0: all
  int nbest = 10;            // CTC prefix beam width and number of hypotheses rescored
  float ctc_weight = 0.5f;   // final = attention score + ctc_weight * ctc score (WeNet)
  float reverse_weight = 0.f;
  bool rescoring = true;     // attention rescoring at the end (needs a decoder)
  bool timestamps = true;
  EndpointOptions endpoint;  // only consulted by is_endpoint()
};

struct Hypothesis {
  std::vector<int> tokens;
  std::string text;
  std::vector<int> timestamps_ms;  // per token: start of its CTC peak frame
  double ctc_score = 0;
  double attention_score = 0;      // l2r * (1 - reverse_weight) + r2l * reverse_weight
  double score = 0;                // attention_score + ctc_weight * ctc_score (rescored) or ctc_score
  bool rescored = false;
};

struct RecognitionResult {
  std::string text;
  std::vector<int> tokens;
  std::vector<int> timestamps_ms;
  std::vector<Hypothesis> nbest;  // best first
  bool is_final = false;
};

struct StreamStats {
  double audio_seconds = 0;
  int64_t chunks = 0;
  int64_t encoder_frames = 0;
  std::vector<double> chunk_seconds;  // wall time of each encoder step this stream took part in
};

// Where decode time goes, filled by decode_streams when asked (benchmarks).
// On a GPU model the encoder's ops run asynchronously, so the whole batched
// forward (encoder + CTC head, up to the download of the log-probs) is
// counted in encoder.other, and expert_load is not collected (it would make
// every MoE layer wait for its routing counts).
struct DecodeProfile {
  EncoderProfile encoder;       // subsampling, attention, conv module, FFN/MoE, other
  double ctc_head = 0;          // CTC projection + log-softmax
  double ctc_search = 0;        // prefix beam search
  double rescoring = 0;         // attention decoder over the n-best
  int64_t forwards = 0;         // batched encoder steps
  int64_t encoder_frames = 0;   // output frames over all streams
  std::vector<int64_t> expert_load;  // [layer][macaron, ffn][expert] tokens routed
  double expert_bytes_touched = 0;   // bytes of encoder expert weights read, summed over steps
};

class Stream {
 public:
  enum class State { kAccepting, kFinishing, kDone };

  // Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for bad options, and
  // Error(MOEASR_ERR_UNSUPPORTED) for a model whose output for one utterance
  // depends on others (Mixture of Tokens with mot_grouping: cross_example):
  // a stream is never influenced by another stream's audio.
  Stream(std::shared_ptr<const AsrModel> model, const DecodeOptions& options);

  // A stream for decode_batch: one complete utterance, full attention
  // (options.chunk_size is ignored). Accepts every model, including one that
  // mixes examples, which only decode_batch (runtime/offline_batch.h) runs:
  // decode() of such a stream fails with MOEASR_ERR_UNSUPPORTED.
  static std::unique_ptr<Stream> for_offline_batch(std::shared_ptr<const AsrModel> model,
                                                   const DecodeOptions& options);

  const AsrModel& model() const { return *model_; }
  const DecodeOptions& options() const { return options_; }
  State state() const { return state_; }

  // Samples in [-1, 1] at any rate (resampled to the model's). Rejects NaN/Inf
  // (the stream is unchanged) and calls after input_finished().
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
  RecognitionResult partial_result() const;
  // The final result; Error(MOEASR_ERR_STATE) until decoding is done.
  RecognitionResult final_result() const;
  // Back to a fresh utterance, keeping allocated buffers (and the adapter set).
  void reset();
  // The utterance has ended by DecodeOptions::endpoint's rules, judged on the
  // CTC frames decoded so far (see decode/endpoint.h). The app then calls
  // input_finished(), decode(), final_result() and reset().
  bool is_endpoint() const { return endpoint_.detected(!search_.best_is_empty()); }
  // Adapters for this stream's utterances: a set loaded for this model, or
  // null for the model's own. Only before an utterance's first input (after
  // construction or reset): Error(MOEASR_ERR_STATE) otherwise, so one
  // utterance never mixes sets. Error(MOEASR_ERR_INVALID_ARGUMENT) for a set
  // that does not fit the model. The stream keeps the set alive.
  void set_adapters(std::shared_ptr<const AdapterSet> adapters);
  const AdapterSet* adapters() const { return adapters_.get(); }

  const StreamStats& stats() const { return stats_; }
  // Encoder output kept for rescoring ([frames, d]) and the CTC log-probs of
  // every frame so far ([frames, vocab]); for tests and --dump-dir.
  const std::vector<float>& encoder_output() const { return encoder_out_; }
  const std::vector<float>& ctc_log_probs() const { return ctc_logp_; }
  const std::vector<float>& features() const { return all_features_; }
  void set_keep_debug_outputs(bool keep) { keep_debug_ = keep; }
  // The scratch of batched steps this stream leads (benchmarks pick the MoE path here).
  EncoderWorkspace& encoder_workspace() { return encoder_ws_; }

 private:
  friend void decode_streams(const std::vector<Stream*>& streams, DecodeProfile* profile);
  friend void decode_batch(const std::vector<Stream*>& streams, DecodeProfile* profile);

  struct OfflineBatch {};
  Stream(std::shared_ptr<const AsrModel> model, const DecodeOptions& options, OfflineBatch);
  // One batched encoder forward over `chunks` (chunk i of owners[i]), the CTC
  // head, and each owner consuming its rows.
  static void step(const std::vector<Stream*>& owners, std::vector<EncoderChunk>& chunks, DecodeProfile* profile,
                   TokenMixing mixing);
  // The same step on the model's GPU (CUDA builds only; stream_gpu.cc).
  static void gpu_step(const std::vector<Stream*>& owners, std::vector<EncoderChunk>& chunks, DecodeProfile* profile);
  std::vector<HypothesisScores> gpu_rescore(const float* memory, int64_t frames,
                                            const std::vector<std::vector<int>>& hyps, bool with_r2l) const;

  bool chunk_ready() const;
  EncoderChunk next_chunk();
  void consume_chunk(const EncoderChunk& chunk, const Tensor& encoder_out, const Tensor& log_probs,
                     DecodeProfile* profile);
  bool final_pass_due() const;
  void finalize(DecodeProfile* profile);
  void push_features(const float* samples, size_t n);
  Hypothesis make_hypothesis(const CtcHypothesis& h) const;

  std::shared_ptr<const AsrModel> model_;
  std::shared_ptr<const AdapterSet> adapters_;
  DecodeOptions options_;
  bool offline_batch_ = false;  // made by for_offline_batch
  State state_ = State::kAccepting;
  Fbank fbank_;
  int input_rate_ = 0;  // sample rate of this utterance's audio (0 until the first piece)
  std::unique_ptr<Resampler> resampler_;
  std::vector<float> resampled_;
  std::vector<float> features_;     // frames not yet consumed, starting at absolute frame features_begin_
  int64_t features_begin_ = 0;      // absolute index of features_[0]
  int64_t features_total_ = 0;      // frames produced so far
  int64_t next_chunk_start_ = 0;    // absolute frame where the next chunk starts
  EncoderState encoder_state_;
  // A GPU model's device caches for this stream, made by its first GPU step
  // (after model_, so it is freed while the model lives).
  std::shared_ptr<gpu::GpuEncoderState> gpu_state_;
  CtcPrefixBeamSearch search_;
  EndpointDetector endpoint_;
  std::vector<float> encoder_out_;  // kept for rescoring
  std::vector<float> ctc_logp_;     // kept only with keep_debug_
  std::vector<float> all_features_; // kept only with keep_debug_
  bool keep_debug_ = false;
  RecognitionResult final_;
  StreamStats stats_;
  // Scratch for encoder/decoder steps led by this stream.
  EncoderWorkspace encoder_ws_;
  DecoderWorkspace decoder_ws_;
  Tensor encoder_rows_, log_probs_;
  Tensor gpu_download_;  // host copy of a GPU step's results (encoder_rows_ / log_probs_ view it)
};

// One batched encoder forward per step for all streams with a ready chunk,
// repeated until none is ready; then the final pass of finished streams. All
// streams must share one model and be owned by the calling thread. A stream's
// result does not depend on which other streams are in the batch.
void decode_streams(const std::vector<Stream*>& streams, DecodeProfile* profile = nullptr);

}  // namespace moeasr
