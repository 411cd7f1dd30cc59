// The immutable model: config, units, encoder, CTC head and attention decoder,
// loaded once from a model directory and shared by any number of streams and
// threads (whisper.cpp's whisper_context; per-utterance state lives in Stream).
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"
#include "asr/decoder.h"
#include "asr/encoder.h"
#include "nn/layers.h"
#include "formats/model_dir.h"

namespace moeasr {

namespace gpu {
class GpuModel;
}

struct ModelOptions {
  int threads = 1;  // intra-op threads for one decode call
  // "cpu", or "cuda" / "cuda:N" in a build with the CUDA backend (src/gpu/):
  // the encoder, CTC head and attention decoder then run on that GPU.
  std::string device = "cpu";
  // Storage/compute type of the Linear weights (see model/weight_precision.h):
  // "default" keeps what the file stores; "float32", "bfloat16", "int8" convert at load.
  // On "cuda": default / float32 / bfloat16 (int8 is refused: no CUDA kernels).
  std::string compute_type = "default";
  bool compute_experts_only = false;  // convert only the MoE experts
  // Internal (benchmarks): how the GPU runs the MoE experts' GEMMs:
  // "grouped" (default), "cublas_grouped" or "loop" (see kernels/cuda/ops.h).
  std::string cuda_moe_gemm = "grouped";
};

class AsrModel {
 public:
  // Throws moeasr::Error for a missing, corrupt or unsupported model directory.
  static std::shared_ptr<const AsrModel> load(const std::string& dir, const ModelOptions& options = {});
  // From an already loaded and validated model directory (e.g. random_model_dir).
  static std::shared_ptr<const AsrModel> from_model_dir(ModelDir dir, const ModelOptions& options = {});

  const ModelConfig& config() const { return dir_.config; }
  const SymbolTable& units() const { return dir_.units; }
  const SafeTensors& weights() const { return *dir_.weights; }
  const ModelOptions& options() const { return options_; }
  const Encoder& encoder() const { return *encoder_; }
  // Null for CTC-only models (decoder: null).
  const AttentionDecoder* decoder() const { return decoder_.get(); }
  // The GPU model when the device is "cuda[:N]" (CUDA builds only), else null.
  // The host weights above stay loaded either way (configuration, tests).
  const gpu::GpuModel* gpu() const { return gpu_.get(); }
  bool on_gpu() const { return gpu_ != nullptr; }
  // CTC log-probabilities [rows, vocab] for encoder output rows [rows, d].
  void ctc_log_probs(const Tensor& encoder_out, Tensor& out) const;
  // Milliseconds of audio per encoder output frame (40 for 10 ms x 4).
  double frame_ms() const { return dir_.config.fbank.frame_shift_ms * Encoder::kSubsampling; }

 private:
  AsrModel() = default;
  ModelDir dir_;
  ModelOptions options_;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<AttentionDecoder> decoder_;
  LinearWeights ctc_;
  // shared_ptr: its deleter is fixed where it is made (src/gpu), so this
  // header needs no complete GpuModel, and CPU-only builds none at all.
  std::shared_ptr<const gpu::GpuModel> gpu_;
};

}  // namespace moeasr
