// One utterance's recognition state, apart from where its audio comes from:
// the encoder caches (on the model's device), the CTC prefix beam search,
// endpointing, the encoder rows kept for rescoring (on the device) and, at
// the end, the rescored result. A Stream owns one (audio arrives in pieces);
// the offline batch makes one per complete utterance. Used by one thread at a
// time; the batched step (runtime/decode_step.h) feeds it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asr/decoder.h"
#include "asr/encoder.h"
#include "asr/transducer_beam.h"
#include "asr/transducer_greedy.h"
#include "decode/ctc_prefix_beam_search.h"
#include "decode/endpoint.h"
#include "decode/words.h"
#include "moeasr/moeasr.h"
#include "runtime/asr_model.h"

namespace moeasr {

// Full attention attends from every frame to every other one (heads x T x T
// scores per layer), so its cost and memory grow with the square of the
// utterance, and models are trained on utterances of seconds, not hours. An
// utterance decoded with full attention may hold at most this much audio;
// longer input is refused when it arrives, before any encoder work. Long
// audio is decoded in chunks and cut at endpoints (decode/endpoint.h).
constexpr double kMaxFullAttentionSeconds = MOEASR_MAX_FULL_ATTENTION_SECONDS;

// How the result is searched for: the CTC prefix beam search (with attention
// rescoring at the end when `rescoring`), or, for a model: transducer, WeNet's
// transducer greedy search or its transducer prefix beam search (beam `nbest`,
// per-frame mix of transducer and CTC probabilities by the two weights below)
// over the same encoder output (no rescoring; the CTC log-probs still drive
// endpointing).
enum class SearchMethod { kCtc, kTransducerGreedy, kTransducerBeam };

struct DecodeOptions {
  SearchMethod search = SearchMethod::kCtc;
  int chunk_size = 16;       // encoder frames per chunk (40 ms each for conv2d); <= 0: full attention
  int num_left_chunks = -1;  // attention history in chunks; < 0: all
  int nbest = 10;            // CTC prefix beam width and number of hypotheses rescored
  float ctc_weight = 0.5f;   // final = attention score + ctc_weight * ctc score (WeNet)
  float reverse_weight = 0.f;
  // The transducer prefix beam search's per-frame mix,
  // log(transducer_weight * p_transducer + transducer_ctc_weight * p_ctc):
  // WeNet's Transducer.beam_search defaults (its recognize.py's rnnt_beam_search
  // modes pass search_ctc_weight / search_transducer_weight, 1.0 / 0.0 there).
  float transducer_ctc_weight = 0.3f;
  float transducer_weight = 0.7f;
  bool rescoring = true;     // attention rescoring at the end (needs a decoder)
  bool timestamps = true;
  EndpointOptions endpoint;  // only consulted by is_endpoint()
};
// Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for out-of-range options; returns them.
const DecodeOptions& validated(const DecodeOptions& options);

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
  std::vector<WordTiming> words;  // the best hypothesis's words (with timestamps on)
  std::vector<Hypothesis> nbest;  // best first
  bool is_final = false;
};

struct StreamStats {
  double audio_seconds = 0;
  int64_t chunks = 0;
  int64_t encoder_frames = 0;
  std::vector<double> chunk_seconds;  // wall time of each encoder step this stream took part in
};

// Where decode time goes, filled by the decode calls when asked (benchmarks).
// On a GPU the encoder's ops run asynchronously, so the whole batched forward
// (encoder + CTC head, up to the download of the log-probs) is counted in
// encoder.other, and expert_load is not collected (it would make every MoE
// layer wait for its routing counts).
struct DecodeProfile {
  EncoderProfile encoder;       // subsampling, attention, conv module, FFN/MoE, other
  double ctc_head = 0;          // CTC projection + log-softmax
  double ctc_search = 0;        // prefix beam search
  double transducer_search = 0; // a transducer's greedy or beam search (predictor, joiner, search)
  double rescoring = 0;         // attention decoder over the n-best
  int64_t forwards = 0;         // batched encoder steps
  int64_t encoder_frames = 0;   // output frames over all streams
  std::vector<int64_t> expert_load;  // [layer][macaron, ffn][expert] tokens routed
  double expert_bytes_touched = 0;   // bytes of encoder expert weights read, summed over steps
};

