// The GPU side of an AsrModel (device "cuda" / "cuda:N"): one CUDA context,
// the weights uploaded once at load, the encoder + CTC head and the attention
// decoder on the device. CUDA builds only; the AsrModel owns it.
//
// Threading: the model is shared by any number of threads and streams, but a
// CUDA context runs one op sequence at a time, so every forward (encoder step
// or rescoring) holds the model's mutex for its whole duration, scratch
// included. Throughput comes from batching: decode_streams puts all ready
// streams of a call into ONE encoder forward, so an application serving many
// streams should decode them together rather than from many threads.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gpu/decoder.h"
#include "gpu/encoder.h"

namespace moeasr::gpu {

// "grouped" | "cublas_grouped" | "loop"; Error(MOEASR_ERR_INVALID_ARGUMENT) otherwise.
cuda::MoeGemm parse_moe_gemm(const std::string& name);

class GpuModel {
 public:
  // Throws Error(MOEASR_ERR_UNSUPPORTED) naming a feature the GPU path lacks
  // (Mixture of Tokens, Soft MoE FFN, adapters, ...). Cheap: call it before
  // loading the weights.
  static void check_supported(const ModelConfig& config);

  // Opens device `device_index` and uploads the weights the CPU model holds
  // (`decoder` may be null). Error(MOEASR_ERR_DEVICE) when the device cannot
  // be opened or runs out of memory.
  GpuModel(int device_index, const ModelConfig& config, const Encoder& encoder, const AttentionDecoder* decoder,
           const LinearWeights& ctc, cuda::MoeGemm gemm);
  ~GpuModel();

  const std::string& device_name() const;
  int device_index() const;
  size_t weight_bytes() const;
  cuda::MoeGemm moe_gemm() const { return gemm_; }

  // A stream's device state (device memory is allocated by its first forward).
  std::unique_ptr<GpuEncoderState> new_state() const;

  // One batched encoder forward + CTC head (see GpuEncoder::forward).
  void encode(std::vector<EncoderChunk>& chunks, const std::vector<GpuEncoderState*>& states, bool want_rows,
              Tensor& host, Tensor& rows, Tensor& log_probs) const;

  // Attention rescoring of one utterance's hypotheses (see GpuDecoder::score).
  // Error(MOEASR_ERR_INTERNAL) for a CTC-only model.
  std::vector<HypothesisScores> score(const float* memory, int64_t frames, const std::vector<std::vector<int>>& hyps,
                                      bool with_r2l) const;

 private:
  mutable std::mutex mutex_;
  std::unique_ptr<cuda::Context> ctx_;  // first in, last out: everything below frees device memory
  std::unique_ptr<DeviceWeights> weights_;
  std::unique_ptr<GpuEncoder> encoder_;
  std::unique_ptr<GpuDecoder> decoder_;
  cuda::MoeGemm gemm_;
  mutable GpuEncoderWorkspace encoder_ws_;
  mutable GpuDecoderWorkspace decoder_ws_;
};

}  // namespace moeasr::gpu
