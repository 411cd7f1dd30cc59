// The immutable model: config, units, encoder, CTC head and attention
// decoder, loaded once from a model directory onto one device and shared by
// any number of streams and threads (whisper.cpp's whisper_context;
// per-utterance state lives in Recognition / Stream). The weights live only
// on that device; the model's workers (runtime/worker.h) run it there.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "asr/decoder.h"
#include "asr/encoder.h"
#include "asr/transducer.h"
#include "core/tensor.h"
#include "formats/model_dir.h"
#include "nn/linear.h"
#include "runtime/worker.h"

namespace moeasr {

struct ModelOptions {
  int threads = 1;  // intra-op threads for one decode call
  // "cpu", or "cuda" / "cuda:N" in a build with the CUDA backend: the weights
  // go to that GPU and the encoder, CTC head and attention decoder run there.
  std::string device = "cpu";
  // Storage/compute type of the Linear weights (see nn/weight_precision.h):
  // "default" keeps what the file stores; "float32", "bfloat16", "int8"
  // convert at load. A device without kernels for a type refuses it at load.
  std::string compute_type = "default";
  bool compute_experts_only = false;  // convert only the MoE experts
  // Internal (benchmarks): how top-k MoE layers run their experts' GEMMs:
  // "grouped" (default), "loop" (WeNet's per-expert loop) or, on a GPU,
  // "cublas_grouped" (kernels/types.h MoeGemm).
  std::string moe_gemm = "grouped";
};

class AsrModel {
 public:
  // Throws moeasr::Error for a missing, corrupt or unsupported model directory,
  // or a device this build or machine lacks.
  static std::shared_ptr<const AsrModel> load(const std::string& dir, const ModelOptions& options = {});
  // From an already loaded and validated model directory (e.g. random_model_dir).
  static std::shared_ptr<const AsrModel> from_model_dir(ModelDir dir, const ModelOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const SymbolTable& units() const { return units_; }
  const ModelOptions& options() const { return options_; }
  Device device() const { return device_; }
  // What runs the model, e.g. "CPU (float32 AVX-512, ...)" or "NVIDIA H100 80GB HBM3".
  const std::string& device_description() const { return device_description_; }
  // Parameters in the weight file (buffers WeNet recomputes not counted).
  int64_t num_parameters() const { return num_parameters_; }
  const Encoder& encoder() const { return *encoder_; }
  // Null for CTC-only models (decoder: null).
  const AttentionDecoder* decoder() const { return decoder_.get(); }
  // The predictor and joiner of a model: transducer; null otherwise.
  const Transducer* transducer() const { return transducer_.get(); }
  // CTC log-probabilities [rows, vocab] for encoder output rows [rows, d], on be's device.
  void ctc_log_probs(Backend& be, const Tensor& encoder_out, Tensor& out) const;
  // Milliseconds of audio per encoder output frame (40 for 10 ms x 4).
  double frame_ms() const {
    return config_.fbank.frame_shift_ms * config_.encoder.subsampling_rate() * config_.encoder.total_stride();
  }
  // The workers that run this model (a decode call borrows one).
  WorkerPool& workers() const { return workers_; }
  // True the first time it is called (a warning about how the model is used
  // goes to the log once per model, not once per stream).
  bool first_usage_warning() const { return !usage_warned_.exchange(true); }

 private:
  explicit AsrModel(Device device) : workers_(device) {}
  ModelConfig config_;
  SymbolTable units_;
  ModelOptions options_;
  Device device_;
  std::string device_description_;
  int64_t num_parameters_ = 0;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<AttentionDecoder> decoder_;
  std::unique_ptr<Transducer> transducer_;
  Linear ctc_;
  mutable std::atomic<bool> usage_warned_{false};
  mutable WorkerPool workers_;  // declared last: its workers go first
};

}  // namespace moeasr