class Recognition {
 public:
  Recognition(const AsrModel& model, const DecodeOptions& options);

  const DecodeOptions& options() const { return options_; }
  EncoderState& encoder_state() { return encoder_state_; }
  // Keeps a step's output rows [first, first + frames) of `rows` (the
  // worker's device tensor) for rescoring and the debug outputs. Runs ops on
  // the worker's backend: called by one thread per step.
  void keep_rows(Worker& w, const Tensor& rows, int64_t first, int64_t frames);
  // The CTC search and endpointing over this utterance's new log-prob rows
  // (host, [frames, vocab]); touches only this object, so the recognitions
  // of one step may search in parallel.
  void search(const float* log_probs, int64_t frames, int64_t vocab);
  // The transducer search over a step's output rows [first, first + frames)
  // of `rows` on the worker's device and their CTC log-probs on the host; a
  // no-op returning false for the CTC search.
  bool transduce(Worker& w, const Tensor& rows, int64_t first, int64_t frames, const float* log_probs);
  // The final pass: attention rescoring of the n-best on the worker's device.
  void finalize(Worker& w, DecodeProfile* profile);
  bool done() const { return done_; }

  // CTC best path so far (not rescored).
  RecognitionResult partial_result() const;
  // The final result; Error(MOEASR_ERR_STATE) before finalize().
  const RecognitionResult& final_result() const;
  // The utterance has ended by DecodeOptions::endpoint's rules (decode/endpoint.h).
  bool is_endpoint() const { return endpoint_.detected(!search_.best_is_empty()); }
  // Back to a fresh utterance, keeping allocated buffers.
  void reset();

  StreamStats& stats() { return stats_; }
  const StreamStats& stats() const { return stats_; }
  // With keep_debug: the encoder output and CTC log-probs of every frame so
  // far, on the host ([frames, d], [frames, vocab]); for tests and --dump-dir.
  void set_keep_debug(bool keep) { keep_debug_ = keep; }
  bool keeps_debug() const { return keep_debug_; }
  const std::vector<float>& encoder_output() const { return debug_rows_; }
  const std::vector<float>& ctc_log_probs() const { return debug_log_probs_; }

 private:
  Hypothesis make_hypothesis(const CtcHypothesis& h) const;
  // The CTC prefix beam search's n-best so far, best first.
  std::vector<Hypothesis> ctc_nbest() const;
  // The result's own fields (text, tokens, times, words) from nbest[0].
  void take_best(RecognitionResult& r) const;
  bool keeps_rows() const { return options_.rescoring && model_.decoder() && !greedy_ && !beam_; }
  // The transducer search's result: the greedy tokens (score 0), or the beam.
  std::vector<Hypothesis> transducer_nbest() const;
  Hypothesis transducer_hypothesis(const std::vector<int>& tokens, const std::vector<int>& frames, double score) const;

  const AsrModel& model_;
  DecodeOptions options_;
  EncoderState encoder_state_;
  CtcPrefixBeamSearch search_;
  std::unique_ptr<TransducerGreedySearch> greedy_;  // SearchMethod::kTransducerGreedy
  std::unique_ptr<TransducerBeamSearch> beam_;      // SearchMethod::kTransducerBeam
  EndpointDetector endpoint_;
  Tensor rows_;          // encoder output kept for rescoring, on the model's device: [capacity, d]
  int64_t frames_ = 0;   // rows of rows_ in use
  bool keep_debug_ = false;
  std::vector<float> debug_rows_, debug_log_probs_;
  RecognitionResult final_;
  bool done_ = false;
  StreamStats stats_;
};

}  // namespace moeasr
